"""Numba kernel for exact search: fold a block of scores into each query's running top-k."""

import numba


@numba.njit(parallel=True, nogil=True, cache=True)
def merge_block(scores, ids, best_val, best_idx):
    """Keep, per row of `scores`, the k largest of it and of `best_val` (k slots, unordered).

    A candidate enters only if it beats the current worst slot, so a row costs about one
    comparison per score; rows run in parallel. Ties keep the earlier entry; NaN never enters.
    """
    n_rows, n_cols = scores.shape
    k = best_val.shape[1]
    for i in numba.prange(n_rows):
        worst = 0
        for j in range(1, k):
            if best_val[i, j] < best_val[i, worst]:
                worst = j
        floor = best_val[i, worst]
        for c in range(n_cols):
            s = scores[i, c]
            if s > floor:
                best_val[i, worst] = s
                best_idx[i, worst] = ids[c]
                worst = 0
                for j in range(1, k):
                    if best_val[i, j] < best_val[i, worst]:
                        worst = j
                floor = best_val[i, worst]
