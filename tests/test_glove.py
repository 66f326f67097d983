"""GloVe: co-occurrence and AdaGrad kernels against slow references, model contract, files, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from embedworks.errors import EmbedworksError, FormatError, InvalidInputError
from embedworks.learn import GloVe
from embedworks.learn import _glove
from embedworks.learn.glove import cooccurrence_matrix


# --------------------------------------------------------------------------- references
def reference_cooccurrence(sentences, vocab_size, window, symmetric):
    """Slow pure-Python counting: a word d <= window left of another adds 1/d."""
    X = np.zeros((vocab_size, vocab_size))
    for s in sentences:
        for t in range(len(s)):
            for d in range(1, window + 1):
                if t - d < 0:
                    break
                X[s[t], s[t - d]] += 1.0 / d
                if symmetric:
                    X[s[t - d], s[t]] += 1.0 / d
    return X


def reference_epoch(rows, cols, vals, order, W, C, gW, gC, x_max, alpha, lr):
    """One AdaGrad pass in float64 NumPy, following glove.c; returns (loss sum, W, C, gW, gC)."""
    W, C, gW, gC = (a.astype(np.float64) for a in (W, C, gW, gC))
    dim = W.shape[1] - 1
    loss = 0.0
    for e in order:
        i, j, x = rows[e], cols[e], float(vals[e])
        diff = W[i, :dim] @ C[j, :dim] + W[i, dim] + C[j, dim] - np.log(x)
        f = min(1.0, (x / x_max) ** alpha)
        loss += f * diff * diff
        step = lr * f * diff
        tw, tc = step * C[j, :dim], step * W[i, :dim]
        W[i, :dim] -= tw / np.sqrt(gW[i, :dim])
        C[j, :dim] -= tc / np.sqrt(gC[j, :dim])
        gW[i, :dim] += tw * tw
        gC[j, :dim] += tc * tc
        W[i, dim] -= step / np.sqrt(gW[i, dim])
        C[j, dim] -= step / np.sqrt(gC[j, dim])
        gW[i, dim] += step * step
        gC[j, dim] += step * step
    return loss, W, C, gW, gC


def encoded(sentences):
    tokens = np.array([w for s in sentences for w in s], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    return tokens, offsets


def planted_corpus(n_sentences=20_000, seed=0, n_context=30, topics=4):
    """Sentences of 6 context words drawn from one of four topics, plus one planted word.

    Each topic weights a shared pool of context words differently (a permuted 1/rank law), and
    owns two interchangeable planted words, syn{k} and alt{k}, used at random in its sentences:
    they have the same context distribution, so they must end up nearest neighbours.
    """
    rng = np.random.default_rng(seed)
    base = 1.0 / np.arange(1, n_context + 1)
    probs = [base[rng.permutation(n_context)] for _ in range(topics)]
    probs = [p / p.sum() for p in probs]
    sentences = []
    for _ in range(n_sentences):
        k = rng.integers(topics)
        words = [f"c{c}" for c in rng.choice(n_context, size=6, p=probs[k])]
        words.insert(rng.integers(len(words) + 1), f"{'syn' if rng.random() < 0.5 else 'alt'}{k}")
        sentences.append(words)
    return sentences


# --------------------------------------------------------------------------- co-occurrence kernel
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("window", [1, 3, 7])
def test_cooccurrence_matches_reference(symmetric, window):
    rng = np.random.default_rng(window)
    V = 25
    sentences = [list(rng.integers(0, V, size=rng.integers(0, 15))) for _ in range(60)]
    tokens, offsets = encoded(sentences)
    expected = reference_cooccurrence(sentences, V, window, symmetric)
    # a dense table, no dense table, and buffers small enough to flush many times
    for buffer_triples, dense_cells in [(1 << 16, 1 << 16), (3, 0), (11, 40)]:
        m = cooccurrence_matrix(tokens, offsets, V, window=window, symmetric=symmetric, workers=1,
                                buffer_triples=buffer_triples, dense_cells=dense_cells)
        assert isinstance(m, sp.csr_matrix) and m.dtype == np.float32 and m.has_canonical_format
        np.testing.assert_allclose(m.toarray(), expected, rtol=1e-6, atol=1e-6)
    if symmetric:
        assert abs(m - m.T).max() == 0


def test_cooccurrence_exact_weights_and_sentence_bounds():
    # "a b a" then "b": a-b at distance 1 twice, a-a at distance 2; nothing across sentences
    m = cooccurrence_matrix(*encoded([[0, 1, 0], [1]]), 2, window=5, workers=1).toarray()
    np.testing.assert_allclose(m, [[2 * 0.5, 2.0], [2.0, 0.0]])
    left = cooccurrence_matrix(*encoded([[0, 1, 0], [1]]), 2, window=5, symmetric=False,
                               workers=1).toarray()
    np.testing.assert_allclose(left, [[0.5, 1.0], [1.0, 0.0]])  # X[word, context on its left]


def test_cooccurrence_threads_agree_with_one_thread():
    rng = np.random.default_rng(3)
    V = 40
    sentences = [list(rng.zipf(1.5, size=rng.integers(1, 30)) % V) for _ in range(2500)]
    tokens, offsets = encoded(sentences)
    assert tokens.size > 20_000  # enough for two counting threads
    one = cooccurrence_matrix(tokens, offsets, V, window=4, workers=1)
    two = cooccurrence_matrix(tokens, offsets, V, window=4, workers=2, buffer_triples=500,
                              dense_cells=50)
    np.testing.assert_allclose(two.toarray(), one.toarray(), rtol=1e-5)
    np.testing.assert_allclose(one.toarray(), reference_cooccurrence(sentences, V, 4, True), rtol=1e-5)


def test_sparse_kernels_match_scipy():
    rng = np.random.default_rng(5)
    n_rows, n_cols, n = 7, 9, 300
    rows, cols = rng.integers(0, n_rows, n).astype(np.int32), rng.integers(0, n_cols, n).astype(np.int32)
    vals = rng.random(n).astype(np.float32)
    indptr, indices, data = _glove.triples_to_csr(rows, cols, vals, n_rows, n_cols)
    a = sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))
    assert a.has_canonical_format and a.nnz == len(set(zip(rows.tolist(), cols.tolist())))
    np.testing.assert_allclose(a.toarray(), sp.coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols)).toarray(),
                               rtol=1e-6)
    b = sp.random(n_rows, n_cols, density=0.3, format="csr", dtype=np.float32, random_state=1)
    s = sp.csr_matrix(_glove.csr_add(indptr, indices, data, b.indptr.astype(np.int64),
                                     b.indices.astype(np.int32), b.data)[::-1], shape=(n_rows, n_cols))
    assert s.has_canonical_format
    np.testing.assert_allclose(s.toarray(), (a + b).toarray(), rtol=1e-6)
    t_indptr, t_indices, t_data = _glove.csr_transpose(indptr, indices, data, n_cols)
    t = sp.csr_matrix((t_data, t_indices, t_indptr), shape=(n_cols, n_rows))
    assert t.has_canonical_format
    np.testing.assert_array_equal(t.toarray(), a.toarray().T)
    empty = _glove.triples_to_csr(rows[:0], cols[:0], vals[:0], n_rows, n_cols)
    assert empty[1].size == 0 and np.all(empty[0] == 0)


def test_dense_layout_is_hyperbolic_and_bounded():
    start, length, col0, product = _glove.dense_layout(100, 500, upper=True)
    assert length.sum() <= 500 and product > 0
    for i in range(100):
        assert col0[i] == i
        assert col0[i] + length[i] == max(i, min(100, product // (i + 1)))
    assert np.all(start[1:] == np.cumsum(length)[:-1])


# --------------------------------------------------------------------------- AdaGrad kernel
def test_glove_epoch_matches_numpy_reference():
    X = np.array([[0, 3, 0, 150, 1, 0],
                  [3, 0, 2, 0, 0, 7],
                  [0, 2, 5, 0, 1, 0],
                  [150, 0, 0, 0, 0, 2],
                  [1, 0, 1, 0, 0, 0.5],
                  [0, 7, 0, 2, 0.5, 0]], dtype=np.float32)
    m = sp.csr_matrix(X)
    rows = np.repeat(np.arange(6, dtype=np.int32), np.diff(m.indptr))
    cols, vals = m.indices.astype(np.int32), m.data.astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(vals.size).astype(np.int32)
    dim = 5
    W = ((rng.random((6, dim + 1)) - 0.5) / dim).astype(np.float32)
    C = ((rng.random((6, dim + 1)) - 0.5) / dim).astype(np.float32)
    gW = (1 + rng.random((6, dim + 1))).astype(np.float32)
    gC = (1 + rng.random((6, dim + 1))).astype(np.float32)
    loss, *expected = reference_epoch(rows, cols, vals, order, W, C, gW, gC, 100.0, 0.75, 0.05)
    PW, PC = np.concatenate([W, gW], axis=1), np.concatenate([C, gC], axis=1)
    got_loss, skipped = _glove.glove_epoch(rows, cols, vals, order, 0, order.size, PW, PC, 100.0, 0.75, 0.05)
    assert skipped == 0
    assert got_loss == pytest.approx(loss, rel=1e-5)
    for got, want in zip((PW[:, :dim + 1], PC[:, :dim + 1], PW[:, dim + 1:], PC[:, dim + 1:]), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # a sub-range of the order touches only its own records
    PW2, PC2 = np.concatenate([W, gW], axis=1), np.concatenate([C, gC], axis=1)
    _glove.glove_epoch(rows, cols, vals, order, 2, 2, PW2, PC2, 100.0, 0.75, 0.05)
    assert np.array_equal(PW2[:, :dim + 1], W)


# --------------------------------------------------------------------------- the model
@pytest.fixture(scope="module")
def planted():
    return planted_corpus()


@pytest.fixture(scope="module")
def fitted(planted):
    return GloVe(dim=8, window=4, min_count=1, epochs=50, workers=1, seed=1, progress=False).fit(planted)


def test_loss_decreases(fitted):
    loss = np.array(fitted.loss_history_)
    assert len(loss) == 50 and np.all(np.isfinite(loss))
    assert loss[-1] < 0.3 * loss[0]
    assert np.all(np.diff(loss[:10]) < 0)


def test_planted_interchangeable_words_are_nearest_neighbours(fitted):
    emb = fitted.embeddings
    assert emb.dim == 8 and len(emb) == 30 + 8
    for k in range(4):
        assert emb.most_similar(f"syn{k}", k=1)[0][0] == f"alt{k}"
        assert emb.most_similar(f"alt{k}", k=1)[0][0] == f"syn{k}"


def test_embeddings_are_word_plus_context_with_counts(fitted, planted):
    emb = fitted.embeddings
    np.testing.assert_array_equal(emb.vectors, fitted.word_vectors + fitted.context_vectors)
    counts = dict(zip(emb.keys, emb.metadata["count"]))
    assert counts["syn0"] == sum(s.count("syn0") for s in planted)
    X = fitted.cooccurrence_
    assert isinstance(X, sp.csr_matrix) and X.shape == (38, 38) and abs(X - X.T).max() == 0


def test_determinism_with_one_worker(planted):
    def run():
        return GloVe(dim=8, window=3, min_count=1, epochs=3, workers=1, seed=7, progress=False).fit(planted)
    a, b = run(), run()
    assert np.array_equal(a.embeddings.vectors, b.embeddings.vectors)
    assert a.loss_history_ == b.loss_history_
    c = GloVe(dim=8, window=3, min_count=1, epochs=3, workers=1, seed=8, progress=False).fit(planted)
    assert not np.array_equal(a.embeddings.vectors, c.embeddings.vectors)
    d = GloVe(dim=8, window=3, min_count=1, epochs=3, workers=2, seed=7, progress=False).fit(planted)
    assert np.all(np.isfinite(d.embeddings.vectors))


def test_fit_on_a_given_matrix(fitted):
    words = list(fitted.words_)
    model = GloVe(dim=8, epochs=3, workers=1, progress=False).fit(fitted.cooccurrence_.tocoo(), words=words)
    assert model.embeddings.keys == words and "count" not in model.embeddings.metadata
    ints = GloVe(dim=8, epochs=1, workers=1, progress=False).fit(sp.csr_matrix(np.ones((3, 3))))
    assert ints.embeddings.keys == [0, 1, 2]


def test_save_load_round_trip_and_continue_training(tmp_path, planted):
    params = dict(dim=8, window=3, min_count=1, epochs=2, workers=1, seed=3, progress=False)
    model = GloVe(**params).fit(planted)
    path = tmp_path / "glove"
    model.save(path)
    meta = json.loads((path / "params.json").read_text())
    assert meta["format"] == "embedworks.glove" and meta["format_version"] == 1
    assert not list(path.glob("*.pkl"))
    loaded = GloVe.load(path)
    assert loaded.get_params() == model.get_params()
    assert loaded.words_ == model.words_ and loaded.loss_history_ == model.loss_history_
    np.testing.assert_array_equal(loaded.embeddings.vectors, model.embeddings.vectors)
    np.testing.assert_array_equal(loaded.counts_, model.counts_)
    assert abs(loaded.cooccurrence_ - model.cooccurrence_).max() == 0
    # training on after load gives exactly what training on in memory gives
    model.train(2)
    loaded.train(2)
    np.testing.assert_array_equal(loaded.embeddings.vectors, model.embeddings.vectors)
    assert loaded.loss_history_ == model.loss_history_ and len(model.loss_history_) == 4
    # overwriting an existing model directory works; without the matrix train() refuses
    model.save(path, cooccurrence=False)
    light = GloVe.load(path)
    assert light.cooccurrence_ is None
    np.testing.assert_array_equal(light.embeddings.vectors, model.embeddings.vectors)
    with pytest.raises(InvalidInputError):
        light.train(1)


def test_load_rejects_other_directories(tmp_path):
    with pytest.raises(FormatError):
        GloVe.load(tmp_path)
    (tmp_path / "params.json").write_text(json.dumps({"format": "embedworks.word2vec", "format_version": 1}))
    with pytest.raises(FormatError, match="not a GloVe model"):
        GloVe.load(tmp_path)
    (tmp_path / "params.json").write_text(json.dumps({"format": "embedworks.glove", "format_version": 99}))
    with pytest.raises(FormatError, match="newer"):
        GloVe.load(tmp_path)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, field", [({"dim": 0}, "dim"), ({"dim": -3}, "dim"), ({"dim": 2.5}, "dim"),
                                           ({"x_max": 0}, "x_max"), ({"x_max": -1.0}, "x_max"),
                                           ({"x_max": float("nan")}, "x_max"), ({"window": 0}, "window"),
                                           ({"learning_rate": 0}, "learning_rate"), ({"workers": 0}, "workers"),
                                           ({"min_count": 0}, "min_count"), ({"alpha": -1}, "alpha")])
def test_bad_hyperparameters(kwargs, field):
    with pytest.raises(InvalidInputError, match=field):
        GloVe(**kwargs)


def test_bad_corpora():
    model = GloVe(min_count=1, epochs=1, progress=False)
    with pytest.raises(InvalidInputError, match="empty"):
        model.fit([])
    with pytest.raises(InvalidInputError, match="empty"):
        model.fit([[], []])
    with pytest.raises(InvalidInputError, match="min_count"):
        GloVe(min_count=5, progress=False).fit([["a", "b"], ["c"]])
    with pytest.raises(InvalidInputError, match="no co-occurrences"):
        model.fit([["a"], ["b"], ["a"]])
    with pytest.raises(EmbedworksError):
        model.embeddings  # never fitted


def test_bad_matrices():
    model = GloVe(epochs=1, progress=False)
    with pytest.raises(InvalidInputError, match="square"):
        model.fit(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(InvalidInputError, match="negative"):
        model.fit(sp.csr_matrix(np.array([[0, -1.0], [1.0, 0]])))
    with pytest.raises(InvalidInputError, match="no co-occurrences"):
        model.fit(sp.csr_matrix((3, 3)))
    with pytest.raises(InvalidInputError, match="words"):
        model.fit(sp.csr_matrix(np.ones((2, 2))), words=["a"])
