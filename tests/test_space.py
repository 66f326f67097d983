"""Embeddings: container behaviour, search against a brute-force reference, analogy, set operations."""

import numpy as np
import pytest

from embedworks import DimensionError, Embeddings, InvalidInputError, UnknownKeyError


def brute_force(matrix, query, metric):
    """Scores of every row, higher-is-better order, straight from the definitions."""
    if metric == "dot":
        return matrix @ query
    if metric == "cosine":
        return (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    return -np.sqrt(((matrix - query) ** 2).sum(axis=1))


@pytest.fixture
def random_emb():
    rng = np.random.default_rng(7)
    keys = [f"w{i}" for i in range(300)]
    return Embeddings(keys, rng.normal(size=(300, 16)), metadata={"group": [i % 3 for i in range(300)]})


def test_container_protocol(random_emb):
    emb = random_emb
    assert len(emb) == 300 and emb.dim == 16
    assert "w5" in emb and "nope" not in emb and 3.5 not in emb
    assert emb.index_of("w5") == 5
    np.testing.assert_array_equal(emb["w5"], emb.vectors[5])
    assert emb[["w1", "w2"]].shape == (2, 16)
    assert emb.keys[:2] == ["w0", "w1"] and list(emb)[:2] == ["w0", "w1"]
    assert emb.vectors.dtype == np.float32
    diff = emb["w1"] - emb["w2"] + emb["w3"]
    np.testing.assert_allclose(diff, emb.vectors[1] - emb.vectors[2] + emb.vectors[3])


def test_unknown_key_names_key_and_close_matches():
    emb = Embeddings(["paris", "london", "berlin"], np.eye(3))
    with pytest.raises(UnknownKeyError, match="unknown key 'pariss'.*'paris'") as info:
        emb["pariss"]
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownKeyError):
        emb.most_similar("tokyo")


def test_int_keys_including_numpy_ints():
    emb = Embeddings(np.arange(4), np.eye(4))
    assert emb.keys == [0, 1, 2, 3] and all(type(k) is int for k in emb.keys)
    assert np.int64(2) in emb
    assert emb.most_similar(np.int32(0), k=1)[0][0] != 0


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_most_similar_matches_brute_force(random_emb, metric):
    emb = random_emb
    query = np.random.default_rng(1).normal(size=16).astype(np.float32)
    ref = brute_force(emb.vectors.astype(np.float64), query.astype(np.float64), metric)
    expected = np.argsort(-ref, kind="stable")[:10]
    got = emb.most_similar(query, k=10, metric=metric)
    assert [k for k, _ in got] == [emb.keys[i] for i in expected]
    want_scores = ref[expected] if metric != "euclidean" else -ref[expected]
    np.testing.assert_allclose([s for _, s in got], want_scores, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_batch_query_by_keys_excludes_each_query(random_emb, metric):
    emb = random_emb
    results = emb.most_similar(["w0", "w1"], k=5, metric=metric)
    assert len(results) == 2
    for key, result in zip(["w0", "w1"], results):
        assert key not in [k for k, _ in result]
        ref = brute_force(emb.vectors.astype(np.float64), emb.vectors[emb.index_of(key)].astype(np.float64), metric)
        ref[emb.index_of(key)] = -np.inf
        assert [k for k, _ in result] == [emb.keys[i] for i in np.argsort(-ref, kind="stable")[:5]]


def test_exclude_and_restrict(random_emb):
    emb = random_emb
    full = emb.most_similar("w0", k=3)
    banned = full[0][0]
    assert banned not in [k for k, _ in emb.most_similar("w0", k=3, exclude=[banned])]
    first_50 = emb.most_similar("w0", k=5, restrict=50)
    assert all(emb.index_of(k) < 50 for k, _ in first_50)
    chosen = ["w10", "w20", "w30"]
    assert sorted(k for k, _ in emb.most_similar("w0", k=10, restrict=chosen)) == chosen


def test_k_larger_than_candidates_returns_what_exists():
    emb = Embeddings(["a", "b", "c"], [[1, 0], [0, 1], [1, 1]])
    assert [k for k, _ in emb.most_similar("a", k=10)] == ["c", "b"]


def test_similarity_per_metric():
    emb = Embeddings(["a", "b"], [[3, 4], [4, 3]])
    assert emb.similarity("a", "b") == pytest.approx(24 / 25)
    assert emb.similarity("a", "b", metric="dot") == pytest.approx(24)
    assert emb.similarity("a", np.array([3, 4]), metric="euclidean") == pytest.approx(0)


def planted_analogy():
    """king - man + woman = queen by construction; 'apple' is the odd one out."""
    vectors = {
        "man": [1, 0, 0, 0], "woman": [1, 1, 0, 0], "king": [1, 0, 1, 0], "queen": [1, 1, 1, 0],
        "prince": [0.8, 0, 0.9, 0.2], "apple": [0, 0, 0, 1],
    }
    return Embeddings(list(vectors), list(vectors.values()))


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_finds_planted_answer(method):
    emb = planted_analogy()
    answer = emb.analogy(positive=["king", "woman"], negative=["man"], k=2, method=method)
    assert answer[0][0] == "queen"
    assert {"king", "woman", "man"}.isdisjoint(k for k, _ in answer)


def test_analogy_3cosadd_score_is_cosine_to_offset():
    emb = planted_analogy()
    unit = emb.normalized()
    target = unit["king"] + unit["woman"] - unit["man"]
    expected = float(unit["queen"] @ target / np.linalg.norm(target))
    assert emb.analogy(["king", "woman"], ["man"])[0][1] == pytest.approx(expected, rel=1e-5)


def test_doesnt_match():
    assert planted_analogy().doesnt_match(["man", "woman", "king", "apple"]) == "apple"


def test_normalized_subset_add_concat(random_emb):
    emb = random_emb
    unit = emb.normalized()
    np.testing.assert_allclose(np.linalg.norm(unit.vectors, axis=1), 1, rtol=1e-5)
    sub = emb.subset(["w9", "w3"])
    assert sub.keys == ["w9", "w3"] and sub.metadata["group"] == [0, 0]
    np.testing.assert_array_equal(sub["w3"], emb["w3"])
    other = Embeddings(["x", "y"], np.ones((2, 16)), metadata={"lang": ["en", "fr"]})
    joined = emb.concat(other)
    assert len(joined) == 302 and joined.metadata["lang"][-2:] == ["en", "fr"]
    assert joined.metadata["group"][-1] is None and joined.metadata["lang"][0] is None
    before = emb.most_similar("w0", k=1)
    emb.add(["z"], np.ones(16) * 100)
    assert len(emb) == 301 and "z" in emb
    assert emb.most_similar(np.ones(16), k=1, metric="dot")[0][0] == "z"
    assert emb.most_similar("w0", k=1) == before or emb.most_similar("w0", k=1)[0][0] == "z"


def test_bad_input_leaves_embeddings_untouched(random_emb):
    emb = random_emb
    with pytest.raises(InvalidInputError, match="'w1'"):
        emb.add(["new", "w1"], np.zeros((2, 16)))
    with pytest.raises(DimensionError):
        emb.add(["new"], np.zeros((1, 15)))
    assert len(emb) == 300 and "new" not in emb
    with pytest.raises(InvalidInputError, match="duplicate key 'a'"):
        Embeddings(["a", "a"], np.zeros((2, 2)))
    with pytest.raises(DimensionError, match="2 keys but 3 vectors"):
        Embeddings(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(InvalidInputError, match="NaN"):
        emb.most_similar(np.full(16, np.nan))
    with pytest.raises(DimensionError):
        emb.most_similar(np.zeros(3))
    with pytest.raises(InvalidInputError, match="metric"):
        emb.most_similar("w0", metric="manhattan")


def test_stored_key_crosses_str_and_int_only_when_needed():
    from embedworks.space import stored_key

    assert stored_key("42", {42}) == 42 and stored_key(42, {"42"}) == "42"
    assert stored_key("42", {"42", 42}) == "42" and stored_key(True, {"True", 1}) is True
    assert stored_key("x", {1}) == "x" and stored_key("99999999999999999999", {1}) == "99999999999999999999"
