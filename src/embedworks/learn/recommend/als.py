"""ALS: implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008), Numba kernels.

>>> from embedworks.learn import ALS
>>> model = ALS(factors=64, iterations=15).fit(interactions)          # doctest: +SKIP
>>> model.recommend("user 42", n=10)                                    # doctest: +SKIP

Every interaction value r (a click count, a play count, 1 for "seen") becomes a confidence
c = 1 + alpha·r in a preference of 1; everything not observed is a preference of 0 with
confidence 1. Each iteration solves all users against fixed items and then all items against
fixed users, each a regularised weighted least-squares problem; see `_als` for the equations
and the two solvers (conjugate gradient, the default, and exact Cholesky).

Compared with implicit's ``AlternatingLeastSquares``: the same solver, regularisation (a plain
λI, not scaled by the number of interactions) and initialisation (uniform [0, 0.01)); implicit
uses the values themselves as the confidence (c = alpha·r), so feeding implicit ``1 + alpha·r``
(with its alpha 1) solves exactly the problem solved here. Defaults differ: implicit uses
100 factors and regularisation 0.01.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from ...errors import InvalidInputError
from ..training import ProgressBar, check_float, check_int, default_workers, limit_blas_threads
from . import _als
from .base import Recommender, as_training_matrix, balanced_ranges, check_seed, check_workers, run_threads

logger = logging.getLogger(__name__)

__all__ = ["ALS"]

SOLVERS = ("cg", "cholesky")


class ALS(Recommender):
    """Implicit-feedback ALS with confidence weighting, by conjugate gradient or Cholesky.

    Parameters
    ----------
    factors : size of the user and item vectors.
    regularization : λ, added as λI to every normal-equation matrix (not scaled by counts).
    alpha : confidence slope: c = 1 + alpha·|r| for a stored value r; r > 0 means preference 1,
        r < 0 "disliked" (preference 0 with that confidence), unobserved means c = 1, p = 0.
    iterations : alternating passes (users then items).
    solver : "cg" (conjugate gradient, warm-started from the previous factors, `cg_steps` steps
        per row, as implicit) or "cholesky" (the exact solve, slower for many factors).
    cg_steps : conjugate-gradient steps per row and half-iteration.
    workers : threads (rows are independent, so the result does not depend on it); None means
        every usable core.
    seed : seeds the initial factors.
    progress : a rich progress bar on a terminal (None), always (True) or never (False).

    After `fit`: ``user_factors``, ``item_factors`` (float32) and everything of `Recommender`.
    `recalculate_user` solves the user's normal equations exactly (Cholesky) against the fixed
    item factors: for a user of the training data it gives what a full Cholesky half-step gives.
    """

    FORMAT = "embedworks.recommend.als"
    FORMAT_VERSION = 1

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 1.0,
                 iterations: int = 15, solver: str = "cg", cg_steps: int = 3, workers: int | None = 2,
                 seed: int = 0, progress: bool | None = None):
        self.factors = check_int("factors", factors, 1)
        self.regularization = check_float("regularization", regularization, 0.0)
        self.alpha = check_float("alpha", alpha, 0.0)
        self.iterations = check_int("iterations", iterations, 1)
        if solver not in SOLVERS:
            raise InvalidInputError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
        self.solver = solver
        self.cg_steps = check_int("cg_steps", cg_steps, 1)
        self.workers = check_workers(workers)
        self.seed = check_seed(seed)
        self.progress = progress
        self._reset_state()

    def get_params(self) -> dict:
        return {"factors": self.factors, "regularization": self.regularization, "alpha": self.alpha,
                "iterations": self.iterations, "solver": self.solver, "cg_steps": self.cg_steps,
                "workers": self.workers, "seed": self.seed, "progress": self.progress}

    def __repr__(self) -> str:
        state = f", {self.n_users} users × {self.n_items} items" if self.user_factors is not None else ""
        return (f"ALS(factors={self.factors}, regularization={self.regularization}, alpha={self.alpha}, "
                f"iterations={self.iterations}, solver={self.solver!r}{state})")

    # ------------------------------------------------------------------ training
    def fit(self, interactions) -> "ALS":
        """Factorise `interactions` (an `Interactions` or a sparse users × items matrix); returns self."""
        csr, users, items = as_training_matrix(interactions)
        self._reset_state()
        self._set_training(csr, users, items)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        k = self.factors
        self.user_factors = rng.random((len(users), k), dtype=np.float32) * np.float32(0.01)
        self.item_factors = rng.random((len(items), k), dtype=np.float32) * np.float32(0.01)
        Cui = self._scaled(csr)
        Ciu = _canonical_transpose(Cui)
        workers = self.workers or default_workers()
        # a row costs about k²·(steps + 1) (CG) or k³/6 (Cholesky) against about 4k·(steps + 1)
        # or k²/2 per interaction: k/4 or k/3 interactions' worth
        row_cost = k / 4 if self.solver == "cg" else k / 3
        user_ranges = balanced_ranges(Cui.indptr, workers, row_cost)
        item_ranges = balanced_ranges(Ciu.indptr, workers, row_cost)
        logger.info("ALS: %d users × %d items, %d interactions, %d factors, %d iterations, %s, %d workers",
                    len(users), len(items), csr.nnz, k, self.iterations, self.solver, workers)
        start = time.perf_counter()
        with limit_blas_threads(), \
                ProgressBar(self.progress, 2 * csr.nnz * self.iterations, "ALS", "interactions") as bar:
            for it in range(self.iterations):
                self._half_step(Cui, self.user_factors, self.item_factors, user_ranges)
                self._half_step(Ciu, self.item_factors, self.user_factors, item_ranges)
                bar.update(2 * csr.nnz * (it + 1))
        seconds = time.perf_counter() - start
        self.training_stats = {"seconds": seconds, "iterations": self.iterations,
                               "interactions": int(csr.nnz), "workers": workers}
        logger.info("ALS trained in %.2f s", seconds)
        self._invalidate()
        return self

    def _scaled(self, csr: sp.csr_matrix) -> sp.csr_matrix:
        """The kernel's data: alpha·r (so c − 1 = |data|, preference = data > 0)."""
        out = csr.copy()
        out.data = (out.data * np.float32(self.alpha)).astype(np.float32)
        return out

    def _gram(self, Y: np.ndarray) -> np.ndarray:
        Y64 = Y.astype(np.float64)
        G = Y64.T @ Y64
        G[np.diag_indices_from(G)] += self.regularization
        return G

    def _half_step(self, C: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, ranges) -> None:
        """Solve every row of X against fixed Y (one thread per range of rows)."""
        YtY = self._gram(Y)
        if self.solver == "cg":
            def work(t):
                a, b = ranges[t]
                _als.solve_cg(C.indptr, C.indices, C.data, X, Y, YtY, a, b, self.cg_steps)
        else:
            def work(t):
                a, b = ranges[t]
                _als.solve_cholesky(C.indptr, C.indices, C.data, X, Y, YtY, a, b)
        run_threads(work, len(ranges), "als")

    def loss(self) -> float:
        """The training objective (Hu et al. eq. 3) of the current factors, per interaction."""
        self._check_fitted()
        C = self._scaled(self.train_csr)
        Y64 = self.item_factors.astype(np.float64)
        total = _als.loss(C.indptr, C.indices, C.data, self.user_factors, self.item_factors,
                          Y64.T @ Y64, self.regularization)
        return float(total / max(C.nnz, 1))

    # ------------------------------------------------------------------ fold-in
    def _fold_in(self, item_rows: np.ndarray, values: np.ndarray) -> np.ndarray:
        if "gram" not in self._cache:
            self._cache["gram"] = self._gram(self.item_factors)
        data = (values * np.float32(self.alpha)).astype(np.float32)
        indptr = np.array([0, len(item_rows)], dtype=np.int64)
        x = np.zeros((1, self.factors), dtype=np.float32)
        _als.solve_cholesky(indptr, item_rows.astype(np.int32), data, x, self.item_factors,
                            self._cache["gram"], 0, 1)
        return x[0]


def _canonical_transpose(csr: sp.csr_matrix) -> sp.csr_matrix:
    t = csr.T.tocsr()
    t.sort_indices()
    out = sp.csr_matrix((t.data.astype(np.float32), t.indices.astype(np.int32), t.indptr.astype(np.int64)),
                        shape=t.shape, copy=False)
    return out
