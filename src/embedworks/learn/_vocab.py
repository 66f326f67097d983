"""Numba kernels of the vocabulary (vocab.py): in-place corpus compaction, id counting, word2vec.c's
Huffman tree and Vose's alias table. Imports nothing but NumPy and Numba, so that `_aot.py` can
compile it ahead of time (see there).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def compact(tokens, offsets, remap, use_remap, s0, s1, start, write, n_sent):
    """Map ids through `remap` (when `use_remap`), drop negative ids and empty sentences, in place.

    `offsets` holds 0 followed by the sentence end positions. Processes sentences s0..s1-1 and
    returns the state to resume from, (start, write, n_sent): where the next sentence starts
    in the input (its offset may already be overwritten), tokens and sentences written so far.
    """
    offsets[0] = 0
    for s in range(s0, s1):
        end = offsets[s + 1]
        for r in range(start, end):
            v = tokens[r]
            if use_remap and v >= 0:
                v = remap[v]
            if v >= 0:
                tokens[write] = v
                write += 1
        start = end
        if write > offsets[n_sent]:
            n_sent += 1
            offsets[n_sent] = write
    return start, write, n_sent


@njit(cache=True, nogil=True)
def count_ids(tokens, n):
    counts = np.zeros(n, dtype=np.int64)
    for i in range(tokens.shape[0]):
        counts[tokens[i]] += 1
    return counts


@njit(cache=True)
def huffman_sorted(counts):
    """word2vec.c's CreateBinaryTree on counts sorted descending: (codes, points, lengths)."""
    V = counts.shape[0]
    count = np.empty(2 * V, dtype=np.float64)
    for a in range(V):
        count[a] = counts[a]
    for a in range(V, 2 * V):
        count[a] = 1e15
    binary = np.zeros(2 * V, dtype=np.uint8)
    parent = np.zeros(2 * V, dtype=np.int64)
    pos1 = V - 1
    pos2 = V
    for a in range(V - 1):
        if pos1 >= 0 and count[pos1] < count[pos2]:
            min1 = pos1
            pos1 -= 1
        else:
            min1 = pos2
            pos2 += 1
        if pos1 >= 0 and count[pos1] < count[pos2]:
            min2 = pos1
            pos1 -= 1
        else:
            min2 = pos2
            pos2 += 1
        count[V + a] = count[min1] + count[min2]
        parent[min1] = V + a
        parent[min2] = V + a
        binary[min2] = 1
    root = 2 * V - 2
    lengths = np.zeros(V, dtype=np.int32)
    maxlen = 1
    for a in range(V):
        b = a
        n = 0
        while b != root:
            n += 1
            b = parent[b]
        lengths[a] = n
        maxlen = max(maxlen, n)
    codes = np.zeros((V, maxlen), dtype=np.uint8)
    points = np.zeros((V, maxlen), dtype=np.int32)
    for a in range(V):
        n = lengths[a]
        b = a
        i = 0
        # walking up gives codes leaf→root; word2vec.c stores them root→leaf
        while b != root:
            codes[a, n - 1 - i] = binary[b]
            if i > 0:
                points[a, n - i] = b - V
            i += 1
            b = parent[b]
        if n > 0:
            points[a, 0] = V - 2
    return codes, points, lengths


@njit(cache=True)
def vose(p, thr, alias):
    """Vose's alias method on probabilities p (sum 1): fills thr (uint32) and alias (int32)."""
    n = p.shape[0]
    scaled = p * n
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        alias[i] = i
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    full = np.float64(2.0 ** 32)
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        thr[s] = np.uint32(min(scaled[s] * full, full - 1.0))
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1
    for k in range(nl):  # leftovers (numerically 1): always themselves
        thr[large[k]] = np.uint32(4294967295)
    for k in range(ns):
        thr[small[k]] = np.uint32(4294967295)
