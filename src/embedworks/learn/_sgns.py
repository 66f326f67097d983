"""Numba kernels for word2vec-style training: skip-gram and CBOW, negative sampling and
hierarchical softmax. Shared by Word2Vec, FastText, Doc2Vec and node2vec.

Everything here takes arrays and scalars only and releases the GIL (``nogil=True``): the Python
layer starts one thread per worker and each thread calls a sentence kernel on its own shard of
the integer-encoded corpus, updating the shared weight matrices lock-free (Hogwild).

Conventions (those of word2vec.c):

* ``syn0`` (V, d) float32 input vectors; ``syn1neg`` (V, d) output vectors for negative
  sampling; ``syn1`` (V - 1, d) inner-node vectors for hierarchical softmax. A matrix that is not
  used is passed as a (1, d) dummy so the compiled signature never changes.
* A corpus is ``tokens`` (int32 word ids) with ``offsets`` (int64): sentence ``s`` is
  ``tokens[offsets[s]:offsets[s + 1]]``. The kernels accept any slice of the offsets array, so a
  caller shards by passing consecutive sentence ranges (node2vec walks can be fed as is).
* Random numbers come from word2vec.c's linear congruential generator
  ``r = r * 25214903917 + 11`` (uint64, wrapping), one stream per thread; the kernels return
  the updated state so a caller can continue the stream on the next call. Only the high bits
  of the state are used (an LCG's low bits have short periods: word2vec.c's ``r & 0xFFFF``
  repeats every 65,536 draws, and using it cost about one point of analogy accuracy for CBOW
  here). Each step below advances the state once and then reads it:

  - subsampling, per token whose keep probability is below 1: the token is discarded when
    ``keep_prob[w] < (r >> 40) / 2**24``;
  - the reduced window per centre word: ``b = (r >> 16) % window``, contexts ``i - window + b``
    .. ``i + window - b``;
  - negatives: two steps per draw from an alias table of unigram**0.75 (`draw_alias`; O(1),
    where a binary search in a cumulative table cost about 100 ns a draw in mispredicted
    branches).
* Look-ahead: a sentence kernel makes centre i + 1's draws (window reduction, negatives) before
  centre i's update, in the stream order above, and prefetches the rows centre i + 1 reads
  first (its output row, its negatives' rows, the input row entering its window), so those
  cache misses overlap centre i's arithmetic. The vectors are those of drawing just in time.
* Private hot rows (``hot``, ``hot_base``): with several threads, every thread reads and
  writes the output rows of the most frequent words at a high rate, and moving those cache
  lines between cores halved the speed of two threads on text8 CBOW when the cores were far
  apart. So a thread may keep its own copy of the ``hot`` most frequent words' rows (ids
  0 .. hot - 1) at rows ``hot_base .. hot_base + hot - 1`` of ``syn1neg`` (`out_row`), which
  the caller folds back into the shared rows between calls. ``hot = 0``: shared rows only.
* The learning rate decays linearly: for a sentence starting at relative position ``x`` of the
  slice, ``alpha = alpha0 - (alpha0 - min_alpha) * (progress0 + progress_span * x)``; the caller
  passes the progress of the slice within the whole training run (all epochs), so one thread
  or many give the same schedule.
* The sigmoid is word2vec.c's table of 1000 values over [-6, 6]; beyond that it saturates at 0 or
  1 for negative sampling (full gradient, as word2vec.c) and the node is skipped for hierarchical
  softmax (as word2vec.c and gensim).

Skip-gram with negative sampling has two schemes:

* ``shared=True`` (default, pWord2Vec, Ji et al. 2016): for each centre word one set of
  ``negative`` noise words is drawn and shared by every context word of its window. The 2b
  context rows and the (1 + negative) output rows are gathered into small contiguous buffers, the
  (2b x (1 + negative)) logits and gradients computed at once, and both sides updated from the
  same values, so each output row is loaded once per window instead of once per pair and the
  random memory traffic drops by about the window size.
* ``shared=False``: word2vec.c's per-pair scheme (fresh negatives per (context, centre) pair,
  sequential updates); the reference, and the one used for hierarchical softmax.

As in word2vec.c the input vector of a skip-gram pair is the *context* word and the predicted
output is the centre word.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

MAX_EXP = 6.0
EXP_TABLE_SIZE = 1000


def _make_exp_table() -> np.ndarray:
    x = (np.arange(EXP_TABLE_SIZE, dtype=np.float64) / EXP_TABLE_SIZE * 2.0 - 1.0) * MAX_EXP
    e = np.exp(x)
    return (e / (e + 1.0)).astype(np.float32)


#: word2vec.c's sigmoid table
EXP_TABLE = _make_exp_table()
_EXP_SCALE = EXP_TABLE_SIZE / MAX_EXP / 2.0

_MULT = np.uint64(25214903917)
_ADD = np.uint64(11)
_SHIFT16 = np.uint64(16)
_SHIFT32 = np.uint64(32)
_SHIFT40 = np.uint64(40)
_INV24 = 1.0 / 16777216.0

_JIT = dict(cache=True, nogil=True, fastmath=True)


# --------------------------------------------------------------------------- small helpers
@njit(cache=True, nogil=True, inline="always")
def lcg(next_random):
    """One step of word2vec.c's generator (uint64 in, uint64 out)."""
    return next_random * _MULT + _ADD


@njit(cache=True, nogil=True, inline="always")
def sigmoid(f):
    """word2vec.c's table sigmoid, saturating to 0 / 1 beyond ±MAX_EXP."""
    if f >= MAX_EXP:
        return np.float32(1.0)
    if f <= -MAX_EXP:
        return np.float32(0.0)
    return EXP_TABLE[int((f + MAX_EXP) * _EXP_SCALE)]


@njit(cache=True, nogil=True)
def draw_alias(neg_thr, neg_alias, next_random):
    """One draw from an alias table (Walker/Vose): two LCG steps, O(1).

    The top 32 bits of the first step pick a bucket i (multiply-shift), the top 32 bits of
    the second keep i when below neg_thr[i] and take neg_alias[i] otherwise.
    Returns (index, next_random)."""
    n = neg_thr.shape[0]
    next_random = lcg(next_random)
    i = np.int64(((next_random >> _SHIFT32) * np.uint64(n)) >> _SHIFT32)
    next_random = lcg(next_random)
    if (next_random >> _SHIFT32) >= np.uint64(neg_thr[i]):
        i = np.int64(neg_alias[i])
    return i, next_random


@njit(cache=True, nogil=True)
def draw_negatives(neg_thr, neg_alias, negative, word, negs, next_random):
    """Draw `negative` noise words into `negs`, skipping draws equal to `word` (as word2vec.c).

    Returns (number kept, next_random)."""
    n = 0
    for _ in range(negative):
        target, next_random = draw_alias(neg_thr, neg_alias, next_random)
        if target == word:
            continue
        negs[n] = target
        n += 1
    return n, next_random


@njit(cache=True, nogil=True)
def sample_many(neg_thr, neg_alias, n, next_random):
    """`n` draws from the alias table (for tests of the sampling distribution)."""
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i], next_random = draw_alias(neg_thr, neg_alias, next_random)
    return out, next_random


@njit(cache=True, nogil=True)
def init_vectors(out, next_random):
    """Fill `out` (V, d) like word2vec.c, uniform in [-0.5, 0.5) / d from the LCG stream, but
    from the state's top 24 bits (word2vec.c's low 16 bits repeat every 65,536 values, so
    rows 16,384 apart started identical)."""
    V, d = out.shape
    inv = np.float32(1.0 / d)
    for a in range(V):
        for b in range(d):
            next_random = lcg(next_random)
            out[a, b] = (np.float32((next_random >> _SHIFT40) * _INV24) - np.float32(0.5)) * inv
    return next_random


@njit(cache=True, nogil=True, inline="always")
def _alpha_at(alpha0, min_alpha, progress):
    a = alpha0 - (alpha0 - min_alpha) * progress
    return a if a > min_alpha else min_alpha


@njit(cache=True, nogil=True)
def _subsample(tokens, start, end, keep_prob, sen, next_random):
    """Copy the tokens kept by subsampling into `sen`; returns (count, next_random)."""
    n = 0
    for p in range(start, end):
        w = tokens[p]
        kp = keep_prob[w]
        if kp < 1.0:
            next_random = lcg(next_random)
            if kp < (next_random >> _SHIFT40) * _INV24:
                continue
        sen[n] = w
        n += 1
    return n, next_random


@njit(cache=True, nogil=True)
def _max_sentence(offsets):
    m = 0
    for s in range(offsets.shape[0] - 1):
        ln = offsets[s + 1] - offsets[s]
        if ln > m:
            m = ln
    return m


# --------------------------------------------------------------------------- prefetching
@intrinsic
def _prefetch(typingctx, arr, row, col):
    """Hint the CPU to fetch the cache line holding arr[row, col] (LLVM's llvm.prefetch: read,
    high locality, data cache); a no-op on targets without prefetch instructions."""
    sig = types.void(arr, row, col)

    def codegen(context, builder, signature, args):
        ary_t, row_t, col_t = signature.args
        ary = context.make_array(ary_t)(context, builder, args[0])
        i = context.cast(builder, args[1], row_t, types.intp)
        j = context.cast(builder, args[2], col_t, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, ary_t, ary, [i, j], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def prefetch_row(arr, r):
    """Prefetch every cache line of row r (16 float32 = 64 bytes apart, and the last element)."""
    d = arr.shape[1]
    for c in range(0, d, 16):
        _prefetch(arr, r, c)
    _prefetch(arr, r, d - 1)


# --------------------------------------------------------------------------- single steps
@njit(cache=True, nogil=True, inline="always")
def hs_output(h, err, syn1, code, point, codelen, alpha):
    """Hierarchical-softmax output step for hidden vector `h` along one Huffman path: updates
    the syn1 rows of point[:codelen] and adds the gradient for `h` into `err`."""
    d = h.shape[0]
    for p in range(codelen):
        row = point[p]
        f = np.float32(0.0)
        for t in range(d):
            f += h[t] * syn1[row, t]
        if f <= -MAX_EXP or f >= MAX_EXP:
            continue
        g = (np.float32(1.0) - np.float32(code[p]) - sigmoid(f)) * alpha
        for t in range(d):
            o = syn1[row, t]
            err[t] += g * o
            syn1[row, t] = o + g * h[t]


@njit(cache=True, nogil=True, inline="always")
def neg_output(h, err, syn1neg, word, negs, n_neg, alpha):
    """Negative-sampling output step for hidden vector `h`: `word` as the positive and
    negs[:n_neg] as noise; updates their syn1neg rows and adds the gradient for `h` into `err`."""
    d = h.shape[0]
    for k in range(n_neg + 1):
        if k == 0:
            target = word
            label = np.float32(1.0)
        else:
            target = negs[k - 1]
            label = np.float32(0.0)
        f = np.float32(0.0)
        for t in range(d):
            f += h[t] * syn1neg[target, t]
        g = (label - sigmoid(f)) * alpha
        for t in range(d):
            o = syn1neg[target, t]
            err[t] += g * o
            syn1neg[target, t] = o + g * h[t]


@njit(**_JIT)
def sg_neg_shared_step(syn0, syn1neg, ctx, n_ctx, word, negs, n_neg, alpha, M, O, G):
    """One skip-gram window with shared negatives: contexts ctx[:n_ctx] predict `word` against
    negs[:n_neg]. M (>= n_ctx, d), O (>= n_neg + 1, d), G (>= n_ctx, >= n_neg + 1) are work
    buffers. All gradients are computed from the values before the step, then added:
    with M = syn0[ctx], O = syn1neg[[word] + negs] and labels (1, 0, ..., 0),
    G = (labels - sigmoid(M O^T)) * alpha; syn0[ctx] += G O; syn1neg[outputs] += G^T M.

    (Plain row loops: LLVM vectorises each over d; hand-blocked variants measured slower.)"""
    d = syn0.shape[1]
    n_out = n_neg + 1
    for j in range(n_ctx):
        r = ctx[j]
        for t in range(d):
            M[j, t] = syn0[r, t]
    for t in range(d):
        O[0, t] = syn1neg[word, t]
    for k in range(n_neg):
        r = negs[k]
        for t in range(d):
            O[k + 1, t] = syn1neg[r, t]
    for j in range(n_ctx):
        for k in range(n_out):
            f = np.float32(0.0)
            for t in range(d):
                f += M[j, t] * O[k, t]
            label = np.float32(1.0) if k == 0 else np.float32(0.0)
            G[j, k] = (label - sigmoid(f)) * alpha
    for j in range(n_ctx):
        r = ctx[j]
        for k in range(n_out):
            g = G[j, k]
            for t in range(d):
                syn0[r, t] += g * O[k, t]
    for k in range(n_out):
        r = word if k == 0 else negs[k - 1]
        for j in range(n_ctx):
            g = G[j, k]
            for t in range(d):
                syn1neg[r, t] += g * M[j, t]


@njit(**_JIT)
def sg_pair_step(syn0, syn1neg, syn1, inp, word, negs, n_neg, use_neg,
                 code, point, codelen, hs, alpha, neu1e):
    """word2vec.c's skip-gram update for one (context `inp`, centre `word`) pair: hierarchical
    softmax over code[:codelen]/point[:codelen] when `hs`, negative sampling against
    negs[:n_neg] when `use_neg`; syn0[inp] gets the summed error at the end."""
    d = syn0.shape[1]
    for t in range(d):
        neu1e[t] = 0.0
    if hs:
        hs_output(syn0[inp], neu1e, syn1, code, point, codelen, alpha)
    if use_neg:
        neg_output(syn0[inp], neu1e, syn1neg, word, negs, n_neg, alpha)
    for t in range(d):
        syn0[inp, t] += neu1e[t]


@njit(**_JIT)
def cbow_step(syn0, syn1neg, syn1, ctx, n_ctx, word, negs, n_neg, use_neg,
              code, point, codelen, hs, alpha, cbow_mean, neu1, neu1e):
    """word2vec.c's CBOW update: the mean (or sum) of syn0[ctx[:n_ctx]] predicts `word`.

    With `cbow_mean` every context row receives the full error (word2vec.c, gensim); with a sum
    the error is divided by the number of context words (gensim)."""
    d = syn0.shape[1]
    for t in range(d):
        neu1[t] = 0.0
        neu1e[t] = 0.0
    for j in range(n_ctx):
        r = ctx[j]
        for t in range(d):
            neu1[t] += syn0[r, t]
    if cbow_mean:
        inv = np.float32(1.0) / np.float32(n_ctx)
        for t in range(d):
            neu1[t] *= inv
    if hs:
        hs_output(neu1, neu1e, syn1, code, point, codelen, alpha)
    if use_neg:
        neg_output(neu1, neu1e, syn1neg, word, negs, n_neg, alpha)
    if not cbow_mean:
        inv = np.float32(1.0) / np.float32(n_ctx)
        for t in range(d):
            neu1e[t] *= inv
    for j in range(n_ctx):
        r = ctx[j]
        for t in range(d):
            syn0[r, t] += neu1e[t]


# --------------------------------------------------------------------------- sentence kernels
@njit(cache=True, nogil=True, inline="always")
def out_row(w, hot, hot_base):
    """The syn1neg row a thread uses for word w: its private copy (row hot_base + w) when w is
    one of the `hot` most frequent words, else the shared row w."""
    return w + hot_base if w < hot else w


@njit(cache=True, nogil=True, inline="always")
def _draw_centre(neg_thr, neg_alias, negative, per_pair, word, i, n, window, negs, n_negs,
                 hot, hot_base, next_random):
    """The random draws for centre position i of an n-token sentence, in word2vec.c's order:
    the window reduction b, then (when the window holds any context) the negatives: one set
    into negs[0], or with `per_pair` one set per context word into negs[j] (counts in n_negs),
    stored as `out_row`s. Returns (b, next_random)."""
    next_random = lcg(next_random)
    b = np.int64((next_random >> _SHIFT16) % np.uint64(window))
    n_ctx = min(n, i + window + 1 - b) - max(0, i - window + b) - 1
    if negative > 0 and n_ctx > 0:
        for j in range(n_ctx if per_pair else 1):
            n_negs[j], next_random = draw_negatives(neg_thr, neg_alias, negative, word, negs[j],
                                                    next_random)
            for k in range(n_negs[j]):
                negs[j, k] = out_row(negs[j, k], hot, hot_base)
    return b, next_random


@njit(cache=True, nogil=True, inline="always")
def _prefetch_centre(syn0, syn1neg, sen, i, n, window, negs, n_negs, sets, out):
    """Prefetch the rows centre i will touch first: its output row `out` and its negatives'
    rows (first `sets` sets), and the input row entering the window."""
    if syn1neg.shape[0] > 1:
        prefetch_row(syn1neg, out)
        for j in range(sets):
            for k in range(n_negs[j]):
                prefetch_row(syn1neg, negs[j, k])
    if i + window < n:
        prefetch_row(syn0, sen[i + window])


@njit(**_JIT)
def train_sg(syn0, syn1neg, syn1, tokens, offsets, keep_prob, neg_thr, neg_alias,
             codes, points, code_lens, window, negative, hs, shared,
             alpha0, min_alpha, progress0, progress_span, hot, hot_base, next_random):
    """Skip-gram over sentences offsets[0..-1] of `tokens`. Returns (next_random, words, kept).

    `words` counts the tokens of the slice, `kept` those that survived subsampling. The draws
    of centre i + 1 are made before centre i's update, in the same stream order, so its rows are
    prefetched while centre i computes (the results are those of drawing just in time)."""
    d = syn0.shape[1]
    n_sent = offsets.shape[0] - 1
    if n_sent <= 0:
        return next_random, 0, 0
    base = offsets[0]
    total = offsets[n_sent] - base
    if total <= 0:
        return next_random, 0, 0
    use_neg = negative > 0
    per_pair = not (shared and use_neg)
    sen = np.empty(_max_sentence(offsets), dtype=np.int32)
    ctx = np.empty(2 * window, dtype=np.int32)
    negs = np.empty((2, 2 * window, max(negative, 1)), dtype=np.int32)
    n_negs = np.zeros((2, 2 * window), dtype=np.int64)
    M = np.empty((2 * window, d), dtype=np.float32)
    O = np.empty((negative + 1, d), dtype=np.float32)
    G = np.empty((2 * window, negative + 1), dtype=np.float32)
    neu1e = np.empty(d, dtype=np.float32)
    kept = 0
    for s in range(n_sent):
        start = offsets[s]
        alpha = np.float32(_alpha_at(alpha0, min_alpha,
                                     progress0 + progress_span * ((start - base) / total)))
        n, next_random = _subsample(tokens, start, offsets[s + 1], keep_prob, sen, next_random)
        kept += n
        if n == 0:
            continue
        cur = 0
        b, next_random = _draw_centre(neg_thr, neg_alias, negative, per_pair, sen[0], 0, n, window,
                                      negs[0], n_negs[0], hot, hot_base, next_random)
        for i in range(n):
            word = sen[i]
            b_next = np.int64(0)
            if i + 1 < n:
                b_next, next_random = _draw_centre(neg_thr, neg_alias, negative, per_pair, sen[i + 1],
                                                   i + 1, n, window, negs[1 - cur], n_negs[1 - cur],
                                                   hot, hot_base, next_random)
                _prefetch_centre(syn0, syn1neg, sen, i + 1, n, window, negs[1 - cur], n_negs[1 - cur],
                                 2 * window if per_pair else 1, out_row(sen[i + 1], hot, hot_base))
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            n_ctx = 0
            for c in range(lo, hi):
                if c != i:
                    ctx[n_ctx] = sen[c]
                    n_ctx += 1
            hw = word if hs else 0  # codes/points are a (1, 1) dummy without hs
            code_len = code_lens[hw] if hs else 0
            out = out_row(word, hot, hot_base)
            if n_ctx > 0 and not per_pair:
                if hs:
                    for j in range(n_ctx):
                        sg_pair_step(syn0, syn1neg, syn1, ctx[j], out, negs[cur, 0], 0, False,
                                     codes[hw], points[hw], code_len, True, alpha, neu1e)
                sg_neg_shared_step(syn0, syn1neg, ctx, n_ctx, out, negs[cur, 0], n_negs[cur, 0],
                                   alpha, M, O, G)
            else:
                for j in range(n_ctx):
                    sg_pair_step(syn0, syn1neg, syn1, ctx[j], out, negs[cur, j],
                                 n_negs[cur, j] if use_neg else 0, use_neg,
                                 codes[hw], points[hw], code_len, hs, alpha, neu1e)
            b, cur = b_next, 1 - cur
    return next_random, total, kept


@njit(**_JIT)
def train_cbow(syn0, syn1neg, syn1, tokens, offsets, keep_prob, neg_thr, neg_alias,
               codes, points, code_lens, window, negative, hs, cbow_mean,
               alpha0, min_alpha, progress0, progress_span, hot, hot_base, next_random):
    """CBOW over sentences offsets[0..-1] of `tokens`. Returns (next_random, words, kept).

    Draws and prefetches one centre ahead, as `train_sg`."""
    d = syn0.shape[1]
    n_sent = offsets.shape[0] - 1
    if n_sent <= 0:
        return next_random, 0, 0
    base = offsets[0]
    total = offsets[n_sent] - base
    if total <= 0:
        return next_random, 0, 0
    use_neg = negative > 0
    sen = np.empty(_max_sentence(offsets), dtype=np.int32)
    ctx = np.empty(2 * window, dtype=np.int32)
    negs = np.empty((2, 1, max(negative, 1)), dtype=np.int32)
    n_negs = np.zeros((2, 1), dtype=np.int64)
    neu1 = np.empty(d, dtype=np.float32)
    neu1e = np.empty(d, dtype=np.float32)
    kept = 0
    for s in range(n_sent):
        start = offsets[s]
        alpha = np.float32(_alpha_at(alpha0, min_alpha,
                                     progress0 + progress_span * ((start - base) / total)))
        n, next_random = _subsample(tokens, start, offsets[s + 1], keep_prob, sen, next_random)
        kept += n
        if n == 0:
            continue
        cur = 0
        b, next_random = _draw_centre(neg_thr, neg_alias, negative, False, sen[0], 0, n, window,
                                      negs[0], n_negs[0], hot, hot_base, next_random)
        for i in range(n):
            word = sen[i]
            b_next = np.int64(0)
            if i + 1 < n:
                b_next, next_random = _draw_centre(neg_thr, neg_alias, negative, False, sen[i + 1],
                                                   i + 1, n, window, negs[1 - cur], n_negs[1 - cur],
                                                   hot, hot_base, next_random)
                _prefetch_centre(syn0, syn1neg, sen, i + 1, n, window, negs[1 - cur], n_negs[1 - cur], 1,
                                 out_row(sen[i + 1], hot, hot_base))
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            n_ctx = 0
            for c in range(lo, hi):
                if c != i:
                    ctx[n_ctx] = sen[c]
                    n_ctx += 1
            if n_ctx > 0:
                hw = word if hs else 0  # codes/points are a (1, 1) dummy without hs
                code_len = code_lens[hw] if hs else 0
                cbow_step(syn0, syn1neg, syn1, ctx, n_ctx, out_row(word, hot, hot_base), negs[cur, 0],
                          n_negs[cur, 0] if use_neg else 0, use_neg,
                          codes[hw], points[hw], code_len, hs, alpha, cbow_mean, neu1, neu1e)
            b, cur = b_next, 1 - cur
    return next_random, total, kept
