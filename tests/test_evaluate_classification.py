"""knn_accuracy, linear_probe and stratified_split against hand-computed values on tiny inputs."""

import numpy as np
import pytest

from embedworks.errors import InvalidInputError
from embedworks.evaluate import KNNResult, knn_accuracy, linear_probe, stratified_split
from embedworks.space import Embeddings

# 1-D points: training rows 0-4, test rows 5-8
X1 = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [0.4], [1.6], [9.0], [1.4]])
Y1 = ["a", "a", "b", "b", "b", "a", "b", "a", "a"]
SPLIT1 = ([0, 1, 2, 3, 4], [5, 6, 7, 8])


def test_knn_hand_computed_with_ties_broken_by_nearest():
    result = knn_accuracy(X1, Y1, k=(1, 2, 3, 4), metric="euclidean", split=SPLIT1)
    # k=1: a b b a → right, right, wrong, right
    # k=2: 1.6 sees b (0.4) and a (0.6): a tie, the nearest (b) wins; 1.4 likewise goes to a
    # k=3: 1.6 → b a a = a (wrong); 1.4 → a b a = a; 9 → b b b
    # k=4: 1.6 → b a a b: tie, nearest b (right); 0.4 → a a b b: a; 1.4 → a b a b: a
    assert result.accuracy == {1: 0.75, 2: 0.75, 3: 0.5, 4: 0.75}
    assert (result.n_train, result.n_test, result.n_classes) == (5, 4, 2)
    assert isinstance(result, KNNResult)
    assert result.to_dict() == {"accuracy": {1: 0.75, 2: 0.75, 3: 0.5, 4: 0.75}, "n_train": 5,
                                "n_test": 4, "n_classes": 2, "metric": "euclidean"}
    assert "1-NN 0.7500" in str(result)


def test_knn_cosine_ignores_length_and_dot_does_not():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [9.0, 1.0], [1.0, 9.0], [0.2, 1.0]])
    y = ["x", "y", "x", "y", "x"]
    split = ([0, 1], [2, 3, 4])
    # cosine: (9,1)→x, (1,9)→y, (0.2,1)→y (wrong)
    assert knn_accuracy(X, y, k=1, metric="cosine", split=split).accuracy == {1: pytest.approx(2 / 3)}
    scaled = X * np.array([[1.0], [50.0], [3.0], [0.1], [7.0]])
    assert knn_accuracy(scaled, y, k=1, metric="cosine", split=split).accuracy == {1: pytest.approx(2 / 3)}
    # dot with a long y row: every test row picks row 1 (y) → only (1,9) right
    assert knn_accuracy(scaled, y, k=1, metric="dot", split=split).accuracy == {1: pytest.approx(1 / 3)}


def test_stratified_split_is_seeded_and_keeps_every_class():
    labels = ["a"] * 4 + ["b"] * 2 + ["c"]
    train, test = stratified_split(labels, 0.5, seed=3)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(7))
    assert sorted(labels[i] for i in test) == ["a", "a", "b"]
    assert sorted(labels[i] for i in train) == ["a", "a", "b", "c"]
    again = stratified_split(labels, 0.5, seed=3)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], test)
    with pytest.raises(InvalidInputError, match="test_fraction"):
        stratified_split(labels, 1.0)


def test_knn_default_split_on_separated_clusters_and_metadata_labels():
    rng = np.random.default_rng(0)
    centres = np.array([[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]])
    labels = [c for c in "pqr" for _ in range(10)]
    X = centres[np.repeat(np.arange(3), 10)] + rng.normal(size=(30, 3))
    emb = Embeddings([f"k{i}" for i in range(30)], X, metadata={"label": labels})
    by_column = knn_accuracy(emb, "label", k=(1, 5), seed=1)
    assert by_column.accuracy == {1: 1.0, 5: 1.0}
    assert (by_column.n_train, by_column.n_test, by_column.n_classes) == (15, 15, 3)
    assert knn_accuracy(X, labels, k=(1, 5), seed=1).to_dict() == by_column.to_dict()
    probe = linear_probe(emb, "label", seed=1)
    assert (probe.accuracy, probe.macro_f1, probe.n_train, probe.n_test) == (1.0, 1.0, 15, 15)


def test_linear_probe_hand_computed():
    X = np.array([[-5.0], [-6.0], [5.0], [6.0], [-4.0], [4.0], [3.0], [-3.0]])
    y = ["a", "a", "b", "b", "a", "b", "a", "b"]
    result = linear_probe(X, y, split=([0, 1, 2, 3], [4, 5, 6, 7]))
    # predictions a b b a against truth a b a b: accuracy 1/2; per class F1 = 1/2
    assert result.accuracy == 0.5
    assert result.macro_f1 == pytest.approx(0.5)
    assert (result.n_train, result.n_test, result.n_classes) == (4, 4, 2)


def test_errors_name_the_problem():
    emb = Embeddings(["a", "b"], np.eye(2), metadata={"label": ["x", "y"]})
    with pytest.raises(InvalidInputError, match="no metadata column 'genre'"):
        knn_accuracy(emb, "genre")
    with pytest.raises(InvalidInputError, match="3 vectors but 2 labels"):
        knn_accuracy(np.eye(3), ["x", "y"])
    with pytest.raises(InvalidInputError, match="k=10 is more than"):
        knn_accuracy(X1, Y1, k=10, split=SPLIT1)
    with pytest.raises(InvalidInputError, match="metric"):
        knn_accuracy(X1, Y1, metric="manhattan", split=SPLIT1)
    with pytest.raises(InvalidInputError, match="metadata column only"):
        linear_probe(np.eye(2), "label")


def test_module_name_does_not_break_evaluate_classification():
    import sys

    import embedworks.evaluate as evaluate

    assert sys.modules["embedworks.evaluate.classification"].knn_accuracy is knn_accuracy
    assert callable(evaluate.classification) and evaluate.classification.__name__ == "classification"
    result = evaluate.classification(X1[:5], Y1[:5], X1[5:], Y1[5:])
    assert result.n_train == 5 and result.n_test == 4
