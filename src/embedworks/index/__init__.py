"""Nearest-neighbour indexes behind one protocol: exact (BLAS) and approximate (FAISS HNSW, IVF-PQ).

`make_index(kind, dim, metric, count=…)` builds one by name; ``"auto"`` is exact below
`AUTO_HNSW_FROM` vectors and HNSW from there on. `load_index(path)` reads any saved index.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidInputError
from .approx import KINDS as _APPROX_KINDS
from .approx import HNSWIndex, IVFPQIndex, read_meta
from .exact import METRICS, ExactIndex, top_k

#: `make_index("auto")` picks HNSW from this many vectors on: below it one BLAS pass over every
#: vector is about as fast as a graph search and exact.
AUTO_HNSW_FROM = 50_000
INDEX_KINDS = ("auto", "exact", "hnsw", "ivfpq")


@runtime_checkable
class Index(Protocol):
    """What every index offers: keyed vectors in, (keys, scores) of the k best matches out."""

    kind: str
    dim: int
    metric: str

    def __len__(self) -> int: ...

    def add(self, keys, vectors) -> None: ...

    def remove(self, keys) -> None: ...

    def search(self, queries, k: int = 10, *, filter=None) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path) -> Path: ...

    @classmethod
    def load(cls, path) -> "Index": ...


def resolve_kind(kind: str, count: int) -> str:
    """The concrete kind `kind` stands for at `count` vectors ("auto": exact or hnsw)."""
    if kind not in INDEX_KINDS:
        raise InvalidInputError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    if kind == "auto":
        return "hnsw" if count >= AUTO_HNSW_FROM else "exact"
    return kind


def make_index(kind: str = "auto", dim: int = 0, metric: str = "cosine", *, count: int = 0, **params) -> Index:
    """A new empty index of `kind` (see `resolve_kind`; `count` is the expected size for "auto").

    `params` go to the index: M, ef_construction, ef_search, compact_ratio for HNSW; nlist, m,
    nbits, nprobe for IVF-PQ; none for exact.
    """
    kind = resolve_kind(kind, count)
    if kind == "exact":
        if params:
            raise InvalidInputError(f"the exact index takes no parameters, got {sorted(params)}")
        return ExactIndex(dim, metric)
    try:
        return _APPROX_KINDS[kind](dim, metric, **params)
    except TypeError as error:
        raise InvalidInputError(f"bad {kind} index parameters {sorted(params)}: {error}") from None


def load_index(path) -> Index:
    """Read an index saved by any kind's `save` (native embeddings read as an exact index)."""
    path = Path(path)
    if (path / "meta.json").is_file():
        return ExactIndex.load(path)
    return _APPROX_KINDS[read_meta(path)["kind"]].load(path)


__all__ = ["Index", "ExactIndex", "METRICS", "top_k", "make_index", "load_index", "resolve_kind",
           "AUTO_HNSW_FROM", "INDEX_KINDS", "HNSWIndex", "IVFPQIndex"]

