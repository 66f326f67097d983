"""HNSW and IVF-PQ (FAISS) against the exact index: recall, removal, pre-filters, save/load."""

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from embedworks.errors import DimensionError, FormatError, InvalidInputError, UnknownKeyError  # noqa: E402
from embedworks.index import (AUTO_HNSW_FROM, ExactIndex, HNSWIndex, Index, IVFPQIndex,  # noqa: E402
                              load_index, make_index)

DIM = 16
# small IVF-PQ settings keep training fast: 64 codes per sub-quantiser, 8 two-dim sub-quantisers
IVF = {"nlist": 32, "m": 8, "nbits": 6, "nprobe": 8}
KINDS = [("hnsw", {"M": 16, "ef_construction": 64, "ef_search": 48}), ("ivfpq", IVF)]


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread():
    """FAISS's OpenMP threads spin when the cores are shared; one is faster and deterministic."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    """3,000 vectors around 30 random centres, and 50 held-out queries from the same centres."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(30, DIM)) * 3
    draw = lambda n: (centres[rng.integers(0, 30, n)] + rng.normal(size=(n, DIM))).astype(np.float32)  # noqa: E731
    return [f"v{i}" for i in range(3000)], draw(3000), draw(50)


def recall(found, truth) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist())]))


def built(kind, params, metric, keys, vectors):
    index = make_index(kind, DIM, metric, **params)
    index.add(keys, vectors)
    return index


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("kind,params", KINDS)
def test_recall_against_exact(data, kind, params, metric):
    keys, vectors, queries = data
    exact = ExactIndex(DIM, metric)
    exact.add(keys, vectors)
    truth, true_scores = exact.search(queries, 10)
    index = built(kind, params, metric, keys, vectors)
    assert isinstance(index, Index) and index.kind == kind and len(index) == 3000
    found, scores = index.search(queries, 10)
    assert recall(found, truth) >= 0.9
    # scores are the metric's own (cosine similarity, dot product, euclidean distance), best first
    np.testing.assert_allclose(scores[:, 0], true_scores[:, 0], rtol=0.05, atol=0.05)
    ordered = np.diff(scores, axis=1)
    assert (ordered >= -1e-5).all() if metric == "euclidean" else (ordered <= 1e-5).all()


@pytest.mark.parametrize("kind,params", KINDS)
def test_remove_really_removes_and_k_still_come_back(data, kind, params):
    keys, vectors, queries = data
    index = built(kind, params, "cosine", keys, vectors)
    nearest = set(index.search(queries, 10)[0].ravel())
    index.remove(sorted(nearest))
    found, scores = index.search(queries, 10)
    assert not nearest & set(found.ravel())
    assert (found != None).all() and np.isfinite(scores).all()  # noqa: E711
    assert len(index) == 3000 - len(nearest)
    with pytest.raises(UnknownKeyError, match="'nope'"):
        index.remove(["nope"])
    with pytest.raises(InvalidInputError, match="'x' is already in the index"):
        index.add(["x", "x"], vectors[:2])


def test_hnsw_compacts_once_tombstones_pass_the_ratio(data):
    keys, vectors, queries = data
    index = HNSWIndex(DIM, M=16, ef_construction=64, compact_ratio=0.2)
    index.add(keys, vectors)
    index.remove(keys[:500])
    assert index._size == 3000  # tombstones: 500 / 3000 is under the ratio
    index.remove(keys[500:700])
    assert index._size == 2300 == len(index)  # rebuilt without them
    exact = ExactIndex(DIM)
    exact.add(keys[700:], vectors[700:])
    assert recall(index.search(queries, 10)[0], exact.search(queries, 10)[0]) >= 0.9
    index.add(["again"], vectors[:1])
    assert index.search(vectors[0], 1)[0][0, 0] == "again"


@pytest.mark.parametrize("allowed_count", [12, 600])
@pytest.mark.parametrize("kind,params", KINDS + [("exact", {})])
def test_filter_returns_k_when_k_match(data, kind, params, allowed_count):
    keys, vectors, queries = data
    index = built(kind, params, "euclidean", keys, vectors)
    allowed = set(keys[5::5][:allowed_count])
    found, scores = index.search(queries, 10, filter=allowed | {"not-a-key"})
    assert (found != None).all() and set(found.ravel()) <= allowed  # noqa: E711
    exact = ExactIndex(DIM, "euclidean")
    exact.add(sorted(allowed), vectors[[keys.index(k) for k in sorted(allowed)]])
    assert recall(found, exact.search(queries, 10)[0]) >= (0.99 if allowed_count < 100 else 0.85)
    few = set(keys[:3])
    found, scores = index.search(queries[:2], 10, filter=few)
    assert [set(row[:3]) for row in found.tolist()] == [few, few] and (found[:, 3:] == None).all()  # noqa: E711
    assert np.isnan(scores[:, 3:]).all()
    assert (index.search(queries[:1], 5, filter=set())[0] == None).all()  # noqa: E711


@pytest.mark.parametrize("step", [2, 40])
def test_hnsw_filter_through_the_graph_tops_up_short_queries(data, monkeypatch, step):
    monkeypatch.setattr("embedworks.index.approx.EXACT_BELOW", 0)  # always search the graph with a bitmap
    keys, vectors, queries = data
    index = HNSWIndex(DIM, M=4, ef_construction=16, ef_search=10)
    index.add(keys, vectors)
    allowed = set(keys[::step])
    found, _ = index.search(queries, 50, filter=allowed)
    assert (found != None).all() and set(found.ravel()) <= allowed  # noqa: E711


@pytest.mark.parametrize("kind,params", KINDS)
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_save_load_gives_identical_results(tmp_path, data, kind, params, metric):
    keys, vectors, queries = data
    index = built(kind, params, metric, keys, vectors)
    index.remove(keys[:10])
    if kind == "hnsw":
        index.ef_search = 32
    else:
        index.nprobe = 12
    before = index.search(queries, 10)
    index.save(tmp_path / "index")
    loaded = load_index(tmp_path / "index")
    assert type(loaded) is type(index) and loaded.params == index.params and len(loaded) == 2990
    after = loaded.search(queries, 10)
    assert after[0].tolist() == before[0].tolist()
    np.testing.assert_array_equal(after[1], before[1])
    loaded.add(["new"], vectors[:1])
    assert loaded.search(vectors[0], 1)[0][0, 0] in {"new", "v0"}


def test_make_index_auto_and_errors():
    assert make_index("auto", DIM, count=10).kind == "exact"
    assert make_index("auto", DIM, count=AUTO_HNSW_FROM).kind == "hnsw"
    with pytest.raises(InvalidInputError, match="unknown index kind 'annoy'"):
        make_index("annoy", DIM)
    with pytest.raises(InvalidInputError, match="bad hnsw index parameters"):
        make_index("hnsw", DIM, efSearch=3)
    with pytest.raises(InvalidInputError, match="m=5 must divide dim=16"):
        make_index("ivfpq", DIM, m=5)
    with pytest.raises(InvalidInputError, match="needs at least 64"):
        IVFPQIndex(DIM, nbits=6).add(["a"], np.ones((1, DIM)))
    index = make_index("hnsw", DIM)
    with pytest.raises(DimensionError):
        index.add(["a"], np.ones((1, 3)))
    with pytest.raises(InvalidInputError, match="NaN"):
        index.add(["a"], np.full((1, DIM), np.nan))
    assert len(index) == 0
    keys, scores = index.search(np.ones(DIM), 3)
    assert keys.tolist() == [[None] * 3] and np.isnan(scores).all()


def test_load_refuses_a_damaged_index(tmp_path, data):
    keys, vectors, _ = data
    index = built("hnsw", {"M": 8}, "cosine", keys[:100], vectors[:100])
    index.save(tmp_path / "index")
    (tmp_path / "index" / "keys.jsonl").write_text('"a"\n')
    with pytest.raises(FormatError, match="1 ids, index.json says 100"):
        load_index(tmp_path / "index")
