"""Graph evaluation: label readers, F1 / k-known / AUC / modularity against hand-computed values,
node classification, link prediction's edge split, communities."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from embedworks.data.graph import Graph  # noqa: E402
from embedworks.errors import InvalidInputError, UnknownKeyError  # noqa: E402
from embedworks.evaluate import (  # noqa: E402
    NodeLabels, communities, link_prediction, link_prediction_auc, modularity,
    node_classification, read_labels,
)
from embedworks.evaluate.graph import (  # noqa: E402
    _pick_removals_py, f1_scores, roc_auc, sample_non_edges, split_edges, top_k_known,
)
from embedworks.space import Embeddings  # noqa: E402

DATA_DIR = Path(os.environ.get("EMBEDWORKS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def path_graph4() -> Graph:
    """0 - 1 - 2 - 3 (m = 3, degrees 1 2 2 1)."""
    return Graph.from_edges(np.array([0, 1, 2]), np.array([1, 2, 3]), nodes=["a", "b", "c", "d"])


def two_cliques(size: int = 6) -> Graph:
    src, dst = [], []
    for base in (0, size):
        for i in range(size):
            for j in range(i + 1, size):
                src.append(base + i)
                dst.append(base + j)
    src.append(0)
    dst.append(size)
    return Graph.from_edges(np.array(src), np.array(dst), nodes=list(range(100, 100 + 2 * size)))


# ----------------------------------------------------------------------------- metrics by hand
def test_modularity_by_hand():
    g = path_graph4()
    # {a,b} {c,d}: 2 * (2/6 - (3/6)^2) = 1/6
    assert modularity(g, [0, 0, 1, 1]) == pytest.approx(1 / 6)
    assert modularity(g, [0, 0, 0, 0]) == pytest.approx(0.0)
    assert modularity(g, [0, 1, 2, 3]) == pytest.approx(-(1 + 4 + 4 + 1) / 36)
    # the same from a SciPy matrix
    assert modularity(g.to_scipy(), [5, 5, 7, 7]) == pytest.approx(1 / 6)


def test_modularity_matches_dense_formula():
    g = two_cliques(4)
    a = g.to_scipy().toarray().astype(float)
    k = a.sum(1)
    two_m = a.sum()
    c = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    dense = ((a - np.outer(k, k) / two_m) * (c[:, None] == c[None, :])).sum() / two_m
    assert modularity(g, c) == pytest.approx(dense)


def test_f1_by_hand():
    y_true = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    y_pred = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    macro, micro = f1_scores(y_true, y_pred)
    assert macro == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert micro == pytest.approx(0.5)  # tp 2, fp 1, fn 3
    from sklearn.metrics import f1_score

    assert macro == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert micro == pytest.approx(f1_score(y_true, y_pred, average="micro", zero_division=0))


def test_k_known_protocol():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.4, 0.6, 0.1]])
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 1]])
    assert top_k_known(scores, y_true).tolist() == [[1, 0, 1], [0, 0, 1], [1, 1, 1]]
    # single-label: argmax
    assert top_k_known(scores, np.eye(3)[[0, 0, 0]]).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]


def test_roc_auc_by_hand():
    assert roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.5, 0.1]) == pytest.approx(3 / 4)
    assert roc_auc([1, 1, 0, 0], [0.5, 0.4, 0.5, 0.1]) == pytest.approx(2.5 / 4)
    with pytest.raises(InvalidInputError):
        roc_auc([1, 1], [0.1, 0.2])


def test_link_prediction_auc_dot_and_cosine():
    emb = Embeddings(["a", "b", "c", "d"], [[1, 0], [2, 0], [0, 1], [-1, 0]])
    assert link_prediction_auc(emb, [("a", "b")], [("a", "c"), ("a", "d")]) == 1.0
    assert link_prediction_auc(emb, [("a", "b")], [("a", "c")], score="cosine") == 1.0
    with pytest.raises(UnknownKeyError):
        link_prediction_auc(emb, [("a", "zz")], [("a", "c")])


# ----------------------------------------------------------------------------- label readers
def test_read_labels_pairs_multilabel(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("# node label\n1 x\n2 y z\n\n1 z  # trailing comment\n3\ty\n")
    labels = read_labels(path)
    assert labels.nodes == [1, 2, 3]
    assert labels.names == ["x", "y", "z"]
    assert labels.matrix.tolist() == [[1, 0, 1], [0, 1, 1], [0, 1, 0]]
    assert labels.multilabel


def test_read_labels_integer_labels_sorted_numerically(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("a\t10\nb\t2\nc\t02\n")
    labels = read_labels(path)
    assert labels.nodes == ["a", "b", "c"]
    assert labels.names == [2, 10]
    assert labels.matrix.tolist() == [[0, 1], [1, 0], [1, 0]]
    assert not labels.multilabel


def test_read_labels_cora_content_layout(tmp_path):
    path = tmp_path / "toy.content.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("35\t0\t1\t0\t1\tTheory\n")
        handle.write("40\t1\t1\t0\t0\tNeural_Networks\n")
        handle.write("7\t0\t0\t0\t0\tTheory\n")
    labels = read_labels(path)
    assert labels.nodes == [35, 40, 7]
    assert labels.names == ["Neural_Networks", "Theory"]
    assert labels.matrix.tolist() == [[0, 1], [1, 0], [0, 1]]


def test_read_labels_matrix_and_mat(tmp_path):
    import scipy.io
    import scipy.sparse as sp

    group = sp.csc_matrix(np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=float))
    labels = read_labels(group)
    assert labels.nodes == [0, 2]  # the row with no label is dropped
    assert labels.matrix.tolist() == [[1, 0, 1], [0, 1, 0]]
    assert read_labels(group, nodes=["p", "q", "r"]).nodes == ["p", "r"]
    scipy.io.savemat(tmp_path / "toy.mat", {"group": group, "network": sp.eye(3, format="csc")})
    from_mat = read_labels(tmp_path / "toy.mat")
    assert from_mat.nodes == [0, 2] and from_mat.matrix.tolist() == labels.matrix.tolist()
    with pytest.raises(InvalidInputError):
        read_labels(np.array([[0, 2]]))


def test_unknown_nodes_error_and_non_strict(tmp_path, caplog):
    path = tmp_path / "labels.txt"
    path.write_text("1 x\n2 y\n99 x\n98 y\n")
    with pytest.raises(UnknownKeyError, match=r"2 of 4 .*99.*98"):
        read_labels(path, nodes=[1, 2, 3])
    assert read_labels(path, nodes=[1, 2, 3], strict=False).nodes == [1, 2]
    emb = Embeddings([1, 2, 3, 4], np.eye(4))
    labels = read_labels(path)
    with pytest.raises(UnknownKeyError, match="99"):
        node_classification(emb, labels)
    result = node_classification(emb, labels, strict=False, repeats=1)
    assert result.n_missing == 2 and result.n_nodes == 2


# ----------------------------------------------------------------------------- node classification
def planted(n_per: int = 30, n_classes: int = 3, dim: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim)) * 5
    keys, vectors, lab = [], [], {}
    for c in range(n_classes):
        for i in range(n_per):
            key = f"n{c}_{i}"
            keys.append(key)
            vectors.append(centers[c] + rng.normal(size=dim))
            lab[key] = f"class{c}"
    return Embeddings(keys, np.array(vectors)), lab


def test_node_classification_separable_and_deterministic():
    emb, lab = planted()
    result = node_classification(emb, lab, train_ratio=0.5, repeats=3, seed=1)
    assert result.macro_f1 == pytest.approx(1.0) and result.micro_f1 == pytest.approx(1.0)
    assert not result.multilabel and result.n_labels == 3 and len(result.macro_f1_splits) == 3
    noisy = Embeddings(emb.keys, np.random.default_rng(0).normal(size=(len(emb), 8)))
    a = node_classification(noisy, lab, repeats=3, seed=5)
    b = node_classification(noisy, lab, repeats=3, seed=5)
    assert a.macro_f1_splits == b.macro_f1_splits
    assert a.micro_f1 < 0.8


def test_node_classification_multilabel_k_known():
    # label 0 ~ first coordinate positive, label 1 ~ second; some nodes have both
    rng = np.random.default_rng(3)
    n = 80
    y = np.zeros((n, 2), dtype=np.uint8)
    y[: n // 2, 0] = 1
    y[n // 4: 3 * n // 4, 1] = 1
    x = (y * 2.0 - 1.0) * 3 + rng.normal(size=(n, 2)) * 0.3
    emb = Embeddings(list(range(n)), x)
    result = node_classification(emb, NodeLabels(list(range(n)), y, ["a", "b"]), repeats=2)
    assert result.multilabel
    assert result.micro_f1 == pytest.approx(1.0) and result.macro_f1 == pytest.approx(1.0)


def test_node_classification_label_on_every_node():
    # label "all" is on every node (constant column) and "odd" on half: k-known still works
    n = 40
    y = np.zeros((n, 2), dtype=np.uint8)
    y[:, 0] = 1
    y[1::2, 1] = 1
    x = np.c_[y[:, 1] * 4.0 - 2.0, np.zeros(n)]
    result = node_classification(Embeddings(list(range(n)), x), NodeLabels(list(range(n)), y, ["all", "odd"]),
                                 repeats=2)
    assert result.micro_f1 == pytest.approx(1.0)


def test_missing_scikit_learn(monkeypatch):
    import sys

    from embedworks.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "sklearn", None)
    emb, lab = planted()
    with pytest.raises(MissingExtraError, match=r"embedworks\[viz\]"):
        node_classification(emb, lab)


def test_node_classification_bad_ratio():
    emb, lab = planted()
    with pytest.raises(InvalidInputError):
        node_classification(emb, lab, train_ratio=1.0)


# ----------------------------------------------------------------------------- link prediction
def ring_with_chords(n: int = 40) -> Graph:
    src = np.r_[np.arange(n), np.arange(n)]
    dst = np.r_[(np.arange(n) + 1) % n, (np.arange(n) + 5) % n]
    return Graph.from_edges(src, dst, nodes=[f"v{i}" for i in range(n)])


def test_split_edges_keeps_degrees_and_is_seeded():
    g = ring_with_chords()
    src, dst, _ = g.edges()
    removed, kept = split_edges(g, 0.5, seed=3)
    assert len(removed) + len(kept) == len(src) and len(np.intersect1d(removed, kept)) == 0
    residual_degree = np.bincount(src[kept], minlength=g.n_nodes) + np.bincount(dst[kept], minlength=g.n_nodes)
    assert residual_degree.min() >= 1
    assert len(removed) == 40  # 80 edges, degree 4 everywhere: half can go
    again, _ = split_edges(g, 0.5, seed=3)
    assert np.array_equal(removed, again)
    assert not np.array_equal(removed, split_edges(g, 0.5, seed=4)[0])
    # the compiled kernel and the Python reference agree
    degree = (np.bincount(src, minlength=g.n_nodes) + np.bincount(dst, minlength=g.n_nodes)).astype(np.int64)
    order = np.random.default_rng(3).permutation(len(src)).astype(np.int64)
    assert np.array_equal(np.sort(_pick_removals_py(src.astype(np.int64), dst.astype(np.int64),
                                                    degree, order, 40)), removed)


def test_split_edges_star_cannot_remove_leaves():
    g = Graph.from_edges(np.zeros(5, dtype=np.int64), np.arange(1, 6))
    removed, kept = split_edges(g, 0.5)
    assert len(removed) == 0 and len(kept) == 5


def test_sample_non_edges():
    g = ring_with_chords()
    pairs = sample_non_edges(g, 100, seed=0)
    assert pairs.shape == (100, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    a = g.to_scipy().toarray()
    assert (a[pairs[:, 0], pairs[:, 1]] == 0).all()
    canon = np.sort(pairs, axis=1)
    assert len(np.unique(canon, axis=0)) == 100
    assert np.array_equal(pairs, sample_non_edges(g, 100, seed=0))
    with pytest.raises(InvalidInputError):
        sample_non_edges(path_graph4(), 10)
    # isolated nodes are never drawn
    lonely = Graph.from_edges(np.array([0, 1, 2]), np.array([1, 2, 0]), nodes=["a", "b", "c", "d", "e"])
    pairs = sample_non_edges(Graph.from_edges(np.array([0, 1]), np.array([1, 2]), nodes=list("abcde")), 1)
    assert pairs.tolist() in ([[0, 2]], [[2, 0]])
    with pytest.raises(InvalidInputError):
        sample_non_edges(lonely, 1)


def adjacency_embed(residual: Graph) -> Embeddings:
    """Rows of (A + I) of the residual graph: common neighbours show up in the Hadamard product."""
    a = residual.to_scipy().toarray() + np.eye(residual.n_nodes)
    return Embeddings(list(residual.nodes), a @ a)


def planted_partition(blocks: int = 4, size: int = 15, p_in: float = 0.6, p_out: float = 0.02,
                      seed: int = 0) -> Graph:
    rng = np.random.default_rng(seed)
    n = blocks * size
    i, j = np.triu_indices(n, 1)
    same = i // size == j // size
    keep = rng.random(len(i)) < np.where(same, p_in, p_out)
    return Graph.from_edges(i[keep], j[keep], nodes=[f"v{k}" for k in range(n)])


def test_link_prediction_end_to_end():
    g = planted_partition()
    seen = {}

    def embed(residual):
        seen["edges"] = residual.n_edges
        seen["nodes"] = list(residual.nodes)
        return adjacency_embed(residual)

    result = link_prediction(g, embed, fraction=0.5, seed=0)
    assert seen["nodes"] == list(g.nodes)
    assert seen["edges"] == g.n_edges - result.n_removed
    assert result.n_negatives == result.n_removed == round(g.n_edges / 2)
    assert set(result.auc) == {"hadamard", "average", "l1", "l2"}
    assert all(0.0 <= v <= 1.0 for v in result.auc.values())
    assert result.auc["hadamard"] > 0.6
    again = link_prediction(g, adjacency_embed, fraction=0.5, seed=0)
    assert again.auc == result.auc and np.array_equal(again.removed, result.removed)
    with pytest.raises(InvalidInputError):
        link_prediction(g, adjacency_embed, operators=["dot"])


# ----------------------------------------------------------------------------- communities
def test_communities_planted():
    emb, lab = planted(n_per=20)
    result = communities(emb, lab, seed=0)
    assert result.n_clusters == 3 and result.nmi == pytest.approx(1.0) and result.ari == pytest.approx(1.0)
    assert np.isnan(result.modularity)
    with pytest.raises(InvalidInputError):
        communities(emb)


def test_communities_modularity_on_graph():
    g = two_cliques(6)
    emb = adjacency_embed(g)
    truth = {node: int(i >= 6) for i, node in enumerate(g.nodes)}
    result = communities(emb, truth, graph=g, seed=0)
    assert result.nmi == pytest.approx(1.0)
    assert result.modularity == pytest.approx(modularity(g, [0] * 6 + [1] * 6))
    assert result.modularity > 0.4


def test_communities_rejects_multilabel():
    emb = Embeddings([0, 1, 2], np.eye(3))
    with pytest.raises(InvalidInputError, match="multi-label"):
        communities(emb, NodeLabels([0, 1], np.array([[1, 1], [0, 1]], dtype=np.uint8), ["a", "b"]))


# ----------------------------------------------------------------------------- real data (slow)
def _spectral(graph: Graph, dim: int = 32) -> Embeddings:
    from scipy.sparse.linalg import svds

    u, s, _ = svds(graph.to_scipy().astype(np.float64), k=dim, random_state=0)
    return Embeddings(list(graph.nodes), u * np.sqrt(s))


@pytest.mark.slow
def test_cora_labels_and_classification():
    content = DATA_DIR / "cora" / "cora.content.gz"
    cites = DATA_DIR / "cora" / "cora.cites"
    if not content.exists() or not cites.exists():
        pytest.skip(f"Cora not found under {DATA_DIR}")
    labels = read_labels(content)
    assert len(labels.nodes) == 2708 and len(labels.names) == 7 and not labels.multilabel
    assert labels.matrix.sum(axis=0).tolist() == [298, 418, 818, 426, 217, 180, 351]
    graph = Graph.from_edgelist(cites)
    emb = _spectral(graph)
    result = node_classification(emb, labels, repeats=2)
    assert result.micro_f1 > 0.35  # majority class: 0.30
    lp = link_prediction(graph, _spectral, seed=0)
    assert lp.n_removed > 1000 and lp.auc["hadamard"] > 0.6


@pytest.mark.slow
def test_blogcatalog_group_labels():
    mat = DATA_DIR / "blogcatalog" / "blogcatalog.mat"
    if not mat.exists():
        pytest.skip(f"BlogCatalog not found under {DATA_DIR}")
    labels = read_labels(mat)
    assert labels.matrix.shape == (10312, 39) and labels.matrix.sum() == 14476 and labels.multilabel
    tsv = read_labels(DATA_DIR / "blogcatalog" / "BlogCatalog.tsv")
    assert len(tsv.nodes) == 10309 and len(tsv.names) == 38 and tsv.matrix.sum() == 14468
