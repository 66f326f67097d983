"""Approximate nearest-neighbour search through FAISS: HNSW and IVF-PQ behind the `Index` protocol.

>>> index = HNSWIndex(dim=100, metric="cosine", M=32, ef_search=64)   # doctest: +SKIP
>>> index.add(keys, vectors); index.search(queries, k=10, filter=allowed_keys)  # doctest: +SKIP

Metrics map onto FAISS as ExactIndex defines them: cosine normalises vectors and queries and
searches by inner product (scores are cosine similarities), dot searches by inner product, and
euclidean by L2 (scores are distances, not FAISS's squared ones).

Keys map to int64 ids in insertion order (`_keys[id]`, None once removed). `IndexHNSWFlat` cannot
remove vectors, so `remove` leaves a tombstone that an `IDSelectorBitmap` in the search
parameters hides (k results still come back) and rebuilds the graph once tombstones pass
`compact_ratio`; IVF-PQ removes for real. A `filter` (the keys allowed) is a pre-filter: a bitmap
of allowed ids in the search parameters, never a post-filter. When a filtered search comes back
short although at least k keys are allowed, the short queries are answered again exhaustively
(HNSW: brute force over the allowed stored vectors; IVF-PQ: every inverted list), so a filter
returns k results whenever k keys match.

Saved as a directory: ``index.json`` (kind, metric, parameters, including the search-time
``ef_search``/``nprobe`` that FAISS does not store), ``faiss.index`` (FAISS's own binary format,
``faiss.write_index``) and ``keys.jsonl`` (one JSON key per id, null for removed ids). No pickle.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from pathlib import Path

import numpy as np

from ..errors import DimensionError, FormatError, InvalidInputError, MissingExtraError, UnknownKeyError
from ..files import atomic_directory, read_marker
from .exact import as_queries, check_metric, check_new_keys, top_k

logger = logging.getLogger(__name__)

FORMAT = "embedworks-index"
VERSION = 1
_MARKER = "index.json"

#: a filtered HNSW search allowing at most this many ids is answered by brute force over them:
#: scanning a few thousand stored vectors costs about what a graph search does, and is exact.
EXACT_BELOW = 4096


def import_faiss():
    """The `faiss` module, or a `MissingExtraError` naming the extra that installs it."""
    try:
        import faiss
    except ImportError:
        raise MissingExtraError("faiss-cpu", "serve") from None
    return faiss


@functools.cache
def _swig_ptr():
    """`faiss.swig_ptr`, looked up once (it is on the per-query path)."""
    return import_faiss().swig_ptr


def _check_int(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidInputError(f"{name} must be an integer ≥ {low}, got {value!r}")
    return int(value)


class FaissIndex:
    """What HNSW and IVF-PQ share: key ↔ id mapping, metric handling, filters, save and load."""

    kind = ""

    def __init__(self, dim: int, metric: str = "cosine", compact_ratio: float = 0.25):
        self.dim = _check_int("dim", dim)
        self.metric = check_metric(metric)
        if not 0 < compact_ratio <= 1:
            raise InvalidInputError(f"compact_ratio must be in (0, 1], got {compact_ratio!r}")
        self.compact_ratio = float(compact_ratio)
        self._index = None           # the FAISS index, None until built (IVF-PQ: until trained)
        self._keys = np.full(1, None, dtype=object)  # id → key; always one spare None at the end
        self._size = 0               # ids handed out so far
        self._ids: dict = {}         # live key → id
        self._alive = np.zeros(0, dtype=bool)
        self._live_bits = None       # cached bitmap of live ids, None while it must be rebuilt
        self._params = None          # cached search parameters for unfiltered searches

    # ------------------------------------------------------------------ protocol
    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={value}" for name, value in self.params.items())
        return f"{type(self).__name__}({len(self):,} × {self.dim}, metric={self.metric!r}, {settings})"

    @property
    def keys(self) -> list:
        """Live keys in id order."""
        return [key for key in self._keys[:self._size].tolist() if key is not None]

    @property
    def params(self) -> dict:
        raise NotImplementedError

    def add(self, keys, vectors) -> None:
        """Add vectors under new keys; nothing is added if any key or vector is invalid."""
        keys = list(keys)
        vectors = as_queries(vectors, self.dim) if keys else np.empty((0, self.dim), np.float32)
        if len(keys) != len(vectors):
            raise DimensionError(f"{len(keys)} keys but {len(vectors)} vectors")
        check_new_keys(keys, self._ids)
        if not keys:
            return
        first = self._size
        self._add_to_faiss(self._prepared(vectors), np.arange(first, first + len(keys), dtype=np.int64))
        self._reserve(first + len(keys))
        self._keys[first:first + len(keys)] = _object_array(keys)
        self._alive[first:first + len(keys)] = True
        self._ids.update(zip(keys, range(first, first + len(keys))))
        self._size = first + len(keys)
        self._changed()

    def remove(self, keys) -> None:
        """Remove `keys` (each must be present; nothing is removed otherwise)."""
        keys = list(dict.fromkeys(keys))
        for key in keys:
            if key not in self._ids:
                raise UnknownKeyError(key, self._ids)
        ids = np.fromiter((self._ids.pop(key) for key in keys), dtype=np.int64, count=len(keys))
        self._keys[ids] = None
        self._alive[ids] = False
        self._remove_from_faiss(ids)
        self._changed()
        if self._size - len(self._ids) > self.compact_ratio * self._size:
            self.compact()

    def search(self, queries, k: int = 10, *, filter=None) -> tuple[np.ndarray, np.ndarray]:
        """Keys (object array, None where fewer than k exist) and scores, each shaped (n_queries, k).

        `filter` (an iterable of keys) allows only those keys; keys not in the index are ignored.
        """
        q = self._query(queries)
        if type(k) is not int or k < 1:
            k = _check_int("k", k)
        if not self._ids:
            return _empty_result(len(q), k)
        if filter is None:
            distances, ids = self._faiss_search(q, k, self._params or self._unfiltered_params())
            if self._live_bits is not None:  # tombstones are hidden: top up any short query
                self._top_up(q, k, distances, ids, len(self._ids),
                             lambda: np.flatnonzero(self._alive[:self._size]), self._live_bits)
            return self._result(distances, ids)
        allowed = self._allowed_ids(filter)
        if len(allowed) == 0:
            return _empty_result(len(q), k)
        if len(allowed) <= EXACT_BELOW and self._can_scan():
            return self._scan(q, k, allowed)
        mask = np.zeros(self._size, dtype=bool)
        mask[allowed] = True
        bits = np.packbits(mask, bitorder="little")
        distances, ids = self._faiss_search(q, k, self._search_params(self._selector(bits)))
        self._top_up(q, k, distances, ids, len(allowed), lambda: allowed, bits)
        return self._result(distances, ids)

    def _top_up(self, q, k, distances, ids, n_allowed, allowed, bits) -> None:
        """Search again, exhaustively, the queries that found fewer than min(k, n_allowed) results."""
        short = (ids >= 0).sum(axis=1) < min(k, n_allowed)
        if short.any():
            logger.debug("%d of %d queries short of %d results; searching them exhaustively",
                         short.sum(), len(q), k)
            distances[short], ids[short] = self._exhaustive(q[short], k, allowed(), bits)

    def compact(self) -> None:
        """Drop what removed keys leave behind; ids are renumbered."""
        raise NotImplementedError

    def _renumber(self, keys: np.ndarray) -> None:
        """Make `keys` (live, in their old id order) ids 0, 1, … after a compaction."""
        self._keys = np.full(max(len(keys) + 1, 1024), None, dtype=object)
        self._keys[:len(keys)] = keys
        self._alive = np.zeros(len(self._keys), dtype=bool)
        self._alive[:len(keys)] = True
        self._ids = dict(zip(keys.tolist(), range(len(keys))))
        self._size = len(keys)
        self._changed()

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the index to the directory `path` (replacing an index or an empty folder)."""
        faiss = import_faiss()
        path = Path(path)
        meta = {"format": FORMAT, "version": VERSION, "kind": self.kind, "dim": self.dim, "metric": self.metric,
                "count": len(self), "ids": self._size, "params": self.params}
        with atomic_directory(path, marker=_MARKER) as temp:
            if self._index is not None:
                faiss.write_index(self._index, str(temp / "faiss.index"))
            with open(temp / "keys.jsonl", "wb") as f:
                f.writelines(json.dumps(key, ensure_ascii=False).encode("utf-8") + b"\n"
                             for key in self._keys[:self._size].tolist())
            self._save_extra(temp)
            (temp / _MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path) -> "FaissIndex":
        """Read an index written by `save` (of this kind)."""
        faiss = import_faiss()
        path = Path(path)
        meta = read_meta(path)
        if meta["kind"] != cls.kind:
            raise FormatError(f"holds a {meta['kind']} index, not {cls.kind}", path=path / _MARKER)
        index = cls(meta["dim"], meta["metric"], **meta["params"])
        keys = _read_keys(path / "keys.jsonl", meta["ids"])
        if (path / "faiss.index").is_file():
            index._index = faiss.read_index(str(path / "faiss.index"))
            index._configure_loaded()
        stored = 0 if index._index is None else index._index.ntotal
        if stored != index._expected_ntotal(keys) or index._index is not None and index._index.d != index.dim:
            raise FormatError(f"faiss.index holds {stored} vectors for {len(keys)} ids in keys.jsonl", path=path)
        index._reserve(len(keys))
        index._keys[:len(keys)] = _object_array(keys)
        index._alive[:len(keys)] = [key is not None for key in keys]
        index._ids = {key: i for i, key in enumerate(keys) if key is not None}
        index._size = len(keys)
        index._load_extra(path)
        return index

    # ------------------------------------------------------------------ helpers
    def _query(self, queries) -> np.ndarray:
        """Checked, prepared queries; one cosine vector takes a shortcut (the per-query path)."""
        q = np.asarray(queries, dtype=np.float32)
        if self.metric == "cosine" and q.shape == (self.dim,):
            squared = float(np.dot(q, q))
            if 0 < squared < math.inf:  # finite: so is every value (NaN and infinity propagate)
                return q[None, :] * (1 / math.sqrt(squared))
        return self._prepared(as_queries(q, self.dim))

    def _prepared(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors as FAISS wants them: C-contiguous float32, unit length for cosine."""
        if self.metric != "cosine":
            return np.ascontiguousarray(vectors)
        if len(vectors) == 1:  # one query: the cheapest NumPy calls (this is the per-query path)
            norm = math.sqrt(float(np.dot(vectors[0], vectors[0])))
            return vectors * (1 / norm) if norm > 0 else np.ascontiguousarray(vectors)
        norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        return vectors / np.where(norms > 0, norms, 1)[:, None]

    def _reserve(self, size: int) -> None:
        if size >= len(self._keys):
            capacity = max(size + 1, 2 * len(self._keys), 1024)
            keys = np.full(capacity, None, dtype=object)
            keys[:self._size] = self._keys[:self._size]
            alive = np.zeros(capacity, dtype=bool)
            alive[:self._size] = self._alive[:self._size]
            self._keys, self._alive = keys, alive

    def _changed(self) -> None:
        self._live_bits = None
        self._params = None

    def _unfiltered_params(self):
        """Search parameters hiding removed ids (cached until the next add or remove)."""
        if self._params is None:
            selector = None
            if self._has_tombstones():
                self._live_bits = np.packbits(self._alive[:self._size], bitorder="little")
                selector = self._selector(self._live_bits)
            self._params = self._search_params(selector)
        return self._params

    def _has_tombstones(self) -> bool:
        return False

    def _selector(self, bits: np.ndarray):
        """An IDSelectorBitmap over `bits`; the caller keeps `bits` alive while FAISS uses it."""
        faiss = import_faiss()
        return faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))

    def _allowed_ids(self, keys) -> np.ndarray:
        ids = self._ids
        if isinstance(keys, (str, int)):
            raise InvalidInputError(f"filter must be a collection of keys, got {keys!r}")
        return np.unique(np.fromiter((ids[key] for key in keys if key in ids), dtype=np.int64))

    def _result(self, distances: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.metric == "euclidean":
            np.sqrt(np.maximum(distances, 0, out=distances), out=distances)
        if ids.min() < 0:
            distances[ids < 0] = np.nan
        return self._keys[ids], distances  # id -1 picks the spare None at the end of _keys

    def _can_scan(self) -> bool:
        return False

    def _faiss_search(self, q: np.ndarray, k: int, params) -> tuple[np.ndarray, np.ndarray]:
        """(distances, ids) from FAISS for prepared (C-contiguous float32) queries."""
        pointer = _swig_ptr()
        distances = np.empty((len(q), k), dtype=np.float32)
        ids = np.empty((len(q), k), dtype=np.int64)
        self._index.search_c(len(q), pointer(q), k, pointer(distances), pointer(ids), params)
        return distances, ids

    def _save_extra(self, folder: Path) -> None:
        """Write what this kind keeps beside the FAISS index."""

    def _load_extra(self, folder: Path) -> None:
        """Read what `_save_extra` wrote."""

    def _scan(self, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    # subclasses: how vectors go in and out of the FAISS index
    def _add_to_faiss(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        raise NotImplementedError

    def _remove_from_faiss(self, ids: np.ndarray) -> None:
        raise NotImplementedError

    def _search_params(self, selector):
        raise NotImplementedError

    def _exhaustive(self, q, k, allowed, bits):
        raise NotImplementedError

    def _configure_loaded(self) -> None:
        raise NotImplementedError

    def _expected_ntotal(self, keys: list) -> int:
        raise NotImplementedError


class HNSWIndex(FaissIndex):
    """FAISS `IndexHNSWFlat`: a navigable small-world graph over the full vectors.

    `M` links per node (memory ≈ dim·4 + M·8 bytes a vector), `ef_construction` the candidate
    list while building (quality of the graph), `ef_search` the candidate list while searching
    (raised to k when smaller): the recall/speed knob, changeable at any time. Removed keys are
    tombstones until they pass `compact_ratio` of the stored vectors, then the graph is rebuilt.
    """

    kind = "hnsw"

    def __init__(self, dim: int, metric: str = "cosine", *, M: int = 32, ef_construction: int = 128,
                 ef_search: int = 64, compact_ratio: float = 0.25):
        super().__init__(dim, metric, compact_ratio)
        self.M = _check_int("M", M, 2)
        self.ef_construction = _check_int("ef_construction", ef_construction)
        self.ef_search = _check_int("ef_search", ef_search)

    def __setattr__(self, name, value):
        if name == "ef_search" and getattr(self, "_index", None) is not None:
            value = _check_int("ef_search", value)
            self._index.hnsw.efSearch = value
            self._params = None
        super().__setattr__(name, value)

    @property
    def params(self) -> dict:
        return {"M": self.M, "ef_construction": self.ef_construction, "ef_search": self.ef_search,
                "compact_ratio": self.compact_ratio}

    def _new_faiss(self):
        faiss = import_faiss()
        metric = faiss.METRIC_L2 if self.metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
        index = faiss.IndexHNSWFlat(self.dim, self.M, metric)
        index.hnsw.efConstruction = self.ef_construction
        index.hnsw.efSearch = self.ef_search
        return index

    def _add_to_faiss(self, vectors, ids):
        if self._index is None:
            self._index = self._new_faiss()
        self._index.add(vectors)  # HNSW numbers vectors in insertion order, as our ids

    def _remove_from_faiss(self, ids):
        """Nothing: HNSW cannot remove; the ids stay as tombstones until `compact`."""

    def _has_tombstones(self) -> bool:
        return len(self._ids) < self._size

    def _search_params(self, selector):
        faiss = import_faiss()
        if selector is None:
            return faiss.SearchParametersHNSW(efSearch=self.ef_search)
        return faiss.SearchParametersHNSW(efSearch=self.ef_search, sel=selector)

    def _stored(self) -> np.ndarray:
        """The stored (prepared) vectors, a zero-copy view of the FAISS storage."""
        faiss = import_faiss()
        storage = faiss.downcast_index(self._index.storage)
        return faiss.rev_swig_ptr(storage.get_xb(), self._size * self.dim).reshape(self._size, self.dim)

    def _can_scan(self) -> bool:
        return True

    def _scan(self, q, k, allowed):
        metric = "euclidean" if self.metric == "euclidean" else "dot"
        rows, scores = top_k(q, self._stored(), k, metric, rows=allowed)
        return self._keys[rows], scores

    def _exhaustive(self, q, k, allowed, bits):
        metric = "euclidean" if self.metric == "euclidean" else "dot"
        rows, scores = top_k(q, self._stored(), k, metric, rows=allowed)
        if self.metric == "euclidean":
            scores = scores * scores  # back to FAISS's squared distances; _result takes the root
        return scores, rows

    def compact(self) -> None:
        """Rebuild the graph from the live vectors only; ids are renumbered."""
        if not self._has_tombstones():
            return
        live = np.flatnonzero(self._alive[:self._size])
        vectors = np.array(self._stored()[live])
        keys = self._keys[live]
        logger.info("rebuilding the HNSW graph without %d removed vectors (%d kept)", self._size - len(live),
                    len(live))
        self._index = self._new_faiss()
        self._index.add(vectors)
        self._renumber(keys)

    def _configure_loaded(self):
        self._index.hnsw.efSearch = self.ef_search

    def _expected_ntotal(self, keys):
        return len(keys)


class IVFPQIndex(FaissIndex):
    """FAISS `IndexIVFPQ`: k-means cells (`nlist`) holding product-quantised codes.

    Each vector is coded by `m` sub-quantisers of `nbits` bits (m·nbits/8 bytes; `m` must divide
    dim); `nprobe` cells are scanned per query (the recall/speed knob). With `refine` > 0 the
    index also keeps the float32 vectors and re-ranks the `refine`·k best PQ candidates by their
    exact scores (FAISS's "IVF,PQ,RFlat"): PQ alone ranks near neighbours coarsely. Set
    `refine=0` for the memory-compact index (codes only; scores are PQ estimates).

    The index is trained on the first vectors added, at least `min_train` of them; ``"auto"``
    picks nlist = 4·√n (at most n/39, so each cell gets 39 training points) and m = the
    largest divisor of dim no bigger than dim/2 (two or more dims per sub-quantiser).
    Removal is real (``remove_ids``); with `refine` the stored vectors are renumbered once
    removed ids pass `compact_ratio`.
    """

    kind = "ivfpq"

    def __init__(self, dim: int, metric: str = "cosine", *, nlist: int | str = "auto", m: int | str = "auto",
                 nbits: int = 8, nprobe: int = 16, refine: int = 4, compact_ratio: float = 0.25):
        super().__init__(dim, metric, compact_ratio)
        self.nlist = nlist if nlist == "auto" else _check_int("nlist", nlist)
        self.m = _auto_m(self.dim) if m == "auto" else _check_int("m", m)
        if self.dim % self.m:
            raise InvalidInputError(f"m={self.m} must divide dim={self.dim}")
        self.nbits = _check_int("nbits", nbits)
        if self.nbits > 16:
            raise InvalidInputError(f"nbits must be at most 16, got {nbits}")
        self.nprobe = _check_int("nprobe", nprobe)
        self.refine = _check_int("refine", refine, 0)
        self._raw = np.empty((0, self.dim), dtype=np.float32)  # prepared vectors by id, with refine

    def __setattr__(self, name, value):
        if name == "nprobe":
            value = _check_int("nprobe", value)
            if getattr(self, "_index", None) is not None:
                self._index.nprobe = value
                self._params = None
        super().__setattr__(name, value)

    @property
    def params(self) -> dict:
        return {"nlist": self.nlist, "m": self.m, "nbits": self.nbits, "nprobe": self.nprobe,
                "refine": self.refine, "compact_ratio": self.compact_ratio}

    @property
    def min_train(self) -> int:
        """How many vectors the first `add` must bring to train the index."""
        return max(2 ** self.nbits, 1 if self.nlist == "auto" else self.nlist)

    def _train(self, vectors: np.ndarray):
        faiss = import_faiss()
        n = len(vectors)
        if n < self.min_train:
            raise InvalidInputError(f"IVF-PQ is trained on the first vectors added: needs at least "
                                    f"{self.min_train} (2**nbits and nlist), got {n}; add more at once or "
                                    f"use an exact or hnsw index")
        if self.nlist == "auto":
            self.nlist = max(1, min(int(4 * math.sqrt(n)), n // 39))
        metric = faiss.METRIC_L2 if self.metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
        quantizer = faiss.IndexFlat(self.dim, metric)
        index = faiss.IndexIVFPQ(quantizer, self.dim, self.nlist, self.m, self.nbits, metric)
        index.cp.min_points_per_centroid = 1      # small training sets train, without a warning
        index.pq.cp.min_points_per_centroid = 1
        index.train(vectors)
        index.nprobe = self.nprobe
        return index

    def _add_to_faiss(self, vectors, ids):
        if self._index is None:
            self._index = self._train(vectors)
        self._index.add_with_ids(vectors, ids)
        if self.refine:
            end = int(ids[-1]) + 1
            if end > len(self._raw):
                grown = np.empty((max(end, 2 * len(self._raw), 1024), self.dim), dtype=np.float32)
                grown[:self._size] = self._raw[:self._size]
                self._raw = grown
            self._raw[ids] = vectors

    def _remove_from_faiss(self, ids):
        faiss = import_faiss()
        self._index.remove_ids(faiss.IDSelectorBatch(ids))

    def _faiss_search(self, q, k, params):
        if not self.refine:
            return self._index.search(q, k, params=params)
        _, ids = super()._faiss_search(q, k * self.refine, params)
        candidates = self._raw[np.maximum(ids, 0)]
        if self.metric == "euclidean":
            diffs = candidates - q[:, None, :]
            scores = -np.einsum("nkd,nkd->nk", diffs, diffs)
        else:
            scores = np.einsum("nkd,nd->nk", candidates, q)
        scores[ids < 0] = -np.inf
        best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        scores = np.take_along_axis(scores, best, axis=1)
        ids = np.take_along_axis(ids, best, axis=1)
        ids[~np.isfinite(scores)] = -1
        return (-scores if self.metric == "euclidean" else scores).astype(np.float32), ids

    def _search_params(self, selector, nprobe: int | None = None):
        faiss = import_faiss()
        if selector is None:
            return faiss.SearchParametersIVF(nprobe=nprobe or self.nprobe)
        return faiss.SearchParametersIVF(nprobe=nprobe or self.nprobe, sel=selector)

    def _exhaustive(self, q, k, allowed, bits):
        return self._faiss_search(q, k, self._search_params(self._selector(bits), nprobe=self._index.nlist))

    def compact(self) -> None:
        """Renumber the live vectors (with `refine`, whose stored vectors removed ids still hold)."""
        if not self.refine or len(self._ids) == self._size:
            return
        live = np.flatnonzero(self._alive[:self._size])
        keys, vectors = self._keys[live], self._raw[live]
        self._index.reset()
        self._index.add_with_ids(vectors, np.arange(len(live), dtype=np.int64))
        self._raw = vectors
        self._renumber(keys)

    def _save_extra(self, folder: Path) -> None:
        if self.refine:
            with open(folder / "vectors.npy", "wb") as f:
                np.save(f, self._raw[:self._size], allow_pickle=False)

    def _load_extra(self, folder: Path) -> None:
        if self.refine and self._index is not None:
            raw = np.load(folder / "vectors.npy", allow_pickle=False)
            if raw.shape != (self._size, self.dim) or raw.dtype != np.float32:
                raise FormatError(f"holds {raw.shape} {raw.dtype}, expected ({self._size}, {self.dim}) float32",
                                  path=folder / "vectors.npy")
            self._raw = raw

    def _configure_loaded(self):
        self._index.nprobe = self.nprobe

    def _expected_ntotal(self, keys):
        return sum(key is not None for key in keys)


KINDS = {"hnsw": HNSWIndex, "ivfpq": IVFPQIndex}


def _auto_m(dim: int) -> int:
    return max(m for m in range(1, max(1, dim // 2) + 1) if dim % m == 0)


def _object_array(keys: list) -> np.ndarray:
    array = np.empty(len(keys), dtype=object)
    array[:] = keys
    return array


def _empty_result(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((n, k), None, dtype=object), np.full((n, k), np.nan, dtype=np.float32)


def read_meta(path: Path) -> dict:
    """index.json of a saved approximate index, checked."""
    meta = read_marker(path, _MARKER, FORMAT, VERSION, "a saved index", fields=("kind", "dim", "metric", "ids", "params"))
    if meta["kind"] not in KINDS:
        raise FormatError(f"unknown index kind {meta['kind']!r}", path=Path(path) / _MARKER)
    return meta


def _read_keys(path: Path, n: int) -> list:
    if not path.is_file():
        raise FormatError("index is missing keys.jsonl", path=path.parent)
    keys = []
    with open(path, "rb") as f:
        for line, raw in enumerate(f, 1):
            try:
                key = json.loads(raw)
            except ValueError as error:
                raise FormatError(f"not valid JSON ({error})", path=path, line=line) from None
            if key is not None and (isinstance(key, bool) or not isinstance(key, (str, int))):
                raise FormatError(f"key {key!r} is not a str or int", path=path, line=line)
            keys.append(key)
    if len(keys) != n:
        raise FormatError(f"{len(keys)} ids, index.json says {n}", path=path)
    return keys
