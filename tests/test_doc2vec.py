"""Doc2Vec: kernels against a slow NumPy reference, planted structure, inference, determinism,
files, errors."""

from collections import namedtuple

import numpy as np
import pytest

from embedworks.errors import FormatError, InvalidInputError
from embedworks.learn import Doc2Vec
from embedworks.learn import _doc2vec
from embedworks.learn.vocab import Vocabulary
from embedworks.space import Embeddings
from sgns_reference import ref_lcg, ref_sigmoid

MAX_EXP = 6.0


# --------------------------------------------------------------------------- NumPy reference
def ref_draw(thr, alias, nr):
    nr = ref_lcg(nr)
    i = ((nr >> 32) * len(thr)) >> 32
    nr = ref_lcg(nr)
    if (nr >> 32) >= int(thr[i]):
        i = int(alias[i])
    return i, nr


def ref_output(h, syn1neg, syn1, word, negs, code, point, hs, use_neg, alpha, learn_hidden=True):
    """gensim's Doc2Vec output steps for hidden vector h (float64): the error for h."""
    work = np.zeros_like(h)
    if hs:
        for c, p in zip(code, point):
            f = h @ syn1[p]
            if f <= -MAX_EXP or f >= MAX_EXP:
                continue
            g = (1 - c - ref_sigmoid(f)) * alpha
            work += g * syn1[p]
            if learn_hidden:
                syn1[p] += (g * h).astype(np.float32)
    if use_neg:
        for target, label in [(word, 1.0)] + [(n, 0.0) for n in negs]:
            f = h @ syn1neg[target]
            if f <= -MAX_EXP or f >= MAX_EXP:
                continue
            g = (label - ref_sigmoid(f)) * alpha
            work += g * syn1neg[target]
            if learn_hidden:
                syn1neg[target] += (g * h).astype(np.float32)
    return work


def ref_train(mode, syn0, dv, syn1neg, syn1, tokens, offsets, tag_ptr, tag_idx, d0, d1, keep, thr,
              alias, codes, points, lens, window, negative, hs, dm_mean, train_words, null_word,
              alpha0, min_alpha, p0, span, nr):
    """Pure-Python version of `_doc2vec.train_documents`, random stream included."""
    base, total = offsets[d0], offsets[d1] - offsets[d0]
    use_neg = negative > 0
    d = syn0.shape[1]

    def negatives(word, nr):
        negs = []
        if use_neg:
            for _ in range(negative):
                t, nr = ref_draw(thr, alias, nr)
                if t != word:
                    negs.append(t)
        return negs, nr

    for k in range(d0, d1):
        a, b = offsets[k], offsets[k + 1]
        if a == b:
            continue
        alpha = float(np.float32(max(min_alpha, alpha0 - (alpha0 - min_alpha) * (p0 + span * ((a - base) / total)))))
        sen = []
        for p in range(a, b):
            w = int(tokens[p])
            if keep[w] < 1.0:
                nr = ref_lcg(nr)
                if keep[w] < (nr >> 40) / 2.0 ** 24:
                    continue
            sen.append(w)
        n = len(sen)
        tags = [int(t) for t in tag_idx[tag_ptr[k]:tag_ptr[k + 1]]]
        for i, word in enumerate(sen):
            code, point = (codes[word, :lens[word]], points[word, :lens[word]]) if hs else ([], [])
            if mode == _doc2vec.DBOW:
                pairs = []
                if train_words:
                    nr = ref_lcg(nr)
                    red = (nr >> 16) % window
                    pairs += [(syn0, sen[j]) for j in range(max(0, i - window + red), min(n, i + window + 1 - red))
                              if j != i]
                pairs += [(dv, t) for t in tags]
                for matrix, row in pairs:
                    negs, nr = negatives(word, nr)
                    work = ref_output(matrix[row].astype(np.float64), syn1neg, syn1, word, negs, code, point,
                                      hs, use_neg, alpha)
                    matrix[row] += work.astype(np.float32)
            elif mode == _doc2vec.DM:
                nr = ref_lcg(nr)
                red = (nr >> 16) % window
                ctx = [sen[m] for m in range(max(0, i - window + red), min(n, i + window + 1 - red)) if m != i]
                count = len(ctx) + len(tags)
                if count == 0:
                    continue
                h = syn0[ctx].astype(np.float64).sum(axis=0) + dv[tags].astype(np.float64).sum(axis=0)
                if dm_mean:
                    h /= count
                negs, nr = negatives(word, nr)
                work = ref_output(h, syn1neg, syn1, word, negs, code, point, hs, use_neg, alpha)
                if not dm_mean:
                    work /= count
                for t in tags:
                    dv[t] += work.astype(np.float32)
                for c in ctx:
                    syn0[c] += work.astype(np.float32)
            else:  # concatenation: one tag, then 2 * window words, null beyond the edges
                win = [null_word if (m < 0 or m >= n) else sen[m] for m in range(i - window, i + window + 1)
                       if m != i]
                h = np.concatenate([dv[tags[0]]] + [syn0[x] for x in win]).astype(np.float64)
                negs, nr = negatives(word, nr)
                work = ref_output(h, syn1neg, syn1, word, negs, code, point, hs, use_neg, alpha)
                dv[tags[0]] += work[:d].astype(np.float32)
                for s, x in enumerate(win):
                    syn0[x] += work[(1 + s) * d:(2 + s) * d].astype(np.float32)
    return nr


def _tiny(V=10, d=6, T=4, layer=None, seed=0):
    rng = np.random.default_rng(seed)
    layer = layer or d
    syn0 = rng.uniform(-0.5, 0.5, (V + 1, d)).astype(np.float32)  # + a null word row
    dv = rng.uniform(-0.5, 0.5, (T, d)).astype(np.float32)
    syn1neg = rng.uniform(-0.5, 0.5, (V, layer)).astype(np.float32)
    syn1 = rng.uniform(-0.5, 0.5, (V - 1, layer)).astype(np.float32)
    return syn0, dv, syn1neg, syn1


@pytest.mark.parametrize("mode,negative,hs,dm_mean,train_words", [
    (_doc2vec.DBOW, 3, False, True, False),     # PV-DBOW
    (_doc2vec.DBOW, 2, True, True, True),       # PV-DBOW + skip-gram words, hs and negatives
    (_doc2vec.DBOW, 0, True, True, False),      # PV-DBOW, hierarchical softmax only
    (_doc2vec.DM, 3, False, True, False),       # PV-DM mean
    (_doc2vec.DM, 2, True, False, False),       # PV-DM sum, hs + negatives
    (_doc2vec.DM_CONCAT, 2, True, True, False),  # PV-DM concatenation
])
def test_document_kernel_matches_reference(mode, negative, hs, dm_mean, train_words):
    rng = np.random.default_rng(3)
    V, d, window = 10, 6, 2
    counts = np.sort(rng.integers(5, 200, V))[::-1]
    vocab = Vocabulary([str(i) for i in range(V)], counts)
    tokens = rng.choice(V, 48, p=counts / counts.sum()).astype(np.int32)
    offsets = np.array([0, 5, 17, 17, 30, 48], dtype=np.int64)  # an empty document in the middle
    tag_ptr = np.array([0, 1, 3, 4, 5, 6], dtype=np.int64)
    tag_idx = np.array([0, 1, 2, 3, 1, 2], dtype=np.int32)      # document 1 has two tags
    if mode == _doc2vec.DM_CONCAT:
        tag_ptr, tag_idx = np.arange(6, dtype=np.int64), np.array([0, 1, 3, 1, 2], dtype=np.int32)
    keep = vocab.keep_probabilities(0.05)
    assert (keep < 1).any()
    thr, alias = vocab.negative_alias()
    codes, points, lens = vocab.huffman()
    layer = (1 + 2 * window) * d if mode == _doc2vec.DM_CONCAT else d
    weights = _tiny(V, d, 4, layer, seed=4)
    refs = [a.copy() for a in weights]
    d0, d1 = 1, 5  # a slice of the documents
    args = (tokens, offsets, tag_ptr, tag_idx, d0, d1, keep, thr, alias, codes, points, lens, window,
            negative, hs, dm_mean, train_words, V)
    sched = (0.025, 0.0001, 0.2, 0.5)
    nr, words, kept = _doc2vec.train_documents(mode, *weights, *args, layer, *sched, np.uint64(7))
    ref_nr = ref_train(mode, *refs, *args, *sched, 7)
    assert words == 43 and 0 < kept < 43
    assert int(nr) == ref_nr
    for got, want, before in zip(weights, refs, _tiny(V, d, 4, layer, seed=4)):
        assert np.allclose(got, want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(weights[1], _tiny(V, d, 4, layer, seed=4)[1])  # doc vectors moved
    if mode == _doc2vec.DBOW and not train_words:
        assert np.array_equal(weights[0], _tiny(V, d, 4, layer, seed=4)[0])  # words untouched


@pytest.mark.parametrize("mode", [_doc2vec.DBOW, _doc2vec.DM, _doc2vec.DM_CONCAT])
def test_inference_kernel_freezes_the_model(mode):
    V, d, window = 10, 6, 2
    vocab = Vocabulary([str(i) for i in range(V)], np.arange(60, 40, -2))
    thr, alias = vocab.negative_alias()
    codes, points, lens = vocab.huffman()
    layer = (1 + 2 * window) * d if mode == _doc2vec.DM_CONCAT else d
    syn0, _, syn1neg, syn1 = _tiny(V, d, 1, layer)
    before = [syn0.copy(), syn1neg.copy(), syn1.copy()]
    tokens = np.array([1, 2, 3, 4, 5, 1, 2, 7, 8, 9, 1, 2, 3, 4, 5], dtype=np.int32)
    offsets = np.array([0, 5, 10, 10, 15], dtype=np.int64)  # documents 0 and 3 are equal
    out = np.zeros((4, d), np.float32)
    _doc2vec.infer_documents(mode, syn0, syn1neg, syn1, tokens, offsets, out, 0, 4, np.ones(V, np.float32),
                             thr, alias, codes, points, lens, window, 3, True, True, V, layer, 0.025,
                             0.0001, 5, np.uint64(11))
    for a, b in zip((syn0, syn1neg, syn1), before):
        assert np.array_equal(a, b)
    assert np.array_equal(out[0], out[3]) and not np.array_equal(out[0], out[1])
    start = np.empty((1, d), np.float32)  # the empty document keeps its random start
    from embedworks.learn import _sgns
    _sgns.init_vectors(start, np.uint64(_doc2vec.document_state(tokens, 10, 10, np.uint64(11))))
    assert np.array_equal(out[2], start[0])


# --------------------------------------------------------------------------- the model
def planted_documents(n_pairs=30, seed=0):
    """Pairs of near-duplicate documents: 2j and 2j+1 draw from the same 6 private words (and
    shared filler); every pair's words are its own."""
    rng = np.random.default_rng(seed)
    filler = [f"f{i}" for i in range(40)]
    docs = []
    for j in range(n_pairs):
        private = [f"p{j}w{i}" for i in range(6)]
        for _ in range(2):
            words = list(rng.choice(private, 24)) + list(rng.choice(filler, 16))
            rng.shuffle(words)
            docs.append((words, f"doc{len(docs)}"))
    return docs


DOCS = planted_documents()


def _twin(k):
    return k + 1 if k % 2 == 0 else k - 1


@pytest.mark.parametrize("options", [
    dict(), dict(dbow_words=True), dict(hs=True, negative=0),
    dict(dm=True), dict(dm=True, dm_mean=False), dict(dm=True, hs=True)])
def test_near_duplicates_are_nearest_neighbours(options):
    model = Doc2Vec(dim=16, min_count=1, epochs=50, workers=1, seed=1, **options).fit(DOCS)
    emb = model.embeddings
    assert isinstance(emb, Embeddings) and emb is model.dv and len(emb) == len(DOCS)
    hits = sum(emb.most_similar(f"doc{k}", k=1)[0][0] == f"doc{_twin(k)}" for k in range(len(DOCS)))
    assert hits >= 0.95 * len(DOCS)


def test_dm_concat_trains():
    model = Doc2Vec(dim=8, dm=True, dm_concat=True, window=2, min_count=1, epochs=30, workers=1,
                    alpha=0.05).fit(DOCS)
    assert model.syn0.shape == (len(model.vocab) + 1, 8) and model.syn1neg.shape[1] == 5 * 8
    emb = model.embeddings
    hits = sum(emb.most_similar(f"doc{k}", k=1)[0][0] == f"doc{_twin(k)}" for k in range(len(DOCS)))
    assert hits >= 0.6 * len(DOCS)
    assert len(model.words) == len(model.vocab)


@pytest.mark.parametrize("dm", [False, True])
def test_infer_lands_on_its_own_document(dm):
    # each document its own words, so a training document's inference must find itself
    rng = np.random.default_rng(2)
    filler = [f"f{i}" for i in range(30)]
    docs = [(list(rng.choice([f"p{j}w{i}" for i in range(5)], 20)) + list(rng.choice(filler, 20)), f"d{j}")
            for j in range(40)]
    model = Doc2Vec(dim=16, dm=dm, min_count=1, epochs=60 if dm else 30, workers=1, seed=3).fit(docs)
    inferred = model.infer_many([w for w, _ in docs])
    assert inferred.shape == (40, 16) and inferred.dtype == np.float32
    found = [model.embeddings.most_similar(inferred[j], k=1)[0][0] == f"d{j}" for j in range(40)]
    assert sum(found) >= 38
    one = model.infer(docs[7][0])
    assert np.array_equal(one, inferred[7])
    assert np.array_equal(one, model.infer_many([docs[3][0], docs[7][0]], workers=2)[1])
    assert not np.array_equal(one, model.infer(docs[7][0], seed=99))
    assert model.infer(["never", "seen"]).shape == (16,)


def test_workers_one_is_bit_identical_and_two_workers_train():
    kw = dict(dim=8, min_count=1, epochs=3, seed=5, sample=1e-2, dbow_words=True)
    a = Doc2Vec(workers=1, **kw).fit(DOCS)
    b = Doc2Vec(workers=1, **kw).fit(DOCS)
    assert np.array_equal(a.doc_vectors, b.doc_vectors) and np.array_equal(a.syn0, b.syn0)
    assert np.array_equal(a.syn1neg, b.syn1neg)
    c = Doc2Vec(workers=1, **{**kw, "seed": 6}).fit(DOCS)
    assert not np.array_equal(a.doc_vectors, c.doc_vectors)
    d = Doc2Vec(workers=2, **kw).fit(DOCS)
    assert d.training_stats["workers"] == 2 and d.training_stats["words"] == 3 * 40 * len(DOCS)
    assert np.isfinite(d.doc_vectors).all()


TaggedDocument = namedtuple("TaggedDocument", "words tags")


def test_document_forms_and_tags():
    docs = [TaggedDocument(["a", "b", "c"], ["x", 7]),       # two tags, str and int
            (["b", "c", "d"], "y"),                           # a pair
            ["a", "d", "d"],                                  # plain list: tag = position (2)
            (np.array(["c", "a"]), ("x",)),                   # shares tag "x"
            TaggedDocument([], ["empty"])]                    # no words: kept, untrained
    model = Doc2Vec(dim=4, min_count=1, epochs=2, workers=1).fit(iter(docs))  # one-shot is fine
    assert model.tags == ["x", 7, "y", 2, "empty"]
    assert model.embeddings.keys == ["x", 7, "y", 2, "empty"]
    assert model.words.keys[0] in {"a", "c", "d"} and model.words.metadata["count"][0] == 3
    assert repr(model).startswith("Doc2Vec(PV-DBOW")
    # more documents later: unknown words skipped, new tags get vectors
    model.train([(["a", "zzz"], "new")], epochs=1)
    assert model.tags[-1] == "new" and model.doc_vectors.shape == (6, 4)


def test_save_load_continues_identically(tmp_path):
    kw = dict(dim=8, min_count=1, epochs=2, workers=1, seed=2)
    for options in (dict(), dict(dm=True, hs=True), dict(dm=True, dm_concat=True, window=2)):
        model = Doc2Vec(**kw, **options).fit(DOCS)
        path = model.save(tmp_path / "m")
        assert {"params.json", "vocab.jsonl", "counts.npy", "tags.jsonl", "syn0.npy",
                "doc_vectors.npy"} <= {p.name for p in path.iterdir()}
        loaded = Doc2Vec.load(path)
        assert loaded.get_params() == model.get_params() and loaded.tags == model.tags
        words = DOCS[3][0][:10] + ["unknown"]
        assert np.array_equal(loaded.infer(words), model.infer(words))
        mapped = Doc2Vec.load(path, mmap=True)
        assert np.array_equal(mapped.infer(words), model.infer(words))
        model.train(DOCS[:10], epochs=1)
        loaded.train(DOCS[:10], epochs=1)
        assert np.array_equal(model.doc_vectors, loaded.doc_vectors)
        assert np.array_equal(model.syn0, loaded.syn0)
    (tmp_path / "m" / "doc_vectors.npy").unlink()
    with pytest.raises(FormatError, match="doc_vectors.npy"):
        Doc2Vec.load(tmp_path / "m")
    with pytest.raises(FormatError, match="params.json"):
        Doc2Vec.load(tmp_path)


def test_bad_input(tmp_path):
    with pytest.raises(InvalidInputError, match="dim"):
        Doc2Vec(dim=0)
    with pytest.raises(InvalidInputError, match="vector_size.*dim"):
        Doc2Vec(vector_size=50)
    with pytest.raises(InvalidInputError, match="unknown Doc2Vec option"):
        Doc2Vec(dm_tag_count=2)
    with pytest.raises(InvalidInputError, match="negative"):
        Doc2Vec(negative=0, hs=False)
    with pytest.raises(InvalidInputError, match="dm=True"):
        Doc2Vec(dm_concat=True)
    with pytest.raises(InvalidInputError, match="dm must be"):
        Doc2Vec(dm="yes")
    model = Doc2Vec(min_count=1, workers=1)
    with pytest.raises(InvalidInputError, match="no documents"):
        model.fit([])
    with pytest.raises(InvalidInputError, match="empty"):
        model.fit([[], []])
    with pytest.raises(InvalidInputError, match="min_count=5"):
        Doc2Vec().fit([["a", "b"], ["c"]])
    with pytest.raises(InvalidInputError, match="document 1 is a str"):
        model.fit([["a"], "b c d"])
    with pytest.raises(InvalidInputError, match="document 0: words must be a list"):
        model.fit([("a b c", "t")])
    with pytest.raises(InvalidInputError, match="document 1: tags must be"):
        model.fit([(["a"], "t"), (["b"], 1.5)])
    with pytest.raises(InvalidInputError, match="document 0: tokens must be str"):
        model.fit([["a", ["nested"], "b"]])
    with pytest.raises(InvalidInputError, match="not a path"):
        model.fit(str(tmp_path))
    with pytest.raises(InvalidInputError, match="document 0: expected a list of tokens"):
        model.fit([42])
    with pytest.raises(InvalidInputError, match="document 1 has 2 tags"):
        Doc2Vec(dm=True, dm_concat=True, min_count=1).fit([(["a"], "x"), (["b"], ["y", "z"])])
    with pytest.raises(InvalidInputError, match="fit"):
        Doc2Vec().infer(["a"])
    assert model.vocab is None and model.tags == []  # failed fits leave nothing behind
    model.fit([(["a", "b"], "t")])
    with pytest.raises(InvalidInputError, match="not a str"):
        model.infer("a b")
    with pytest.raises(InvalidInputError, match="epochs"):
        model.infer(["a"], epochs=0)
    with pytest.raises(InvalidInputError, match="no words from the vocabulary"):
        model.train([["zzz"]])
    assert model.tags == ["t"] and len(model.doc_vectors) == 1  # left as it was
