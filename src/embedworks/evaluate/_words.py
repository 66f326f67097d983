"""Numba kernel for analogy evaluation: the best answer per question without a questions × keys matrix."""

import numba
import numpy as np


@numba.njit(parallel=True, nogil=True, cache=True)
def best_candidates(table, ta, tb, tc, ga, gb, gc, canon, mul, eps):
    """Per question the row maximising its 3CosAdd / 3CosMul score, skipping the question words.

    table[t, j] is cos(word t, key j) (shifted to (cos + 1) / 2 for 3CosMul); ta, tb, tc index
    the table rows of a, b, c; ga, gb, gc are their canonical rows: a candidate j is skipped
    when canon[j] is one of them (the word itself or a case variant). Ties keep the first row,
    as numpy.argmax. -1 when no candidate has a finite score.
    """
    nq = ta.shape[0]
    n = table.shape[1]
    best = np.empty(nq, np.int64)
    for i in numba.prange(nq):
        ra = table[ta[i]]
        rb = table[tb[i]]
        rc = table[tc[i]]
        a, b, c = ga[i], gb[i], gc[i]
        best_row = -1
        best_score = -np.inf
        if mul:
            for j in range(n):
                score = rb[j] * rc[j] / (ra[j] + eps)
                if score > best_score:
                    g = canon[j]
                    if g != a and g != b and g != c:
                        best_score = score
                        best_row = j
        else:
            for j in range(n):
                score = rb[j] + rc[j] - ra[j]
                if score > best_score:
                    g = canon[j]
                    if g != a and g != b and g != c:
                        best_score = score
                        best_row = j
        best[i] = best_row
    return best
