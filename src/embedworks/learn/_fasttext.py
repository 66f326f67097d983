"""Numba kernels for fastText (Bojanowski et al. 2017): subword-aware skip-gram and CBOW.

A word's input vector is the mean of its own row (``syn0[w]``, V rows) and the rows of its
hashed character n-grams. The n-grams are those of ``<word>`` with ``min_n..max_n`` characters
(counted on UTF-8 lead bytes, as fastText and gensim), hashed with fastText's FNV-1a variant
(32-bit, every byte sign-extended first: gensim's ``ft_hash_bytes``), modulo `bucket`. Repeated
n-grams are not de-duplicated (as fastText and gensim).

The n-gram table holds only the buckets some vocabulary word uses (about 300,000 of fastText's
2,000,000 on a text8-sized corpus): ``ngrams`` (n_rows, d) with the bucket of each row kept by
the caller; every other bucket has, implicitly, its initial vector, which `init_bucket_rows`
computes from the seed and the bucket alone, so the stored rows are exactly the matching rows of
a full (bucket, d) table (7x less memory, and a table that mostly fits in cache). Each vocabulary
word's rows are precomputed once as CSR arrays (``sub_ptr`` int64 (V + 1), ``sub_idx`` int32 row
numbers into ``ngrams``), so the hot loops only index arrays.

Gradient: as fastText and gensim, every row of a word receives the full error vector of its
composed (mean) input, so the mean itself moves by exactly that vector.

The training kernels follow `_sgns.py` (same arguments, LCG random stream, sigmoid table,
subsampling, learning-rate schedule; see that module) with one addition that makes them fast:
a **sentence window cache**. Each token of a sentence is composed (``1 + n_ngrams`` row reads)
once, when it enters the window span ``[i - window, i + window]`` of the centre word i, into a
small ring buffer ``H`` (2 * window + 1 rows); all updates of that token's input vector go to
``H`` (so later windows see them, as sequential SGD would) and to a pending-gradient buffer
``A``; when the token leaves the span its pending gradient is added to its word row and n-gram
rows once. gensim re-composes and re-scatters every context word for every window it is in
(CBOW) or every pair (skip-gram), i.e. 2 * window times more random row traffic. The only
difference in the arithmetic: a row shared by two tokens that are both in the span (the same
word twice, or a common n-gram such as ``<th``) does not see the other token's pending update
until it is flushed, a delay of at most 2 * window + 1 tokens (the same staleness Hogwild
threads already have).

The rows of the token that enters the span next are prefetched (``llvm.prefetch`` on every
cache line) while the current window is trained: when the n-gram table is larger than the caches
(large vocabularies, or a full 2,000,000-row table) that hides most of the memory latency of its
random row reads (1.5x faster skip-gram measured with a full table; no change once it fits).

Conventions (those of `_sgns.py`): skip-gram's input is the *context* word (with its n-grams)
and the output the centre word; with ``shared=True`` the negatives of a centre word are shared
by its whole window (pWord2Vec); CBOW's input is the flat mean of all rows of all context words
(fastText's and gensim's rule), every one of those rows receiving the error.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._sgns import (_alpha_at, _subsample, draw_negatives, hs_output, lcg, neg_output,
                    prefetch_row, sg_neg_shared_step, sg_pair_step)

_JIT = dict(cache=True, nogil=True, fastmath=True)

_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619


# --------------------------------------------------------------------------- hashing, n-grams
def ft_hash_bytes(data: bytes) -> int:
    """fastText's FNV-1a variant in pure Python (the reference; gensim's ``ft_hash_bytes``).

    ``h = 2166136261; for each byte b: h = (h ^ sign_extend_8_to_32(b)) * 16777619 mod 2**32``.
    Bytes >= 0x80 are sign-extended because fastText hashes C ``char`` (signed) values.
    """
    h = _FNV_OFFSET
    for b in data:
        v = b if b < 0x80 else (b | 0xFFFFFF00)
        h = ((h ^ v) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The character n-grams of ``<word>`` with min_n..max_n characters, in fastText's order
    (by start position, then length); single ``<`` / ``>`` are never n-grams."""
    ext = f"<{word}>"
    out = []
    for i in range(len(ext)):
        for n in range(1, max_n + 1):
            if i + n > len(ext):
                break
            if n >= min_n and not (n == 1 and (i == 0 or i + n == len(ext))):
                out.append(ext[i:i + n])
    return out


@njit(cache=True, nogil=True)
def _ngram_buckets_of(data, start, end, min_n, max_n, bucket, out, k):
    """Write the bucket of every n-gram of the UTF-8 bytes data[start:end] (``<word>``) into
    out[k:] (when `out` is long enough) and return the new k. The hash is extended byte by byte
    as the n-gram grows (FNV-1a is incremental)."""
    ubucket = np.uint64(bucket)
    mask = np.uint64(0xFFFFFFFF)
    prime = np.uint64(_FNV_PRIME)
    for i in range(start, end):
        if (data[i] & 0xC0) == 0x80:
            continue
        h = np.uint64(_FNV_OFFSET)
        j = i
        n = 1
        while j < end and n <= max_n:
            # extend by one character: the lead byte at j and its continuation bytes
            b = np.uint64(data[j])
            if b >= 0x80:
                b |= np.uint64(0xFFFFFF00)
            h = ((h ^ b) * prime) & mask
            j += 1
            while j < end and (data[j] & 0xC0) == 0x80:
                b = np.uint64(data[j]) | np.uint64(0xFFFFFF00)
                h = ((h ^ b) * prime) & mask
                j += 1
            if n >= min_n and not (n == 1 and (i == start or j == end)):
                if k < out.shape[0]:
                    out[k] = np.int32(h % ubucket)
                k += 1
            n += 1
    return k


@njit(cache=True, nogil=True)
def ngram_csr(data, word_ptr, min_n, max_n, bucket):
    """Bucket lists of many words as CSR arrays.

    `data` (uint8) holds the UTF-8 bytes of ``<word>`` for every word back to back, word i being
    ``data[word_ptr[i]:word_ptr[i + 1]]``. Returns (indptr int64 (W + 1), indices int32)."""
    W = word_ptr.shape[0] - 1
    indptr = np.zeros(W + 1, dtype=np.int64)
    empty = np.empty(0, dtype=np.int32)
    for w in range(W):
        indptr[w + 1] = indptr[w] + _ngram_buckets_of(data, word_ptr[w], word_ptr[w + 1],
                                                      min_n, max_n, bucket, empty, 0)
    indices = np.empty(indptr[W], dtype=np.int32)
    for w in range(W):
        _ngram_buckets_of(data, word_ptr[w], word_ptr[w + 1], min_n, max_n, bucket,
                          indices[indptr[w]:indptr[w + 1]], 0)
    return indptr, indices


def word_bytes(words) -> tuple[np.ndarray, np.ndarray]:
    """(data uint8, word_ptr int64) of ``<word>`` in UTF-8 for each word, for `ngram_csr`."""
    encoded = [f"<{w}>".encode("utf-8") for w in words]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    ptr = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return data, ptr


def ngram_buckets(words, min_n: int, max_n: int, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of the n-gram buckets of each of `words` (str)."""
    data, ptr = word_bytes(words)
    return ngram_csr(data, ptr, int(min_n), int(max_n), int(bucket))


# --------------------------------------------------------------------------- composing vectors
@njit(**_JIT)
def compose(syn0, ngrams, extra, word_ids, sub_ptr, sub_idx, out):
    """out[i] = mean of syn0[word_ids[i]] (when >= 0) and the n-gram rows of entry i.

    N-gram entries ``sub_idx[sub_ptr[i]:sub_ptr[i+1]]`` are rows of `ngrams` when >= 0 and rows
    ``-1 - k`` of `extra` when negative (buckets without a stored row, see `init_bucket_rows`).
    Rows with nothing to average stay zero. Returns the number of rows per output (int64)."""
    n, d = out.shape
    counts = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for t in range(d):
            out[i, t] = 0.0
        c = 0
        w = word_ids[i]
        if w >= 0:
            for t in range(d):
                out[i, t] += syn0[w, t]
            c += 1
        for p in range(sub_ptr[i], sub_ptr[i + 1]):
            r = sub_idx[p]
            if r >= 0:
                for t in range(d):
                    out[i, t] += ngrams[r, t]
            else:
                for t in range(d):
                    out[i, t] += extra[-1 - r, t]
            c += 1
        if c > 0:
            inv = np.float32(1.0) / np.float32(c)
            for t in range(d):
                out[i, t] *= inv
        counts[i] = c
    return counts


_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_TOP24 = np.uint64(40)
_INV24 = 1.0 / (1 << 24)


@njit(cache=True, nogil=True, inline="always")
def _splitmix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def init_uniform(out, scale, next_random):
    """Fill `out` (rows, d) uniformly in [-scale, scale) (fastText and gensim initialise input
    vectors in [-1/d, 1/d)) from the LCG stream, taking its top 24 bits (the low bits of a
    power-of-two LCG have short periods); returns the stream state."""
    rows, d = out.shape
    two = 2.0 * scale
    for a in range(rows):
        for b in range(d):
            next_random = lcg(next_random)
            out[a, b] = np.float32((next_random >> _TOP24) * _INV24 * two - scale)
    return next_random


@njit(cache=True, nogil=True)
def init_bucket_rows(out, buckets, scale, seed_state):
    """Row k of `out` gets the initial vector of n-gram bucket ``buckets[k]``: uniform in
    [-scale, scale) from an LCG stream started at splitmix64(seed_state + bucket * golden).

    A bucket's initial vector depends only on the seed and the bucket, so a table holding only
    the buckets the vocabulary uses equals the matching rows of a full (bucket, d) table, and a
    bucket first met later (a new word, an out-of-vocabulary word) gets the same vector."""
    rows, d = out.shape
    two = 2.0 * scale
    for k in range(rows):
        next_random = _splitmix64(seed_state + np.uint64(buckets[k]) * _GAMMA)
        for b in range(d):
            next_random = lcg(next_random)
            out[k, b] = np.float32((next_random >> _TOP24) * _INV24 * two - scale)


# --------------------------------------------------------------------------- prefetching
#: tokens ahead of the one entering the window span whose rows are prefetched
PREFETCH_AHEAD = 1


@njit(cache=True, nogil=True, inline="always")
def _prefetch_word(syn0, ngrams, sub_ptr, sub_idx, w):
    """Prefetch word w's own row and its n-gram rows: the n-gram table is far larger than the
    caches and its rows are read at random, so this hides most of the memory latency."""
    prefetch_row(syn0, w)
    for p in range(sub_ptr[w], sub_ptr[w + 1]):
        prefetch_row(ngrams, sub_idx[p])


# --------------------------------------------------------------------------- the window cache
@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _load(syn0, ngrams, sub_ptr, sub_idx, w, H, A, s):
    """H[s] = mean of word w's rows, A[s] = 0; returns the number of rows (float32)."""
    d = syn0.shape[1]
    p0 = sub_ptr[w]
    p1 = sub_ptr[w + 1]
    for t in range(d):
        H[s, t] = syn0[w, t]
        A[s, t] = 0.0
    for p in range(p0, p1):
        r = sub_idx[p]
        for t in range(d):
            H[s, t] += ngrams[r, t]
    c = np.float32(1 + p1 - p0)
    inv = np.float32(1.0) / c
    for t in range(d):
        H[s, t] *= inv
    return c


@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _flush(syn0, ngrams, sub_ptr, sub_idx, w, A, s):
    """Add the pending gradient A[s] to word w's own row and to each of its n-gram rows."""
    d = syn0.shape[1]
    for t in range(d):
        syn0[w, t] += A[s, t]
    for p in range(sub_ptr[w], sub_ptr[w + 1]):
        r = sub_idx[p]
        for t in range(d):
            ngrams[r, t] += A[s, t]


# --------------------------------------------------------------------------- sentence kernels
@njit(**_JIT)
def train_sg(syn0, ngrams, syn1neg, syn1, tokens, offsets, keep_prob, neg_thr, neg_alias,
             codes, points, code_lens, sub_ptr, sub_idx, window, negative, hs, shared,
             alpha0, min_alpha, progress0, progress_span, next_random):
    """fastText skip-gram over sentences offsets[0..-1] of `tokens`: the composed vector of each
    context word predicts the centre word. Returns (next_random, words, kept).

    Arguments as `_sgns.train_sg`, plus `ngrams` (stored n-gram rows, d) and the vocabulary's
    n-gram CSR (`sub_ptr`, `sub_idx`). The random stream is consumed exactly as `_sgns.train_sg` does."""
    d = syn0.shape[1]
    n_sent = offsets.shape[0] - 1
    if n_sent <= 0:
        return next_random, 0, 0
    base = offsets[0]
    total = offsets[n_sent] - base
    if total <= 0:
        return next_random, 0, 0
    use_neg = negative > 0
    max_len = 0
    for s in range(n_sent):
        max_len = max(max_len, offsets[s + 1] - offsets[s])
    sen = np.empty(max_len, dtype=np.int32)
    R = 2 * window + 1
    H = np.empty((R, d), dtype=np.float32)
    A = np.empty((R, d), dtype=np.float32)
    touched = np.zeros(R, dtype=np.bool_)
    ctx = np.empty(2 * window, dtype=np.int32)
    negs = np.empty(max(negative, 1), dtype=np.int32)
    M = np.empty((2 * window, d), dtype=np.float32)
    O = np.empty((negative + 1, d), dtype=np.float32)
    G = np.empty((2 * window, negative + 1), dtype=np.float32)
    neu1e = np.empty(d, dtype=np.float32)
    kept = 0
    uwindow = np.uint64(window)
    for s in range(n_sent):
        start = offsets[s]
        alpha = np.float32(_alpha_at(alpha0, min_alpha,
                                     progress0 + progress_span * ((start - base) / total)))
        n, next_random = _subsample(tokens, start, offsets[s + 1], keep_prob, sen, next_random)
        kept += n
        for q in range(min(window, n)):
            _load(syn0, ngrams, sub_ptr, sub_idx, sen[q], H, A, q % R)
            touched[q % R] = False
        for i in range(n):
            q = i - window - 1  # leaves the span
            if q >= 0 and touched[q % R]:
                _flush(syn0, ngrams, sub_ptr, sub_idx, sen[q], A, q % R)
            q = i + window  # enters the span
            if q + PREFETCH_AHEAD < n:
                _prefetch_word(syn0, ngrams, sub_ptr, sub_idx, sen[q + PREFETCH_AHEAD])
            if q < n:
                _load(syn0, ngrams, sub_ptr, sub_idx, sen[q], H, A, q % R)
                touched[q % R] = False
            word = sen[i]
            next_random = lcg(next_random)
            b = np.int64(next_random % uwindow)
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            n_ctx = 0
            for c in range(lo, hi):
                if c != i:
                    ctx[n_ctx] = c % R
                    touched[c % R] = True
                    n_ctx += 1
            if n_ctx == 0:
                continue
            hw = word if hs else 0  # codes/points are a (1, 1) dummy without hs
            code_len = code_lens[hw] if hs else 0
            if shared and use_neg:
                if hs:
                    for j in range(n_ctx):
                        r = ctx[j]
                        sg_pair_step(H, syn1neg, syn1, r, word, negs, 0, False,
                                     codes[hw], points[hw], code_len, True, alpha, neu1e)
                        for t in range(d):
                            A[r, t] += neu1e[t]
                n_neg, next_random = draw_negatives(neg_thr, neg_alias, negative, word, negs, next_random)
                sg_neg_shared_step(H, syn1neg, ctx, n_ctx, word, negs, n_neg, alpha, M, O, G)
                for j in range(n_ctx):  # M holds the rows before the step
                    r = ctx[j]
                    for t in range(d):
                        A[r, t] += H[r, t] - M[j, t]
            else:
                for j in range(n_ctx):
                    r = ctx[j]
                    n_neg = 0
                    if use_neg:
                        n_neg, next_random = draw_negatives(neg_thr, neg_alias, negative, word, negs, next_random)
                    sg_pair_step(H, syn1neg, syn1, r, word, negs, n_neg, use_neg,
                                 codes[hw], points[hw], code_len, hs, alpha, neu1e)
                    for t in range(d):
                        A[r, t] += neu1e[t]
        for q in range(max(0, n - window - 1), n):
            if touched[q % R]:
                _flush(syn0, ngrams, sub_ptr, sub_idx, sen[q], A, q % R)
    return next_random, total, kept


@njit(**_JIT)
def train_cbow(syn0, ngrams, syn1neg, syn1, tokens, offsets, keep_prob, neg_thr, neg_alias,
               codes, points, code_lens, sub_ptr, sub_idx, window, negative, hs, cbow_mean,
               alpha0, min_alpha, progress0, progress_span, next_random):
    """fastText CBOW over sentences offsets[0..-1] of `tokens`. Returns (next_random, words, kept).

    The input is the flat mean (or, without `cbow_mean`, the sum) of every row of every context
    word (fastText, gensim); every one of those rows receives the error (divided by the number
    of rows for a sum, as gensim). The random stream is consumed as `_sgns.train_cbow` does."""
    d = syn0.shape[1]
    n_sent = offsets.shape[0] - 1
    if n_sent <= 0:
        return next_random, 0, 0
    base = offsets[0]
    total = offsets[n_sent] - base
    if total <= 0:
        return next_random, 0, 0
    use_neg = negative > 0
    max_len = 0
    for s in range(n_sent):
        max_len = max(max_len, offsets[s + 1] - offsets[s])
    sen = np.empty(max_len, dtype=np.int32)
    R = 2 * window + 1
    H = np.empty((R, d), dtype=np.float32)
    A = np.empty((R, d), dtype=np.float32)
    cnt = np.zeros(R, dtype=np.float32)
    touched = np.zeros(R, dtype=np.bool_)
    ctx = np.empty(2 * window, dtype=np.int32)
    negs = np.empty(max(negative, 1), dtype=np.int32)
    neu1 = np.empty(d, dtype=np.float32)
    neu1e = np.empty(d, dtype=np.float32)
    kept = 0
    uwindow = np.uint64(window)
    for s in range(n_sent):
        start = offsets[s]
        alpha = np.float32(_alpha_at(alpha0, min_alpha,
                                     progress0 + progress_span * ((start - base) / total)))
        n, next_random = _subsample(tokens, start, offsets[s + 1], keep_prob, sen, next_random)
        kept += n
        for q in range(min(window, n)):
            cnt[q % R] = _load(syn0, ngrams, sub_ptr, sub_idx, sen[q], H, A, q % R)
            touched[q % R] = False
        for i in range(n):
            q = i - window - 1
            if q >= 0 and touched[q % R]:
                _flush(syn0, ngrams, sub_ptr, sub_idx, sen[q], A, q % R)
            q = i + window
            if q + PREFETCH_AHEAD < n:
                _prefetch_word(syn0, ngrams, sub_ptr, sub_idx, sen[q + PREFETCH_AHEAD])
            if q < n:
                cnt[q % R] = _load(syn0, ngrams, sub_ptr, sub_idx, sen[q], H, A, q % R)
                touched[q % R] = False
            word = sen[i]
            next_random = lcg(next_random)
            b = np.int64(next_random % uwindow)
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            n_ctx = 0
            for c in range(lo, hi):
                if c != i:
                    ctx[n_ctx] = c % R
                    n_ctx += 1
            if n_ctx == 0:
                continue
            n_neg = 0
            if use_neg:
                n_neg, next_random = draw_negatives(neg_thr, neg_alias, negative, word, negs, next_random)
            # input: every row of every context word, flat
            rows = np.float32(0.0)
            for t in range(d):
                neu1[t] = 0.0
                neu1e[t] = 0.0
            for j in range(n_ctx):
                r = ctx[j]
                c = cnt[r]
                rows += c
                for t in range(d):
                    neu1[t] += c * H[r, t]
            inv = np.float32(1.0) / rows
            if cbow_mean:
                for t in range(d):
                    neu1[t] *= inv
            if hs:
                hs_output(neu1, neu1e, syn1, codes[word], points[word], code_lens[word], alpha)
            if use_neg:
                neg_output(neu1, neu1e, syn1neg, word, negs, n_neg, alpha)
            if not cbow_mean:
                for t in range(d):
                    neu1e[t] *= inv
            for j in range(n_ctx):
                r = ctx[j]
                touched[r] = True
                for t in range(d):
                    H[r, t] += neu1e[t]
                    A[r, t] += neu1e[t]
        for q in range(max(0, n - window - 1), n):
            if touched[q % R]:
                _flush(syn0, ngrams, sub_ptr, sub_idx, sen[q], A, q % R)
    return next_random, total, kept
