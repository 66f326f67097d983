"""Numba kernels for implicit-feedback ALS (Hu, Koren & Volinsky 2008).

For user u with observed entries (i, r_ui), the confidence is c_ui = 1 + alpha·|r_ui| and the
preference p_ui = 1 when r_ui > 0, else 0 (a negative value says "disliked, with that
confidence"; unobserved entries have c = 1, p = 0). With the item factors Y fixed, the user's
factor solves the normal equations

    (YᵀY + λI + Σ_i (c_ui − 1) y_i y_iᵀ) x_u = Σ_i c_ui p_ui y_i

where YᵀY + λI is computed once per half-iteration (the caller passes it as ``YtY``) and only
the user's own items add to it. The kernels take the user rows as CSR arrays (``indptr`` int64,
``indices`` int32) and ``data`` = alpha·r (float32), so ``c − 1 = |data|`` and ``p = data > 0``.

* `solve_cg`: conjugate gradient warm-started from the current factors, ``cg_steps`` steps per
  user (Takács, Pilászy & Tikk 2011; implicit's ``least_squares_cg``), never forming the matrix:
  A·v = YtY·v + Σ_i |d_i| (y_i·v) y_i.
* `solve_cholesky`: forms A and b and solves exactly.

Both work on rows ``start..end`` so the caller runs one thread per contiguous range (they
release the GIL); rows are independent, so results do not depend on the number of threads.
Arithmetic is float64 inside, factors are stored float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True, fastmath=True)


@njit(**_JIT)
def solve_cg(indptr, indices, data, X, Y, YtY, start, end, cg_steps):
    """Update X[start:end] by `cg_steps` conjugate-gradient steps each, from their current value."""
    k = X.shape[1]
    x = np.empty(k)
    r = np.empty(k)
    p = np.empty(k)
    ap = np.empty(k)
    for u in range(start, end):
        for f in range(k):
            x[f] = X[u, f]
        # r = b - A x
        for a in range(k):
            s = 0.0
            for c in range(k):
                s += YtY[a, c] * x[c]
            r[a] = -s
        for pos in range(indptr[u], indptr[u + 1]):
            i = indices[pos]
            d = data[pos]
            yx = 0.0
            for f in range(k):
                yx += Y[i, f] * x[f]
            if d > 0:
                coef = (1.0 + d) - d * yx
            else:
                coef = d * yx  # c - 1 = -d, p = 0
            for f in range(k):
                r[f] += coef * Y[i, f]
        rs_old = 0.0
        for f in range(k):
            p[f] = r[f]
            rs_old += r[f] * r[f]
        if rs_old < 1e-20:
            continue
        for _ in range(cg_steps):
            for a in range(k):
                s = 0.0
                for c in range(k):
                    s += YtY[a, c] * p[c]
                ap[a] = s
            for pos in range(indptr[u], indptr[u + 1]):
                i = indices[pos]
                d = abs(data[pos])
                yp = 0.0
                for f in range(k):
                    yp += Y[i, f] * p[f]
                yp *= d
                for f in range(k):
                    ap[f] += yp * Y[i, f]
            pap = 0.0
            for f in range(k):
                pap += p[f] * ap[f]
            if pap <= 0.0:
                break
            step = rs_old / pap
            rs_new = 0.0
            for f in range(k):
                x[f] += step * p[f]
                r[f] -= step * ap[f]
                rs_new += r[f] * r[f]
            if rs_new < 1e-20:
                break
            beta = rs_new / rs_old
            for f in range(k):
                p[f] = r[f] + beta * p[f]
            rs_old = rs_new
        for f in range(k):
            X[u, f] = x[f]


@njit(**_JIT)
def solve_cholesky(indptr, indices, data, X, Y, YtY, start, end):
    """Set X[start:end] to the exact solution of each row's normal equations (Cholesky)."""
    k = X.shape[1]
    A = np.empty((k, k))
    b = np.empty(k)
    for u in range(start, end):
        for a in range(k):
            b[a] = 0.0
            for c in range(a + 1):
                A[a, c] = YtY[a, c]
        for pos in range(indptr[u], indptr[u + 1]):
            i = indices[pos]
            d = data[pos]
            w = abs(d)
            if d > 0:
                for f in range(k):
                    b[f] += (1.0 + d) * Y[i, f]
            for a in range(k):
                ya = w * Y[i, a]
                for c in range(a + 1):
                    A[a, c] += ya * Y[i, c]
        w_sol = cholesky_solve(A, b)
        for f in range(k):
            X[u, f] = w_sol[f]


@njit(**_JIT)
def cholesky_solve(A, b):
    """Solve A w = b for symmetric positive definite A (float64), reading its lower triangle.

    A is overwritten by its Cholesky factor. A pivot that is not positive is raised to 1e-12, so
    a singular system (a zero regularisation with too few interactions) still returns a value.
    """
    m = A.shape[0]
    for j in range(m):
        s = A[j, j]
        for p in range(j):
            s -= A[j, p] * A[j, p]
        if s <= 1e-12:
            s = 1e-12
        d = np.sqrt(s)
        A[j, j] = d
        for i in range(j + 1, m):
            s = A[i, j]
            for p in range(j):
                s -= A[i, p] * A[j, p]
            A[i, j] = s / d
    y = np.empty(m)
    for i in range(m):
        s = b[i]
        for p in range(i):
            s -= A[i, p] * y[p]
        y[i] = s / A[i, i]
    w = np.empty(m)
    for i in range(m - 1, -1, -1):
        s = y[i]
        for p in range(i + 1, m):
            s -= A[p, i] * w[p]
        w[i] = s / A[i, i]
    return w


@njit(**_JIT)
def loss(indptr, indices, data, X, Y, YtY_noreg, reg):
    """The weighted least-squares objective (Hu et al. eq. 3) over all users, for tests and logs.

    Σ_u [xᵀ YᵀY x + Σ_i (c_ui (p_ui − x·y_i)² − (x·y_i)²)] + λ (Σ|x_u|² + Σ|y_i|²).
    """
    k = X.shape[1]
    total = 0.0
    for u in range(indptr.shape[0] - 1):
        q = 0.0
        for a in range(k):
            s = 0.0
            for c in range(k):
                s += YtY_noreg[a, c] * X[u, c]
            q += s * X[u, a]
        total += q
        for pos in range(indptr[u], indptr[u + 1]):
            i = indices[pos]
            d = data[pos]
            pred = 0.0
            for f in range(k):
                pred += X[u, f] * Y[i, f]
            pref = 1.0 if d > 0 else 0.0
            conf = 1.0 + abs(d)
            total += conf * (pref - pred) ** 2 - pred * pred
    nx = 0.0
    for u in range(X.shape[0]):
        for f in range(k):
            nx += X[u, f] * X[u, f]
    ny = 0.0
    for i in range(Y.shape[0]):
        for f in range(k):
            ny += Y[i, f] * Y[i, f]
    return total + reg * (nx + ny)
