"""LSA: TF-IDF + truncated SVD text vectors, checked against scikit-learn's own pipeline."""

import json
import logging

import numpy as np
import pytest

from embedworks import Embeddings
from embedworks.encode.lsa import LSA, is_lsa_dir
from embedworks.errors import FormatError, InvalidInputError

TOPICS = {
    "pets": ["cat", "dog", "kitten", "puppy", "fur", "vet", "leash", "purr", "paw", "collar"],
    "finance": ["stock", "market", "bond", "investor", "dividend", "shares", "trading", "price", "bank", "fund"],
    "space": ["planet", "orbit", "rocket", "nasa", "galaxy", "star", "telescope", "astronaut", "moon", "comet"],
}


def topic_corpus(per_topic=12, seed=0):
    """Documents of 8 words drawn from one topic plus two function words; returns (texts, topics)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for topic, words in TOPICS.items():
        for _ in range(per_topic):
            texts.append(" ".join(list(rng.choice(words, size=8)) + ["the", "and"]))
            labels.append(topic)
    return texts, labels


@pytest.fixture(scope="module")
def corpus():
    return topic_corpus()


@pytest.fixture(scope="module")
def fitted(corpus):
    return LSA(dim=4, min_df=2).fit(corpus[0])


def test_output_shape_dtype_unit_rows_and_transform_matches_fit_transform(corpus):
    texts, _ = corpus
    lsa = LSA(dim=4, min_df=2)
    vectors = lsa.fit_transform(texts)
    assert vectors.shape == (len(texts), 4) and vectors.dtype == np.float32 and lsa.dim == 4
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    assert np.array_equal(vectors, lsa.transform(texts))


def test_matches_scikit_learn_tfidf_vectorizer_and_truncated_svd(corpus):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts, _ = corpus
    lsa = LSA(dim=3, min_df=2, max_df=0.95, sublinear_tf=True, seed=7).fit(texts)
    vectorizer = TfidfVectorizer(min_df=2, max_df=0.95, sublinear_tf=True)
    X = vectorizer.fit_transform(texts)
    assert lsa.vocabulary == vectorizer.get_feature_names_out().tolist()
    np.testing.assert_allclose(lsa.idf, vectorizer.idf_, rtol=1e-12)
    reference = TruncatedSVD(3, algorithm="randomized", n_iter=5, random_state=7).fit(X)
    np.testing.assert_allclose(lsa.components, reference.components_, atol=1e-6)
    expected = reference.transform(vectorizer.transform(["cat dog market", "rocket orbit"]))
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(lsa.transform(["cat dog market", "rocket orbit"]), expected, atol=1e-5)


def test_max_df_drops_words_in_every_document(fitted):
    assert "the" not in fitted.vocabulary and "and" not in fitted.vocabulary
    assert "cat" in fitted.vocabulary


def test_documents_of_one_topic_are_nearest_to_each_other(corpus, fitted):
    texts, labels = corpus
    emb = fitted.encode(texts, keys=range(len(texts)))
    assert isinstance(emb, Embeddings) and emb.metric == "cosine" and emb.dim == 4
    for row in range(len(texts)):
        neighbours = [key for key, _ in emb.most_similar(row, k=5)]
        assert all(labels[n] == labels[row] for n in neighbours)
    query = fitted.encode(["a kitten with soft fur"])
    best = emb.most_similar(query[0], k=3)
    assert all(labels[key] == "pets" for key, _ in best)


def test_unknown_words_give_a_zero_vector(fitted):
    vectors = fitted.transform(["zebra xylophone", ""])
    assert vectors.shape == (2, 4) and not vectors.any()


def test_encode_batches_keys_and_errors(corpus, fitted):
    texts, _ = corpus
    assert np.array_equal(fitted.encode(texts, batch_size=5), fitted.transform(texts))
    assert fitted.encode([]).shape == (0, 4)
    assert np.array_equal(fitted.encode("cat dog"), fitted.transform(["cat dog"]))  # one str: one row
    with pytest.raises(InvalidInputError, match="2 keys for 3 texts"):
        fitted.encode(texts[:3], keys=["a", "b"])
    with pytest.raises(InvalidInputError, match="batch_size"):
        fitted.encode(texts, batch_size=0)


def test_same_seed_gives_identical_vectors(corpus):
    texts, _ = corpus
    a = LSA(dim=4, seed=3).fit_transform(texts)
    b = LSA(dim=4, seed=3).fit_transform(texts)
    assert np.array_equal(a, b)


def test_save_load_gives_identical_output_without_pickle(tmp_path, corpus, fitted):
    texts, _ = corpus
    path = fitted.save(tmp_path / "lsa")
    assert sorted(p.name for p in path.iterdir()) == ["components.npy", "idf.npy", "meta.json", "vocabulary.json"]
    meta = json.loads((path / "meta.json").read_text())
    assert meta["format"] == "embedworks-lsa" and meta["version"] == 1 and meta["dim"] == 4
    assert json.loads((path / "vocabulary.json").read_text()) == fitted.vocabulary
    for name in ("components.npy", "idf.npy"):
        np.load(path / name, allow_pickle=False)
    assert is_lsa_dir(path) and not is_lsa_dir(tmp_path)
    loaded = LSA.load(path)
    queries = texts + ["cat market rocket", "nothing known here"]
    assert np.array_equal(loaded.transform(queries), fitted.transform(queries))
    assert loaded.dim == 4 and loaded.sublinear_tf and loaded.min_df == 2
    fitted.save(path)  # replacing a saved model is allowed


def test_settings_survive_a_round_trip(tmp_path):
    texts = ["Café au lait", "cafe noir et lait", "Thé vert", "the noir", "CAFÉ crème", "thé au lait"]
    lsa = LSA(dim=2, min_df=1, max_df=1.0, sublinear_tf=False, ngram_range=(1, 2), lowercase=False,
              strip_accents="unicode", stop_words=["et"]).fit(texts)
    loaded = LSA.load(lsa.save(tmp_path / "m"))
    assert "au lait" in loaded.vocabulary and "et" not in loaded.vocabulary
    assert np.array_equal(loaded.transform(texts), lsa.transform(texts))


def test_bad_files(tmp_path, fitted):
    path = fitted.save(tmp_path / "lsa")
    meta = json.loads((path / "meta.json").read_text())
    (path / "meta.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(FormatError, match="version 99"):
        LSA.load(path)
    (path / "meta.json").write_text(json.dumps(meta))
    (path / "idf.npy").unlink()
    with pytest.raises(FormatError, match="missing idf.npy"):
        LSA.load(path)
    with pytest.raises(FormatError, match="no meta.json"):
        LSA.load(tmp_path / "nothing")
    unrelated = tmp_path / "photos"
    unrelated.mkdir()
    (unrelated / "cat.jpg").write_bytes(b"\xff")
    with pytest.raises(InvalidInputError, match="refusing to overwrite"):
        fitted.save(unrelated)
    assert (unrelated / "cat.jpg").exists()


def test_bad_input():
    with pytest.raises(InvalidInputError, match="empty corpus"):
        LSA().fit([])
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is int"):
        LSA().fit(["a text", 3])
    with pytest.raises(InvalidInputError, match="single str"):
        LSA().fit("one long string")
    with pytest.raises(InvalidInputError, match="not fitted"):
        LSA().transform(["a"])
    with pytest.raises(InvalidInputError, match="not fitted"):
        LSA().encode(["a"])
    with pytest.raises(InvalidInputError, match="not fitted"):
        LSA().save("never-written")
    with pytest.raises(InvalidInputError, match="no usable terms"):
        LSA(min_df=5).fit(["alpha beta", "gamma delta", "alpha gamma"])
    with pytest.raises(InvalidInputError, match="dim must be"):
        LSA(dim=0)
    with pytest.raises(InvalidInputError, match="workers must be"):
        LSA(workers=0)


def test_dim_is_clipped_to_what_the_corpus_allows(caplog):
    texts = ["red apple", "green apple", "red cherry", "green pear", "apple pear cherry"]
    with caplog.at_level(logging.WARNING, logger="embedworks.encode.lsa"):
        lsa = LSA(dim=256, min_df=1, workers=1).fit(texts)
    assert lsa.dim == 5  # five documents, six terms
    assert "clipped to 5" in caplog.text
    assert lsa.transform(["red pear"]).shape == (1, 5)
    assert lsa.fit(texts * 60 + [f"word{i} word{i + 1}" for i in range(300)]).dim == 256  # refit: as asked


def test_a_saved_model_is_remade_from_its_encoder_spec(tmp_path, corpus, fitted):
    from embedworks.encode.registry import from_spec, spec_of

    assert spec_of(LSA(dim=4)) is None  # nothing to remake an unsaved model from
    fitted.save(tmp_path / "lsa")
    spec = spec_of(fitted)
    assert spec == {"kind": "lsa", "path": str((tmp_path / "lsa").resolve())}
    texts = corpus[0]
    emb = fitted.encode(texts, keys=range(len(texts)))
    assert emb.encoder == spec
    np.testing.assert_array_equal(from_spec(spec).encode_array(texts), emb.vectors)


def test_an_unknown_encoder_kind_is_named():
    from embedworks.encode.registry import from_spec

    with pytest.raises(InvalidInputError, match="unknown encoder kind 'video'"):
        from_spec({"kind": "video"})
