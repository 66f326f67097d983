"""Exact top-k kernel against a brute-force NumPy reference, including the chunked paths."""

import numpy as np
import pytest

from embedworks.errors import DimensionError, InvalidInputError
from embedworks.index import ExactIndex, Index, top_k


def reference_top_k(queries, matrix, k, metric):
    q, m = queries.astype(np.float64), matrix.astype(np.float64)
    if metric == "dot":
        scores = q @ m.T
    elif metric == "cosine":
        scores = (q @ m.T) / np.outer(np.linalg.norm(q, axis=1), np.linalg.norm(m, axis=1))
    else:
        scores = -np.sqrt(((q[:, None, :] - m[None, :, :]) ** 2).sum(-1))
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(scores, idx, axis=1)
    return idx, (-vals if metric == "euclidean" else vals)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(1000, 24)).astype(np.float32), rng.normal(size=(37, 24)).astype(np.float32)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("block_cells", [97, 5000, 32 * 1024 * 1024])
def test_top_k_matches_reference_at_every_chunk_size(data, metric, block_cells):
    matrix, queries = data
    idx, scores = top_k(queries, matrix, 15, metric, block_cells=block_cells)
    ref_idx, ref_scores = reference_top_k(queries, matrix, 15, metric)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_rows_and_exclude(data, metric):
    matrix, queries = data
    rows = np.arange(0, 1000, 7)
    exclude = [np.array([rows[i % len(rows)], rows[(i * 3) % len(rows)]]) for i in range(len(queries))]
    idx, _ = top_k(queries, matrix, 5, metric, rows=rows, exclude=exclude, block_cells=300)
    for i in range(len(queries)):
        scores = reference_top_k(queries[i:i + 1], matrix, 1000, metric)[0][0]
        allowed = [r for r in scores if r in set(rows) and r not in set(exclude[i])]
        assert list(idx[i]) == allowed[:5]


def test_fewer_candidates_than_k_pads_with_minus_one():
    matrix = np.eye(3, dtype=np.float32)
    idx, scores = top_k(np.ones(3), matrix, 5, "dot", exclude=[np.array([1])])
    assert list(idx[0][:2]) == [0, 2] and list(idx[0][2:]) == [-1, -1, -1]
    assert np.isnan(scores[0][2:]).all()


def test_zero_vectors_score_zero_under_cosine():
    matrix = np.array([[0, 0], [1, 0]], dtype=np.float32)
    idx, scores = top_k(np.array([1, 0]), matrix, 2, "cosine")
    assert list(idx[0]) == [1, 0] and scores[0][1] == 0


def test_memmap_database_is_not_copied(tmp_path, data):
    matrix, queries = data
    np.save(tmp_path / "m.npy", matrix)
    mapped = np.load(tmp_path / "m.npy", mmap_mode="r")
    idx, _ = top_k(queries, mapped, 3, "cosine", block_cells=2000)
    np.testing.assert_array_equal(idx, reference_top_k(queries, matrix, 3, "cosine")[0])


def test_bad_queries():
    matrix = np.eye(4, dtype=np.float32)
    with pytest.raises(DimensionError, match=r"expected \(n, 4\)"):
        top_k(np.ones(3), matrix, 1)
    with pytest.raises(InvalidInputError, match="NaN"):
        top_k(np.array([np.nan, 0, 0, 0]), matrix, 1)
    with pytest.raises(InvalidInputError, match="k must be"):
        top_k(np.ones(4), matrix, 0)


def test_exact_index_protocol_and_round_trip(tmp_path, data):
    matrix, queries = data
    index = ExactIndex(24, metric="euclidean")
    assert isinstance(index, Index)
    index.add([f"v{i}" for i in range(500)], matrix[:500])
    index.add([f"v{i}" for i in range(500, 1000)], matrix[500:])
    keys, scores = index.search(queries[:4], k=3)
    ref_idx, ref_scores = reference_top_k(queries[:4], matrix, 3, "euclidean")
    assert keys.tolist() == [[f"v{i}" for i in row] for row in ref_idx]
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-4)
    with pytest.raises(InvalidInputError, match="'v3' is already"):
        index.add(["new", "v3"], matrix[:2])
    assert len(index) == 1000
    index.save(tmp_path / "index.emb")
    loaded = ExactIndex.load(tmp_path / "index.emb")
    assert loaded.metric == "euclidean" and len(loaded) == 1000
    assert loaded.search(queries[:4], k=3)[0].tolist() == keys.tolist()


def test_exact_index_pads_missing_keys_with_none():
    index = ExactIndex(2, metric="dot")
    index.add(["a"], [[1, 0]])
    keys, scores = index.search([1, 0], k=2)
    assert keys.tolist() == [["a", None]] and np.isnan(scores[0, 1])
