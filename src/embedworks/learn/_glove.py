"""Numba kernels for GloVe: windowed co-occurrence counting and the AdaGrad epoch.

Kernels take arrays and scalars only and release the GIL (``nogil=True``), so the Python layer
in `glove.py` runs one call per worker thread on its shard of the data.

Co-occurrence counting
    For every token ``t`` of the encoded corpus and every earlier token ``u`` of the same sentence
    with ``t - u <= window`` the pair (word ``tokens[t]``, context ``tokens[u]``) gets weight
    ``1 / (t - u)``. Symmetric counting stores each pair once as (min id, max id) in the upper
    triangle and the caller adds the transpose at the end, so X[i, j] == X[j, i] and the diagonal
    counts a repeated word from both sides, exactly as Stanford's ``cooccur -symmetric 1``.
    Asymmetric counting stores (word, left context) only.

    Frequent pairs accumulate in a dense float64 table per thread laid out over the "hyperbolic"
    region ``(i + 1) * (j + 1) <= product`` of the frequency-ranked ids (Stanford's ``cooccur``
    does the same; 4M cells catch about 85% of the pairs of a Wikipedia corpus); rarer pairs go
    to a fixed-size buffer of (row, col, value) triples that the caller turns into a canonical
    CSR partial (`triples_to_csr`, a linear-time radix sort) each time it fills up, and partials
    are summed with `csr_add`. These sparse kernels replace scipy's, which hold the GIL.

AdaGrad epoch
    One pass over the nonzeros in a given order (a shard of a seeded permutation), updating
    word and context rows (vector, bias and their AdaGrad accumulators side by side) in place,
    Hogwild-style when threads share the arrays. It mirrors ``glove.c`` of the Stanford release:
    gradients scaled by the learning rate, per-parameter accumulators initialised to 1, both
    updates computed from the values before the step. ``error_model="numpy"`` (no Python
    ZeroDivisionError checks) and the split loops let LLVM vectorise the updates.
"""

from __future__ import annotations

import numpy as np
from numba import njit


# --------------------------------------------------------------------------- co-occurrence
def dense_layout(vocab_size: int, max_cells: int, upper: bool):
    """(start, length, col0, product) of the per-thread dense table of frequent pairs.

    Row ``i`` holds columns ``col0[i] .. col0[i] + length[i] - 1`` where the column bound is
    ``min(vocab_size, product // (i + 1))`` and ``col0[i]`` is ``i`` for the upper triangle,
    else 0. ``product`` is the largest value whose table has at most ``max_cells`` cells.
    """
    ranks = np.arange(vocab_size, dtype=np.int64)
    col0 = ranks.copy() if upper else np.zeros(vocab_size, dtype=np.int64)

    def lengths(product: int) -> np.ndarray:
        return np.maximum(np.minimum(vocab_size, product // (ranks + 1)) - col0, 0)

    lo, hi = 0, max(1, vocab_size) * max(1, vocab_size)
    if max_cells <= 0 or vocab_size == 0:
        hi = 0
    elif lengths(hi).sum() <= max_cells:
        lo = hi
    while lo < hi:  # largest product with at most max_cells cells
        mid = (lo + hi + 1) // 2
        if lengths(mid).sum() <= max_cells:
            lo = mid
        else:
            hi = mid - 1
    length = lengths(lo)
    start = np.zeros(vocab_size, dtype=np.int64)
    if vocab_size:
        np.cumsum(length[:-1], out=start[1:])
    return start, length, col0, int(lo)


@njit(cache=True, nogil=True)
def cooccur_fill(tokens, offsets, t, s, t_end, window, symmetric,
                 dense, dense_start, dense_len, dense_col0, rows, cols, vals):
    """Count pairs for tokens ``t .. t_end - 1``; return ``(t, s, n)`` where it stopped.

    ``s`` is the sentence holding token ``t`` (``offsets[s] <= t < offsets[s + 1]``); the kernel
    stops early, before a token whose pairs might not fit, when the triple buffers
    ``rows``/``cols``/``vals`` are nearly full; ``n`` triples were written from index 0.
    """
    capacity = rows.shape[0]
    n = 0
    n_sentences = offsets.shape[0] - 1
    while t < t_end:
        if n + window > capacity:
            break
        while s < n_sentences - 1 and offsets[s + 1] <= t:
            s += 1
        lo = offsets[s]
        if t - window > lo:
            lo = t - window
        w = tokens[t]
        for u in range(t - 1, lo - 1, -1):
            c = tokens[u]
            weight = 1.0 / (t - u)
            if symmetric and c < w:
                a = c
                b = w
            else:
                a = w
                b = c
            off = b - dense_col0[a]
            if off < dense_len[a]:
                dense[dense_start[a] + off] += weight
            else:
                rows[n] = a
                cols[n] = b
                vals[n] = weight
                n += 1
        t += 1
    return t, s, n


@njit(cache=True, nogil=True)
def dense_to_triples(dense, dense_start, dense_len, dense_col0):
    """The nonzero cells of a dense table as (rows int32, cols int32, values float64)."""
    nnz = 0
    for k in range(dense.shape[0]):
        if dense[k] != 0.0:
            nnz += 1
    rows = np.empty(nnz, dtype=np.int32)
    cols = np.empty(nnz, dtype=np.int32)
    vals = np.empty(nnz, dtype=np.float64)
    n = 0
    for i in range(dense_start.shape[0]):
        base = dense_start[i]
        for off in range(dense_len[i]):
            v = dense[base + off]
            if v != 0.0:
                rows[n] = i
                cols[n] = dense_col0[i] + off
                vals[n] = v
                n += 1
    return rows, cols, vals


@njit(cache=True, nogil=True)
def triples_to_csr(rows, cols, vals, n_rows, n_cols):
    """CSR (indptr int64, indices int32, data float32) of triples, duplicates summed, sorted.

    A two-pass LSD radix sort on (row, col) by counting, then one pass summing neighbours:
    linear time, no Python objects, the GIL released.
    """
    n = rows.shape[0]
    # pass 1: by column
    count = np.zeros(n_cols + 1, dtype=np.int64)
    for k in range(n):
        count[cols[k] + 1] += 1
    for c in range(n_cols):
        count[c + 1] += count[c]
    by_col = np.empty(n, dtype=np.int64)
    for k in range(n):
        c = cols[k]
        by_col[count[c]] = k
        count[c] += 1
    # pass 2: stable by row
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    for k in range(n):
        indptr[rows[k] + 1] += 1
    for r in range(n_rows):
        indptr[r + 1] += indptr[r]
    fill = indptr[:-1].copy()
    indices = np.empty(n, dtype=np.int32)
    data = np.empty(n, dtype=np.float32)
    for m in range(n):
        k = by_col[m]
        r = rows[k]
        indices[fill[r]] = cols[k]
        data[fill[r]] = vals[k]
        fill[r] += 1
    # sum duplicates (now adjacent), compacting in place
    out = 0
    start = 0
    for r in range(n_rows):
        end = indptr[r + 1]
        row_start = out
        for k in range(start, end):
            if out > row_start and indices[out - 1] == indices[k]:
                data[out - 1] += data[k]
            else:
                indices[out] = indices[k]
                data[out] = data[k]
                out += 1
        start = end
        indptr[r + 1] = out
    return indptr, indices[:out].copy(), data[:out].copy()


@njit(cache=True, nogil=True)
def csr_add(indptr_a, indices_a, data_a, indptr_b, indices_b, data_b):
    """Sum of two canonical CSR matrices of the same shape, canonical (a merge per row)."""
    n_rows = indptr_a.shape[0] - 1
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    # first pass: sizes, so the output is allocated once at its exact size
    for r in range(n_rows):
        i, i_end = indptr_a[r], indptr_a[r + 1]
        j, j_end = indptr_b[r], indptr_b[r + 1]
        size = 0
        while i < i_end and j < j_end:
            if indices_a[i] < indices_b[j]:
                i += 1
            elif indices_a[i] > indices_b[j]:
                j += 1
            else:
                i += 1
                j += 1
            size += 1
        indptr[r + 1] = indptr[r] + size + (i_end - i) + (j_end - j)
    indices = np.empty(indptr[n_rows], dtype=np.int32)
    data = np.empty(indptr[n_rows], dtype=np.float32)
    for r in range(n_rows):
        i, i_end = indptr_a[r], indptr_a[r + 1]
        j, j_end = indptr_b[r], indptr_b[r + 1]
        out = indptr[r]
        while i < i_end and j < j_end:
            ca = indices_a[i]
            cb = indices_b[j]
            if ca < cb:
                indices[out] = ca
                data[out] = data_a[i]
                i += 1
            elif ca > cb:
                indices[out] = cb
                data[out] = data_b[j]
                j += 1
            else:
                indices[out] = ca
                data[out] = data_a[i] + data_b[j]
                i += 1
                j += 1
            out += 1
        while i < i_end:
            indices[out] = indices_a[i]
            data[out] = data_a[i]
            i += 1
            out += 1
        while j < j_end:
            indices[out] = indices_b[j]
            data[out] = data_b[j]
            j += 1
            out += 1
    return indptr, indices, data


@njit(cache=True, nogil=True)
def csr_transpose(indptr, indices, data, n_cols):
    """The transpose of a canonical CSR matrix, canonical (counting sort by column)."""
    n_rows = indptr.shape[0] - 1
    nnz = indices.shape[0]
    t_indptr = np.zeros(n_cols + 1, dtype=np.int64)
    for k in range(nnz):
        t_indptr[indices[k] + 1] += 1
    for c in range(n_cols):
        t_indptr[c + 1] += t_indptr[c]
    fill = t_indptr[:-1].copy()
    t_indices = np.empty(nnz, dtype=np.int32)
    t_data = np.empty(nnz, dtype=np.float32)
    for r in range(n_rows):
        for k in range(indptr[r], indptr[r + 1]):
            c = indices[k]
            t_indices[fill[c]] = r
            t_data[fill[c]] = data[k]
            fill[c] += 1
    return t_indptr, t_indices, t_data


# --------------------------------------------------------------------------- training
@njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz", "arcp"})
def glove_epoch(rows, cols, vals, order, start, end, PW, PC, x_max, alpha, learning_rate):
    """AdaGrad over nonzeros ``order[start:end]``; returns (sum of f·diff², updates skipped).

    ``PW`` (words) and ``PC`` (contexts) are (vocab, 2·(dim + 1)) float32: columns ``:dim`` the
    vector, ``dim`` the bias, ``dim + 1:`` their squared-gradient accumulators (kept beside the
    parameters so one row is one contiguous read). For a nonzero x = X[i, j]:
    ``diff = w_i·c_j + b_i + b̃_j − log x`` and ``f = min(1, (x/x_max)^alpha)``; the step
    ``s = lr·f·diff`` moves ``w_i`` by ``−s·c_j / √G`` and ``c_j`` by ``−s·w_i / √G`` (both from
    the values before the step), the biases by ``−s / √G``, and each accumulator G then grows by
    the square of its step's numerator, as in the Stanford C code. A nonzero whose update is not
    finite is skipped and counted. ``order`` may be int32 or int64.
    """
    dim = PW.shape[1] // 2 - 1
    g0 = dim + 1
    upd_w = np.empty(dim, dtype=np.float32)
    upd_c = np.empty(dim, dtype=np.float32)
    loss = 0.0
    skipped = 0
    block = 2048
    bi = np.empty(block, dtype=np.int32)
    bj = np.empty(block, dtype=np.int32)
    bx = np.empty(block, dtype=np.float64)
    for k in range(start, end):
        kb = (k - start) % block
        if kb == 0:  # gather the next block of records first: independent loads overlap
            for m in range(min(block, end - k)):
                e = order[k + m]
                bi[m] = rows[e]
                bj[m] = cols[e]
                bx[m] = vals[e]
        i = bi[kb]
        j = bj[kb]
        x = bx[kb]
        wi = PW[i]
        cj = PC[j]
        dot = np.float32(0.0)
        for d in range(dim):
            dot += wi[d] * cj[d]
        diff = np.float64(dot) + wi[dim] + cj[dim] - np.log(x)
        if x < x_max:
            f = (x / x_max) ** alpha
        else:
            f = 1.0
        fdiff = f * diff
        step = np.float32(learning_rate * fdiff)
        # separate simple loops: each vectorises (a fused loop with several stores does not)
        for d in range(dim):
            upd_w[d] = step * cj[d] / np.sqrt(wi[g0 + d])
        for d in range(dim):
            upd_c[d] = step * wi[d] / np.sqrt(cj[g0 + d])
        check = step
        for d in range(dim):
            check += upd_w[d] + upd_c[d]
        if not np.isfinite(check):
            skipped += 1
            continue
        loss += fdiff * diff
        for d in range(dim):
            tw = step * cj[d]
            wi[g0 + d] += tw * tw
        for d in range(dim):
            tc = step * wi[d]
            cj[g0 + d] += tc * tc
        for d in range(dim):
            wi[d] -= upd_w[d]
        for d in range(dim):
            cj[d] -= upd_c[d]
        wi[dim] -= step / np.sqrt(wi[g0 + dim])
        cj[dim] -= step / np.sqrt(cj[g0 + dim])
        wi[g0 + dim] += step * step
        cj[g0 + dim] += step * step
    return loss, skipped
