"""Exact nearest-neighbour search: batched BLAS matmul + argpartition, chunked to bound memory.

`top_k` is the kernel every exact search in embedworks goes through (`Embeddings.most_similar`,
`ExactIndex.search`, recommendation). It never copies or normalises the database: cosine divides
each score block by precomputed row norms, euclidean expands ||q - x||² = ||q||² - 2 q·x + ||x||²
and then recomputes the final k distances exactly, so results are the true top-k in order.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DimensionError, InvalidInputError, UnknownKeyError

#: above this k the O(k) slot scan (`_topk.merge_block`) loses to NumPy's argpartition
MAX_SCAN_K = 128

METRICS = ("cosine", "dot", "euclidean")

#: Scores computed at once, as a count of float32 cells: 32 Mi cells = 128 MiB per block, about
#: 512 MiB at peak with the partition indices (1,000 queries against 1,000,000 rows fit in that).
BLOCK_CELLS = 32 * 1024 * 1024


def check_metric(metric: str) -> str:
    """Return `metric` if it is one embedworks knows, else raise naming the choices."""
    if metric not in METRICS:
        raise InvalidInputError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def row_norms(matrix: np.ndarray, chunk_rows: int = 65536) -> np.ndarray:
    """Euclidean norm of every row, computed in chunks so a memory-mapped matrix is not copied."""
    norms = np.empty(len(matrix), dtype=np.float32)
    for start in range(0, len(matrix), chunk_rows):
        block = np.asarray(matrix[start:start + chunk_rows], dtype=np.float32)
        norms[start:start + chunk_rows] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms


def as_queries(queries, dim: int) -> np.ndarray:
    """Queries as a finite float32 (n, dim) array; a single vector becomes one row."""
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != dim:
        raise DimensionError(f"query vectors have shape {np.shape(queries)}, expected (n, {dim}) or ({dim},)")
    if not math.isfinite(q.sum()) and not np.isfinite(q).all():  # a finite sum proves every value finite
        raise InvalidInputError("query vectors contain NaN or infinity")
    return q


def top_k(queries: np.ndarray, matrix: np.ndarray, k: int, metric: str = "cosine", *,
          norms: np.ndarray | None = None, rows: np.ndarray | None = None,
          exclude: list[np.ndarray] | None = None,
          block_cells: int = BLOCK_CELLS) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the k best rows of `matrix` for each query, best first.

    Scores are cosine similarity, dot product, or euclidean distance (ascending) by `metric`.
    `norms` (row norms, for cosine and euclidean) may be passed to reuse a cached copy. `rows`
    restricts the search to those row indices. `exclude[i]` lists row indices query i must never
    return. Fewer than k candidates leave -1 indices and NaN scores at the end of a row.
    Extra memory stays near `block_cells` float32 cells whatever the size of `matrix`.
    """
    check_metric(metric)
    queries = as_queries(queries, matrix.shape[1])
    n_queries = len(queries)
    if k < 1:
        raise InvalidInputError(f"k must be at least 1, got {k}")
    if metric != "dot" and norms is None:
        norms = row_norms(matrix)
    if metric == "cosine":
        q_norms = np.linalg.norm(queries, axis=1)
        queries = queries / np.where(q_norms > 0, q_norms, 1)[:, None]
    n_rows = len(matrix) if rows is None else len(rows)

    best_idx = np.full((n_queries, k), -1, dtype=np.int64)
    best_val = np.full((n_queries, k), -np.inf, dtype=np.float32)
    q_chunk = max(1, min(n_queries, block_cells // max(1, min(n_rows, 65536))))
    r_chunk = max(1, block_cells // q_chunk)
    for q0 in range(0, n_queries, q_chunk):
        q = queries[q0:q0 + q_chunk]
        for r0 in range(0, n_rows, r_chunk):
            ids = np.arange(r0, min(r0 + r_chunk, n_rows)) if rows is None else rows[r0:r0 + r_chunk]
            block = np.asarray(matrix[r0:r0 + r_chunk] if rows is None else matrix[ids], dtype=np.float32)
            scores = _higher_is_better(q, block, metric, None if norms is None else norms[ids])
            if exclude is not None:
                _mask_excluded(scores, ids, exclude[q0:q0 + q_chunk])
            _merge(best_idx[q0:q0 + q_chunk], best_val[q0:q0 + q_chunk], scores, ids)
    return _finish(best_idx, best_val, queries, matrix, metric)


def _higher_is_better(q: np.ndarray, block: np.ndarray, metric: str, norms: np.ndarray | None) -> np.ndarray:
    """Score block where larger is better: cosine, dot, or minus squared euclidean distance."""
    scores = q @ block.T
    if metric == "cosine":
        scores /= np.where(norms > 0, norms, np.inf)[None, :]
    elif metric == "euclidean":
        scores *= 2
        scores -= (norms * norms)[None, :]
        scores -= np.einsum("ij,ij->i", q, q)[:, None]
    return scores


def _mask_excluded(scores: np.ndarray, ids: np.ndarray, exclude: list[np.ndarray]) -> None:
    """Set the score of every excluded row to -inf, in place."""
    lo, hi = (ids[0], ids[-1]) if len(ids) else (0, -1)
    contiguous = len(ids) and hi - lo + 1 == len(ids)
    for i, rows_out in enumerate(exclude):
        if rows_out is None or len(rows_out) == 0:
            continue
        if contiguous:
            hit = rows_out[(rows_out >= lo) & (rows_out <= hi)] - lo
        else:
            hit = np.flatnonzero(np.isin(ids, rows_out))
        scores[i, hit] = -np.inf


def _merge(best_idx: np.ndarray, best_val: np.ndarray, scores: np.ndarray, ids: np.ndarray) -> None:
    """Fold one block of scores into the running top-k (in place, unordered)."""
    k = best_idx.shape[1]
    ids = np.asarray(ids, dtype=np.int64)
    if k <= MAX_SCAN_K:
        from ._topk import merge_block  # Numba loads on the first search, not with embedworks

        merge_block(scores, ids, best_val, best_idx)
        return
    if scores.shape[1] > k:
        np.negative(scores, out=scores)  # in place: argpartition finds the k smallest
        part = np.argpartition(scores, k - 1, axis=1)[:, :k]
        cand_val = -np.take_along_axis(scores, part, axis=1)
        cand_idx = ids[part]
    else:
        cand_val = scores
        cand_idx = np.broadcast_to(ids, scores.shape)
    all_val = np.concatenate([best_val, cand_val], axis=1)
    all_idx = np.concatenate([best_idx, cand_idx], axis=1)
    keep = np.argpartition(-all_val, k - 1, axis=1)[:, :k]
    best_val[:] = np.take_along_axis(all_val, keep, axis=1)
    best_idx[:] = np.take_along_axis(all_idx, keep, axis=1)


def _finish(best_idx, best_val, queries, matrix, metric):
    """Sort the top-k, turn internal scores into the metric's own, blank out missing slots."""
    missing = ~np.isfinite(best_val)
    best_idx[missing] = -1
    if metric == "euclidean":
        safe = np.where(missing, 0, best_idx)
        diffs = np.asarray(matrix[safe.ravel()], dtype=np.float32).reshape(*safe.shape, -1) - queries[:, None, :]
        best_val = np.sqrt(np.einsum("qkd,qkd->qk", diffs, diffs))
        best_val[missing] = np.inf
        order = np.lexsort((best_idx, best_val), axis=1)
    else:
        best_val = np.where(missing, -np.inf, best_val)
        order = np.lexsort((best_idx, -best_val), axis=1)
    best_idx = np.take_along_axis(best_idx, order, axis=1)
    best_val = np.take_along_axis(best_val, order, axis=1).astype(np.float32)
    best_val[best_idx < 0] = np.nan
    return best_idx, best_val


class ExactIndex:
    """Brute-force index over keyed vectors; the reference every approximate index is checked against.

    Implements the `Index` protocol: `add(keys, vectors)`, `remove(keys)`,
    `search(queries, k, filter=None) -> (keys, scores)`, `save(path)`, `ExactIndex.load(path)`,
    `len(index)`. Rows live in one growable matrix (appends are amortised O(1), a removal moves
    the last row into the hole) with row norms kept up to date, so adds, removes and searches can
    interleave without recomputing anything over the whole matrix.
    """

    kind = "exact"

    def __init__(self, dim: int, metric: str = "cosine"):
        if dim < 1:
            raise InvalidInputError(f"dim must be at least 1, got {dim}")
        self.dim = dim
        self.metric = check_metric(metric)
        self._keys: list = []
        self._positions: dict = {}
        self._matrix = np.empty((0, dim), dtype=np.float32)
        self._norms = np.empty(0, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> list:
        return list(self._keys)

    @property
    def vectors(self) -> np.ndarray:
        """The (len, dim) matrix in row order (a view: do not modify)."""
        return self._matrix[:len(self._keys)]

    def add(self, keys, vectors) -> None:
        """Append vectors under new keys; nothing is added if any key or vector is invalid."""
        keys = list(keys)
        vectors = as_queries(vectors, self.dim) if len(keys) else np.empty((0, self.dim), np.float32)
        if len(keys) != len(vectors):
            raise DimensionError(f"{len(keys)} keys but {len(vectors)} vectors")
        check_new_keys(keys, self._positions)
        n, end = len(self._keys), len(self._keys) + len(keys)
        if end > len(self._matrix):
            capacity = max(end, 2 * len(self._matrix), 1024)
            self._matrix = _grown(self._matrix, n, capacity)
            self._norms = _grown(self._norms, n, capacity)
        self._matrix[n:end] = vectors
        self._norms[n:end] = row_norms(vectors)
        for row, key in enumerate(keys, n):
            self._positions[key] = row
        self._keys.extend(keys)

    def remove(self, keys) -> None:
        """Drop `keys` (each must be present; nothing is removed otherwise)."""
        keys = list(keys)
        for key in keys:
            if key not in self._positions:
                raise UnknownKeyError(key, self._keys)
        for key in dict.fromkeys(keys):
            row, last = self._positions.pop(key), len(self._keys) - 1
            if row != last:
                moved = self._keys[last]
                self._keys[row], self._positions[moved] = moved, row
                self._matrix[row], self._norms[row] = self._matrix[last], self._norms[last]
            self._keys.pop()

    def search(self, queries, k: int = 10, *, filter=None) -> tuple[np.ndarray, np.ndarray]:
        """Keys (object array, None where fewer than k exist) and scores, each shaped (n_queries, k).

        `filter` (an iterable of keys) limits the candidates to those keys; keys not in the index
        are ignored, so k results come back whenever at least k of the allowed keys are present.
        """
        n = len(self._keys)
        rows = None
        if filter is not None:
            positions = self._positions
            rows = np.fromiter((positions[key] for key in filter if key in positions), dtype=np.int64)
            rows.sort()
        idx, scores = top_k(queries, self._matrix[:n], k, self.metric, norms=self._norms[:n], rows=rows)
        return keys_at(idx, self._keys), scores

    def vector(self, key) -> np.ndarray:
        if key not in self._positions:
            raise UnknownKeyError(key, self._keys)
        return self._matrix[self._positions[key]].copy()

    def save(self, path) -> Path:
        """Write the index as a native embeddings directory (see `embedworks.formats`)."""
        from ..space import Embeddings

        return Embeddings(self._keys, self.vectors, metric=self.metric).save(path, format="native")

    @classmethod
    def load(cls, path) -> "ExactIndex":
        from ..formats import load

        emb = load(path, format="native")
        index = cls(emb.dim, emb.metric)
        index.add(emb.keys, np.asarray(emb.vectors))
        return index


def keys_at(idx: np.ndarray, keys: list) -> np.ndarray:
    """An object array shaped like `idx` holding `keys[i]` for every i >= 0 and None for -1."""
    found = np.full(idx.shape, None, dtype=object)
    hit = idx >= 0
    found[hit] = [keys[i] for i in idx[hit].tolist()]
    return found


def check_new_keys(keys: list, present) -> None:
    """Raise naming the first key of `keys` that is in `present` or repeated within `keys`."""
    seen = set()
    for key in keys:
        if key in present or key in seen:
            raise InvalidInputError(f"key {key!r} is already in the index")
        seen.add(key)


def _grown(array: np.ndarray, used: int, capacity: int) -> np.ndarray:
    """A copy of `array`'s first `used` rows with room for `capacity` rows."""
    grown = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown
