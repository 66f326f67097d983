"""How well vectors separate labelled classes: k-nearest-neighbour accuracy and a linear probe.

Both take an `Embeddings` or an (n, dim) array and one label per row, or, for an `Embeddings`,
the name of one of its metadata columns (``"label"`` for an image folder). The rows are split
into training and test sets by `stratified_split` (seeded; every class with at least two rows
has at least one row on each side), unless `split` gives the two index arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError, MissingExtraError

METRICS = ("cosine", "dot", "euclidean")


@dataclass
class ClassificationResult:
    """Accuracy and macro-F1 on the test set of a logistic regression trained on the training vectors."""

    accuracy: float
    macro_f1: float
    n_train: int
    n_test: int
    n_classes: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def __str__(self) -> str:
        return (f"accuracy {self.accuracy:.4f}, macro-F1 {self.macro_f1:.4f} "
                f"({self.n_classes} classes, {self.n_train} train, {self.n_test} test)")


def _checked_xy(X, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(list(y) if not isinstance(y, np.ndarray) else y)
    if X.ndim != 2:
        raise InvalidInputError(f"{what} vectors must be a 2-D (n, dim) array, got shape {X.shape}")
    if len(X) != len(y):
        raise InvalidInputError(f"{len(X)} {what} vectors but {len(y)} {what} labels")
    if not len(X):
        raise InvalidInputError(f"no {what} vectors")
    if not np.isfinite(X).all():
        raise InvalidInputError(f"{what} vectors contain NaN or infinity")
    return X, y


def classification(train_X, train_y, test_X, test_y, seed: int = 0, *, C: float = 1.0,
                   max_iter: int = 1000) -> ClassificationResult:
    """Accuracy and macro-F1 (scikit-learn's, over the labels of test and predictions) of a
    ``LogisticRegression(C=C, max_iter=max_iter, random_state=seed)`` fitted on the training set."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import accuracy_score, f1_score
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError("scikit-learn", "text") from None
    train_X, train_y = _checked_xy(train_X, train_y, "training")
    test_X, test_y = _checked_xy(test_X, test_y, "test")
    if train_X.shape[1] != test_X.shape[1]:
        raise InvalidInputError(f"training vectors have {train_X.shape[1]} dims, test vectors {test_X.shape[1]}")
    classes = np.unique(train_y)
    if len(classes) < 2:
        raise InvalidInputError(f"the training labels hold {len(classes)} class; need at least 2")
    model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed).fit(train_X, train_y)
    predicted = model.predict(test_X)
    return ClassificationResult(float(accuracy_score(test_y, predicted)),
                                float(f1_score(test_y, predicted, average="macro", zero_division=0)),
                                len(train_X), len(test_X), len(classes))


def _vectors_and_labels(emb_or_X, labels) -> tuple[np.ndarray, np.ndarray]:
    from ..space import Embeddings

    if isinstance(emb_or_X, Embeddings):
        X = np.asarray(emb_or_X.vectors, dtype=np.float64)
        if isinstance(labels, str):
            if labels not in emb_or_X.metadata:
                raise InvalidInputError(f"no metadata column {labels!r} (the embeddings have "
                                        f"{sorted(emb_or_X.metadata) or 'none'})")
            labels = emb_or_X.metadata[labels]
    else:
        if isinstance(labels, str):
            raise InvalidInputError("labels may name a metadata column only for an Embeddings; "
                                    "give one label per row")
        X = np.asarray(emb_or_X, dtype=np.float64)
    if X.ndim != 2:
        raise InvalidInputError(f"vectors must be a 2-D (n, dim) array, got shape {X.shape}")
    labels = list(labels)
    if len(labels) != len(X):
        raise InvalidInputError(f"{len(X)} vectors but {len(labels)} labels")
    for i, label in enumerate(labels):
        if label is None:
            raise InvalidInputError(f"row {i} has no label (None)")
    if not np.isfinite(X).all():
        raise InvalidInputError("the vectors hold NaN or infinite values")
    y = np.empty(len(labels), dtype=object)
    y[:] = labels
    return X, y


def stratified_split(labels: Sequence, test_fraction: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices), both sorted. Per class (in sorted order of the labels) the
    rows are shuffled by ``numpy.random.default_rng(seed)`` and ``round(count * test_fraction)``
    of them, clipped to 1 … count − 1, go to the test set; a class with one row stays in training."""
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInputError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    y = np.asarray([str(v) if not isinstance(v, (int, np.integer)) else v for v in labels], dtype=object)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in sorted(set(y.tolist()), key=lambda v: (str(type(v)), v)):
        rows = np.flatnonzero(y == cls)
        rows = rows[rng.permutation(len(rows))]
        n_test = 0 if len(rows) < 2 else min(max(int(round(len(rows) * test_fraction)), 1), len(rows) - 1)
        test.extend(rows[:n_test].tolist())
        train.extend(rows[n_test:].tolist())
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(test), dtype=np.int64)


def _split(y, split, test_fraction, seed):
    if split is None:
        train, test = stratified_split(y, test_fraction, seed)
    else:
        train, test = (np.asarray(part, dtype=np.int64).reshape(-1) for part in split)
        for part in (train, test):
            if len(part) and (part.min() < 0 or part.max() >= len(y)):
                raise InvalidInputError(f"split indices must lie in 0 … {len(y) - 1}")
    if not len(train) or not len(test):
        raise InvalidInputError(f"the split leaves {len(train)} training and {len(test)} test rows; "
                                f"need at least one of each")
    return train, test


@dataclass
class KNNResult:
    """Accuracy of k-nearest-neighbour classification of the test rows, per k."""

    accuracy: dict
    n_train: int
    n_test: int
    n_classes: int
    metric: str

    def to_dict(self) -> dict:
        return {"accuracy": {int(k): float(v) for k, v in self.accuracy.items()}, "n_train": self.n_train,
                "n_test": self.n_test, "n_classes": self.n_classes, "metric": self.metric}

    def __str__(self) -> str:
        scores = ", ".join(f"{k}-NN {v:.4f}" for k, v in self.accuracy.items())
        return f"{scores} ({self.n_classes} classes, {self.n_train} train, {self.n_test} test, {self.metric})"


def knn_accuracy(emb_or_X, labels, k=(1, 10), test_fraction: float = 0.5, seed: int = 0,
                 metric: str = "cosine", split=None) -> KNNResult:
    """k-NN accuracy of the test rows against the training rows, for each k in `k`.

    Neighbours are ranked by `metric` (cosine or dot similarity, highest first; euclidean
    distance, lowest first; equal scores by row order). A test row gets the label most common
    among its k nearest training rows; a tie between labels goes to the one with the nearest
    neighbour. `split`: optional (train indices, test indices) instead of `stratified_split`.
    """
    if metric not in METRICS:
        raise InvalidInputError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    if not ks or any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1 for v in ks):
        raise InvalidInputError(f"k must be a positive int or a list of them, got {k!r}")
    X, y = _vectors_and_labels(emb_or_X, labels)
    train, test = _split(y, split, test_fraction, seed)
    if max(ks) > len(train):
        raise InvalidInputError(f"k={max(ks)} is more than the {len(train)} training rows")
    classes, codes = np.unique(np.asarray([repr(v) for v in y]), return_inverse=True)
    A, B = X[train], X[test]
    if metric == "cosine":
        A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)
        B = B / np.maximum(np.linalg.norm(B, axis=1, keepdims=True), 1e-12)
    kmax = max(ks)
    neighbours = np.empty((len(test), kmax), dtype=np.int64)
    for start in range(0, len(test), 1024):  # bounded memory: 1024 test rows at a time
        block = B[start:start + 1024]
        if metric == "euclidean":
            score = ((block ** 2).sum(1)[:, None] - 2 * block @ A.T + (A ** 2).sum(1)[None, :])
        else:
            score = -(block @ A.T)
        neighbours[start:start + len(block)] = np.argsort(score, axis=1, kind="stable")[:, :kmax]
    neighbour_codes = codes[train][neighbours]  # (n_test, kmax), nearest first
    truth = codes[test]
    n_classes = len(classes)
    accuracy = {}
    for kk in ks:
        votes = np.zeros((len(test), n_classes), dtype=np.int64)
        first = np.full((len(test), n_classes), kk, dtype=np.int64)  # rank of each class's nearest
        rows = np.arange(len(test))
        for rank in range(kk - 1, -1, -1):
            c = neighbour_codes[:, rank]
            votes[rows, c] += 1
            first[rows, c] = rank
        # most votes, then the smallest rank of a nearest neighbour (first < kk + 1)
        key = votes * (kk + 1) - first
        predicted = key.argmax(axis=1)
        accuracy[int(kk)] = float((predicted == truth).mean())
    return KNNResult(accuracy, len(train), len(test), int(len(np.unique(codes[train]))), metric)


def linear_probe(emb_or_X, labels, test_fraction: float = 0.5, seed: int = 0, split=None, *,
                 C: float = 1.0, max_iter: int = 1000) -> ClassificationResult:
    """Accuracy and macro-F1 on the test rows of a scikit-learn ``LogisticRegression(C=C,
    max_iter=max_iter, random_state=seed)`` fitted on the training rows (split as for
    `knn_accuracy`)."""
    X, y = _vectors_and_labels(emb_or_X, labels)
    train, test = _split(y, split, test_fraction, seed)
    y = np.asarray([repr(v) for v in y])
    return classification(X[train], y[train], X[test], y[test], seed, C=C, max_iter=max_iter)
