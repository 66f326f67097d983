"""`Recommender`: what every user–item factor model shares (implicit's ``RecommenderBase`` idea).

A fitted model holds ``user_factors`` and ``item_factors`` (float32), the raw user and item ids
of its training data (in index order) and the training matrix (CSR, users × items) used to
filter already-seen items. On top of the factors it implements, once for every model:

* ``users`` / ``items``: `Embeddings` keyed by the raw ids, metric "dot", built so that
  ``users[u] · items[i]`` is exactly the model's recommendation score;
* ``recommend`` (one user or a batch, raw ids) and ``recommend_indices`` (dense indices, arrays
  in and out, for evaluation), both through the exact BLAS index (`index.exact.top_k`);
* ``similar_items`` / ``similar_users`` (cosine over the factors, the query itself excluded);
* ``recalculate_user`` / ``recommend_for``: fold a new or changed user in against the fixed
  item factors, without retraining;
* ``save`` / ``load``: a directory with ``params.json`` (format, version, hyperparameters,
  state), the factor matrices as ``.npy``, ``users.json`` / ``items.json`` and the training
  matrix as three ``.npy`` arrays. No pickle.

A subclass provides `fit`, `get_params`, the vectors that score (`_query_vectors`,
`_item_vectors`), the vectors compared by `similar_*`, and `_fold_in` (one user's new factor row
from item indices and values).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from numbers import Integral
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ...errors import FormatError, InvalidInputError, UnknownKeyError
from ...files import atomic_directory
from ...index.exact import top_k
from ..training import check_int

logger = logging.getLogger(__name__)

__all__ = ["Recommender", "as_training_matrix"]

#: users scored per block by `recommend_indices` (bounds the exclusion lists held at once)
USER_BATCH = 4096

_REGISTRY: dict[str, type] = {}


# --------------------------------------------------------------------------- small helpers
def check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_workers(workers):
    return None if workers is None else check_int("workers", workers, 1)


def _normalize_id(key):
    if isinstance(key, str):
        return str(key)
    if isinstance(key, Integral) and not isinstance(key, bool):
        return int(key)
    raise InvalidInputError(f"user and item ids must be str or int, got {type(key).__name__} {key!r}")


def _is_batch(x) -> bool:
    return isinstance(x, (list, tuple, np.ndarray, range))


def as_training_matrix(data) -> tuple[sp.csr_matrix, list, list]:
    """(CSR float32 users × items, user ids, item ids) from an `Interactions` or a sparse matrix.

    An `Interactions` (anything with ``csr``, ``users`` and ``items``) keeps its raw ids; a SciPy
    sparse matrix gets ids 0..n-1. Duplicate entries are summed, indices sorted, values checked.
    """
    if hasattr(data, "csr") and hasattr(data, "users") and hasattr(data, "items"):
        matrix = data.csr
        users = [_normalize_id(u) for u in data.users]
        items = [_normalize_id(i) for i in data.items]
    elif sp.issparse(data):
        matrix = data
        users = list(range(data.shape[0]))
        items = list(range(data.shape[1]))
    else:
        raise InvalidInputError("expected an Interactions (embedworks.data) or a SciPy sparse users × items "
                                f"matrix, got {type(data).__name__}")
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if csr.shape != (len(users), len(items)):
        raise InvalidInputError(f"interaction matrix shape {csr.shape} does not match "
                                f"{len(users)} users × {len(items)} items")
    csr.sum_duplicates()
    csr.sort_indices()
    if csr.nnz == 0:
        raise InvalidInputError("no interactions to train on")
    if not np.isfinite(csr.data).all():
        raise InvalidInputError("interaction values contain NaN or infinity")
    return _canonical_csr(csr), users, items


def _canonical_csr(csr: sp.csr_matrix) -> sp.csr_matrix:
    """The dtypes every kernel is compiled for: int64 indptr, int32 indices, float32 data."""
    out = sp.csr_matrix((np.ascontiguousarray(csr.data, dtype=np.float32),
                         np.ascontiguousarray(csr.indices, dtype=np.int32),
                         np.ascontiguousarray(csr.indptr, dtype=np.int64)), shape=csr.shape, copy=False)
    out.has_sorted_indices = True
    return out


def run_threads(target, n: int, name: str) -> None:
    """Run ``target(t)`` for t in range(n): inline for n == 1, else one thread each; re-raise errors."""
    if n == 1:
        target(0)
        return
    errors: list[BaseException] = []

    def work(t):
        try:
            target(t)
        except BaseException as e:  # re-raised in the calling thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,), name=f"{name}-{t}", daemon=True) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def balanced_ranges(indptr: np.ndarray, parts: int, row_cost: float = 1.0) -> list[tuple[int, int]]:
    """Split rows 0..n into at most `parts` contiguous ranges of about equal work.

    The work of a row is its number of entries plus `row_cost` (the fixed cost of a row in units
    of one entry's cost).
    """
    n = len(indptr) - 1
    work = indptr.astype(np.float64) + row_cost * np.arange(n + 1)
    cuts = np.searchsorted(work, np.linspace(0, work[-1], parts + 1)[1:-1])
    bounds = np.unique(np.concatenate([[0], cuts, [n]]).astype(np.int64))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def seed_state(seed: int, *key: int) -> np.uint64:
    """A non-zero uint64 RNG state from (seed, key...) via SeedSequence (stable across runs)."""
    ss = np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key))
    return np.uint64(ss.generate_state(1, np.uint64)[0] | np.uint64(1))


# --------------------------------------------------------------------------- the base class
class Recommender:
    """Base of the user–item factor models (`MatrixFactorization`, `ALS`, `BPR`).

    After `fit`: ``user_factors`` (n_users, d) and ``item_factors`` (n_items, d) float32,
    ``user_ids`` / ``item_ids`` (raw ids in index order), ``user_index`` / ``item_index`` (raw id
    → row), ``train_csr`` (the training matrix, users × items, float32) and ``training_stats``.
    """

    FORMAT = "embedworks.recommend"
    FORMAT_VERSION = 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.FORMAT] = cls

    def _reset_state(self) -> None:
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None
        self.user_ids: list = []
        self.item_ids: list = []
        self.user_index: dict = {}
        self.item_index: dict = {}
        self.train_csr: sp.csr_matrix | None = None
        self.training_stats: dict = {}
        self._invalidate()

    def _invalidate(self) -> None:
        """Drop everything cached from the factors (call after changing them)."""
        self._cache: dict = {}

    # ------------------------------------------------------------------ subclass hooks
    def get_params(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, interactions) -> "Recommender":  # pragma: no cover - abstract
        raise NotImplementedError

    def _query_vectors(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The user side of the score (all users, or `rows`): score = query · item vector."""
        return self.user_factors if rows is None else self.user_factors[rows]

    def _item_vectors(self) -> np.ndarray:
        """The item side of the score, (n_items, d)."""
        return self.item_factors

    def _user_similarity_vectors(self) -> np.ndarray:
        return self.user_factors

    def _item_similarity_vectors(self) -> np.ndarray:
        return self.item_factors

    def _fold_in(self, item_rows: np.ndarray, values: np.ndarray) -> np.ndarray:  # pragma: no cover
        """A user's new row of `user_factors` from its items (indices, sorted unique) and values."""
        raise NotImplementedError

    def _fold_in_query(self, factor_row: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
        """The query vector (the `_query_vectors` form) of a folded-in user's factor row."""
        return factor_row

    def _store_user(self, row: int, factor_row: np.ndarray, item_rows, values) -> None:
        """Write a folded-in user's factors into the model (subclasses add biases etc.)."""
        self.user_factors[row] = factor_row

    def _grow_users(self, n_new: int) -> None:
        """Append `n_new` zero users to every per-user array (subclasses extend)."""
        d = self.user_factors.shape[1]
        self.user_factors = np.concatenate([self.user_factors, np.zeros((n_new, d), np.float32)])

    def _extra_arrays(self) -> dict[str, np.ndarray]:
        """Model-specific arrays to save beside the factors (name → array)."""
        return {}

    def _set_extra_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        pass

    def _extra_array_names(self) -> list[str]:
        return []

    def _state(self) -> dict:
        """Model-specific JSON state to save (besides params)."""
        return {}

    def _set_state(self, state: dict) -> None:
        pass

    # ------------------------------------------------------------------ fitted data
    def _check_fitted(self) -> None:
        if self.user_factors is None or self.item_factors is None:
            raise InvalidInputError(f"the {type(self).__name__} model is not fitted yet: call fit(interactions) first")

    def _set_training(self, csr: sp.csr_matrix, users: list, items: list) -> None:
        self.train_csr = csr
        self.user_ids = list(users)
        self.item_ids = list(items)
        self.user_index = {u: k for k, u in enumerate(self.user_ids)}
        self.item_index = {i: k for k, i in enumerate(self.item_ids)}
        if len(self.user_index) != len(self.user_ids):
            raise InvalidInputError("duplicate user ids in the interactions")
        if len(self.item_index) != len(self.item_ids):
            raise InvalidInputError("duplicate item ids in the interactions")

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def user_row(self, user) -> int:
        """The dense index of raw user id `user`; `UnknownKeyError` naming it if unseen."""
        return _lookup(self.user_index, user, self.user_ids, "user")

    def item_row(self, item) -> int:
        """The dense index of raw item id `item`; `UnknownKeyError` naming it if unseen."""
        return _lookup(self.item_index, item, self.item_ids, "item")

    def _item_rows(self, items) -> np.ndarray:
        return np.fromiter((self.item_row(i) for i in items), dtype=np.int64)

    # ------------------------------------------------------------------ embeddings
    @property
    def users(self):
        """The users as an `Embeddings` (metric "dot"): ``users[u] · items[i]`` is the score."""
        self._check_fitted()
        if "users" not in self._cache:
            from ...space import Embeddings

            self._cache["users"] = Embeddings(self.user_ids, np.array(self._query_vectors(), dtype=np.float32),
                                              metric="dot")
        return self._cache["users"]

    @property
    def items(self):
        """The items as an `Embeddings` (metric "dot"): ``users[u] · items[i]`` is the score."""
        self._check_fitted()
        if "items" not in self._cache:
            from ...space import Embeddings

            self._cache["items"] = Embeddings(self.item_ids, np.array(self._item_vectors(), dtype=np.float32),
                                              metric="dot")
        return self._cache["items"]

    def _cached_item_vectors(self) -> np.ndarray:
        if "item_vectors" not in self._cache:
            self._cache["item_vectors"] = np.ascontiguousarray(self._item_vectors(), dtype=np.float32)
        return self._cache["item_vectors"]

    # ------------------------------------------------------------------ recommendation
    def recommend_indices(self, user_indices, n: int = 10, filter_seen: bool = True, train_csr=None,
                          items: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` items for users given by dense index: ``(item indices (nu, n) int64, scores)``.

        Scores are float32 (higher is better). Rows with fewer than `n` candidates are padded
        with index -1 and score NaN. `filter_seen` excludes each user's items in `train_csr`
        (default: the training matrix; an `Interactions` or a CSR users × items matrix with the
        model's index space). `items` restricts the candidates to those item indices.
        """
        self._check_fitted()
        n = check_int("n", n, 1)
        rows = np.asarray(user_indices, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self.user_factors)):
            raise InvalidInputError(f"user indices must be in [0, {len(self.user_factors)}), got "
                                    f"{rows.min()}..{rows.max()}")
        seen = None
        if filter_seen:
            seen = self.train_csr if train_csr is None else getattr(train_csr, "csr", train_csr)
            seen = sp.csr_matrix(seen)
            if seen.shape[1] != self.n_items:
                raise InvalidInputError(f"train_csr has {seen.shape[1]} items, the model {self.n_items}")
            if seen.shape[0] < len(self.user_factors):
                seen = sp.vstack([seen, sp.csr_matrix((len(self.user_factors) - seen.shape[0], seen.shape[1]))],
                                 format="csr")
        if items is not None:
            items = np.unique(np.asarray(items, dtype=np.int64))
        history = self.train_csr.getnnz(axis=1)
        cold = np.array([u >= len(history) or history[u] == 0 for u in rows], dtype=bool)
        return self._score_top(self._query_vectors(rows), rows, n, seen, items, cold)

    def _score_top(self, queries, rows, n, seen, items, cold):
        """Top-n by user · item; a `cold` user (no interactions, so no taste to go on) gets the
        most popular items instead, scored by their number of training interactions."""
        matrix = self._cached_item_vectors()
        out_idx = np.full((len(queries), n), -1, dtype=np.int64)
        out_val = np.full((len(queries), n), np.nan, dtype=np.float32)
        if len(queries) == 0 or (items is not None and len(items) == 0):
            return out_idx, out_val
        popularity = np.asarray(self.train_csr.getnnz(axis=0), dtype=np.float32)[:, None]
        for b0 in range(0, len(queries), USER_BATCH):
            q = np.asarray(queries[b0:b0 + USER_BATCH], dtype=np.float32)
            exclude = None
            if seen is not None:
                exclude = [_row(seen, u) for u in rows[b0:b0 + USER_BATCH]]
            idx, val = top_k(q, matrix, n, "dot", rows=items, exclude=exclude)
            some = np.flatnonzero(cold[b0:b0 + USER_BATCH])
            if len(some):
                idx[some], val[some] = top_k(np.ones((len(some), 1)), popularity, n, "dot", rows=items,
                                             exclude=None if exclude is None else [exclude[c] for c in some])
            out_idx[b0:b0 + len(q)] = idx
            out_val[b0:b0 + len(q)] = val
        return out_idx, out_val

    def recommend(self, user, n: int = 10, filter_seen: bool = True, items: Iterable | None = None):
        """The `n` best items for `user` as a list of ``(item, score)``, best first.

        `user` is a raw user id, or a list / array of them (then a list of such lists comes
        back). `filter_seen` leaves out the items the user interacted with in training; `items`
        restricts the candidates to those raw item ids. With `n` larger than the candidates, all
        of them come back. Unknown users or items raise `UnknownKeyError`. A user with no
        training interactions gets the most popular items, scored by their interaction count.
        """
        self._check_fitted()
        batch = _is_batch(user)
        users = list(user) if batch else [user]
        rows = np.fromiter((self.user_row(u) for u in users), dtype=np.int64, count=len(users))
        candidates = None if items is None else self._item_rows(items)
        idx, val = self.recommend_indices(rows, n, filter_seen=filter_seen, items=candidates)
        out = [self._pairs(i, v) for i, v in zip(idx, val)]
        return out if batch else out[0]

    def _pairs(self, idx, val) -> list[tuple]:
        keep = idx >= 0
        ids = self.item_ids
        return [(ids[i], float(v)) for i, v in zip(idx[keep].tolist(), val[keep].tolist())]

    def recommend_for(self, interactions, n: int = 10, filter_seen: bool = True, items: Iterable | None = None):
        """Recommend for a user who is not in the model, from their interactions.

        `interactions`: a dict ``{item: value}``, a pair ``(items, values)`` or a list of items
        (value 1). The user's factor is folded in with `recalculate_user` (the model is not
        changed); `filter_seen` leaves out the given items. Returns ``[(item, score), ...]``.
        """
        self._check_fitted()
        item_rows, values = self._parse_interactions(interactions)
        factor = self._fold_in(item_rows, values)
        query = np.asarray(self._fold_in_query(factor, item_rows), dtype=np.float32)[None, :]
        seen = None
        if filter_seen:
            seen = sp.csr_matrix((np.ones(len(item_rows), np.float32), item_rows.astype(np.int32),
                                  np.array([0, len(item_rows)], np.int64)), shape=(1, self.n_items))
        candidates = None if items is None else np.unique(self._item_rows(items))
        n = check_int("n", n, 1)
        idx, val = self._score_top(query, np.zeros(1, np.int64), n, seen, candidates,
                                   cold=np.array([len(item_rows) == 0]))
        return self._pairs(idx[0], val[0])

    # ------------------------------------------------------------------ similarity
    def similar_items(self, item, n: int = 10) -> list[tuple]:
        """The `n` items most similar to `item` (cosine of the item factors), itself excluded."""
        self._check_fitted()
        return self._similar(item, n, self.item_row, self._item_similarity_vectors, "item_sim", self.item_ids)

    def similar_users(self, user, n: int = 10) -> list[tuple]:
        """The `n` users most similar to `user` (cosine of the user factors), itself excluded."""
        self._check_fitted()
        return self._similar(user, n, self.user_row, self._user_similarity_vectors, "user_sim", self.user_ids)

    def _similar(self, key, n, row_of, vectors, cache_key, ids):
        n = check_int("n", n, 1)
        batch = _is_batch(key)
        keys = list(key) if batch else [key]
        rows = np.fromiter((row_of(k) for k in keys), dtype=np.int64, count=len(keys))
        if cache_key not in self._cache:
            from ...index.exact import row_norms

            m = np.ascontiguousarray(vectors(), dtype=np.float32)
            self._cache[cache_key] = (m, row_norms(m))
        matrix, norms = self._cache[cache_key]
        idx, val = top_k(matrix[rows], matrix, n, "cosine", norms=norms,
                         exclude=[np.array([r]) for r in rows])
        out = []
        for i_row, v_row in zip(idx, val):
            keep = i_row >= 0
            out.append([(ids[i], float(v)) for i, v in zip(i_row[keep].tolist(), v_row[keep].tolist())])
        return out if batch else out[0]

    # ------------------------------------------------------------------ fold-in
    def _parse_interactions(self, interactions) -> tuple[np.ndarray, np.ndarray]:
        """(item rows sorted unique int64, values float32) from a dict, (items, values) or items.

        Repeated items have their values summed. Unknown items raise `UnknownKeyError`.
        """
        if isinstance(interactions, Mapping):
            keys = list(interactions.keys())
            values = list(interactions.values())
        elif (isinstance(interactions, tuple) and len(interactions) == 2
              and all(_is_batch(part) for part in interactions)):
            keys, values = list(interactions[0]), list(interactions[1])
            if len(keys) != len(values):
                raise InvalidInputError(f"{len(keys)} items but {len(values)} values")
        elif _is_batch(interactions):
            keys = list(interactions)
            values = [1.0] * len(keys)
        else:
            raise InvalidInputError("interactions must be a dict {item: value}, a pair (items, values) "
                                    f"or a list of items, got {type(interactions).__name__}")
        try:
            vals = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError("interaction values must be numbers") from None
        if vals.ndim != 1 or not np.isfinite(vals).all():
            raise InvalidInputError("interaction values must be finite numbers")
        rows = self._item_rows(keys)
        if len(rows) == 0:
            return rows, vals.astype(np.float32)
        uniq, inverse = np.unique(rows, return_inverse=True)
        summed = np.zeros(len(uniq))
        np.add.at(summed, inverse, vals)
        return uniq, summed.astype(np.float32)

    def recalculate_user(self, user, interactions, update: bool = False) -> np.ndarray:
        """The factor row of `user` recomputed from `interactions` against the fixed item factors.

        `interactions`: a dict ``{item: value}``, a pair ``(items, values)`` or a list of items
        (value 1); they replace what the model knew of the user. `user` may be known or new.
        Returns the new row of ``user_factors`` (float32). With ``update=True`` the model stores it
        (appending a new user) and the user's training row becomes `interactions`, so
        `recommend(user)` and `filter_seen` use them; without, the model is unchanged.
        """
        self._check_fitted()
        item_rows, values = self._parse_interactions(interactions)
        factor = np.asarray(self._fold_in(item_rows, values), dtype=np.float32)
        if update:
            key = _normalize_id(user)
            row = self.user_index.get(key)
            if row is None:
                row = len(self.user_ids)
                self._grow_users(1)
                self.user_ids.append(key)
                self.user_index[key] = row
            self._store_user(row, factor, item_rows, values)
            self._replace_train_row(row, item_rows, values)
            self._invalidate()
        return factor

    def _replace_train_row(self, row: int, item_rows: np.ndarray, values: np.ndarray) -> None:
        csr = self.train_csr
        if row >= csr.shape[0]:
            csr = sp.vstack([csr, sp.csr_matrix((row + 1 - csr.shape[0], csr.shape[1]), dtype=np.float32)],
                            format="csr")
        before, after = csr[:row], csr[row + 1:]
        new = sp.csr_matrix((values.astype(np.float32), item_rows.astype(np.int32),
                             np.array([0, len(item_rows)], np.int64)), shape=(1, csr.shape[1]))
        self.train_csr = _canonical_csr(sp.vstack([before, new, after], format="csr"))

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Save the fitted model as a directory; returns its path.

        Files: ``params.json`` (format, version, hyperparameters, state), ``user_factors.npy``,
        ``item_factors.npy`` and model-specific arrays, ``users.json`` / ``items.json`` (raw ids
        in index order) and ``train_indptr.npy`` / ``train_indices.npy`` / ``train_data.npy`` (the
        training matrix, for `filter_seen`). Written beside `path` and moved into place, so a
        failure leaves an existing model untouched. No pickle.
        """
        self._check_fitted()
        path = Path(path)
        if path.exists() and path.is_dir() and any(path.iterdir()) and not _is_model_dir(path):
            raise InvalidInputError(f"{path} exists and is not a saved recommender model; refusing to overwrite it")
        with atomic_directory(path, marker="params.json") as tmp:
            meta = {"format": self.FORMAT, "format_version": self.FORMAT_VERSION,
                    "model": type(self).__name__, "params": self.get_params(),
                    "state": {"n_users": self.n_users, "n_items": self.n_items,
                              "training_stats": self.training_stats, **self._state()}}
            with open(tmp / "params.json", "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=2)
            for name, ids in (("users.json", self.user_ids), ("items.json", self.item_ids)):
                with open(tmp / name, "w", encoding="utf-8") as f:
                    json.dump(ids, f, ensure_ascii=False)
            np.save(tmp / "user_factors.npy", self.user_factors)
            np.save(tmp / "item_factors.npy", self.item_factors)
            for name, array in self._extra_arrays().items():
                np.save(tmp / f"{name}.npy", array)
            np.save(tmp / "train_indptr.npy", self.train_csr.indptr)
            np.save(tmp / "train_indices.npy", self.train_csr.indices)
            np.save(tmp / "train_data.npy", self.train_csr.data)
        return path

    @classmethod
    def load(cls, path) -> "Recommender":
        """Load a model written by `save`. ``Recommender.load`` returns whichever model it holds."""
        path = Path(path)
        params_file = path / "params.json"
        if not params_file.is_file():
            raise FormatError("not a recommender model directory (no params.json)", path)
        try:
            meta = json.loads(params_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise FormatError(f"invalid JSON: {e}", params_file) from None
        fmt = meta.get("format") if isinstance(meta, dict) else None
        klass = _REGISTRY.get(fmt)
        if klass is None:
            raise FormatError(f"not a recommender model (format {fmt!r})", params_file)
        if cls is not Recommender and not issubclass(klass, cls):
            raise FormatError(f"holds a {klass.__name__}, not a {cls.__name__}", params_file)
        if meta.get("format_version", 0) > klass.FORMAT_VERSION:
            raise FormatError(f"format version {meta.get('format_version')} is newer than this "
                              f"embedworks reads ({klass.FORMAT_VERSION})", params_file)
        model = klass(**meta["params"])
        state = meta.get("state", {})
        try:
            users = json.loads((path / "users.json").read_text(encoding="utf-8"))
            items = json.loads((path / "items.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise FormatError(f"cannot read the ids: {e}", path) from None
        nu, ni = int(state.get("n_users", len(users))), int(state.get("n_items", len(items)))
        if len(users) != nu or len(items) != ni:
            raise FormatError(f"expected {nu} users and {ni} items, found {len(users)} and {len(items)}", path)

        def array(name, shape0=None, ndim=None, dtype=None):
            file = path / f"{name}.npy"
            try:
                a = np.load(file, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise FormatError(f"cannot read: {e}", file) from None
            if (shape0 is not None and a.shape[0] != shape0) or (ndim is not None and a.ndim != ndim) \
                    or (dtype is not None and a.dtype != dtype):
                raise FormatError(f"unexpected array {a.dtype} {a.shape}", file)
            return np.ascontiguousarray(a)

        user_factors = array("user_factors", nu, 2, np.float32)
        item_factors = array("item_factors", ni, 2, np.float32)
        indptr = array("train_indptr", nu + 1, 1)
        indices = array("train_indices", None, 1)
        data = array("train_data", len(indices), 1, np.float32)
        csr = _canonical_csr(sp.csr_matrix((data, indices, indptr), shape=(nu, ni)))
        model._set_training(csr, [_normalize_id(u) for u in users], [_normalize_id(i) for i in items])
        model.user_factors = user_factors
        model.item_factors = item_factors
        model._set_extra_arrays({name: array(name) for name in model._extra_array_names()})
        model.training_stats = state.get("training_stats", {})
        model._set_state(state)
        model._invalidate()
        return model


def _lookup(index: dict, key, known: list, what: str) -> int:
    try:
        key = _normalize_id(key)
    except InvalidInputError:
        raise UnknownKeyError(key, None, what=what) from None
    row = index.get(key)
    if row is None:
        raise UnknownKeyError(key, known, what=what)
    return row


def _row(csr: sp.csr_matrix, u: int) -> np.ndarray:
    return csr.indices[csr.indptr[u]:csr.indptr[u + 1]]


def _is_model_dir(path: Path) -> bool:
    """True for a directory holding a params.json of a recommender format (safe to replace)."""
    try:
        meta = json.loads((path / "params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") in _REGISTRY
