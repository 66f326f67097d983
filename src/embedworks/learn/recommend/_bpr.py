"""Numba kernels for Bayesian personalised ranking (Rendle et al. 2009) by SGD, Hogwild.

Layout as in implicit: ``X`` (n_users, k + 1) and ``Y`` (n_items, k + 1) float32, where the last
column of X is a constant 1 and the last column of Y is the item bias, so ``x_u · y_i`` is the
whole score. One step on a triple (u, i liked, j not liked), with z = σ(−x_u·(y_i − y_j))::

    x_u[f] += lr (z (y_i[f] − y_j[f]) − reg x_u[f])      for f < k (the 1 stays)
    y_i[f] += lr (z x_u[f] − reg y_i[f])                  for f < k, old x_u
    y_j[f] += lr (−z x_u[f] − reg y_j[f])
    y_i[k] += lr (z − reg y_i[k]);  y_j[k] += lr (−z − reg y_j[k])

Sampling: a positive is a uniformly drawn stored (user, item) entry; the negative is an item
drawn uniformly from all items, drawn again while the user has interacted with it (checked by
binary search in the user's sorted row), up to `max_tries` draws, after which the sample is
skipped (only possible for users who saw almost every item). (implicit draws negatives from the
stored entries, i.e. by popularity, and skips rather than redraws.)

Random numbers: xorshift64* (Vigna 2016), one uint64 state per thread; kernels return the
updated state so the caller continues the stream.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(cache=True, nogil=True, fastmath=True)

_XS_MULT = np.uint64(0x2545F4914F6CDD1D)
_S12 = np.uint64(12)
_S25 = np.uint64(25)
_S27 = np.uint64(27)
_S32 = np.uint64(32)


@njit(cache=True, nogil=True, inline="always")
def xorshift(state):
    """One xorshift64* step: (new state, 32 random high bits as uint64)."""
    s = np.uint64(state)  # a state handed back to Python returns as int: keep uint64 arithmetic
    s ^= s >> _S12
    s ^= s << _S25
    s ^= s >> _S27
    return s, (s * _XS_MULT) >> _S32


@njit(cache=True, nogil=True, inline="always")
def below(state, n):
    """(new state, a uniform integer in [0, n)) for n < 2**32."""
    s, r = xorshift(state)
    return s, np.int64((r * np.uint64(n)) >> _S32)


@njit(cache=True, nogil=True, inline="always")
def contains(indices, start, end, item):
    """True when sorted ``indices[start:end]`` holds `item` (binary search)."""
    lo = start
    hi = end
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v < item:
            lo = mid + 1
        elif v > item:
            hi = mid
        else:
            return True
    return False


@njit(**_JIT)
def step(X, Y, u, i, j, lr, reg):
    """One BPR SGD step on (u, i, j); returns True when the pair was already ordered (z < 0.5)."""
    k = X.shape[1] - 1
    score = np.float32(0.0)
    for f in range(k + 1):
        score += X[u, f] * (Y[i, f] - Y[j, f])
    z = np.float32(1.0) / (np.float32(1.0) + np.exp(score))
    for f in range(k):
        xf = X[u, f]
        yi = Y[i, f]
        yj = Y[j, f]
        X[u, f] = xf + lr * (z * (yi - yj) - reg * xf)
        Y[i, f] = yi + lr * (z * xf - reg * yi)
        Y[j, f] = yj + lr * (-z * xf - reg * yj)
    Y[i, k] += lr * (z - reg * Y[i, k])
    Y[j, k] += lr * (-z - reg * Y[j, k])
    return z < 0.5


@njit(**_JIT)
def epoch(indptr, indices, userids, X, Y, lr, reg, n_samples, max_tries, state):
    """`n_samples` SGD steps on sampled triples. Returns (correct, skipped, state).

    indptr int64 / indices int32: the users' positive items (CSR, sorted rows); userids int32:
    the user of every stored entry. ``correct`` counts triples already ranked right before
    their step (a running training AUC).
    """
    state = np.uint64(state)
    nnz = indices.shape[0]
    n_items = Y.shape[0]
    correct = 0
    skipped = 0
    for _ in range(n_samples):
        state, pos = below(state, nnz)
        u = userids[pos]
        i = indices[pos]
        start = indptr[u]
        end = indptr[u + 1]
        j = -1
        for _t in range(max_tries):
            state, cand = below(state, n_items)
            if not contains(indices, start, end, cand):
                j = cand
                break
        if j < 0:
            skipped += 1
            continue
        if step(X, Y, u, i, j, lr, reg):
            correct += 1
    return correct, skipped, state


@njit(**_JIT)
def fold_in(items, Y, x, lr, reg, n_steps, max_tries, state):
    """Train one user vector `x` (k + 1, last entry 1) against fixed items Y by BPR SGD.

    `items`: the user's positive items, sorted int32. `n_steps` triples are drawn (positive
    uniformly from `items`, negative uniformly from the other items). Returns the state.
    """
    state = np.uint64(state)
    k = x.shape[0] - 1
    n_items = Y.shape[0]
    n = items.shape[0]
    if n == 0 or n >= n_items:
        return state
    for _ in range(n_steps):
        state, a = below(state, n)
        i = items[a]
        j = -1
        for _t in range(max_tries):
            state, cand = below(state, n_items)
            if not contains(items, 0, n, cand):
                j = cand
                break
        if j < 0:
            continue
        score = np.float32(0.0)
        for f in range(k + 1):
            score += x[f] * (Y[i, f] - Y[j, f])
        z = np.float32(1.0) / (np.float32(1.0) + np.exp(score))
        for f in range(k):
            x[f] += lr * (z * (Y[i, f] - Y[j, f]) - reg * x[f])
    return state
