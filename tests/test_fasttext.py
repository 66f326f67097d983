"""FastText: n-gram hashing, kernels against a slow NumPy reference, OOV vectors, planted
structure, determinism, files, errors."""

import numpy as np
import pytest

from embedworks.errors import FormatError, InvalidInputError, UnknownKeyError
from embedworks.learn import FastText, Word2Vec
from embedworks.learn import _fasttext, _sgns
from embedworks.learn.vocab import Vocabulary
from embedworks.space import Embeddings
from sgns_reference import ref_lcg, ref_sigmoid

# --------------------------------------------------------------------------- hashing and n-grams
def fnv1a_fasttext(data: bytes) -> int:
    """Reference written from fastText's dictionary.cc: FNV-1a over signed chars."""
    h = 2166136261
    for b in data:
        signed = b - 256 if b >= 128 else b
        h = ((h ^ (signed & 0xFFFFFFFF)) * 16777619) % 2 ** 32
    return h


# computed once with gensim 4.4's `gensim.models.fasttext_inner.ft_hash_bytes` (.venv-bench)
GENSIM_HASHES = {b"": 2166136261, b"<wh": 1048167652, b"where": 90969176, b"<where>": 2319392596,
                 "naïve".encode(): 3440832043, "<日本>".encode(): 3315313759}
# computed once with gensim 4.4's `gensim.models.fasttext.ft_ngram_hashes(word, 3, 4, 2000000)`
# and `ft_ngram_hashes("naïve", 3, 6, 2000000)`
GENSIM_WHERE_3_4 = [167652, 989715, 420941, 312621, 1473420, 1540811, 1529033, 1568469, 867498]
GENSIM_NAIVE_3_6 = [1806890, 1907692, 878190, 933201, 1590546, 1719404, 832043, 156687, 356832,
                    1223007, 1505331, 1711570, 1788548, 1088654]


def test_hash_matches_gensim_and_reference():
    for data, want in GENSIM_HASHES.items():
        assert _fasttext.ft_hash_bytes(data) == want
        assert fnv1a_fasttext(data) == want
    # sign extension matters for non-ASCII bytes: plain FNV-1a gives another value
    plain = 2166136261
    for b in "naïve".encode():
        plain = ((plain ^ b) * 16777619) % 2 ** 32
    assert plain != GENSIM_HASHES["naïve".encode()]


def test_ngrams_of_where():
    # fastText's order: by start position, then by length
    want = ["<wh", "<whe", "whe", "wher", "her", "here", "ere", "ere>", "re>"]
    assert _fasttext.char_ngrams("where", 3, 4) == want
    ptr, idx = _fasttext.ngram_buckets(["where"], 3, 4, 2_000_000)
    assert ptr.tolist() == [0, 9]
    assert idx.tolist() == GENSIM_WHERE_3_4
    assert idx.tolist() == [fnv1a_fasttext(g.encode()) % 2_000_000 for g in want]
    # whole word included once max_n reaches it; no lone "<" / ">" with min_n 1
    assert _fasttext.char_ngrams("ab", 1, 4) == ["<a", "<ab", "<ab>", "a", "ab", "ab>", "b", "b>"]
    assert _fasttext.char_ngrams("a", 4, 6) == []


def test_ngram_buckets_count_characters_not_bytes():
    ptr, idx = _fasttext.ngram_buckets(["naïve"], 3, 6, 2_000_000)
    assert idx.tolist() == GENSIM_NAIVE_3_6
    words = ["where", "naïve", "日本語", "x", "", "aaaa"]
    ptr, idx = _fasttext.ngram_buckets(words, 1, 5, 1009)
    for i, w in enumerate(words):
        want = [fnv1a_fasttext(g.encode()) % 1009 for g in _fasttext.char_ngrams(w, 1, 5)]
        assert idx[ptr[i]:ptr[i + 1]].tolist() == want


# --------------------------------------------------------------------------- NumPy reference
def ref_negatives(neg_thr, neg_alias, negative, word, nr):
    """The noise words of one step, from `_sgns.draw_negatives` (tested with Word2Vec)."""
    negs = np.empty(max(negative, 1), np.int32)
    n, nr = _sgns.draw_negatives(neg_thr, neg_alias, negative, word, negs, np.uint64(nr))
    return [int(x) for x in negs[:n]], int(nr)


def ref_train(sg, syn0, ngrams, syn1neg, syn1, tokens, offsets, keep, neg_thr, neg_alias, codes, points, lens,
              sub_ptr, sub_idx, window, negative, hs, flag, alpha0, min_alpha, p0, span, nr):
    """Slow float64 version of `_fasttext.train_sg` / `train_cbow`: each token's input vector is
    the mean of its rows, composed when it enters the window span and its summed gradient added
    to all its rows when it leaves; random stream as `_sgns`."""
    base, total = offsets[0], offsets[-1] - offsets[0]
    use_neg = negative > 0

    def rows(w):
        return [(syn0, w)] + [(ngrams, int(b)) for b in sub_idx[sub_ptr[w]:sub_ptr[w + 1]]]

    def negatives(word, nr):
        return ref_negatives(neg_thr, neg_alias, negative, word, nr)

    def out_step(h, word, negs, alpha, do_neg, do_hs):
        """Sequential output updates for input h; returns the input's error."""
        e = np.zeros_like(h)
        if do_hs:
            for c, p in zip(codes[word, :lens[word]], points[word, :lens[word]]):
                f = h @ syn1[p]
                if f <= -_sgns.MAX_EXP or f >= _sgns.MAX_EXP:
                    continue
                g = (1 - c - ref_sigmoid(f)) * alpha
                e += g * syn1[p]
                syn1[p] += (g * h).astype(np.float32)
        if do_neg:
            for target, label in [(word, 1.0)] + [(n, 0.0) for n in negs]:
                g = (label - ref_sigmoid(h @ syn1neg[target])) * alpha
                e += g * syn1neg[target]
                syn1neg[target] += (g * h).astype(np.float32)
        return e

    for s in range(len(offsets) - 1):
        a, b = offsets[s], offsets[s + 1]
        alpha = float(np.float32(max(min_alpha, alpha0 - (alpha0 - min_alpha) * (p0 + span * ((a - base) / total)))))
        sen = []
        for p in range(a, b):
            w = int(tokens[p])
            if keep[w] < 1.0:
                nr = ref_lcg(nr)
                if keep[w] < (nr >> 40) / float(1 << 24):
                    continue
            sen.append(w)
        H, A, n = {}, {}, len(sen)

        def load(q):
            H[q] = np.mean([m[r].astype(np.float64) for m, r in rows(sen[q])], axis=0)
            A[q] = np.zeros_like(H[q])

        def flush(q):
            for m, r in rows(sen[q]):
                m[r] += A[q].astype(np.float32)

        for q in range(min(window, n)):
            load(q)
        for i, word in enumerate(sen):
            if i - window - 1 >= 0:
                flush(i - window - 1)
            if i + window < n:
                load(i + window)
            nr = ref_lcg(nr)
            red = nr % window
            ctx = [c for c in range(max(0, i - window + red), min(n, i + window + 1 - red)) if c != i]
            if not ctx:
                continue
            if sg and flag and use_neg:  # shared negatives
                if hs:
                    for c in ctx:
                        e = out_step(H[c], word, [], alpha, False, True)
                        H[c] += e
                        A[c] += e
                negs, nr = negatives(word, nr)
                outs = [word] + negs
                M = np.stack([H[c] for c in ctx])
                O = syn1neg[outs].astype(np.float64)
                G = (np.array([1.0] + [0.0] * len(negs)) - np.vectorize(ref_sigmoid)(M @ O.T)) * alpha
                np.add.at(syn1neg, outs, (G.T @ M).astype(np.float32))
                for j, c in enumerate(ctx):
                    H[c] += G[j] @ O
                    A[c] += G[j] @ O
            elif sg:
                for c in ctx:
                    negs = []
                    if use_neg:
                        negs, nr = negatives(word, nr)
                    e = out_step(H[c], word, negs, alpha, use_neg, hs)
                    H[c] += e
                    A[c] += e
            else:
                negs = []
                if use_neg:
                    negs, nr = negatives(word, nr)
                counts = [1 + sub_ptr[sen[c] + 1] - sub_ptr[sen[c]] for c in ctx]
                h = sum(k * H[c] for k, c in zip(counts, ctx))
                if flag:  # cbow_mean
                    h = h / sum(counts)
                e = out_step(h, word, negs, alpha, use_neg, hs)
                if not flag:
                    e = e / sum(counts)
                for c in ctx:
                    H[c] += e
                    A[c] += e
        for q in range(max(0, n - window - 1), n):
            flush(q)
    return nr


@pytest.mark.parametrize("sg,negative,hs,flag", [
    (True, 3, False, True), (True, 3, False, False), (True, 2, True, True), (True, 0, True, False),
    (False, 3, False, True), (False, 2, True, False)])
def test_sentence_kernels_match_reference(sg, negative, hs, flag):
    rng = np.random.default_rng(3)
    V, d, bucket = 10, 6, 23
    words = ["the", "of", "where", "here", "there", "a", "naïve", "ab", "theres", "x"]
    counts = np.sort(rng.integers(5, 200, V))[::-1]
    vocab = Vocabulary(words, counts)
    tokens = rng.choice(V, 50, p=counts / counts.sum()).astype(np.int32)
    offsets = np.array([5, 22, 23, 24, 40, 50], dtype=np.int64)  # a slice: starts mid-array
    keep = vocab.keep_probabilities(0.05)
    assert (keep < 1).any()
    neg_thr, neg_alias = vocab.negative_alias()
    codes, points, lens = vocab.huffman()
    sub_ptr, sub_idx = _fasttext.ngram_buckets(words, 2, 4, bucket)
    syn0 = rng.uniform(-0.5, 0.5, (V, d)).astype(np.float32)
    ngrams = rng.uniform(-0.5, 0.5, (bucket, d)).astype(np.float32)
    syn1neg = rng.uniform(-0.5, 0.5, (V, d)).astype(np.float32)
    syn1 = rng.uniform(-0.5, 0.5, (V - 1, d)).astype(np.float32)
    mats = (syn0, ngrams, syn1neg, syn1)
    before = ngrams.copy()
    refs = [m.copy() for m in mats]
    args = (tokens, offsets, keep, neg_thr, neg_alias, codes, points, lens, sub_ptr, sub_idx, 2, negative, hs, flag)
    sched = (0.05, 0.0001, 0.2, 0.5)
    kernel = _fasttext.train_sg if sg else _fasttext.train_cbow
    nr, n_words, kept = kernel(*mats, *args, *sched, np.uint64(11))
    ref_nr = ref_train(sg, *refs, *args, *sched, 11)
    assert n_words == 45 and 0 < kept < 45
    assert int(nr) == ref_nr
    for got, want in zip(mats, refs):
        assert np.allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(ngrams, before)


def test_one_step_equals_gensim_style_update():
    """A two-token sentence, window 1: one CBOW step with input = mean of the context word's rows,
    and every one of those rows receives the full error (fastText, gensim)."""
    words = ["where", "here"]
    vocab = Vocabulary(words, [10, 10])
    sub_ptr, sub_idx = _fasttext.ngram_buckets(words, 3, 4, 101)
    rng = np.random.default_rng(0)
    syn0 = rng.uniform(-0.5, 0.5, (2, 4)).astype(np.float32)
    ngrams = rng.uniform(-0.5, 0.5, (101, 4)).astype(np.float32)
    syn1neg = rng.uniform(-0.5, 0.5, (2, 4)).astype(np.float32)
    s0, n0, o0 = syn0.copy(), ngrams.copy(), syn1neg.copy()
    tokens = np.array([0, 1], np.int32)
    offsets = np.array([0, 2], np.int64)
    dummy = np.zeros((1, 4), np.float32)
    neg_thr, neg_alias = vocab.negative_alias()
    _fasttext.train_cbow(syn0, ngrams, syn1neg, dummy, tokens, offsets, np.ones(2, np.float32),
                         neg_thr, neg_alias, np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.int32),
                         np.zeros(1, np.int32), sub_ptr, sub_idx, 1, 1, False, True,
                         0.1, 0.1, 0.0, 1.0, np.uint64(1))
    # centre 0 ("where") predicted by "here" first, then centre 1 by the (updated) "where"
    negs, _ = ref_negatives(neg_thr, neg_alias, 1, 0, ref_lcg(1))
    rows_here = [(s0, 1)] + [(n0, b) for b in sub_idx[sub_ptr[1]:sub_ptr[2]]]
    h = np.mean([m[r] for m, r in rows_here], axis=0, dtype=np.float64)
    e = np.zeros(4)
    for target, label in [(0, 1.0)] + [(n, 0.0) for n in negs]:
        g = (label - ref_sigmoid(h @ o0[target])) * np.float32(0.1)
        e += g * o0[target]
        o0[target] += g * h
    assert not np.allclose(s0[1], syn0[1])
    assert np.allclose(syn0[1], s0[1] + e, atol=1e-6)
    for b in set(sub_idx[sub_ptr[1]:sub_ptr[2]]) - set(sub_idx[sub_ptr[0]:sub_ptr[1]]):
        k = list(sub_idx[sub_ptr[1]:sub_ptr[2]]).count(b)
        assert np.allclose(ngrams[b], n0[b] + k * e, atol=1e-6)


def test_compose_is_the_mean_of_rows():
    rng = np.random.default_rng(1)
    syn0 = rng.normal(size=(3, 5)).astype(np.float32)
    ngrams = rng.normal(size=(7, 5)).astype(np.float32)
    ptr = np.array([0, 2, 2, 5], np.int64)
    idx = np.array([3, 3, 0, 6, 1], np.int32)
    out = np.empty((3, 5), np.float32)
    idx = np.array([3, 3, 0, -2, 1], np.int32)  # -2: row 1 of `extra`
    extra = rng.normal(size=(2, 5)).astype(np.float32)
    counts = _fasttext.compose(syn0, ngrams, extra, np.array([2, 0, -1]), ptr, idx, out)
    assert counts.tolist() == [3, 1, 3]
    assert np.allclose(out[0], (syn0[2] + 2 * ngrams[3]) / 3, atol=1e-6)
    assert np.allclose(out[1], syn0[0])
    assert np.allclose(out[2], (ngrams[0] + extra[1] + ngrams[1]) / 3, atol=1e-6)


def test_bucket_rows_depend_only_on_seed_and_bucket():
    a = np.empty((3, 7), np.float32)
    _fasttext.init_bucket_rows(a, np.array([5, 1_999_999, 0]), 0.1, np.uint64(42))
    b = np.empty((2, 7), np.float32)
    _fasttext.init_bucket_rows(b, np.array([0, 5]), 0.1, np.uint64(42))
    assert np.array_equal(a[[2, 0]], b)
    assert np.abs(a).max() <= 0.1 and len(np.unique(a)) == a.size
    model = FastText(**SMALL).fit(PLANTED)
    # the table stores only the buckets vocabulary words use; every other has its initial vector
    assert len(model.ngram_buckets) == len(model.syn0_ngrams) < model.bucket
    assert len(np.unique(model.ngram_buckets)) == len(model.ngram_buckets)
    unused = np.setdiff1d(np.arange(model.bucket), model.ngram_buckets)[:3]
    want = np.empty((3, 16), np.float32)
    _fasttext.init_bucket_rows(want, unused, 1 / 16, model._bucket_seed())
    assert np.array_equal(model.ngram_vectors(unused), want)
    used = model.ngram_buckets[[4, 0]]
    assert np.array_equal(model.ngram_vectors(used), model.syn0_ngrams[[4, 0]])


# --------------------------------------------------------------------------- the model
def planted(n=1200, seed=0):
    """Two groups of words with no character n-gram in common appear in two sets of contexts;
    within a group, two families (one of them morphological: swim-, read-) add their own."""
    rng = np.random.default_rng(seed)
    fill = [f"f{i}" for i in range(15)]
    groups = [(["xa", "xb", "xc"], [(["quartz", "pebble"], "rock"), (["swimmer", "swimming"], "pool")]),
              (["yu", "yv", "yw"], [(["violin", "trumpet"], "tune"), (["reader", "reading"], "book")])]
    sentences = []
    for _ in range(n):
        ctx, families = groups[rng.integers(2)]
        words, fam = families[rng.integers(2)]
        sentences.append([fill[i] for i in rng.integers(0, 15, 2)] +
                         [ctx[rng.integers(3)], words[rng.integers(2)], ctx[rng.integers(3)], fam] +
                         [fill[i] for i in rng.integers(0, 15, 1)])
    return sentences


PLANTED = planted()
SMALL = dict(dim=16, window=2, sample=0, min_count=1, bucket=5000, epochs=5, workers=1, seed=1)


@pytest.mark.parametrize("sg,negative,hs", [(False, 5, False), (True, 5, False), (True, 0, True)])
def test_planted_structure_and_oov_neighbours(sg, negative, hs):
    model = FastText(sg=sg, negative=negative, hs=hs, **SMALL).fit(PLANTED)
    emb = model.embeddings
    assert isinstance(emb, Embeddings) and len(emb) == len(model.vocab) and emb.dim == 16
    assert emb.most_similar("quartz", k=1)[0][0] == "pebble"
    assert emb.most_similar("violin", k=1)[0][0] == "trumpet"
    assert emb.similarity("quartz", "pebble") > emb.similarity("quartz", "violin") + 0.2
    assert emb.similarity("quartz", "swimmer") > emb.similarity("quartz", "reader") + 0.2
    # out-of-vocabulary words: vectors from their n-grams, nearest to the words sharing them
    assert "swimmers" not in model.vocab and "readers" not in model.vocab
    for word, family in [("swimmers", {"swimmer", "swimming"}), ("swimmerz", {"swimmer", "swimming"}),
                         ("readings", {"reader", "reading"}), ("readerz", {"reader", "reading"})]:
        assert word not in model.vocab
        assert {w for w, _ in model.most_similar(word, k=2)} == family
    assert model.most_similar("quartzite", k=1)[0][0] == "quartz"
    assert model.most_similar("trumpets", k=1)[0][0] == "trumpet"
    assert model.most_similar("quartz", k=3) == emb.most_similar("quartz", k=3)


def test_vectors_in_and_out_of_vocabulary():
    model = FastText(**SMALL).fit(PLANTED)
    emb = model.embeddings
    assert np.allclose(model.vector("violin"), emb["violin"])
    # as gensim's wv.vectors: mean of the word's own row and its n-gram rows
    rows = np.vstack([model.syn0[model.vocab.index["violin"]], model.ngram_vectors(model.buckets_of("violin"))])
    assert np.allclose(emb["violin"], rows.mean(axis=0), atol=1e-6)
    oov = model.vector("violins")
    assert np.allclose(oov, model.ngram_vectors(model.buckets_of("violins")).mean(axis=0), atol=1e-6)
    assert model.buckets_of("where").tolist() == _fasttext.ngram_buckets(["where"], 3, 6, 5000)[1].tolist()
    both = model.vectors_for(["violin", "violins"])
    assert both.shape == (2, 16) and np.allclose(both[1], oov) and np.allclose(both[0], emb["violin"])
    with pytest.raises(UnknownKeyError, match="n-gram"):
        FastText(**{**SMALL, "epochs": 1}, min_n=5).fit(PLANTED).vector("z")  # "<z>" has 3 chars
    with pytest.raises(InvalidInputError):
        model.vector(3)
    with pytest.raises(InvalidInputError):
        model.vectors_for("violin")


def test_workers_one_is_bit_identical_and_two_workers_train():
    kw = dict(SMALL, epochs=2, sample=1e-2)
    a = FastText(**kw).fit(PLANTED)
    b = FastText(**kw).fit(PLANTED)
    for x, y in [(a.syn0, b.syn0), (a.syn0_ngrams, b.syn0_ngrams), (a.syn1neg, b.syn1neg)]:
        assert np.array_equal(x, y)
    c = FastText(**{**kw, "seed": 2}).fit(PLANTED)
    assert not np.array_equal(a.syn0_ngrams, c.syn0_ngrams)
    d = FastText(**{**kw, "workers": 2, "sg": True}).fit(PLANTED)
    assert d.training_stats["workers"] == 2 and d.training_stats["words"] == 2 * 7 * len(PLANTED)
    assert np.isfinite(d.syn0).all() and np.isfinite(d.syn0_ngrams).all()


def test_defaults_and_word2vec_api():
    m = FastText()
    assert (m.sg, m.dim, m.window, m.negative, m.sample, m.min_count) == (False, 100, 5, 5, 1e-3, 5)
    assert (m.min_n, m.max_n, m.bucket, m.epochs, m.start_alpha) == (3, 6, 2_000_000, 5, 0.025)
    assert isinstance(m, Word2Vec)
    assert m.get_params()["bucket"] == 2_000_000 and "FastText(CBOW" in repr(m)


def test_save_load_round_trip_and_continue(tmp_path):
    model = FastText(**{**SMALL, "epochs": 2}).fit(PLANTED)
    words = ["violin", "violins", "swimmmer", "qqq"]
    before = model.vectors_for(words)
    path = model.save(tmp_path / "ft")
    assert sorted(p.name for p in path.iterdir()) == ["counts.npy", "ngram_buckets.npy", "ngrams.npy",
                                                      "params.json", "syn0.npy", "syn1neg.npy",
                                                      "vocab.jsonl"]
    loaded = FastText.load(path)
    assert np.array_equal(loaded.vectors_for(words), before)
    assert np.array_equal(loaded.embeddings.vectors, model.embeddings.vectors)
    assert loaded.get_params() == model.get_params() and loaded.vocab.words == model.vocab.words
    loaded.train(PLANTED[:100], epochs=1)
    assert loaded.epochs_trained == 3 and not np.array_equal(loaded.vectors_for(words), before)
    model.save(path)  # overwrite in place
    assert np.array_equal(FastText.load(path).vectors_for(words), before)
    with pytest.raises(FormatError):
        FastText.load(tmp_path / "nothing")
    Word2Vec(dim=8, min_count=1, epochs=1, workers=1).fit(PLANTED[:50]).save(tmp_path / "w2v")
    with pytest.raises(FormatError, match="not a FastText model"):
        FastText.load(tmp_path / "w2v")


def test_build_vocab_update_keeps_rows_and_adds_words():
    model = FastText(**{**SMALL, "epochs": 1}).fit(PLANTED)
    old, old_ngrams = model.syn0.copy(), model.syn0_ngrams.copy()
    new = [["violin", "cello", "xa"]] * 3
    model.build_vocab(new, update=True)
    assert "cello" in model.vocab and np.array_equal(model.syn0[:len(old)], old)
    assert np.array_equal(model.syn0_ngrams[:len(old_ngrams)], old_ngrams)
    assert len(model.syn0_ngrams) > len(old_ngrams)  # "<ce", "cel", ... are new buckets
    assert len(model._sub_ptr) == len(model.vocab) + 1
    model.train(new)
    assert np.isfinite(model.vector("cello")).all()


def test_bad_input():
    for kw in [dict(dim=0), dict(min_n=4, max_n=3), dict(bucket=0), dict(min_n=0), dict(window=0),
               dict(bucket=2 ** 31), dict(negative=0, hs=False), dict(dim=2.5)]:
        with pytest.raises(InvalidInputError):
            FastText(**kw)
    with pytest.raises(InvalidInputError, match="empty"):
        FastText(**SMALL).fit([[]])
    with pytest.raises(InvalidInputError, match="min_count"):
        FastText(**{**SMALL, "min_count": 50}).fit([["a", "b"]])
    with pytest.raises(InvalidInputError, match="str tokens"):
        FastText(**SMALL).fit([np.array([1, 2, 3])] * 3)
    with pytest.raises(InvalidInputError, match="fit"):
        FastText().vector("a")
