"""Numba kernels for random walks on a CSR graph: DeepWalk's first-order walks and node2vec's
second-order walks with return parameter ``p`` and in-out parameter ``q``.

Arrays and scalars only (the Python layer, `embedworks.learn.graph`, validates and converts).

* First-order step (DeepWalk, and the first step of every node2vec walk): the next node is a
  neighbour drawn with probability proportional to the edge weight: uniform over the CSR row for
  an unweighted graph, otherwise a binary search of a uniform number in the row's running sum of
  weights (`row_cumsum`, one float64 per stored edge).
* Second-order step (node2vec) without per-edge alias tables, by rejection sampling in the
  spirit of node2vec's reference code and PecanPy's SparseOTF mode (which compute the biases on
  the fly instead of storing them): from the current node ``v`` having come from ``t``, the
  return edge ``v → t`` is picked with mass ``w(v, t)/p`` and accepted at once; any other
  neighbour ``x`` is proposed by first-order weight with mass ``w(v, x) · max(1, 1/q)`` and
  accepted with probability ``a / max(1, 1/q)``, ``a = 1`` when ``x`` is a neighbour of ``t``
  (binary search in ``t``'s sorted row) and ``1/q`` otherwise. Accepted draws follow
  ``w(v, x) · α_pq(t, x)``, exactly node2vec's transition probabilities; treating the return
  edge apart (KnightKing's "outlier") keeps the acceptance rate high when p is small. Memory is
  the graph plus the walks; no O(sum of degree²) tables.
* Randomness: each walk has its own splitmix64 stream whose state is derived from
  ``(seed, walk index)`` only, so the walks are identical whatever the number of threads.
* Parallelism: ``prange`` over walks (Numba's threading layer), GIL released.
* A walk stops early at a node without out-edges (directed graphs; an isolated node's walk is just
  itself); ``lengths`` records each walk's length.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_WALK_MULT = np.uint64(0xD1B54A32D192ED03)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True, inline="always")
def _uniform(state):
    """One splitmix64 step: (new state, uniform float64 in [0, 1))."""
    state = state + _GOLDEN
    return state, np.float64(_mix(state) >> _S11) * _INV53


@njit(cache=True, nogil=True)
def walk_state(seed, walk):
    """The initial RNG state of walk number `walk` under `seed` (independent of threads)."""
    return _mix(_mix(np.uint64(seed) + _GOLDEN) ^ (np.uint64(walk) * _WALK_MULT + _GOLDEN))


@njit(cache=True, nogil=True)
def row_cumsum(indptr, weights):
    """Running sum of the weights within each CSR row (float64, aligned with `weights`)."""
    out = np.empty(weights.shape[0], dtype=np.float64)
    for v in range(indptr.shape[0] - 1):
        acc = 0.0
        for k in range(indptr[v], indptr[v + 1]):
            acc += weights[k]
            out[k] = acc
    return out


@njit(cache=True, nogil=True, inline="always")
def _first_order(indptr, indices, cumw, weighted, v, state):
    """A neighbour of `v` drawn by edge weight: (state, neighbour). `v` must have neighbours."""
    s = indptr[v]
    e = indptr[v + 1]
    state, u = _uniform(state)
    if not weighted:
        k = s + np.int64(u * (e - s))
        if k >= e:
            k = e - 1
        return state, indices[k]
    target = u * cumw[e - 1]
    lo = s
    hi = e - 1
    while lo < hi:  # first k with cumw[k] > target
        mid = (lo + hi) >> 1
        if cumw[mid] > target:
            hi = mid
        else:
            lo = mid + 1
    return state, indices[lo]


@njit(cache=True, nogil=True, inline="always")
def _find(indptr, indices, t, x):
    """Position of `x` in the sorted CSR row of `t`, or -1 (binary search)."""
    lo = indptr[t]
    hi = indptr[t + 1]
    while lo < hi:
        mid = (lo + hi) >> 1
        y = indices[mid]
        if y == x:
            return mid
        if y < x:
            lo = mid + 1
        else:
            hi = mid
    return -1


@njit(cache=True, nogil=True, inline="always")
def has_edge(indptr, indices, t, x):
    """True when the sorted CSR row of `t` holds `x`."""
    return _find(indptr, indices, t, x) >= 0


@njit(cache=True, nogil=True)
def _second_order(indptr, indices, weights, cumw, weighted, prev, cur, inv_p, inv_q, env, state):
    """node2vec's step from `cur` having come from `prev`, by rejection: (state, next node).

    The return edge is an "outlier" handled apart (as KnightKing does): it is chosen with mass
    ``w(cur, prev) / p`` and accepted outright, while any other neighbour x is proposed with mass
    ``w(cur, x) · env`` (``env = max(1, 1/q)``) and accepted with probability ``a(x) / env``, a
    being 1 for a neighbour of `prev` and 1/q otherwise. So a small p (a large 1/p) does not
    lower the acceptance rate of the other neighbours.
    """
    s = indptr[cur]
    e = indptr[cur + 1]
    if e - s == 1:
        return state, indices[s]
    k = _find(indptr, indices, cur, prev)
    w_back = 0.0
    if k >= 0:
        w_back = np.float64(weights[k]) if weighted else 1.0
    total = cumw[e - 1] if weighted else np.float64(e - s)
    back_mass = w_back * inv_p
    mass = back_mass + (total - w_back) * env
    while True:
        state, u = _uniform(state)
        if u * mass < back_mass:
            return state, indices[k]
        while True:  # a neighbour other than prev, by edge weight
            state, x = _first_order(indptr, indices, cumw, weighted, cur, state)
            if x != prev:
                break
        a = 1.0 if has_edge(indptr, indices, prev, x) else inv_q
        if a >= env:
            return state, x
        state, u = _uniform(state)
        if u * env < a:
            return state, x


@njit(cache=True, nogil=True, parallel=True)
def random_walks(indptr, indices, weights, cumw, weighted, starts, first_walk, walk_length, p, q, seed,
                 out, lengths):
    """Fill `out[i, :lengths[i]]` with a walk from `starts[i]` (walk number first_walk + i).

    `out` (n, walk_length) int32, `lengths` (n,) int32. p == q == 1 gives first-order walks.
    """
    n_walks = starts.shape[0]
    inv_p = 1.0 / p
    inv_q = 1.0 / q
    env = max(1.0, inv_q)
    second = not (p == 1.0 and q == 1.0)
    for i in prange(n_walks):
        state = walk_state(seed, first_walk + i)
        cur = np.int64(starts[i])
        prev = np.int64(-1)
        out[i, 0] = cur
        length = 1
        while length < walk_length:
            if indptr[cur + 1] == indptr[cur]:
                break
            if not second or prev < 0:
                state, nxt = _first_order(indptr, indices, cumw, weighted, cur, state)
            else:
                state, nxt = _second_order(indptr, indices, weights, cumw, weighted, prev, cur,
                                           inv_p, inv_q, env, state)
            out[i, length] = nxt
            length += 1
            prev = cur
            cur = np.int64(nxt)
        lengths[i] = length


@njit(cache=True, nogil=True)
def compact_walks(out, lengths):
    """(tokens int32, offsets int64) of the walks of `out` cut to their `lengths`."""
    n = out.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    for i in range(n):
        offsets[i + 1] = offsets[i] + lengths[i]
    tokens = np.empty(offsets[n], dtype=np.int32)
    for i in range(n):
        o = offsets[i]
        for j in range(lengths[i]):
            tokens[o + j] = out[i, j]
    return tokens, offsets
