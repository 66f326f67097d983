"""Random walks (first- and second-order) and the Node2Vec / DeepWalk trainers."""

import itertools

import numpy as np
import pytest

from embedworks.data import Graph
from embedworks.errors import InvalidInputError
from embedworks.learn import DeepWalk, Node2Vec, _walks
from embedworks.learn.graph import random_walks

# t = 0, v = 1; v's neighbours: 0 (= t), 2 (also a neighbour of t), 3 and 4 (not)
EDGES = [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 2.0), (1, 3, 1.0), (1, 4, 3.0), (3, 5, 1.0), (4, 5, 1.0)]


def small_graph(weighted):
    s, t, w = zip(*EDGES)
    return Graph.from_edges(np.array(s), np.array(t), np.array(w) if weighted else None,
                            list(range(6)), directed=False)


def triples(walks, t, v):
    """Counts of x over consecutive (t, v, x) in the walks."""
    tok, off = walks.tokens, walks.offsets
    counts = {}
    for a, b in itertools.pairwise(off):
        w = tok[a:b]
        hit = np.flatnonzero((w[:-2] == t) & (w[1:-1] == v)) + 2
        for x in w[hit].tolist():
            counts[x] = counts.get(x, 0) + 1
    return counts


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.25, 4.0), (4.0, 0.25)])
def test_second_order_transitions_match_formula(weighted, p, q):
    g = small_graph(weighted)
    walks = random_walks(g, num_walks=600, walk_length=30, p=p, q=q, seed=3, workers=2)
    counts = triples(walks, 0, 1)
    w = {0: 1.0, 2: 2.0, 3: 1.0, 4: 3.0} if weighted else {0: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}
    a = {0: 1 / p, 2: 1.0, 3: 1 / q, 4: 1 / q}
    xs = [0, 2, 3, 4]
    prob = np.array([w[x] * a[x] for x in xs])
    prob /= prob.sum()
    obs = np.array([counts.get(x, 0) for x in xs], float)
    assert set(counts) <= set(xs)
    n = obs.sum()
    assert n > 2000
    chi2 = ((obs - n * prob) ** 2 / (n * prob)).sum()
    assert chi2 < 16.3, (obs / n, prob)  # chi-square, 3 dof, p = 0.001


def test_weighted_star_first_order():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    g = Graph.from_edges(np.zeros(4, int), np.arange(1, 5), weights, list(range(5)))
    walks = random_walks(g, num_walks=4000, walk_length=2, seed=1)
    tok = walks.tokens.reshape(-1, 2)
    first = tok[tok[:, 0] == 0, 1]
    obs = np.bincount(first, minlength=5)[1:].astype(float)
    exp = weights / weights.sum() * len(first)
    assert ((obs - exp) ** 2 / exp).sum() < 16.3
    # DeepWalk-style walks are first-order even with a previous node: leaves always return to 0
    assert (tok[tok[:, 0] != 0, 1] == 0).all()


def test_row_cumsum_reference():
    g = small_graph(True)
    c = _walks.row_cumsum(g.indptr, g.weights)
    for v in range(g.n_nodes):
        s, e = g.indptr[v], g.indptr[v + 1]
        assert np.allclose(c[s:e], np.cumsum(g.weights[s:e]))


@pytest.mark.parametrize("p,q", [(1.0, 1.0), (0.5, 2.0)])
def test_walks_follow_edges_and_stop_at_dead_ends(p, q):
    rng = np.random.default_rng(0)
    s, t = rng.integers(0, 30, 80), rng.integers(0, 30, 80)
    g = Graph.from_edges(s, t, None, list(range(30)), directed=True)
    walks = random_walks(g, num_walks=3, walk_length=12, p=p, q=q, seed=5)
    A = g.to_scipy().toarray() > 0
    tok, off = walks.tokens, walks.offsets
    assert len(off) == 3 * 30 + 1
    outdeg = g.degree()
    for a, b in itertools.pairwise(off):
        w = tok[a:b]
        assert A[w[:-1], w[1:]].all()
        if b - a < 12:
            assert outdeg[w[-1]] == 0
    assert (np.diff(off) < 12).any() or (outdeg > 0).all()


def test_walks_deterministic_across_workers():
    g = small_graph(True)
    a = random_walks(g, 5, 20, p=0.5, q=2.0, seed=7, workers=1)
    b = random_walks(g, 5, 20, p=0.5, q=2.0, seed=7, workers=2)
    c = random_walks(g, 5, 20, p=0.5, q=2.0, seed=8, workers=2)
    assert np.array_equal(a.tokens, b.tokens) and np.array_equal(a.offsets, b.offsets)
    assert not np.array_equal(a.tokens, c.tokens)
    # a round range reproduces the matching slice of the full run
    r = random_walks(g, 5, 20, p=0.5, q=2.0, seed=7, rounds=(2, 4))
    assert np.array_equal(r.tokens, a.tokens[2 * 6 * 20:4 * 6 * 20])


def planted(n=20, p_in=0.5, cross=3, seed=0):
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for block in range(2):
        for i in range(n):
            for j in range(i + 1, n):
                if rng.random() < p_in:
                    src.append(block * n + i)
                    dst.append(block * n + j)
    for _ in range(cross):
        src.append(int(rng.integers(0, n)))
        dst.append(int(rng.integers(n, 2 * n)))
    nodes = [f"n{i}" for i in range(2 * n)]
    return Graph.from_edges(np.array(src), np.array(dst), None, nodes), n


@pytest.mark.parametrize("cls,kw", [(DeepWalk, {}), (Node2Vec, {"p": 0.5, "q": 2.0})])
def test_planted_communities(cls, kw):
    g, n = planted()
    model = cls(dim=16, walk_length=20, num_walks=10, window=5, workers=1, seed=1, epochs=2,
                progress=False, **kw).fit(g)
    emb = model.embeddings
    assert len(emb) == 2 * n
    right = 0
    for i, key in enumerate(g.nodes):
        near = [k for k, _ in emb.most_similar(key, k=5)]
        right += sum((int(k[1:]) < n) == (i < n) for k in near)
    assert right / (10 * n) > 0.9
    from embedworks.evaluate import communities

    blocks = {key: "a" if int(key[1:]) < n else "b" for key in g.nodes}
    assert communities(emb, blocks, graph=g, seed=0).nmi > 0.9


def test_save_load_and_isolated(tmp_path, caplog):
    g, n = planted(n=8)
    g = Graph.from_edges(*g.edges()[:2], None, g.nodes + ["lonely"], directed=False)
    model = Node2Vec(dim=8, walk_length=10, num_walks=2, window=3, p=2.0, q=0.5, workers=1,
                     keep_walks=True, progress=False).fit(g)
    assert "isolated" in caplog.text
    assert "lonely" not in model.embeddings and len(model.embeddings) == 2 * n
    assert model.walks_.n_tokens == model.walk_stats["tokens"]
    model.save(tmp_path / "m")
    back = Node2Vec.load(tmp_path / "m")
    assert back.get_params() == model.get_params()
    assert back.embeddings.keys == model.embeddings.keys
    assert np.array_equal(back.embeddings.vectors, model.embeddings.vectors)
    dw = DeepWalk(dim=8, walk_length=10, num_walks=2, window=3, workers=1, progress=False).fit(g)
    dw.save(tmp_path / "d")
    assert DeepWalk.load(tmp_path / "d").p == 1.0


def test_streaming_rounds_same_walks():
    g, n = planted(n=10)
    full = Node2Vec(dim=8, walk_length=10, num_walks=4, window=3, workers=1, progress=False).fit(g)
    stream = Node2Vec(dim=8, walk_length=10, num_walks=4, window=3, workers=1, progress=False,
                      max_walk_memory=2 * n * 10 * 4 * 2).fit(g)
    assert stream.walk_stats["streamed"] and stream.walk_stats["chunks"] == 2
    assert not full.walk_stats["streamed"]
    assert np.array_equal(full.vocab.counts, stream.vocab.counts)
    assert stream.training_stats["words"] == full.training_stats["words"]


def test_bad_parameters():
    g = small_graph(False)
    for kw in ({"p": 0}, {"q": -1.0}, {"p": float("nan")}, {"walk_length": 1}, {"num_walks": 0}):
        with pytest.raises(InvalidInputError):
            Node2Vec(**kw)
    with pytest.raises(InvalidInputError, match="expects a Graph"):
        Node2Vec().fit([[0, 1]])
    with pytest.raises(InvalidInputError):
        random_walks(g, p=0.0)


def test_fit_deterministic_with_one_worker():
    g, _ = planted(n=10)
    kw = {"dim": 8, "walk_length": 10, "num_walks": 3, "window": 3, "p": 0.5, "q": 2.0, "workers": 1,
          "seed": 4, "progress": False}
    a = Node2Vec(**kw).fit(g).embeddings.vectors
    b = Node2Vec(**kw).fit(g).embeddings.vectors
    c = Node2Vec(**{**kw, "seed": 5}).fit(g).embeddings.vectors
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("p,q", [(0.25, 4.0), (4.0, 0.25)])
def test_second_order_directed_without_return_edge(p, q):
    # 0 -> 1; from 1 (having come from 0): 2 is also a successor of 0, 3 and 4 are not, and 1 -> 0
    # does not exist, so the return bias never applies
    s = [0, 0, 1, 1, 1, 2, 3, 4]
    t = [1, 2, 2, 3, 4, 0, 0, 0]
    w = [1.0, 1.0, 2.0, 1.0, 3.0, 1.0, 1.0, 1.0]
    g = Graph.from_edges(np.array(s), np.array(t), np.array(w), list(range(5)), directed=True)
    counts = triples(random_walks(g, num_walks=400, walk_length=30, p=p, q=q, seed=11), 0, 1)
    xs = [2, 3, 4]
    prob = np.array([2.0, 1.0 / q, 3.0 / q])
    prob /= prob.sum()
    obs = np.array([counts.get(x, 0) for x in xs], float)
    n = obs.sum()
    assert set(counts) <= set(xs) and n > 2000
    assert ((obs - n * prob) ** 2 / (n * prob)).sum() < 13.8  # chi-square, 2 dof, p = 0.001


def test_graph_models_start_from_gensims_wider_init():
    """Node vectors start uniform in ±1/dim (gensim's, what PecanPy trains with), words in ±0.5/dim
    (word2vec.c's); the wider start scored BlogCatalog Macro-F1 0.2201 vs 0.2142 on the same walks."""
    from embedworks.learn import Word2Vec

    state = np.uint64(7)
    words = Word2Vec(dim=16)._initial_vectors(400, state)
    nodes = DeepWalk(dim=16)._initial_vectors(400, state)
    np.testing.assert_array_equal(nodes, 2 * words)
    assert np.abs(words).max() <= 0.5 / 16 and 0.9 / 16 < np.abs(nodes).max() <= 1 / 16


def test_subsampling_keeps_nodes_with_gensims_probability():
    """`sample` uses word2vec.c's / gensim's rule on the visit counts, with the total of all
    visits: keep = (sqrt(f / (sample · total)) + 1) · sample · total / f, capped at 1 (gensim's
    `sample_int / 2**32`; what PecanPy's gensim training applies with its default 1e-3)."""
    from embedworks.learn.vocab import Vocabulary

    keep = Vocabulary(range(3), [1000, 100, 10]).keep_probabilities(0.01)  # threshold 0.01 · 1110
    np.testing.assert_allclose(keep, [0.1164565375, 0.4441666250, 1.0], rtol=1e-6)
    g, n = planted(n=10)
    model = Node2Vec(dim=8, walk_length=10, num_walks=4, window=3, workers=1, sample=0.01,
                     progress=False).fit(g)
    f = model.vocab.counts.astype(np.float64)
    t = 0.01 * model.walk_stats["tokens"]
    assert model.vocab.total_words == model.walk_stats["tokens"] == 2 * n * 4 * 10
    np.testing.assert_allclose(model.vocab.keep_probabilities(model.sample),
                               np.minimum((np.sqrt(f / t) + 1) * t / f, 1.0), rtol=1e-6)
    assert model.training_stats["effective_words"] < model.training_stats["words"]


@pytest.mark.parametrize("sample", [0.0, 0.01])
def test_windows_never_cross_walk_boundaries(sample):
    """An isolated node's walk is itself alone, between other walks: were a window to reach across
    walk boundaries it would be some centre's context and its input vector would move."""
    g, _ = planted(n=8)
    g = Graph.from_edges(*g.edges()[:2], None, g.nodes + ["lonely"], directed=False)
    model = Node2Vec(dim=8, walk_length=12, num_walks=6, window=5, workers=1, seed=3, sample=sample,
                     keep_walks=True, progress=False).fit(g)
    lone = g.nodes.index("lonely")
    offsets = model.walks_.offsets
    lengths = np.diff(offsets)
    singles = np.flatnonzero(lengths == 1)
    assert len(singles) == 6 and singles.min() > 0 and singles.max() < len(lengths) - 1
    V = len(model.vocab)
    start = model._initial_vectors(V, model._seed_state(0, V))
    np.testing.assert_array_equal(model.syn0[lone], start[lone])
    assert not np.array_equal(model.syn0[0], start[0])


def test_graph_models_subsample_like_gensim_by_default():
    """sample="auto" = max(1e-3, 10 / n_nodes): gensim's 1e-3 (what node2vec's reference code and
    PecanPy train with; with sample=0 our BlogCatalog link-prediction AUC was 0.744 against 0.758,
    3 seeds, p = q = 1, PecanPy 0.758) from 10,000 nodes up; on small graphs only hubs are thinned."""
    from embedworks.learn.vocab import Vocabulary

    assert Node2Vec().sample == DeepWalk().sample == "auto"
    assert Node2Vec().effective_sample is None  # no graph seen yet
    big = Node2Vec()
    big.vocab = Vocabulary(range(20_000), np.ones(20_000, dtype=np.int64))
    assert big.effective_sample == 1e-3  # 10 / 20,000 = 5e-4 < 1e-3
    g, n = planted(n=10)
    model = Node2Vec(dim=8, walk_length=10, num_walks=4, window=3, workers=1, progress=False).fit(g)
    assert model.effective_sample == pytest.approx(10 / (2 * n))
    # the planted graph's nodes are all visited about as often: none is thinned
    assert model.training_stats["effective_words"] == model.training_stats["words"]
    assert Node2Vec(sample=0).effective_sample == 0.0
    assert Node2Vec(sample=0).get_params()["sample"] == 0
    with pytest.raises(InvalidInputError, match="auto"):
        Node2Vec(sample="often")


def test_auto_sample_still_trains_a_tiny_graph():
    """Regression: with a fixed 1e-3 every node of a 30-node graph was thinned to about a fifth of
    its visits and one epoch left the two planted communities unseparated (CLI test, micro-F1 0.41)."""
    g, _ = planted(n=15)
    fixed = Node2Vec(dim=16, walk_length=20, num_walks=10, window=5, workers=1, sample=1e-3,
                     progress=False).fit(g)
    assert fixed.training_stats["effective_words"] < 0.4 * fixed.training_stats["words"]
    auto = Node2Vec(dim=16, walk_length=20, num_walks=10, window=5, workers=1, progress=False).fit(g)
    assert auto.training_stats["effective_words"] == auto.training_stats["words"]
