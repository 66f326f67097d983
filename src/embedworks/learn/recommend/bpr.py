"""BPR: Bayesian personalised ranking (Rendle et al. 2009) by Hogwild SGD in Numba kernels.

>>> from embedworks.learn import BPR
>>> model = BPR(factors=64, iterations=100).fit(interactions)          # doctest: +SKIP
>>> model.recommend("user 42", n=10)                                    # doctest: +SKIP

Learns to rank each user's items above the items they did not interact with, from sampled
(user, liked, not liked) triples; see `_bpr` for the update and the sampling. Values are not
used: every stored entry with a value > 0 is a "liked" item.

Layout as in implicit's ``BayesianPersonalizedRanking``: ``user_factors`` is (n_users,
factors + 1) with a constant 1 in the last column and ``item_factors`` (n_items, factors + 1)
holds the item bias in its last column, so one dot product is the whole score; initial values
are uniform in [−0.5, 0.5) / factors, zero for users and items without interactions; one
iteration is as many SGD steps as there are interactions, split over `workers` threads that
update the shared factors lock-free (Hogwild). Unlike implicit, negatives are drawn uniformly
over items (implicit draws them from the stored entries, i.e. by popularity) and redrawn, not
skipped, when the user has the item.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from ...errors import InvalidInputError
from ..training import ProgressBar, check_float, check_int, default_workers, limit_blas_threads
from . import _bpr
from .base import (Recommender, as_training_matrix, check_seed, check_workers, run_threads,
                   seed_state)

logger = logging.getLogger(__name__)

__all__ = ["BPR"]

#: negative draws per sample before the sample is skipped
MAX_TRIES = 32


class BPR(Recommender):
    """Bayesian personalised ranking for implicit feedback, SGD on sampled triples.

    Parameters
    ----------
    factors : size of the user and item vectors (one more column holds the item bias).
    learning_rate : SGD step size (constant, as implicit).
    regularization : L2 weight decay applied at every step to the vectors touched.
    iterations : passes; one pass is as many sampled triples as there are interactions.
    workers : threads (Hogwild); None means every usable core. ``workers=1`` with a `seed` is
        bit-identical from run to run.
    seed : seeds the initial factors and every thread's random stream.
    fold_in_steps : SGD steps per known item when `recalculate_user` / `recommend_for` fold a
        user in (the item factors stay fixed).
    progress : a rich progress bar on a terminal (None), always (True) or never (False).

    After `fit`: ``user_factors``, ``item_factors`` (float32, with the bias column),
    ``training_stats`` (with ``train_auc``: the share of sampled triples already ranked right
    during the last pass), and everything of `Recommender`. `similar_items` / `similar_users`
    compare the factors without the bias column.
    """

    FORMAT = "embedworks.recommend.bpr"
    FORMAT_VERSION = 1

    def __init__(self, factors: int = 64, learning_rate: float = 0.01, regularization: float = 0.01,
                 iterations: int = 100, workers: int | None = 2, seed: int = 0,
                 fold_in_steps: int = 100, progress: bool | None = None):
        self.factors = check_int("factors", factors, 1)
        self.learning_rate = check_float("learning_rate", learning_rate, 0.0, strict=True)
        self.regularization = check_float("regularization", regularization, 0.0)
        self.iterations = check_int("iterations", iterations, 1)
        self.workers = check_workers(workers)
        self.seed = check_seed(seed)
        self.fold_in_steps = check_int("fold_in_steps", fold_in_steps, 0)
        self.progress = progress
        self._reset_state()

    def get_params(self) -> dict:
        return {"factors": self.factors, "learning_rate": self.learning_rate,
                "regularization": self.regularization, "iterations": self.iterations,
                "workers": self.workers, "seed": self.seed, "fold_in_steps": self.fold_in_steps,
                "progress": self.progress}

    def __repr__(self) -> str:
        state = f", {self.n_users} users × {self.n_items} items" if self.user_factors is not None else ""
        return (f"BPR(factors={self.factors}, learning_rate={self.learning_rate}, "
                f"regularization={self.regularization}, iterations={self.iterations}{state})")

    # ------------------------------------------------------------------ training
    @staticmethod
    def _positives(csr: sp.csr_matrix) -> sp.csr_matrix:
        pos = csr.copy()
        pos.data = (pos.data > 0).astype(np.float32)
        pos.eliminate_zeros()
        pos.sort_indices()
        return sp.csr_matrix((pos.data, pos.indices.astype(np.int32), pos.indptr.astype(np.int64)),
                             shape=pos.shape)

    def fit(self, interactions) -> "BPR":
        """Learn from `interactions` (an `Interactions` or a sparse users × items matrix); returns self."""
        csr, users, items = as_training_matrix(interactions)
        pos = self._positives(csr)
        if pos.nnz == 0:
            raise InvalidInputError("BPR needs positive interactions (values > 0); none found")
        self._reset_state()
        self._set_training(csr, users, items)
        nu, ni, k = len(users), len(items), self.factors
        rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        X = ((rng.random((nu, k + 1), dtype=np.float32) - np.float32(0.5)) / np.float32(k))
        Y = ((rng.random((ni, k + 1), dtype=np.float32) - np.float32(0.5)) / np.float32(k))
        user_counts = np.diff(pos.indptr)
        X[user_counts == 0] = 0
        Y[np.bincount(pos.indices, minlength=ni) == 0] = 0
        X[:, k] = 1.0
        self.user_factors, self.item_factors = X, Y
        userids = np.repeat(np.arange(nu, dtype=np.int32), user_counts)
        workers = self.workers or default_workers()
        per_thread = np.full(workers, pos.nnz // workers, dtype=np.int64)
        per_thread[: pos.nnz % workers] += 1
        states = [seed_state(self.seed, 1, t) for t in range(workers)]
        lr, reg = np.float32(self.learning_rate), np.float32(self.regularization)
        counts = np.zeros((workers, 2), dtype=np.int64)

        def work(t):
            correct, skipped, states[t] = _bpr.epoch(pos.indptr, pos.indices, userids, X, Y, lr, reg,
                                                     int(per_thread[t]), MAX_TRIES, states[t])
            states[t] = np.uint64(states[t])
            counts[t] = correct, skipped

        logger.info("BPR: %d users × %d items, %d interactions, %d factors, %d iterations, %d workers",
                    nu, ni, pos.nnz, k, self.iterations, workers)
        start = time.perf_counter()
        with limit_blas_threads(), \
                ProgressBar(self.progress, pos.nnz * self.iterations, "BPR", "samples") as bar:
            for it in range(self.iterations):
                run_threads(work, workers, "bpr")
                bar.update(pos.nnz * (it + 1))
        seconds = time.perf_counter() - start
        correct, skipped = counts.sum(axis=0)
        self.training_stats = {"seconds": seconds, "iterations": self.iterations, "samples": int(pos.nnz),
                               "workers": workers,
                               "train_auc": float(correct / max(pos.nnz - skipped, 1)),
                               "skipped": int(skipped)}
        logger.info("BPR trained in %.2f s, last pass train AUC %.4f", seconds, self.training_stats["train_auc"])
        self._invalidate()
        return self

    # ------------------------------------------------------------------ similarity / fold-in
    def _user_similarity_vectors(self) -> np.ndarray:
        return self.user_factors[:, :-1]

    def _item_similarity_vectors(self) -> np.ndarray:
        return self.item_factors[:, :-1]

    def _fold_in(self, item_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        """SGD on the user's vector only: `fold_in_steps` triples per liked item, seeded."""
        liked = np.ascontiguousarray(item_rows[values > 0], dtype=np.int32)
        x = np.zeros(self.factors + 1, dtype=np.float32)
        x[-1] = 1.0
        state = seed_state(self.seed, 2, len(liked), int(liked.sum()) if len(liked) else 0)
        _bpr.fold_in(liked, self.item_factors, x, np.float32(self.learning_rate),
                     np.float32(self.regularization), self.fold_in_steps * len(liked), MAX_TRIES, state)
        return x

    def _grow_users(self, n_new: int) -> None:
        extra = np.zeros((n_new, self.user_factors.shape[1]), np.float32)
        extra[:, -1] = 1.0
        self.user_factors = np.concatenate([self.user_factors, extra])
