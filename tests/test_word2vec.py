"""Word2Vec: kernels against a slow NumPy reference, planted structure, determinism, files, errors."""

import logging

import numpy as np
import pytest

from embedworks.errors import InvalidInputError
from embedworks.learn import Word2Vec
from embedworks.learn import _sgns
from embedworks.learn import word2vec as word2vec_module
from embedworks.learn.vocab import Vocabulary
from embedworks.space import Embeddings
from sgns_reference import ref_lcg, ref_sigmoid

# --------------------------------------------------------------------------- NumPy reference
def ref_draw(thr, alias, nr):
    nr = ref_lcg(nr)
    i = ((nr >> 32) * len(thr)) >> 32
    nr = ref_lcg(nr)
    if (nr >> 32) >= int(thr[i]):
        i = int(alias[i])
    return i, nr


def ref_shared(syn0, syn1neg, ctx, word, negs, alpha):
    """All pairs of a window against one set of negatives, from the values before the step."""
    M = syn0[ctx].astype(np.float64)
    outs = [word] + list(negs)
    O = syn1neg[outs].astype(np.float64)
    labels = np.array([1.0] + [0.0] * len(negs))
    logits = M @ O.T
    G = (labels - np.vectorize(ref_sigmoid)(logits)) * alpha
    np.add.at(syn0, ctx, (G @ O).astype(np.float32))
    np.add.at(syn1neg, outs, (G.T @ M).astype(np.float32))


def ref_pair(syn0, syn1neg, syn1, inp, word, negs, use_neg, code, point, hs, alpha):
    """word2vec.c's per-pair update, sequential over output rows."""
    l1 = syn0[inp].astype(np.float64)
    neu1e = np.zeros_like(l1)
    if hs:
        for c, p in zip(code, point):
            f = l1 @ syn1[p]
            if f <= -_sgns.MAX_EXP or f >= _sgns.MAX_EXP:
                continue
            g = (1 - c - ref_sigmoid(f)) * alpha
            neu1e += g * syn1[p]
            syn1[p] += (g * l1).astype(np.float32)
    if use_neg:
        for target, label in [(word, 1.0)] + [(n, 0.0) for n in negs]:
            f = l1 @ syn1neg[target]
            g = (label - ref_sigmoid(f)) * alpha
            neu1e += g * syn1neg[target]
            syn1neg[target] += (g * l1).astype(np.float32)
    syn0[inp] += neu1e.astype(np.float32)


def ref_cbow(syn0, syn1neg, syn1, ctx, word, negs, use_neg, code, point, hs, alpha, cbow_mean):
    h = syn0[ctx].astype(np.float64).sum(axis=0)
    if cbow_mean:
        h /= len(ctx)
    neu1e = np.zeros_like(h)
    if hs:
        for c, p in zip(code, point):
            f = h @ syn1[p]
            if f <= -_sgns.MAX_EXP or f >= _sgns.MAX_EXP:
                continue
            g = (1 - c - ref_sigmoid(f)) * alpha
            neu1e += g * syn1[p]
            syn1[p] += (g * h).astype(np.float32)
    if use_neg:
        for target, label in [(word, 1.0)] + [(n, 0.0) for n in negs]:
            f = h @ syn1neg[target]
            g = (label - ref_sigmoid(f)) * alpha
            neu1e += g * syn1neg[target]
            syn1neg[target] += (g * h).astype(np.float32)
    if not cbow_mean:
        neu1e /= len(ctx)
    np.add.at(syn0, ctx, neu1e.astype(np.float32))


def ref_train(sg, syn0, syn1neg, syn1, tokens, offsets, keep, thr, alias, codes, points, lens,
              window, negative, hs, shared, cbow_mean, alpha0, min_alpha, p0, span, nr):
    """Pure-Python version of `_sgns.train_sg` / `train_cbow`, random stream included."""
    base, total = offsets[0], offsets[-1] - offsets[0]
    use_neg = negative > 0

    def negatives(word, nr):
        negs = []
        for _ in range(negative):
            t, nr = ref_draw(thr, alias, nr)
            if t != word:
                negs.append(t)
        return negs, nr

    for s in range(len(offsets) - 1):
        a, b = offsets[s], offsets[s + 1]
        alpha = float(np.float32(max(min_alpha, alpha0 - (alpha0 - min_alpha) * (p0 + span * ((a - base) / total)))))
        sen = []
        for p in range(a, b):
            w = int(tokens[p])
            if keep[w] < 1.0:
                nr = ref_lcg(nr)
                if keep[w] < (nr >> 40) / 2.0 ** 24:
                    continue
            sen.append(w)
        for i, word in enumerate(sen):
            nr = ref_lcg(nr)
            red = (nr >> 16) % window
            ctx = [sen[c] for c in range(max(0, i - window + red), min(len(sen), i + window + 1 - red)) if c != i]
            if not ctx:
                continue
            code, point = codes[word, :lens[word]], points[word, :lens[word]]
            if sg and shared and use_neg:
                if hs:
                    for c in ctx:
                        ref_pair(syn0, syn1neg, syn1, c, word, [], False, code, point, True, alpha)
                negs, nr = negatives(word, nr)
                ref_shared(syn0, syn1neg, ctx, word, negs, alpha)
            elif sg:
                for c in ctx:
                    negs = []
                    if use_neg:
                        negs, nr = negatives(word, nr)
                    ref_pair(syn0, syn1neg, syn1, c, word, negs, use_neg, code, point, hs, alpha)
            else:
                negs = []
                if use_neg:
                    negs, nr = negatives(word, nr)
                ref_cbow(syn0, syn1neg, syn1, ctx, word, negs, use_neg, code, point, hs, alpha, cbow_mean)
    return nr


def _weights(V=12, d=8, seed=0):
    rng = np.random.default_rng(seed)
    syn0 = rng.uniform(-0.5, 0.5, (V, d)).astype(np.float32)
    syn1neg = rng.uniform(-0.5, 0.5, (V, d)).astype(np.float32)
    syn1 = rng.uniform(-0.5, 0.5, (V - 1, d)).astype(np.float32)
    return syn0, syn1neg, syn1


def _close(a, b):
    return np.allclose(a, b, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- single steps
def test_sg_shared_negatives_step_matches_reference():
    syn0, syn1neg, _ = _weights()
    ctx = np.array([1, 4, 4, 7], dtype=np.int32)  # a repeated context word
    negs = np.array([2, 9, 2], dtype=np.int32)  # and a repeated negative
    r0, r1 = syn0.copy(), syn1neg.copy()
    d = syn0.shape[1]
    M, O, G = np.empty((4, d), np.float32), np.empty((4, d), np.float32), np.empty((4, 4), np.float32)
    _sgns.sg_neg_shared_step(syn0, syn1neg, ctx, 4, 3, negs, 3, np.float32(0.5), M, O, G)
    ref_shared(r0, r1, ctx, 3, negs, 0.5)
    assert _close(syn0, r0) and _close(syn1neg, r1)
    assert not np.allclose(syn0, _weights()[0])


@pytest.mark.parametrize("hs,use_neg", [(False, True), (True, False), (True, True)])
def test_sg_pair_step_matches_reference(hs, use_neg):
    syn0, syn1neg, syn1 = _weights()
    v = Vocabulary([str(i) for i in range(12)], np.arange(40, 16, -2))
    codes, points, lens = v.huffman()
    word, inp = 5, 2
    negs = np.array([0, 8, 8], dtype=np.int32)
    refs = [a.copy() for a in (syn0, syn1neg, syn1)]
    neu1e = np.empty(8, np.float32)
    _sgns.sg_pair_step(syn0, syn1neg, syn1, inp, word, negs, 3, use_neg, codes[word], points[word],
                       lens[word], hs, np.float32(0.3), neu1e)
    ref_pair(*refs, inp, word, negs, use_neg, codes[word, :lens[word]], points[word, :lens[word]], hs, 0.3)
    for got, want in zip((syn0, syn1neg, syn1), refs):
        assert _close(got, want)


def test_shared_step_with_one_context_equals_pair_step():
    a = _weights()
    b = [x.copy() for x in a]
    negs = np.array([0, 8, 10], dtype=np.int32)
    d = 8
    _sgns.sg_neg_shared_step(a[0], a[1], np.array([2], np.int32), 1, 5, negs, 3, np.float32(0.3),
                             np.empty((1, d), np.float32), np.empty((4, d), np.float32),
                             np.empty((1, 4), np.float32))
    _sgns.sg_pair_step(b[0], b[1], b[2], 2, 5, negs, 3, True, np.zeros(1, np.uint8),
                       np.zeros(1, np.int32), 0, False, np.float32(0.3), np.empty(d, np.float32))
    assert _close(a[0], b[0]) and _close(a[1], b[1])


@pytest.mark.parametrize("hs,use_neg,cbow_mean", [(False, True, True), (True, False, True),
                                                  (True, True, False)])
def test_cbow_step_matches_reference(hs, use_neg, cbow_mean):
    syn0, syn1neg, syn1 = _weights()
    v = Vocabulary([str(i) for i in range(12)], np.arange(40, 16, -2))
    codes, points, lens = v.huffman()
    ctx = np.array([1, 3, 3, 11], dtype=np.int32)
    negs = np.array([0, 7], dtype=np.int32)
    word = 6
    refs = [a.copy() for a in (syn0, syn1neg, syn1)]
    _sgns.cbow_step(syn0, syn1neg, syn1, ctx, 4, word, negs, 2, use_neg, codes[word], points[word],
                    lens[word], hs, np.float32(0.2), cbow_mean, np.empty(8, np.float32), np.empty(8, np.float32))
    ref_cbow(*refs, ctx, word, negs, use_neg, codes[word, :lens[word]], points[word, :lens[word]], hs, 0.2,
             cbow_mean)
    for got, want in zip((syn0, syn1neg, syn1), refs):
        assert _close(got, want)


# --------------------------------------------------------------------------- whole kernels
@pytest.mark.parametrize("sg,negative,hs,shared", [
    (True, 3, False, True), (True, 3, False, False), (True, 0, True, False), (True, 2, True, True),
    (False, 3, False, False), (False, 0, True, False)])
def test_sentence_kernels_match_reference(sg, negative, hs, shared):
    rng = np.random.default_rng(3)
    V = 12
    counts = np.sort(rng.integers(5, 200, V))[::-1]
    vocab = Vocabulary([str(i) for i in range(V)], counts)
    tokens = rng.choice(V, 60, p=counts / counts.sum()).astype(np.int32)
    offsets = np.array([10, 25, 26, 45, 60], dtype=np.int64)  # a slice: starts mid-array
    keep = vocab.keep_probabilities(0.05)
    assert (keep < 1).any()
    thr, alias = vocab.negative_alias()
    codes, points, lens = vocab.huffman()
    syn0, syn1neg, syn1 = _weights(V, 6, seed=4)
    refs = [a.copy() for a in (syn0, syn1neg, syn1)]
    args = (tokens, offsets, keep, thr, alias, codes, points, lens, 3, negative, hs)
    sched = (0.025, 0.0001, 0.2, 0.5)
    if sg:
        nr, words, kept = _sgns.train_sg(syn0, syn1neg, syn1, *args, shared, *sched, 0, 0, np.uint64(7))
    else:
        nr, words, kept = _sgns.train_cbow(syn0, syn1neg, syn1, *args, True, *sched, 0, 0, np.uint64(7))
    ref_nr = ref_train(sg, *refs, *args, shared, True, *sched, 7)
    assert words == 50 and 0 < kept < 50
    assert int(nr) == ref_nr
    for got, want in zip((syn0, syn1neg, syn1), refs):
        assert np.allclose(got, want, rtol=1e-4, atol=1e-5)


def test_init_vectors_like_word2vec_c_from_high_bits():
    out = np.empty((3, 4), np.float32)
    _sgns.init_vectors(out, np.uint64(1))
    nr, want = 1, []
    for _ in range(12):
        nr = ref_lcg(nr)
        want.append(((nr >> 40) / 2.0 ** 24 - 0.5) / 4)
    assert np.allclose(out.ravel(), want)


# --------------------------------------------------------------------------- the model
def planted(n=1500, seed=0):
    """a1/a2 always appear between x-words, b1/b2 between y-words; 20 filler words around."""
    rng = np.random.default_rng(seed)
    fill = [f"f{i}" for i in range(20)]
    sentences = []
    for _ in range(n):
        g = rng.integers(2)
        ctx = ["x1", "x2", "x3"] if g == 0 else ["y1", "y2", "y3"]
        word = (["a1", "a2"] if g == 0 else ["b1", "b2"])[rng.integers(2)]
        sentences.append([fill[i] for i in rng.integers(0, 20, 2)] +
                         [ctx[rng.integers(3)], word, ctx[rng.integers(3)]] +
                         [fill[i] for i in rng.integers(0, 20, 2)])
    return sentences


PLANTED = planted()


@pytest.mark.parametrize("sg,negative,hs,shared", [
    (True, 5, False, True), (True, 5, False, False), (False, 5, False, True),
    (True, 0, True, True), (False, 0, True, True)])
def test_planted_synonyms_are_nearest_neighbours(sg, negative, hs, shared):
    model = Word2Vec(sg=sg, dim=16, window=2, negative=negative, hs=hs, sample=0, min_count=1,
                     epochs=5, workers=1, seed=1, shared_negatives=shared).fit(PLANTED)
    emb = model.embeddings
    assert isinstance(emb, Embeddings)
    assert emb.most_similar("a1", k=1)[0][0] == "a2"
    assert emb.most_similar("b2", k=1)[0][0] == "b1"
    assert emb.similarity("a1", "a2") > emb.similarity("a1", "b1") + 0.2


@pytest.mark.parametrize("sg,shared", [(True, True), (True, False), (False, False)])
def test_private_hot_rows_equal_shared_rows_after_folding(sg, shared):
    """A thread that keeps the `hot` most frequent words' output rows private (rows hot_base..)
    and folds them back trains the same vectors as one that updates the shared rows."""
    rng = np.random.default_rng(5)
    V, d, hot = 12, 6, 4
    counts = np.sort(rng.integers(5, 200, V))[::-1]
    vocab = Vocabulary([str(i) for i in range(V)], counts)
    tokens = rng.choice(V, 80, p=counts / counts.sum()).astype(np.int32)
    offsets = np.array([0, 30, 31, 80], dtype=np.int64)
    thr, alias = vocab.negative_alias()
    codes, points, lens = np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.int32), np.zeros(1, np.int32)
    syn0, syn1neg, syn1 = _weights(V, d, seed=2)
    args = (tokens, offsets, vocab.keep_probabilities(0.05), thr, alias, codes, points, lens, 3, 3, False,
            shared if sg else True, 0.025, 0.0001, 0.0, 1.0)
    kernel = _sgns.train_sg if sg else _sgns.train_cbow
    plain = (syn0.copy(), syn1neg.copy())
    nr_plain = kernel(plain[0], plain[1], syn1[:1], *args, 0, 0, np.uint64(3))[0]
    base = 2 * V  # private rows after some other thread's block, as Word2Vec lays them out
    out = np.zeros((base + V + hot, d), np.float32)
    out[:V] = syn1neg
    out[base + V:] = syn1neg[:hot]
    s0 = syn0.copy()
    nr_hot = kernel(s0, out, syn1[:1], *args, hot, base + V, np.uint64(3))[0]
    assert np.array_equal(out[:hot], syn1neg[:hot])  # the shared hot rows were not touched
    assert not np.array_equal(out[base + V:], syn1neg[:hot])
    out[:hot] += out[base + V:] - syn1neg[:hot]  # the fold
    assert nr_hot == nr_plain
    assert np.allclose(s0, plain[0], atol=1e-6) and np.allclose(out[:V], plain[1], atol=1e-6)
    assert not out[V:base + V].any()  # no other rows written


def test_two_workers_keep_hot_rows_private_and_fold_them_back(monkeypatch):
    monkeypatch.setattr(word2vec_module, "PIECE_TOKENS", 50)  # many folds
    kw = dict(dim=16, window=2, sample=0, min_count=1, epochs=5, seed=1, workers=2)
    model = Word2Vec(**kw).fit(PLANTED)
    V = len(model.vocab)
    assert Word2Vec.HOT_ROWS >= V and model._hot_rows(2) == V  # every row is hot here
    assert model.syn1neg.shape == (V, 16)
    # output rows start at zero; hot ones change only through the folds
    assert (np.abs(model.syn1neg).sum(axis=1) > 0).all()
    private = model.syn1neg.base[V:3 * V]  # the two threads' rows, after the model's
    assert any(np.array_equal(private[t * V:(t + 1) * V], model.syn1neg) for t in (0, 1))
    off = Word2Vec(**kw)
    off.HOT_ROWS = 0
    off.fit(PLANTED)
    for m in (model, off):  # both learn the planted structure
        assert m.embeddings.most_similar("a1", k=1)[0][0] == "a2"
        assert m.embeddings.most_similar("b2", k=1)[0][0] == "b1"
    assert model._hot_rows(1) == 0


def test_workers_one_is_bit_identical_and_two_workers_train():
    kw = dict(dim=8, window=2, min_count=1, epochs=2, seed=5, sample=1e-2)
    a = Word2Vec(workers=1, **kw).fit(PLANTED)
    b = Word2Vec(workers=1, **kw).fit(PLANTED)
    assert np.array_equal(a.syn0, b.syn0) and np.array_equal(a.syn1neg, b.syn1neg)
    c = Word2Vec(workers=1, **{**kw, "seed": 6}).fit(PLANTED)
    assert not np.array_equal(a.syn0, c.syn0)
    d = Word2Vec(workers=2, **kw).fit(PLANTED)
    assert d.training_stats["workers"] == 2 and d.training_stats["words"] == 2 * 7 * len(PLANTED)
    assert np.isfinite(d.syn0).all()


def test_embeddings_and_stats():
    model = Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1).fit(PLANTED)
    emb = model.embeddings
    assert emb.keys == model.vocab.words and emb.metric == "cosine"
    assert emb.metadata["count"] == model.vocab.counts.tolist()
    assert np.array_equal(emb.vectors, model.syn0) and emb.vectors is not model.syn0
    assert model.start_alpha == 0.025 and Word2Vec(sg=False).start_alpha == 0.05
    assert model.training_stats["words_per_second"] > 0


def test_save_load_and_continue_training(tmp_path):
    model = Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1, hs=True).fit(PLANTED)
    path = model.save(tmp_path / "m")
    assert {p.name for p in path.iterdir()} == {"params.json", "vocab.jsonl", "counts.npy", "syn0.npy",
                                               "syn1neg.npy", "syn1.npy"}
    loaded = Word2Vec.load(path)
    assert loaded.vocab.words == model.vocab.words and loaded.hs and loaded.dim == 8
    assert np.array_equal(loaded.syn0, model.syn0) and np.array_equal(loaded.syn1, model.syn1)
    before = loaded.syn0.copy()
    loaded.train(PLANTED[:200], epochs=1)
    assert not np.array_equal(loaded.syn0, before)
    model.save(path)  # overwrite in place
    assert Word2Vec.load(path).epochs_trained == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    other = tmp_path / "not-a-model"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="refusing"):
        model.save(other)
    assert (other / "keep.txt").read_text() == "mine"


def test_build_vocab_update_adds_words_and_keeps_rows():
    model = Word2Vec(dim=8, window=2, min_count=2, epochs=1, workers=1, hs=True, sample=0).fit(PLANTED)
    n, old = len(model.vocab), model.syn0.copy()
    new = [["a1", "zeta", "eta", "x1"], ["zeta", "eta", "a2"], ["zeta", "once"]]
    model.build_vocab(new, update=True)
    assert model.vocab.words[:n] == Word2Vec(dim=8, min_count=2).build_vocab(PLANTED).vocab.words
    assert model.vocab.words[n:] == ["zeta", "eta"] and "once" not in model.vocab
    assert model.syn0.shape == (n + 2, 8) and model.syn1neg.shape == (n + 2, 8)
    assert model.syn1.shape == (n + 1, 8)
    assert np.array_equal(model.syn0[:n], old)
    model.train(new)
    assert "zeta" in model.embeddings and not np.array_equal(model.syn0[:n], old)


def test_integer_walks():
    rng = np.random.default_rng(0)
    walks = [rng.integers(0, 30, 20) for _ in range(100)]
    model = Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1).fit(walks)
    assert sorted(model.vocab.words) == list(range(30))
    assert model.embeddings.most_similar(3, k=2)


def test_train_without_known_words_and_unknown_words_skipped():
    model = Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1).fit(PLANTED)
    with pytest.raises(InvalidInputError, match="no words from the vocabulary"):
        model.train([["unknown", "words"]])
    model.train([["a1", "unknown", "x1"]])


def test_bad_input(tmp_path):
    for kw, match in [({"dim": 0}, "dim"), ({"window": 0}, "window"), ({"negative": -1}, "negative"),
                      ({"negative": 0}, "negative > 0 or hs"), ({"sample": -1}, "sample"),
                      ({"epochs": 0}, "epochs"), ({"alpha": 0}, "alpha"), ({"dim": 2.5}, "dim")]:
        with pytest.raises(InvalidInputError, match=match):
            Word2Vec(**kw)
    with pytest.raises(InvalidInputError, match="empty"):
        Word2Vec(min_count=1).fit([])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(InvalidInputError, match="empty"):
        Word2Vec(min_count=1).fit(empty)
    with pytest.raises(InvalidInputError, match=r"min_count=5.*occurs 2 times"):
        Word2Vec().fit([["a", "a", "b"]])
    with pytest.raises(InvalidInputError, match="fit"):
        Word2Vec().train([["a"]])


def test_invalid_utf8_file_trains_and_reports(tmp_path, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes(("caf\xe9 au lait\n" * 20).encode("latin-1") + b"ok ok \xff\n")
    with caplog.at_level(logging.WARNING):
        model = Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1).fit(path)
    assert "caf\ufffd" in model.vocab
    assert any("latin1.txt" in r.getMessage() and "21" in r.getMessage() for r in caplog.records)


def test_progress_bar_off_a_terminal(capsys):
    Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1, progress=True).fit(PLANTED[:100])
    Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1, progress=False).fit(PLANTED[:100])
    assert capsys.readouterr().out == ""


def test_build_vocab_then_train_reads_the_text_once(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in PLANTED[:300]))
    model = Word2Vec(dim=8, window=2, min_count=1, epochs=1, workers=1).build_vocab(str(path))
    calls = []
    monkeypatch.setattr(Vocabulary, "encode", lambda self, c: calls.append(c))
    model.train(str(path))  # same file: the encoding from build_vocab is reused
    assert calls == [] and model.training_stats["words"] == 7 * 300
