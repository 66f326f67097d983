"""Numba kernels for Doc2Vec (paragraph vectors, Le & Mikolov 2014), as gensim trains them.

Shares `_sgns.py`'s conventions: arrays and scalars in, GIL released, one thread per worker
updating the shared matrices lock-free (Hogwild), word2vec.c's LCG stream (high bits only),
alias-table negatives, the sigmoid table, frequent-word subsampling and the linear learning-rate
schedule (`alpha` per document from its position within the whole run).

Matrices: ``syn0`` (V, d) word vectors (V + 1 rows with ``dm_concat``: the last row is the
padding "null word" that fills windows at document edges), ``dv`` (T, d) tag (document)
vectors, ``syn1neg`` / ``syn1`` (V, L) / (V - 1, L) output weights, where L = d, or
``(1 + 2 * window) * d`` for ``dm_concat``. A matrix that is not used is a (1, L) dummy.

A corpus is ``tokens`` (int32 word ids) and ``offsets`` (int64, one more than documents): the
words of document ``k`` are ``tokens[offsets[k]:offsets[k + 1]]`` (possibly none), and its tags
(rows of ``dv``) ``tag_idx[tag_ptr[k]:tag_ptr[k + 1]]``.

Modes (gensim's ``doc2vec_inner.pyx``, one document at a time after subsampling):

* ``DBOW`` (PV-DBOW): every tag vector of the document predicts every word of it (skip-gram
  pairs, input = tag, output = word). With ``train_words`` (gensim's ``dbow_words``), before the
  tags of position i, skip-gram pairs over word2vec's dynamic window (input = context word,
  output = word i) are trained too, interleaved word by word as gensim does.
* ``DM`` (PV-DM): the mean (``dm_mean``) or sum of the context words in the dynamic window and
  the document's tag vectors predicts the centre word; the error goes to every input row (divided
  by the number of inputs for the sum, as gensim).
* ``DM_CONCAT``: the document's one tag vector and the 2 * window words around the centre (fixed
  window, positions outside the document are the null word) are concatenated into one input of
  ``(1 + 2 * window) * d``; each slice of the error goes back to its own row.

Output steps follow gensim's Doc2Vec (not word2vec.c): a negative-sampling or hierarchical-softmax
node whose logit is beyond ±6 is skipped. In DBOW the hierarchical-softmax and negative-sampling
errors of one pair are summed and applied once (word2vec.c's order).

`learn_words`, `learn_doctags` and `learn_hidden` switch updates off for inference (frozen words
and output weights, as gensim's ``infer_vector``): `infer_documents` trains one fresh vector per
document, each from its own random stream seeded by the document's word ids and the seed, so a
document's inferred vector does not depend on the batch or the thread it is in.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._sgns import MAX_EXP, _SHIFT16, _alpha_at, _subsample, draw_negatives, init_vectors, lcg, sigmoid

_JIT = dict(cache=True, nogil=True, fastmath=True)

DBOW = 0
DM = 1
DM_CONCAT = 2

_FNV64_OFFSET = np.uint64(14695981039346656037)
_FNV64_PRIME = np.uint64(1099511628211)


# --------------------------------------------------------------------------- small helpers
@njit(cache=True, nogil=True)
def compact_documents(tokens, lengths, remap, use_remap):
    """Map ids through `remap` (when `use_remap`) and drop negative ids, in place, keeping empty
    documents. `lengths[k]` is document k's number of ids in the input. Returns (offsets int64
    (n + 1), tokens kept)."""
    n = lengths.shape[0]
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    read = 0
    write = 0
    for k in range(n):
        end = read + lengths[k]
        for r in range(read, end):
            v = tokens[r]
            if use_remap and v >= 0:
                v = remap[v]
            if v >= 0:
                tokens[write] = v
                write += 1
        read = end
        offsets[k + 1] = write
    return offsets, write


@njit(cache=True, nogil=True)
def _max_length(offsets, d0, d1):
    m = 0
    for k in range(d0, d1):
        ln = offsets[k + 1] - offsets[k]
        if ln > m:
            m = ln
    return m


@njit(cache=True, nogil=True, inline="always")
def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(cache=True, nogil=True)
def document_state(tokens, start, end, seed):
    """The random state of one inferred document: FNV-1a (64-bit) over its word ids, mixed with
    `seed` (uint64) by splitmix64."""
    h = _FNV64_OFFSET
    for p in range(start, end):
        h = (h ^ np.uint64(tokens[p])) * _FNV64_PRIME
    return _splitmix64(h ^ _splitmix64(seed))


# --------------------------------------------------------------------------- output steps
@njit(cache=True, nogil=True, inline="always")
def neg_out(h, work, syn1neg, word, negs, n_neg, alpha, learn_hidden):
    """Negative sampling for hidden vector `h` (length L): `word` positive, negs[:n_neg] noise.
    Adds the error for `h` into `work`; updates the syn1neg rows when `learn_hidden`. Saturated
    logits (beyond ±MAX_EXP) are skipped, as gensim's Doc2Vec."""
    L = h.shape[0]
    for k in range(n_neg + 1):
        if k == 0:
            target = word
            label = np.float32(1.0)
        else:
            target = negs[k - 1]
            label = np.float32(0.0)
        f = np.float32(0.0)
        for t in range(L):
            f += h[t] * syn1neg[target, t]
        if f <= -MAX_EXP or f >= MAX_EXP:
            continue
        g = (label - sigmoid(f)) * alpha
        for t in range(L):
            work[t] += g * syn1neg[target, t]
        if learn_hidden:
            for t in range(L):
                syn1neg[target, t] += g * h[t]


@njit(cache=True, nogil=True, inline="always")
def hs_out(h, work, syn1, code, point, codelen, alpha, learn_hidden):
    """Hierarchical softmax for hidden vector `h` along one Huffman path (skipping saturated nodes)."""
    L = h.shape[0]
    for p in range(codelen):
        row = point[p]
        f = np.float32(0.0)
        for t in range(L):
            f += h[t] * syn1[row, t]
        if f <= -MAX_EXP or f >= MAX_EXP:
            continue
        g = (np.float32(1.0) - np.float32(code[p]) - sigmoid(f)) * alpha
        for t in range(L):
            work[t] += g * syn1[row, t]
        if learn_hidden:
            for t in range(L):
                syn1[row, t] += g * h[t]


@njit(cache=True, nogil=True, inline="always")
def pair_step(inp, row, syn1neg, syn1, word, negs, neg_thr, neg_alias, negative, hs, code, point,
              codelen, alpha, learn_input, learn_hidden, work, next_random):
    """One skip-gram pair: inp[row] predicts `word` (fresh negatives). Returns next_random."""
    d = inp.shape[1]
    for t in range(d):
        work[t] = 0.0
    h = inp[row]
    if hs:
        hs_out(h, work, syn1, code, point, codelen, alpha, learn_hidden)
    if negative > 0:
        n_neg, next_random = draw_negatives(neg_thr, neg_alias, negative, word, negs, next_random)
        neg_out(h, work, syn1neg, word, negs, n_neg, alpha, learn_hidden)
    if learn_input:
        for t in range(d):
            inp[row, t] += work[t]
    return next_random


# --------------------------------------------------------------------------- one document
@njit(**_JIT)
def dbow_document(syn0, dv, syn1neg, syn1, sen, n, tags, neg_thr, neg_alias, codes, points,
                  code_lens, window, negative, hs, train_words, learn_words, learn_doctags,
                  learn_hidden, alpha, negs, work, next_random):
    """PV-DBOW on one (subsampled) document sen[:n] with tag rows `tags`. Returns next_random."""
    uwindow = np.uint64(window)
    n_tags = tags.shape[0]
    for i in range(n):
        word = sen[i]
        hw = word if hs else 0  # codes/points are a (1, 1) dummy without hs
        code_len = code_lens[hw] if hs else 0
        if train_words:
            next_random = lcg(next_random)
            b = np.int64((next_random >> _SHIFT16) % uwindow)
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            for j in range(lo, hi):
                if j == i:
                    continue
                next_random = pair_step(syn0, sen[j], syn1neg, syn1, word, negs, neg_thr, neg_alias,
                                        negative, hs, codes[hw], points[hw], code_len, alpha,
                                        learn_words, learn_hidden, work, next_random)
        for m in range(n_tags):
            next_random = pair_step(dv, tags[m], syn1neg, syn1, word, negs, neg_thr, neg_alias,
                                    negative, hs, codes[hw], points[hw], code_len, alpha,
                                    learn_doctags, learn_hidden, work, next_random)
    return next_random


@njit(**_JIT)
def dm_document(syn0, dv, syn1neg, syn1, sen, n, tags, neg_thr, neg_alias, codes, points,
                code_lens, window, negative, hs, dm_mean, learn_words, learn_doctags, learn_hidden,
                alpha, negs, neu1, work, next_random):
    """PV-DM (mean or sum of context words and tag vectors) on sen[:n]. Returns next_random."""
    d = syn0.shape[1]
    uwindow = np.uint64(window)
    n_tags = tags.shape[0]
    for i in range(n):
        word = sen[i]
        next_random = lcg(next_random)
        b = np.int64((next_random >> _SHIFT16) % uwindow)
        lo = max(0, i - window + b)
        hi = min(n, i + window + 1 - b)
        count = hi - lo - 1 + n_tags
        if count == 0:
            continue
        for t in range(d):
            neu1[t] = 0.0
            work[t] = 0.0
        for m in range(lo, hi):
            if m == i:
                continue
            r = sen[m]
            for t in range(d):
                neu1[t] += syn0[r, t]
        for m in range(n_tags):
            r = tags[m]
            for t in range(d):
                neu1[t] += dv[r, t]
        inv = np.float32(1.0) / np.float32(count)
        if dm_mean:
            for t in range(d):
                neu1[t] *= inv
        hw = word if hs else 0
        if hs:
            hs_out(neu1, work, syn1, codes[hw], points[hw], code_lens[hw], alpha, learn_hidden)
        if negative > 0:
            n_neg, next_random = draw_negatives(neg_thr, neg_alias, negative, word, negs, next_random)
            neg_out(neu1, work, syn1neg, word, negs, n_neg, alpha, learn_hidden)
        if not dm_mean:
            for t in range(d):
                work[t] *= inv
        if learn_doctags:
            for m in range(n_tags):
                r = tags[m]
                for t in range(d):
                    dv[r, t] += work[t]
        if learn_words:
            for m in range(lo, hi):
                if m == i:
                    continue
                r = sen[m]
                for t in range(d):
                    syn0[r, t] += work[t]
    return next_random


@njit(**_JIT)
def dm_concat_document(syn0, dv, syn1neg, syn1, sen, n, tags, null_word, neg_thr, neg_alias, codes,
                       points, code_lens, window, negative, hs, learn_words, learn_doctags,
                       learn_hidden, alpha, negs, win, neu1, work, next_random):
    """PV-DM with concatenation on sen[:n]: input = tag vectors then the 2 * window words around
    the centre (null_word beyond the document's edges). neu1/work have (len(tags) + 2 * window) * d
    entries. Returns next_random."""
    d = syn0.shape[1]
    L = neu1.shape[0]
    n_tags = tags.shape[0]
    for i in range(n):
        word = sen[i]
        for m in range(n_tags):
            r = tags[m]
            for t in range(d):
                neu1[m * d + t] = dv[r, t]
        slot = 0
        for m in range(i - window, i + window + 1):
            if m == i:
                continue
            r = null_word if (m < 0 or m >= n) else sen[m]
            win[slot] = r
            base = (n_tags + slot) * d
            for t in range(d):
                neu1[base + t] = syn0[r, t]
            slot += 1
        for t in range(L):
            work[t] = 0.0
        hw = word if hs else 0
        if hs:
            hs_out(neu1, work, syn1, codes[hw], points[hw], code_lens[hw], alpha, learn_hidden)
        if negative > 0:
            n_neg, next_random = draw_negatives(neg_thr, neg_alias, negative, word, negs, next_random)
            neg_out(neu1, work, syn1neg, word, negs, n_neg, alpha, learn_hidden)
        if learn_doctags:
            for m in range(n_tags):
                r = tags[m]
                for t in range(d):
                    dv[r, t] += work[m * d + t]
        if learn_words:
            for s in range(2 * window):
                r = win[s]
                base = (n_tags + s) * d
                for t in range(d):
                    syn0[r, t] += work[base + t]
    return next_random


@njit(**_JIT)
def _document(mode, syn0, dv, syn1neg, syn1, sen, n, tags, null_word, neg_thr, neg_alias, codes,
              points, code_lens, window, negative, hs, dm_mean, train_words, learn_words,
              learn_doctags, learn_hidden, alpha, negs, win, neu1, work, next_random):
    if mode == DBOW:
        return dbow_document(syn0, dv, syn1neg, syn1, sen, n, tags, neg_thr, neg_alias, codes,
                             points, code_lens, window, negative, hs, train_words, learn_words,
                             learn_doctags, learn_hidden, alpha, negs, work, next_random)
    if mode == DM:
        return dm_document(syn0, dv, syn1neg, syn1, sen, n, tags, neg_thr, neg_alias, codes, points,
                           code_lens, window, negative, hs, dm_mean, learn_words, learn_doctags,
                           learn_hidden, alpha, negs, neu1, work, next_random)
    return dm_concat_document(syn0, dv, syn1neg, syn1, sen, n, tags, null_word, neg_thr, neg_alias,
                              codes, points, code_lens, window, negative, hs, learn_words,
                              learn_doctags, learn_hidden, alpha, negs, win, neu1, work, next_random)


# --------------------------------------------------------------------------- corpus kernels
@njit(**_JIT)
def train_documents(mode, syn0, dv, syn1neg, syn1, tokens, offsets, tag_ptr, tag_idx, d0, d1,
                    keep_prob, neg_thr, neg_alias, codes, points, code_lens, window, negative, hs,
                    dm_mean, train_words, null_word, layer, alpha0, min_alpha, progress0,
                    progress_span, next_random):
    """Train documents d0..d1-1. `layer` is L (the width of syn1neg / syn1). The learning rate of
    a document is the schedule's value at progress0 + progress_span * (its first token's position
    within the slice's tokens). Returns (next_random, words, words kept by subsampling)."""
    if d1 <= d0:
        return next_random, 0, 0
    base = offsets[d0]
    total = offsets[d1] - base
    if total <= 0:
        return next_random, 0, 0
    sen = np.empty(max(_max_length(offsets, d0, d1), 1), dtype=np.int32)
    negs = np.empty(max(negative, 1), dtype=np.int32)
    win = np.empty(max(2 * window, 1), dtype=np.int32)
    neu1 = np.empty(layer, dtype=np.float32)
    work = np.empty(layer, dtype=np.float32)
    kept = 0
    for k in range(d0, d1):
        start = offsets[k]
        end = offsets[k + 1]
        if end == start:
            continue
        alpha = np.float32(_alpha_at(alpha0, min_alpha,
                                     progress0 + progress_span * ((start - base) / total)))
        n, next_random = _subsample(tokens, start, end, keep_prob, sen, next_random)
        kept += n
        if n == 0:
            continue
        tags = tag_idx[tag_ptr[k]:tag_ptr[k + 1]]
        next_random = _document(mode, syn0, dv, syn1neg, syn1, sen, n, tags, null_word, neg_thr,
                                neg_alias, codes, points, code_lens, window, negative, hs, dm_mean,
                                train_words, True, True, True, alpha, negs, win, neu1, work,
                                next_random)
    return next_random, total, kept


@njit(**_JIT)
def infer_documents(mode, syn0, syn1neg, syn1, tokens, offsets, out, d0, d1, keep_prob, neg_thr,
                    neg_alias, codes, points, code_lens, window, negative, hs, dm_mean, null_word,
                    layer, alpha, min_alpha, epochs, seed):
    """Infer out[k] for documents d0..d1-1 with words and output weights frozen (gensim's
    `infer_vector`): out[k] starts from `init_vectors` with the document's own random state
    (`document_state`), then `epochs` passes, the learning rate stepping linearly from `alpha`
    (first pass) to `min_alpha` (last pass)."""
    sen = np.empty(max(_max_length(offsets, d0, d1), 1), dtype=np.int32)
    negs = np.empty(max(negative, 1), dtype=np.int32)
    win = np.empty(max(2 * window, 1), dtype=np.int32)
    neu1 = np.empty(layer, dtype=np.float32)
    work = np.empty(layer, dtype=np.float32)
    tags = np.empty(1, dtype=np.int32)
    delta = (alpha - min_alpha) / max(epochs - 1, 1)
    for k in range(d0, d1):
        start = offsets[k]
        end = offsets[k + 1]
        next_random = document_state(tokens, start, end, seed)
        next_random = init_vectors(out[k:k + 1], next_random)
        tags[0] = k
        for e in range(epochs):
            a = np.float32(alpha - e * delta)
            n, next_random = _subsample(tokens, start, end, keep_prob, sen, next_random)
            if n == 0:
                continue
            next_random = _document(mode, syn0, out, syn1neg, syn1, sen, n, tags, null_word,
                                    neg_thr, neg_alias, codes, points, code_lens, window, negative,
                                    hs, dm_mean, False, False, True, False, a, negs, win, neu1,
                                    work, next_random)
    return d1 - d0
