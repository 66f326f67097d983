"""Graph: loading edge lists, .mat, SciPy and networkx; cleaning and bad input."""

import gzip
import logging

import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from embedworks.data import Graph
from embedworks.errors import FormatError, InvalidInputError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_tsv_weighted_cleaning(tmp_path, caplog):
    p = write(tmp_path / "g.tsv", "# comment\n1\t2\t1.5\n2\t3\t2\n3\t3\t1\n2\t1\t0.5\n\n10\t3\t1\n")
    with caplog.at_level(logging.INFO):
        g = Graph.from_edgelist(p)
    assert not g.directed and g.weighted
    assert g.nodes == [1, 2, 3, 10]
    assert g.n_nodes == 4 and g.n_edges == 3
    assert g.report == {"self_loops": 1, "duplicates": 1, "zero_weight": 0, "isolated": 0}
    assert "self loops" in caplog.text
    A = g.to_scipy().toarray()
    assert A[0, 1] == A[1, 0] == 2.0  # 1.5 + 0.5 merged
    assert (A == A.T).all()
    assert g.neighbors(2) == [1, 3]
    assert list(g.degree()) == [1, 2, 2, 1]
    assert np.allclose(g.degree(weighted=True), [2, 4, 3, 1])
    # rows sorted
    for v in range(g.n_nodes):
        row = g.indices[g.indptr[v]:g.indptr[v + 1]]
        assert (np.diff(row) > 0).all()


def test_csv_header_gz_directed_strings(tmp_path):
    p = tmp_path / "g.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("source,target\nb,a\na,c\nc,a\n")
    g = Graph.from_edgelist(p, directed=True)
    assert g.directed and not g.weighted
    assert g.nodes == ["a", "b", "c"]
    assert g.n_edges == 3
    src, dst, w = g.edges()
    assert sorted(zip(src.tolist(), dst.tolist())) == [(0, 2), (1, 0), (2, 0)]
    assert (w == 1).all()


def test_space_separated_weighted_false(tmp_path):
    p = write(tmp_path / "g.txt", "1 2 7\n2 3 8\n")
    g = Graph.from_edgelist(p, weighted=False)
    assert not g.weighted and g.n_edges == 2


def test_scipy_mat_isolated(tmp_path, caplog):
    A = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]], float))
    with caplog.at_level(logging.INFO):
        g = Graph.from_scipy(A)
    assert not g.directed and not g.weighted and g.n_edges == 2
    assert g.report["isolated"] == 1 and "isolated" in caplog.text
    scipy.io.savemat(tmp_path / "g.mat", {"network": sp.csc_matrix(A * 2)})
    g2 = Graph.from_mat(tmp_path / "g.mat")
    assert g2.weighted and g2.n_nodes == 4 and np.allclose(g2.weights, 2)
    with pytest.raises(FormatError, match="no variable 'net'"):
        Graph.from_mat(tmp_path / "g.mat", variable="net")
    d = Graph.from_scipy(sp.csr_matrix(np.array([[0, 1], [0, 0]])))
    assert d.directed and d.n_edges == 1


def test_from_edges_shares_nodes():
    g = Graph.from_pairs(["x", "y", "z"], ["y", "z", "x"], nodes=["x", "y", "z", "w"])
    src, dst, _ = g.edges()
    sub = Graph.from_edges(src[:2], dst[:2], None, g.nodes, g.directed, node_index=g.node_index)
    assert sub.nodes is g.nodes and sub.n_edges == 2 and sub.report["isolated"] == 1


def test_networkx():
    nx = pytest.importorskip("networkx")
    h = nx.Graph()
    h.add_edge("a", "b", weight=2.0)
    h.add_edge("b", "c")
    h.add_node("d")
    g = Graph.from_networkx(h)
    assert g.nodes == ["a", "b", "c", "d"] and g.weighted and g.report["isolated"] == 1


def test_bad_input(tmp_path):
    with pytest.raises(InvalidInputError, match="empty"):
        Graph.from_edgelist(write(tmp_path / "e.tsv", "# nothing\n\n"))
    with pytest.raises(InvalidInputError, match="no edges"):
        Graph.from_edgelist(write(tmp_path / "l.tsv", "1 1\n2 2\n"))
    with pytest.raises(FormatError, match=r"n\.tsv, line 3: edge weights must be finite and >= 0, got -2"):
        Graph.from_edgelist(write(tmp_path / "n.tsv", "1\t2\t1\n# c\n2\t3\t-2\n"))
    with pytest.raises(FormatError, match="line 2"):
        Graph.from_edgelist(write(tmp_path / "f.tsv", "1\t2\t1\n2\t3\tnan\n"))
    with pytest.raises(FormatError, match="line 2.*not a number"):
        Graph.from_edgelist(write(tmp_path / "x.tsv", "1\t2\t1\n2\t3\tabc\n"))
    with pytest.raises(InvalidInputError, match=r"mix types.*int \(e\.g\. 1\).*str \(e\.g\. 'a'\)"):
        Graph.from_pairs([1, "a"], [2, "b"])
    with pytest.raises(InvalidInputError, match="mix types"):
        Graph.from_scipy(sp.eye(2, k=1), nodes=[0, "b"])
    with pytest.raises(InvalidInputError, match="no edges"):
        Graph.from_scipy(sp.csr_matrix((3, 3)))
    with pytest.raises(InvalidInputError, match="finite"):
        Graph.from_edges([0], [1], [-1.0], [0, 1])


def test_edges_roundtrip():
    rng = np.random.default_rng(2)
    s, t, w = rng.integers(0, 15, 60), rng.integers(0, 15, 60), rng.random(60) + 0.1
    for directed in (False, True):
        g = Graph.from_edges(s, t, w, list(range(15)), directed=directed)
        h = Graph.from_edges(*g.edges(), g.nodes, directed)
        assert np.array_equal(g.indptr, h.indptr) and np.array_equal(g.indices, h.indices)
        assert np.allclose(g.weights, h.weights) and h.report["duplicates"] == 0
        A = np.zeros((15, 15))  # dense reference: self-loops dropped, duplicates summed
        for a, b, x in zip(s, t, w):
            if a != b:
                i, j = (a, b) if directed else (min(a, b), max(a, b))
                A[i, j] += x
        if not directed:
            A = A + A.T
        assert np.allclose(g.to_scipy().toarray(), A, atol=1e-5)
