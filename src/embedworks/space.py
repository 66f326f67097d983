"""`Embeddings`: the one central type. Keys ↔ rows of a float32 matrix, metadata, a default metric.

Everything in embedworks produces an `Embeddings` (trainers, encoders, file readers) and everything
downstream consumes one (search, evaluation, plots, the HTTP service).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from numbers import Integral
from pathlib import Path

import numpy as np

from .errors import DimensionError, InvalidInputError, UnknownKeyError
from .index.exact import check_metric, row_norms, top_k

Key = str | int
_INT_TEXT = re.compile(r"-?[0-9]{1,19}")  # text that can name an int64 key


def normalize_key(key) -> Key:
    """A key as stored: str stays str, any integer (NumPy included) becomes int."""
    if isinstance(key, str):
        return key
    if isinstance(key, Integral) and not isinstance(key, bool):
        return int(key)
    raise InvalidInputError(f"keys must be str or int, got {type(key).__name__} {key!r}")


def stored_key(key, keys):
    """The form in which `keys` (anything supporting ``in``) holds `key`: itself, or across types
    — "42" names int key 42, and 42 names str key "42" — when only that form is there. An absent
    key comes back unchanged, so the lookup that follows raises `UnknownKeyError` naming it."""
    if key in keys:
        return key
    if isinstance(key, str) and _INT_TEXT.fullmatch(key) and int(key) in keys:
        return int(key)
    if isinstance(key, int) and not isinstance(key, bool) and str(key) in keys:
        return str(key)
    return key


def _is_key(query) -> bool:
    return isinstance(query, (str, Integral)) and not isinstance(query, bool)


class Embeddings:
    """An ordered set of keys, one float32 vector per key, optional per-key metadata columns.

    >>> emb = Embeddings(["cat", "dog", "car"], [[1, 0], [0.9, 0.1], [0, 1]])
    >>> emb.most_similar("cat", k=1)
    [('dog', 0.9938837...)]

    `metric` ("cosine", "dot" or "euclidean") is the default for similarity and search; scores
    are similarities for cosine and dot (higher is better) and distances for euclidean (lower
    is better). `vectors` may be a read-only memory map (native files load that way).
    `encoder` is the spec of the encoder that made the vectors, when one did (a JSON-able dict,
    see `embedworks.encode.registry`): it is saved with native files so that a query given as a
    text or a file can be encoded the same way later.
    """

    def __init__(self, keys: Iterable, vectors, metadata: Mapping[str, Iterable] | None = None,
                 metric: str = "cosine", encoder: Mapping | None = None):
        keys = [normalize_key(k) for k in keys]
        vectors = vectors if isinstance(vectors, np.memmap) and vectors.dtype == np.float32 \
            else np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            if vectors.size == 0 and not keys:
                vectors = vectors.reshape(0, 0)
            else:
                raise DimensionError(f"vectors must be a 2-D matrix, got shape {vectors.shape}")
        if len(keys) != len(vectors):
            raise DimensionError(f"{len(keys)} keys but {len(vectors)} vectors")
        self._index = {}
        for row, key in enumerate(keys):
            if self._index.setdefault(key, row) != row:
                raise InvalidInputError(f"duplicate key {key!r} (rows {self._index[key]} and {row})")
        self._keys = keys
        self._vectors = vectors
        self.metric = check_metric(metric)
        self.metadata = self._checked_metadata(metadata, len(keys))
        self.encoder = dict(encoder) if encoder is not None else None
        self._norms: np.ndarray | None = None

    @staticmethod
    def _checked_metadata(metadata, n: int) -> dict[str, list]:
        columns = {}
        for name, values in (metadata or {}).items():
            values = list(values)
            if len(values) != n:
                raise DimensionError(f"metadata column {name!r} has {len(values)} values for {n} keys")
            columns[str(name)] = values
        return columns

    # ------------------------------------------------------------------ container protocol
    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key) -> bool:
        try:
            return normalize_key(key) in self._index
        except InvalidInputError:
            return False

    def __iter__(self):
        return iter(self._keys)

    def __getitem__(self, key) -> np.ndarray:
        """The vector of one key (a copy), or a (len, dim) matrix for a list of keys."""
        if _is_key(key):
            return np.array(self._vectors[self.index_of(key)])
        return np.array(self._vectors[[self.index_of(k) for k in key]]).reshape(-1, self.dim)

    def __repr__(self) -> str:
        columns = f", metadata={list(self.metadata)}" if self.metadata else ""
        return f"Embeddings({len(self)} keys × {self.dim} dims, metric={self.metric!r}{columns})"

    @property
    def keys(self) -> list:
        """The keys in row order (a copy; change keys with `add`, `subset` or `concat`)."""
        return list(self._keys)

    @property
    def vectors(self) -> np.ndarray:
        """The (len, dim) float32 matrix itself, not a copy."""
        return self._vectors

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    def index_of(self, key) -> int:
        """Row of `key`; raises `UnknownKeyError` naming the key and close matches."""
        try:
            return self._index[normalize_key(key)]
        except (KeyError, InvalidInputError):
            raise UnknownKeyError(key, self._keys) from None

    def norms(self) -> np.ndarray:
        """Row norms, cached; the cache is dropped by `add`."""
        if self._norms is None:
            self._norms = row_norms(self._vectors)
        return self._norms

    # ------------------------------------------------------------------ similarity and search
    def _vector_of(self, item) -> np.ndarray:
        if _is_key(item):
            return np.asarray(self._vectors[self.index_of(item)], dtype=np.float32)
        vec = np.asarray(item, dtype=np.float32)
        if vec.shape != (self.dim,):
            raise DimensionError(f"vector has shape {vec.shape}, expected ({self.dim},)")
        return vec

    def similarity(self, a, b, metric: str | None = None) -> float:
        """Similarity of two keys or vectors: cosine or dot, or the euclidean distance."""
        metric = check_metric(metric or self.metric)
        va, vb = self._vector_of(a), self._vector_of(b)
        if metric == "euclidean":
            return float(np.linalg.norm(va - vb))
        score = float(va @ vb)
        if metric == "cosine":
            denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
            score = score / denom if denom > 0 else 0.0
        return score

    def most_similar(self, query, k: int = 10, metric: str | None = None, *,
                     exclude: Iterable | None = None, restrict: int | Iterable | None = None):
        """The k nearest keys with their scores, best first.

        `query` is a key, a vector, or, for a batch, a list of keys and vectors or a 2-D array
        (a batch returns one list per query). A query given as a key never returns itself.
        `exclude` lists keys never to return; `restrict` limits candidates to the first N rows
        (an int, as gensim's `restrict_vocab`) or to the given keys.
        """
        metric = check_metric(metric or self.metric)
        single = _is_key(query) or np.ndim(query) == 1 and not isinstance(query, (list, tuple))
        batch = [query] if single else list(query) if not isinstance(query, np.ndarray) else query
        vectors = np.stack([self._vector_of(q) for q in batch]) if len(batch) else np.empty((0, self.dim))
        banned = [self.index_of(key) for key in (exclude or ())]
        excluded = [np.array(banned + ([self.index_of(q)] if _is_key(q) else []), dtype=np.int64)
                    for q in batch]
        matrix, rows, norms = self._candidates(restrict, metric)
        idx, scores = top_k(vectors, matrix, k, metric, norms=norms, rows=rows, exclude=excluded)
        results = [[(self._keys[i], float(s)) for i, s in zip(r, sc) if i >= 0]
                   for r, sc in zip(idx, scores)]
        return results[0] if single else results

    def _candidates(self, restrict, metric):
        """(matrix, rows, norms) for a search restricted to the first N rows or to given keys."""
        norms = None if metric == "dot" else self.norms()
        if restrict is None:
            return self._vectors, None, norms
        if isinstance(restrict, Integral):
            n = max(0, min(int(restrict), len(self)))
            return self._vectors[:n], None, None if norms is None else norms[:n]
        rows = np.array(sorted({self.index_of(key) for key in restrict}), dtype=np.int64)
        return self._vectors, rows, norms

    def analogy(self, positive: Iterable, negative: Iterable = (), k: int = 1, *,
                method: str = "3cosadd", restrict: int | Iterable | None = None):
        """Keys best completing "negative is to positive[0] as positive[1] is to ?".

        With `positive=["king", "woman"], negative=["man"]` the answer is near "queen".
        "3cosadd" ranks by cosine to the sum of unit positive vectors minus unit negative ones
        (Mikolov et al.); "3cosmul" by the product of shifted cosines (Levy & Goldberg 2014).
        The question keys themselves are never returned.
        """
        positive, negative = list(positive), list(negative)
        if not positive:
            raise InvalidInputError("analogy needs at least one positive key")
        question = [self.index_of(key) for key in positive + negative]
        matrix, rows, norms = self._candidates(restrict, "cosine")
        unit = [self._vector_of(key) / max(self.norms()[i], 1e-12) for key, i in
                zip(positive + negative, question)]
        if method == "3cosadd":
            target = np.sum(unit[:len(positive)], axis=0) - np.sum(unit[len(positive):] or [0], axis=0)
            idx, scores = top_k(target, matrix, k, "cosine", norms=norms, rows=rows,
                                exclude=[np.array(question, dtype=np.int64)])
            return [(self._keys[i], float(s)) for i, s in zip(idx[0], scores[0]) if i >= 0]
        if method == "3cosmul":
            return self._analogy_3cosmul(unit, len(positive), question, k, matrix, rows, norms)
        raise InvalidInputError(f"unknown analogy method {method!r}; choose '3cosadd' or '3cosmul'")

    def _analogy_3cosmul(self, unit, n_positive, question, k, matrix, rows, norms, chunk=65536):
        """Top k by prod(pos shifted cosines) / (prod(neg shifted cosines) + 1e-6), as gensim."""
        ids_all = np.arange(len(matrix)) if rows is None else rows
        targets = np.stack(unit).T
        scores = np.empty(len(ids_all), dtype=np.float32)
        for start in range(0, len(ids_all), chunk):
            ids = ids_all[start:start + chunk]
            block = np.asarray(matrix[ids], dtype=np.float32)
            shifted = (1 + (block @ targets) / np.where(norms[ids] > 0, norms[ids], np.inf)[:, None]) / 2
            scores[start:start + chunk] = (np.prod(shifted[:, :n_positive], axis=1)
                                           / (np.prod(shifted[:, n_positive:], axis=1) + 1e-6))
        scores[np.isin(ids_all, question)] = -np.inf
        best = np.argsort(-scores, kind="stable")[:k]
        return [(self._keys[ids_all[i]], float(scores[i])) for i in best if np.isfinite(scores[i])]

    def doesnt_match(self, keys: Iterable):
        """The key least similar (cosine) to the mean of the unit vectors of all given keys."""
        keys = list(keys)
        if len(keys) < 2:
            raise InvalidInputError("doesnt_match needs at least two keys")
        unit = self[keys] / np.maximum(self.norms()[[self.index_of(k) for k in keys]], 1e-12)[:, None]
        mean = unit.mean(axis=0)
        return keys[int(np.argmin(unit @ mean))]

    # ------------------------------------------------------------------ new sets from this one
    def normalized(self) -> "Embeddings":
        """A copy with every row scaled to unit length (zero rows stay zero)."""
        scale = np.where(self.norms() > 0, self.norms(), 1)[:, None]
        return Embeddings(self._keys, self._vectors / scale, self.metadata, self.metric, self.encoder)

    def subset(self, keys: Iterable) -> "Embeddings":
        """A copy holding only `keys`, in the order given, with their metadata."""
        keys = list(keys)
        rows = [self.index_of(k) for k in keys]
        metadata = {name: [col[r] for r in rows] for name, col in self.metadata.items()}
        return Embeddings(keys, np.array(self._vectors[rows]).reshape(-1, self.dim), metadata, self.metric,
                          self.encoder)

    def add(self, keys: Iterable, vectors, metadata: Mapping[str, Iterable] | None = None) -> "Embeddings":
        """Append new keys and their vectors in place (returns self); nothing changes on error.

        Metadata columns missing for the new rows are filled with None.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        new = Embeddings(keys, vectors[None, :] if vectors.ndim == 1 else vectors, metadata)
        merged = self.concat(new)
        self._keys, self._index, self._vectors = merged._keys, merged._index, merged._vectors
        self.metadata, self._norms = merged.metadata, None
        return self

    def concat(self, other: "Embeddings") -> "Embeddings":
        """A new set with the keys of `self` then those of `other`; keys must not overlap."""
        if len(self) and len(other) and other.dim != self.dim:
            raise DimensionError(f"cannot join {self.dim}-dim and {other.dim}-dim embeddings")
        clash = next((k for k in other if k in self._index), None)
        if clash is not None:
            raise InvalidInputError(f"key {clash!r} is in both embeddings")
        columns = list(dict.fromkeys([*self.metadata, *other.metadata]))
        metadata = {c: self.metadata.get(c, [None] * len(self)) + other.metadata.get(c, [None] * len(other))
                    for c in columns}
        dim = self.dim if len(self) else other.dim
        vectors = np.concatenate([np.asarray(self._vectors).reshape(-1, dim),
                                  np.asarray(other.vectors).reshape(-1, dim)])
        encoder = self.encoder if other.encoder in (None, self.encoder) else None
        return Embeddings(self._keys + other.keys, vectors, metadata, self.metric, encoder)

    # ------------------------------------------------------------------ files
    def save(self, path, format: str | None = None) -> Path:
        """Write to `path`; the format comes from `format`, else the suffix, else native."""
        from .formats import save

        return save(self, path, format=format)
