"""MatrixFactorization: biased matrix factorisation of explicit ratings by SGD (SVD++ optional).

>>> from embedworks.learn import MatrixFactorization
>>> model = MatrixFactorization().fit(ratings)                     # doctest: +SKIP
>>> model.predict("user 42", "item 7")                              # doctest: +SKIP
3.91...

Prediction r̂(u, i) = mu + b_u + b_i + q_i · p_u (Koren, Bell & Volinsky 2009; Surprise's
``SVD``), learnt by SGD over the ratings with Surprise's update rule; with
``implicit_term=True`` the user vector becomes p_u + |N(u)|^-1/2 Σ_{j∈N(u)} y_j (SVD++, N(u) the
user's rated items). See `_mf` for the kernels.

Defaults were chosen by experiment on MovieLens 100k, tuned on a split of ``u1.base`` only
(40% of the ratings of users 463–943 held out, mimicking ``u1.test``), never on ``u1.test``:
100 factors, 25 epochs, learning rate 0.03 decaying ×0.93 per epoch, regularisation 0.1 and
initial factors N(0, 0.05²). Compared with Surprise's defaults (lr 0.005, reg 0.02, init std 0.1,
20 epochs) the larger, decaying step converges in as many epochs and the stronger
regularisation stops the overfitting that Surprise's settings show after ~20 epochs.

The ratings are shuffled once (seeded) and every epoch visits them in that order, which keeps
the kernel's memory access sequential. With ``workers > 1`` each thread runs over its own
contiguous share of the shuffled ratings, updating the shared factors lock-free (Hogwild);
``workers=1`` (the default) with a `seed` is bit-identical from run to run.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ...errors import InvalidInputError
from ..training import ProgressBar, check_float, check_int, default_workers, limit_blas_threads
from . import _mf
from .base import (Recommender, _is_batch, as_training_matrix, check_seed, check_workers,
                   run_threads)

logger = logging.getLogger(__name__)

__all__ = ["MatrixFactorization"]


class MatrixFactorization(Recommender):
    """Explicit-rating matrix factorisation: mu + b_u + b_i + q_i·p_u, learnt by SGD.

    Parameters
    ----------
    factors : size of p_u and q_i.
    epochs : passes over the ratings.
    learning_rate : initial SGD step for the factors (and the biases, unless
        `bias_learning_rate` is given).
    lr_decay : the step is multiplied by this after every epoch (1 keeps it constant).
    regularization : L2 penalty per SGD step on the factors (and the biases, unless
        `bias_regularization` is given).
    biased : learn b_u and b_i (False: mu + q_i·p_u).
    init_std : standard deviation of the normal initial factors (mean 0).
    implicit_term : SVD++: add |N(u)|^-1/2 Σ_{j∈N(u)} y_j to p_u (about 2-3× the time per epoch).
    bias_learning_rate, bias_regularization : None means the factors' values.
    fold_in_regularization : an extra ridge penalty (on top of `regularization` × the user's
        number of ratings) when `recalculate_user` / `recommend_for` solve a user's factors
        against the fixed items; it keeps users with a handful of ratings near the average.
    workers : SGD threads (Hogwild); ``workers=1`` is deterministic.
    seed : seeds the initial factors and the shuffling.
    progress : a rich progress bar on a terminal (None), always (True) or never (False).

    After `fit`: ``user_factors`` (p), ``item_factors`` (q), ``user_bias``, ``item_bias``,
    ``global_mean``, ``implicit_factors`` (y, SVD++ only), ``rating_range`` (lowest and highest
    rating in training) and everything of `Recommender`.

    `predict` returns mu + b_u + b_i + q_i·p_u clipped to `rating_range`. `recommend` ranks by
    the part of the prediction that depends on the item, q_i·p_u + b_i (the user's constant
    mu + b_u left out), and `users` / `items` hold [p_u (+ implicit term), 1] and [q_i, b_i] so
    that their dot product is that score. `similar_items` / `similar_users` compare q / p alone.
    """

    FORMAT = "embedworks.recommend.mf"
    FORMAT_VERSION = 1

    def __init__(self, factors: int = 100, epochs: int = 25, learning_rate: float = 0.03,
                 lr_decay: float = 0.93, regularization: float = 0.1, biased: bool = True,
                 init_std: float = 0.05, implicit_term: bool = False,
                 bias_learning_rate: float | None = None, bias_regularization: float | None = None,
                 fold_in_regularization: float = 1.0, workers: int | None = 1, seed: int = 0,
                 progress: bool | None = None):
        self.factors = check_int("factors", factors, 1)
        self.epochs = check_int("epochs", epochs, 1)
        self.learning_rate = check_float("learning_rate", learning_rate, 0.0, strict=True)
        self.lr_decay = check_float("lr_decay", lr_decay, 0.0, strict=True)
        self.regularization = check_float("regularization", regularization, 0.0)
        self.biased = bool(biased)
        self.init_std = check_float("init_std", init_std, 0.0)
        self.implicit_term = bool(implicit_term)
        self.bias_learning_rate = None if bias_learning_rate is None else \
            check_float("bias_learning_rate", bias_learning_rate, 0.0)
        self.bias_regularization = None if bias_regularization is None else \
            check_float("bias_regularization", bias_regularization, 0.0)
        self.fold_in_regularization = check_float("fold_in_regularization", fold_in_regularization, 0.0)
        self.workers = check_workers(workers)
        self.seed = check_seed(seed)
        self.progress = progress
        self._reset_state()

    def _reset_state(self) -> None:
        super()._reset_state()
        self.user_bias: np.ndarray | None = None
        self.item_bias: np.ndarray | None = None
        self.implicit_factors: np.ndarray | None = None
        self.global_mean = 0.0
        self.rating_range = (0.0, 0.0)

    def get_params(self) -> dict:
        return {"factors": self.factors, "epochs": self.epochs, "learning_rate": self.learning_rate,
                "lr_decay": self.lr_decay, "regularization": self.regularization, "biased": self.biased,
                "init_std": self.init_std, "implicit_term": self.implicit_term,
                "bias_learning_rate": self.bias_learning_rate,
                "bias_regularization": self.bias_regularization,
                "fold_in_regularization": self.fold_in_regularization,
                "workers": self.workers, "seed": self.seed, "progress": self.progress}

    def __repr__(self) -> str:
        state = f", {self.n_users} users × {self.n_items} items" if self.user_factors is not None else ""
        name = "SVD++" if self.implicit_term else "SVD"
        return (f"MatrixFactorization({name}, factors={self.factors}, epochs={self.epochs}, "
                f"learning_rate={self.learning_rate}, regularization={self.regularization}{state})")

    @property
    def _lr_b(self) -> float:
        return self.learning_rate if self.bias_learning_rate is None else self.bias_learning_rate

    @property
    def _reg_b(self) -> float:
        return self.regularization if self.bias_regularization is None else self.bias_regularization

    # ------------------------------------------------------------------ training
    def fit(self, ratings) -> "MatrixFactorization":
        """Learn from `ratings` (an `Interactions` or a sparse users × items matrix); returns self.

        Every stored entry is a rating (an explicit 0 too); duplicates were summed by the reader.
        """
        csr, users, items = as_training_matrix(ratings)
        self._reset_state()
        self._set_training(csr, users, items)
        nu, ni, k = len(users), len(items), self.factors
        rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        P = rng.normal(0.0, self.init_std, (nu, k)).astype(np.float32)
        Q = rng.normal(0.0, self.init_std, (ni, k)).astype(np.float32)
        user_counts = np.diff(csr.indptr)
        item_counts = np.bincount(csr.indices, minlength=ni)
        P[user_counts == 0] = 0
        Q[item_counts == 0] = 0
        bu = np.zeros(nu, np.float32)
        bi = np.zeros(ni, np.float32)
        mu = np.float32(csr.data.astype(np.float64).mean())
        self.global_mean = float(mu)
        self.rating_range = (float(csr.data.min()), float(csr.data.max()))
        Y = rng.normal(0.0, self.init_std, (ni, k)).astype(np.float32) if self.implicit_term else None
        if Y is not None:
            Y[item_counts == 0] = 0
        workers = self.workers or default_workers()
        nnz = csr.nnz
        reg, reg_b = np.float32(self.regularization), np.float32(self._reg_b)

        if self.implicit_term:
            user_of = np.repeat(np.arange(nu, dtype=np.int64), user_counts)
            position_order = np.lexsort((rng.random(nnz), user_of)).astype(np.int64)
            shards = None
        else:
            perm = rng.permutation(nnz)
            u_arr = np.repeat(np.arange(nu, dtype=np.int32), user_counts)[perm]
            i_arr = csr.indices[perm].astype(np.int32)
            r_arr = csr.data[perm].astype(np.float32)
            bounds = np.linspace(0, nnz, workers + 1).round().astype(np.int64)
            shards = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        sse = np.zeros(max(workers, 1))

        logger.info("MatrixFactorization (%s): %d users × %d items, %d ratings, %d factors, %d epochs, "
                    "%d workers", "SVD++" if self.implicit_term else "SVD", nu, ni, nnz, k, self.epochs, workers)
        history = []
        start = time.perf_counter()
        with limit_blas_threads(), \
                ProgressBar(self.progress, nnz * self.epochs, "MatrixFactorization", "ratings") as bar:
            for epoch in range(self.epochs):
                decay = self.lr_decay ** epoch
                lr = np.float32(self.learning_rate * decay)
                lr_b = np.float32(self._lr_b * decay)
                if self.implicit_term:
                    user_order = rng.permutation(nu).astype(np.int64)
                    parts = np.array_split(user_order, workers)

                    def work(t, parts=parts, lr=lr, lr_b=lr_b):
                        sse[t] = _mf.sgdpp_epoch(csr.indptr, csr.indices, csr.data, parts[t], position_order,
                                                 P, Q, Y, bu, bi, mu, lr, reg, lr_b, reg_b, self.biased)
                    run_threads(work, workers, "mf")
                else:
                    def work(t, lr=lr, lr_b=lr_b):
                        a, b = shards[t]
                        sse[t] = _mf.sgd_epoch(u_arr, i_arr, r_arr, a, b, P, Q, bu, bi, mu,
                                               lr, reg, lr_b, reg_b, self.biased)
                    run_threads(work, len(shards), "mf")
                history.append(float(np.sqrt(sse.sum() / nnz)))
                bar.update(nnz * (epoch + 1))
        seconds = time.perf_counter() - start
        self.user_factors, self.item_factors, self.user_bias, self.item_bias = P, Q, bu, bi
        self.implicit_factors = Y
        self.training_stats = {"seconds": seconds, "epochs": self.epochs, "ratings": int(nnz),
                               "workers": workers, "train_rmse": history}
        logger.info("MatrixFactorization trained in %.2f s, training RMSE %.4f", seconds, history[-1])
        self._invalidate()
        return self

    # ------------------------------------------------------------------ prediction
    def _implicit_sums(self) -> np.ndarray:
        """|N(u)|^-1/2 Σ y_j for every user (zeros without the implicit term)."""
        if "z" not in self._cache:
            if self.implicit_factors is None:
                self._cache["z"] = None
            else:
                z = np.zeros_like(self.user_factors)
                _mf.implicit_sums(self.train_csr.indptr, self.train_csr.indices, self.implicit_factors, z)
                self._cache["z"] = z
        return self._cache["z"]

    def _effective_users(self) -> np.ndarray:
        z = self._implicit_sums()
        return self.user_factors if z is None else self.user_factors + z

    def predict_indices(self, user_indices, item_indices, clip: bool = True) -> np.ndarray:
        """Predicted ratings for pairs of dense indices (float64 array).

        An index outside the model (-1, or one past its users / items, as a test set built with
        ``extend=True`` on the training ids gives to ids it added) stands for a user or item the
        model does not know: its bias and factors count as zero, so an unknown user gets
        mu + b_i, an unknown item mu + b_u and both mu (Surprise's fallback).
        """
        self._check_fitted()
        u = np.asarray(user_indices, dtype=np.int64).reshape(-1).copy()
        i = np.asarray(item_indices, dtype=np.int64).reshape(-1).copy()
        if len(u) != len(i):
            raise InvalidInputError(f"{len(u)} users but {len(i)} items")
        u[(u < 0) | (u >= self.n_users)] = -1
        i[(i < 0) | (i >= self.n_items)] = -1
        ku, ki = u >= 0, i >= 0
        both = ku & ki
        pred = np.full(len(u), self.global_mean, dtype=np.float64)
        if self.biased:
            pred[ku] += self.user_bias[u[ku]]
            pred[ki] += self.item_bias[i[ki]]
        users = self._effective_users()
        pred[both] += np.einsum("ij,ij->i", users[u[both]], self.item_factors[i[both]], dtype=np.float64)
        if clip:
            np.clip(pred, *self.rating_range, out=pred)
        return pred

    def predict(self, user, item, unknown: str = "error", clip: bool = True):
        """Predicted rating of `item` by `user` (raw ids; scalars, or equal-length sequences).

        The result is clipped to `rating_range`, the lowest and highest rating seen in training
        (``clip=False`` leaves it as computed). `unknown`: "error" raises `UnknownKeyError` for a
        user or item not seen in training; "baseline" predicts what the known parts give
        (mu + b_i for a new user, mu + b_u for a new item, mu for both).
        """
        self._check_fitted()
        if unknown not in ("error", "baseline"):
            raise InvalidInputError(f"unknown must be 'error' or 'baseline', got {unknown!r}")
        u_batch, i_batch = _is_batch(user), _is_batch(item)
        users = list(user) if u_batch else [user]
        items = list(item) if i_batch else [item]
        if u_batch and i_batch and len(users) != len(items):
            raise InvalidInputError(f"{len(users)} users but {len(items)} items")
        if not u_batch:
            users = users * len(items)
        if not i_batch:
            items = items * len(users)
        scalar = not (u_batch or i_batch)
        if unknown == "error":
            u = np.fromiter((self.user_row(x) for x in users), dtype=np.int64, count=len(users))
            i = np.fromiter((self.item_row(x) for x in items), dtype=np.int64, count=len(items))
        else:
            u = np.fromiter((self._row_or_missing(self.user_index, x) for x in users), np.int64, len(users))
            i = np.fromiter((self._row_or_missing(self.item_index, x) for x in items), np.int64, len(items))
        pred = self.predict_indices(u, i, clip=clip)
        return float(pred[0]) if scalar else pred

    @staticmethod
    def _row_or_missing(index: dict, key) -> int:
        try:
            return index.get(key if isinstance(key, str) else int(key), -1)
        except (TypeError, ValueError):
            return -1

    # ------------------------------------------------------------------ recommender hooks
    def _query_vectors(self, rows=None) -> np.ndarray:
        users = self._effective_users()
        users = users if rows is None else users[rows]
        ones = np.ones((len(users), 1), np.float32) if self.biased else np.zeros((len(users), 1), np.float32)
        return np.hstack([users, ones]).astype(np.float32)

    def _item_vectors(self) -> np.ndarray:
        bias = self.item_bias if self.biased else np.zeros(self.n_items, np.float32)
        return np.hstack([self.item_factors, bias[:, None]]).astype(np.float32)

    def _user_similarity_vectors(self) -> np.ndarray:
        return self._effective_users()

    def _fold_in_z(self, item_rows: np.ndarray) -> np.ndarray:
        """The SVD++ implicit term of a user who rated `item_rows` (zeros without it)."""
        if self.implicit_factors is None or len(item_rows) == 0:
            return np.zeros(self.factors, np.float32)
        return (self.implicit_factors[item_rows].sum(axis=0) / np.sqrt(len(item_rows))).astype(np.float32)

    def _fold_in(self, item_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Exact ridge solve of (b_u, p_u) against the fixed items; stores b_u for `_store_user`."""
        z = self._fold_in_z(item_rows)
        bias = self.item_bias if self.biased else np.zeros(self.n_items, np.float32)
        b_u, p = _mf.fold_in(item_rows.astype(np.int32), values.astype(np.float32), self.item_factors, bias, z,
                             self.global_mean, self.regularization, self._reg_b, self.biased,
                             self.fold_in_regularization)
        self._last_fold_in = (float(b_u), z)
        return p.astype(np.float32)

    def _fold_in_query(self, factor_row, item_rows):
        z = self._fold_in_z(item_rows)
        return np.concatenate([factor_row + z, [1.0 if self.biased else 0.0]]).astype(np.float32)

    def recalculate_user(self, user, interactions, update: bool = False) -> np.ndarray:
        """The user's new p_u from `interactions` (ratings) against the fixed item factors.

        Solves the regularised least squares of (b_u, p_u) exactly (see `_mf.fold_in`); with
        ``update=True`` both are stored (see `Recommender.recalculate_user`).
        """
        return super().recalculate_user(user, interactions, update=update)

    def predict_for(self, interactions, items) -> np.ndarray:
        """Predicted ratings of raw `items` for a user known only by `interactions` (not stored)."""
        self._check_fitted()
        item_rows, values = self._parse_interactions(interactions)
        p = self._fold_in(item_rows, values)
        b_u, z = self._last_fold_in
        rows = self._item_rows(list(items) if isinstance(items, (list, tuple, np.ndarray)) else [items])
        bias = self.item_bias[rows] if self.biased else 0.0
        pred = self.global_mean + (b_u if self.biased else 0.0) + bias + self.item_factors[rows] @ (p + z)
        return np.clip(pred.astype(np.float64), *self.rating_range)

    def _store_user(self, row, factor_row, item_rows, values) -> None:
        self.user_factors[row] = factor_row
        if self.biased:
            self.user_bias[row] = self._last_fold_in[0]

    def _grow_users(self, n_new: int) -> None:
        super()._grow_users(n_new)
        self.user_bias = np.concatenate([self.user_bias, np.zeros(n_new, np.float32)])

    # ------------------------------------------------------------------ files
    def _extra_array_names(self) -> list[str]:
        return ["user_bias", "item_bias"] + (["implicit_factors"] if self.implicit_term else [])

    def _extra_arrays(self) -> dict:
        out = {"user_bias": self.user_bias, "item_bias": self.item_bias}
        if self.implicit_factors is not None:
            out["implicit_factors"] = self.implicit_factors
        return out

    def _set_extra_arrays(self, arrays: dict) -> None:
        from ...errors import FormatError

        self.user_bias = arrays["user_bias"].astype(np.float32)
        self.item_bias = arrays["item_bias"].astype(np.float32)
        self.implicit_factors = arrays.get("implicit_factors")
        if len(self.user_bias) != self.n_users or len(self.item_bias) != self.n_items:
            raise FormatError("bias arrays do not match the number of users / items")
        if self.implicit_factors is not None and self.implicit_factors.shape != self.item_factors.shape:
            raise FormatError("implicit_factors do not match item_factors")

    def _state(self) -> dict:
        return {"global_mean": self.global_mean, "rating_range": list(self.rating_range)}

    def _set_state(self, state: dict) -> None:
        self.global_mean = float(state["global_mean"])
        self.rating_range = tuple(float(x) for x in state["rating_range"])
