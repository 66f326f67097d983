"""Nearest-neighbour indexes behind one protocol: exact (BLAS) now, approximate (FAISS) later."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .exact import METRICS, ExactIndex, top_k


@runtime_checkable
class Index(Protocol):
    """What every index offers: keyed vectors in, (keys, scores) of the k best matches out."""

    dim: int
    metric: str

    def __len__(self) -> int: ...

    def add(self, keys, vectors) -> None: ...

    def search(self, queries, k: int = 10) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self, path) -> Path: ...

    @classmethod
    def load(cls, path) -> "Index": ...


__all__ = ["Index", "ExactIndex", "METRICS", "top_k"]
