"""Graph embedding evaluation: node classification, link prediction, community detection.

* `read_labels(path_or_matrix, nodes=None)` → `NodeLabels(nodes, matrix, names)`: node labels
  from a ``node label [label …]`` text file (several lines or several labels per line give
  multi-label nodes), a Cora-style ``cora.content`` table (id, features …, label in the last
  column), a ``.mat`` file (variable ``group``, as DeepWalk's ``blogcatalog.mat``) or a SciPy /
  NumPy 0/1 matrix (rows = nodes, columns = labels).
* `node_classification(emb, labels, train_ratio=0.5, repeats=5, seed=0)`: one-vs-rest logistic
  regression (liblinear) over repeated seeded splits; Macro- and Micro-F1. Predictions follow
  DeepWalk's ``scoring.py`` ("k known"): each test node gets its true number of labels k, and the
  k labels with the highest scores are predicted (for single-label data that is the argmax).
* `link_prediction(graph, embed, fraction=0.5, …)`: node2vec §4.4. A seeded fraction of the edges
  is removed (an edge is removed only while both endpoints keep degree ≥ 1 — a cheap,
  documented approximation of "keep the residual graph connected"), as many non-edges are
  sampled, ``embed(residual_graph)`` learns embeddings, edge features are built with the
  Hadamard / average / L1 / L2 operators and a logistic regression is fitted on a seeded split of
  (removed edges + non-edges); ROC-AUC per operator on the other part.
* `link_prediction_auc(emb, pos_pairs, neg_pairs, score="dot")`: a quick ROC-AUC of dot or cosine
  scores, no training.
* `communities(emb, labels=None, n_clusters=None, graph=None, seed=0)`: k-means on the
  (L2-normalised) embeddings; NMI and ARI against single labels, and the modularity of the
  clustering on `graph`; `modularity(graph, communities)` on its own.

scikit-learn (the ``viz`` extra) is imported lazily by the functions that need it.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import FormatError, InvalidInputError, MissingExtraError, UnknownKeyError

logger = logging.getLogger(__name__)

__all__ = ["read_labels", "node_classification", "link_prediction", "link_prediction_auc",
           "communities", "modularity", "roc_auc", "f1_scores", "NodeLabels",
           "NodeClassificationResult", "LinkPredictionResult", "CommunityResult", "EDGE_OPERATORS"]


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError("scikit-learn", "viz") from None
    return sklearn


# --------------------------------------------------------------------------------- labels
class NodeLabels(NamedTuple):
    """Node ids, an (n_nodes, n_labels) 0/1 indicator matrix (uint8) and the label names."""

    nodes: list
    matrix: np.ndarray
    names: list

    @property
    def multilabel(self) -> bool:
        return bool(len(self.matrix) and (self.matrix.sum(axis=1) != 1).any())


class UnknownNodesError(UnknownKeyError):
    """Labels (or pairs) naming nodes that the embeddings or graph do not hold."""

    def __init__(self, missing: Sequence, total: int, what: str = "node"):
        self.missing = list(missing)
        shown = ", ".join(map(repr, self.missing[:10]))
        more = f" and {len(self.missing) - 10} more" if len(self.missing) > 10 else ""
        message = (f"{len(self.missing)} of {total} labelled {what}s are not in the embeddings: "
                   f"{shown}{more} (pass strict=False to drop them)")
        self.key = self.missing[0] if self.missing else None
        self.suggestions = []
        Exception.__init__(self, message)


def _id(token: str):
    try:
        return int(token)
    except ValueError:
        return token


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _is_binary_features(fields: list[str]) -> bool:
    try:
        return all(float(f) in (0.0, 1.0) for f in fields)
    except ValueError:
        return False


def read_labels(path_or_matrix, nodes: Sequence | None = None, *, layout: str = "auto",
                variable: str = "group", strict: bool = True) -> NodeLabels:
    """Node labels → `NodeLabels(nodes, matrix, names)`.

    `path_or_matrix` is one of:

    * a text file (plain or .gz), ``#`` comments and blank lines skipped, whitespace-separated:
      ``layout="pairs"``: ``node label [label …]`` — a node on several lines or with several
      labels is multi-label; ``layout="content"``: Cora's ``cora.content`` (``node f_1 … f_d
      label``, the label is the last column, the feature columns are ignored). ``"auto"`` picks
      "content" when the first data line has more than three fields whose middle ones are all
      0/1 numbers, else "pairs";
    * a ``.mat`` file: the sparse matrix `variable` (``group`` in DeepWalk's BlogCatalog);
    * a SciPy sparse or NumPy 0/1 matrix, rows = nodes, columns = labels; rows with no label
      are dropped.

    Node ids that all parse as integers become ints (as graph readers key nodes), else strings.
    For matrices, `nodes` names the rows (default 0 … n-1); for files, `nodes` (when given) is
    the set of known nodes: labels naming others raise `UnknownNodesError` (an `UnknownKeyError`)
    listing them, or are dropped with a warning when ``strict=False``. Label names are sorted.
    """
    if isinstance(path_or_matrix, (str, Path)):
        path = Path(path_or_matrix)
        if not path.exists():
            raise FileNotFoundError(f"labels file not found: {path}")
        if path.suffix == ".mat":
            from scipy.io import loadmat

            data = loadmat(str(path))
            if variable not in data:
                names = [k for k in data if not k.startswith("__")]
                raise FormatError(f"no variable {variable!r} (has {names})", path)
            return _from_matrix(data[variable], nodes)
        return _from_file(path, nodes, layout, strict)
    return _from_matrix(path_or_matrix, nodes)


def _from_matrix(matrix, nodes) -> NodeLabels:
    import scipy.sparse as sp

    dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    if dense.ndim != 2:
        raise InvalidInputError(f"a label matrix must be 2-D, got shape {dense.shape}")
    if not np.isin(dense, (0, 1)).all():
        raise InvalidInputError("a label matrix must hold only 0 and 1")
    node_ids = list(range(dense.shape[0])) if nodes is None else list(nodes)
    if len(node_ids) != dense.shape[0]:
        raise InvalidInputError(f"{len(node_ids)} node ids for a label matrix of {dense.shape[0]} rows")
    keep = dense.sum(axis=1) > 0
    return NodeLabels([n for n, k in zip(node_ids, keep) if k], dense[keep].astype(np.uint8),
                      list(range(dense.shape[1])))


def _from_file(path: Path, nodes, layout: str, strict: bool) -> NodeLabels:
    if layout not in ("auto", "pairs", "content"):
        raise InvalidInputError(f"layout must be 'auto', 'pairs' or 'content', got {layout!r}")
    pairs: list[tuple[str, str]] = []
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) < 2:
                raise FormatError(f"expected 'node label', got {line[:60]!r}", path, number)
            if layout == "auto":
                layout = "content" if len(fields) > 3 and _is_binary_features(fields[1:-1]) else "pairs"
            if layout == "content":
                pairs.append((fields[0], fields[-1]))
            else:
                pairs.extend((fields[0], label) for label in fields[1:])
    if not pairs:
        raise InvalidInputError(f"{path}: no labels")
    node_tokens = list(dict.fromkeys(p[0] for p in pairs))
    label_tokens = sorted(set(p[1] for p in pairs))
    as_int = all(_id(t).__class__ is int for t in node_tokens)
    node_of = {t: (int(t) if as_int else t) for t in node_tokens}
    labels_int = all(_id(t).__class__ is int for t in label_tokens)
    names = sorted({int(t) for t in label_tokens}) if labels_int else label_tokens
    column = {(str(n) if labels_int else n): j for j, n in enumerate(names)}
    if labels_int:  # "01" and "1" are the same label
        column = {t: column[str(int(t))] for t in label_tokens}
    row = {t: i for i, t in enumerate(node_tokens)}
    matrix = np.zeros((len(node_tokens), len(names)), dtype=np.uint8)
    matrix[[row[a] for a, _ in pairs], [column[b] for _, b in pairs]] = 1
    labels = NodeLabels([node_of[t] for t in node_tokens], matrix, names)
    if nodes is not None:
        labels = _restrict(labels, set(nodes), strict)[0]
    return labels


def _restrict(labels: NodeLabels, known, strict: bool) -> tuple[NodeLabels, int]:
    keep = [n in known for n in labels.nodes]
    if all(keep):
        return labels, 0
    missing = [n for n, k in zip(labels.nodes, keep) if not k]
    if strict:
        raise UnknownNodesError(missing, len(labels.nodes))
    logger.warning("%d of %d labelled nodes are unknown and dropped (first: %r)",
                   len(missing), len(labels.nodes), missing[:5])
    keep = np.asarray(keep)
    return NodeLabels([n for n, k in zip(labels.nodes, keep) if k], labels.matrix[keep],
                      labels.names), len(missing)


def _as_labels(labels) -> NodeLabels:
    if isinstance(labels, NodeLabels):
        return labels
    if isinstance(labels, tuple) and len(labels) == 3:
        nodes, matrix, names = labels
        return NodeLabels(list(nodes), np.asarray(matrix, dtype=np.uint8), list(names))
    if isinstance(labels, dict):  # {node: label or [labels]}
        lines = []
        for node, value in labels.items():
            values = [value] if isinstance(value, (str, int, np.integer)) else list(value)
            lines.extend((node, v) for v in values)
        names = sorted(set(v for _, v in lines), key=lambda x: (str(type(x)), x))
        nodes = list(dict.fromkeys(n for n, _ in lines))
        row = {n: i for i, n in enumerate(nodes)}
        col = {v: j for j, v in enumerate(names)}
        matrix = np.zeros((len(nodes), len(names)), dtype=np.uint8)
        matrix[[row[n] for n, _ in lines], [col[v] for _, v in lines]] = 1
        return NodeLabels(nodes, matrix, names)
    return read_labels(labels)


# --------------------------------------------------------------------------------- metrics
def f1_scores(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """(macro F1, micro F1) of two (n, n_labels) 0/1 indicator matrices.

    Macro: the mean over every label column of 2·tp / (2·tp + fp + fn), 0 for a label with
    neither true nor predicted members (scikit-learn's ``f1_score(average="macro",
    zero_division=0)`` on indicator matrices). Micro: the same formula on the summed counts.
    """
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    tp = (y_true & y_pred).sum(axis=0).astype(np.float64)
    fp = (~y_true & y_pred).sum(axis=0)
    fn = (y_true & ~y_pred).sum(axis=0)
    denominator = 2 * tp + fp + fn
    per_label = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    total = 2 * tp.sum() + fp.sum() + fn.sum()
    micro = 2 * tp.sum() / total if total > 0 else 0.0
    return float(per_label.mean()) if len(per_label) else 0.0, float(micro)


def top_k_known(scores: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """DeepWalk's "k known" prediction: for each row, 1 on the k highest scores, k = true label count.

    Ties break towards the lower label index (a stable sort of the negated scores).
    """
    scores = np.asarray(scores, dtype=np.float64)
    k = np.asarray(y_true).sum(axis=1).astype(np.int64)
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :].repeat(len(scores), 0), axis=1)
    return (ranks < k[:, None]).astype(np.uint8)


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve (Mann–Whitney U; tied scores count one half), no scikit-learn."""
    from scipy.stats import rankdata

    y_true = np.asarray(y_true, dtype=bool)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise InvalidInputError("ROC-AUC needs both positive and negative examples")
    ranks = rankdata(np.asarray(scores, dtype=np.float64))
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --------------------------------------------------------------------------------- classification
@dataclass
class NodeClassificationResult:
    """Mean and standard deviation of Macro/Micro-F1 over the seeded splits, and each split's."""

    macro_f1: float
    micro_f1: float
    macro_f1_std: float
    micro_f1_std: float
    train_ratio: float
    repeats: int
    n_nodes: int
    n_labels: int
    multilabel: bool
    n_missing: int = 0
    macro_f1_splits: list = field(default_factory=list)
    micro_f1_splits: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _rows_of(emb, nodes) -> np.ndarray:
    return np.fromiter((emb.index_of(n) for n in nodes), dtype=np.int64, count=len(nodes))


def node_classification(emb, labels, train_ratio: float = 0.5, repeats: int = 5, seed: int = 0, *,
                        strict: bool = True, C: float = 1.0, normalize: bool = False,
                        solver: str = "liblinear") -> NodeClassificationResult:
    """Macro- and Micro-F1 of one-vs-rest logistic regression on the embeddings of labelled nodes.

    `labels`: `NodeLabels`, a ``(nodes, matrix, names)`` tuple, a ``{node: label(s)}`` dict, or
    anything `read_labels` reads. Every split (``repeats`` of them, seeded from `seed` through
    ``SeedSequence(seed).spawn``) trains on a random ``train_ratio`` of the labelled nodes and
    tests on the rest; each test node is predicted its k best-scored labels, k its true number
    of labels (DeepWalk's protocol; argmax for single-label data). Labels naming nodes absent
    from `emb` raise `UnknownNodesError`, or are dropped and counted (``n_missing``) with
    ``strict=False``. ``normalize`` L2-normalises the vectors first (off, as DeepWalk/node2vec).
    """
    _sklearn()
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    if not 0 < train_ratio < 1:
        raise InvalidInputError(f"train_ratio must be in (0, 1), got {train_ratio}")
    if repeats < 1:
        raise InvalidInputError(f"repeats must be ≥ 1, got {repeats}")
    labels = _as_labels(labels)
    labels, n_missing = _restrict(labels, emb, strict)
    n = len(labels.nodes)
    if n < 2:
        raise InvalidInputError(f"need at least 2 labelled nodes in the embeddings, got {n}")
    x = np.asarray(emb.vectors[_rows_of(emb, labels.nodes)], dtype=np.float64)
    if normalize:
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    y = labels.matrix.astype(np.uint8)
    n_train = min(max(int(round(train_ratio * n)), 1), n - 1)
    macro, micro = [], []
    for child in np.random.SeedSequence(seed).spawn(repeats):
        order = np.random.default_rng(child).permutation(n)
        train, test = order[:n_train], order[n_train:]
        y_train = y[train]
        present = np.flatnonzero(y_train.any(axis=0) & ~y_train.all(axis=0))
        scores = np.full((len(test), y.shape[1]), -np.inf)
        always = np.flatnonzero(y_train.all(axis=0))
        scores[:, always] = np.inf
        if len(present) == 1:  # one label to learn: a plain binary classifier
            model = LogisticRegression(C=C, solver=solver, max_iter=1000)
            model.fit(x[train], y_train[:, present[0]])
            scores[:, present[0]] = model.predict_proba(x[test])[:, 1]
        elif len(present):
            model = OneVsRestClassifier(LogisticRegression(C=C, solver=solver, max_iter=1000))
            model.fit(x[train], y_train[:, present])
            scores[:, present] = model.predict_proba(x[test]).reshape(len(test), len(present))
        predicted = top_k_known(np.nan_to_num(scores, posinf=2.0, neginf=-1.0), y[test])
        a, b = f1_scores(y[test], predicted)
        macro.append(a)
        micro.append(b)
    return NodeClassificationResult(
        float(np.mean(macro)), float(np.mean(micro)), float(np.std(macro)), float(np.std(micro)),
        train_ratio, repeats, n, y.shape[1], labels.multilabel, n_missing, macro, micro)


# --------------------------------------------------------------------------------- link prediction
EDGE_OPERATORS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "hadamard": lambda u, v: u * v,
    "average": lambda u, v: (u + v) / 2.0,
    "l1": lambda u, v: np.abs(u - v),
    "l2": lambda u, v: (u - v) ** 2,
}


@dataclass
class LinkPredictionResult:
    """ROC-AUC per edge operator (logistic regression on edge features), plus the split's facts."""

    auc: dict
    n_edges: int
    n_removed: int
    n_negatives: int
    fraction: float
    dot_auc: float = float("nan")
    removed: np.ndarray | None = field(default=None, repr=False)
    negatives: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("removed", "negatives")}


def _undirected_edges(graph) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """The graph's edges as index arrays, each undirected edge once (src ≤ dst)."""
    src, dst, weights = (np.asarray(a) for a in graph.edges())
    src = src.astype(np.int64)
    dst = dst.astype(np.int64)
    weights = np.ones(len(src)) if weights is None else weights.astype(np.float64)
    directed = bool(getattr(graph, "directed", False))
    if not directed:
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        key = lo * graph.n_nodes + hi
        _, first = np.unique(key, return_index=True)
        first.sort()
        src, dst, weights = lo[first], hi[first], weights[first]
    return src, dst, weights, directed


def split_edges(graph, fraction: float = 0.5, seed: int = 0):
    """Choose the edges to remove for link prediction → (removed index array, kept index array).

    Edges (each undirected edge once, self-loops never) are visited in a seeded random order
    and removed while ``fraction`` of them is not yet reached and both endpoints would keep at
    least one edge — a cheap approximation of keeping the residual graph connected (no node is
    cut off, but a component may still split). Fewer than asked may be removed on sparse graphs.
    """
    src, dst, _, _ = _undirected_edges(graph)
    target = int(round(fraction * len(src)))
    degree = np.bincount(src, minlength=graph.n_nodes) + np.bincount(dst, minlength=graph.n_nodes)
    order = np.random.default_rng(seed).permutation(len(src))
    removed = _pick_removals(src, dst, degree.astype(np.int64), order.astype(np.int64), target)
    mask = np.zeros(len(src), dtype=bool)
    mask[removed] = True
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def _pick_removals_py(src, dst, degree, order, target):
    out = []
    for e in order:
        if len(out) >= target:
            break
        u, v = src[e], dst[e]
        if u != v and degree[u] > 1 and degree[v] > 1:
            degree[u] -= 1
            degree[v] -= 1
            out.append(e)
    return np.asarray(out, dtype=np.int64)


try:  # numba is a core dependency; the plain loop stays as the reference
    from numba import njit

    @njit(cache=True, nogil=True)
    def _pick_removals(src, dst, degree, order, target):  # pragma: no cover - compiled
        out = np.empty(max(target, 0), dtype=np.int64)
        count = 0
        for i in range(order.shape[0]):
            if count >= target:
                break
            e = order[i]
            u = src[e]
            v = dst[e]
            if u != v and degree[u] > 1 and degree[v] > 1:
                degree[u] -= 1
                degree[v] -= 1
                out[count] = e
                count += 1
        return out[:count]
except ImportError:  # pragma: no cover
    _pick_removals = _pick_removals_py


def sample_non_edges(graph, n: int, seed: int = 0, directed: bool | None = None) -> np.ndarray:
    """`n` distinct node-index pairs (u ≠ v) that are not edges of `graph`, seeded → (n, 2) array.

    Both nodes are drawn uniformly from the nodes with at least one edge (isolated nodes get no
    embedding from walk-based trainers, so they are never part of a pair).
    """
    src, dst, _, is_directed = _undirected_edges(graph)
    directed = is_directed if directed is None else directed
    nn = graph.n_nodes
    candidates = np.flatnonzero(np.bincount(src, minlength=nn) + np.bincount(dst, minlength=nn) > 0)
    nc = len(candidates)
    possible = nc * (nc - 1) // (1 if directed else 2) - len(src)
    if n > possible:
        raise InvalidInputError(f"asked for {n} non-edges but the graph has only {possible}")
    existing = np.unique(src * nn + dst if directed else np.minimum(src, dst) * nn + np.maximum(src, dst))
    rng = np.random.default_rng(seed)
    chosen = np.empty(0, dtype=np.int64)
    while len(chosen) < n:
        batch = max(2 * (n - len(chosen)), 1024)
        u = candidates[rng.integers(0, nc, batch)]
        v = candidates[rng.integers(0, nc, batch)]
        ok = u != v
        u, v = u[ok], v[ok]
        key = u * nn + v if directed else np.minimum(u, v) * nn + np.maximum(u, v)
        key = key[~np.isin(key, existing) & ~np.isin(key, chosen)]
        _, first = np.unique(key, return_index=True)
        chosen = np.concatenate([chosen, key[np.sort(first)]])
    chosen = chosen[:n]
    return np.stack([chosen // nn, chosen % nn], axis=1)


def _residual_graph(graph, src, dst, weights, directed):
    if getattr(graph, "weights", None) is None:  # keep an unweighted graph unweighted
        weights = None
    return type(graph).from_edges(src, dst, weights, nodes=list(graph.nodes), directed=directed)


def _pair_vectors(emb, nodes, pairs):
    rows = _rows_of(emb, [nodes[i] for i in pairs.ravel()]).reshape(-1, 2)
    vectors = np.asarray(emb.vectors, dtype=np.float64)
    return vectors[rows[:, 0]], vectors[rows[:, 1]]


def link_prediction(graph, embed: Callable, fraction: float = 0.5, *,
                    operators: Iterable[str] = ("hadamard", "average", "l1", "l2"),
                    train_ratio: float = 0.5, seed: int = 0, C: float = 1.0) -> LinkPredictionResult:
    """node2vec's link prediction (§4.4): ROC-AUC per edge operator.

    1. remove a seeded `fraction` of the edges with `split_edges` (both endpoints keep degree
       ≥ 1) and sample as many non-edges of the original graph (`sample_non_edges`);
    2. ``emb = embed(residual)`` where ``residual`` is ``type(graph).from_edges(...)`` with
       every node of `graph` and the kept edges; `emb` must be keyed by the graph's raw node ids;
    3. for each operator (``hadamard`` u∘v, ``average`` (u+v)/2, ``l1`` |u−v|, ``l2`` (u−v)²),
       fit a logistic regression on a seeded ``train_ratio`` of (removed edges ∪ non-edges)
       and report its ROC-AUC on the rest. ``dot_auc`` is the AUC of plain dot products on the
       same test pairs (no training).

    `embed` may also be an `Embeddings` already trained on the residual graph of the same
    seed and fraction (rarely useful; mostly for tests).
    """
    _sklearn()
    from sklearn.linear_model import LogisticRegression

    operators = list(operators)
    unknown = [o for o in operators if o not in EDGE_OPERATORS]
    if unknown:
        raise InvalidInputError(f"unknown edge operators {unknown}; choose from {list(EDGE_OPERATORS)}")
    if not 0 < fraction < 1:
        raise InvalidInputError(f"fraction must be in (0, 1), got {fraction}")
    src, dst, weights, directed = _undirected_edges(graph)
    removed, kept = split_edges(graph, fraction, seed)
    if len(removed) < 2:
        raise InvalidInputError(f"only {len(removed)} edges could be removed; the graph is too sparse")
    if len(removed) < round(fraction * len(src)):
        logger.warning("removed %d edges, not %d: more would leave nodes without edges",
                       len(removed), round(fraction * len(src)))
    negatives = sample_non_edges(graph, len(removed), seed=seed + 1, directed=directed)
    residual = _residual_graph(graph, src[kept], dst[kept], weights[kept], directed)
    emb = embed(residual) if callable(embed) else embed
    nodes = list(graph.nodes)
    positives = np.stack([src[removed], dst[removed]], axis=1)
    pairs = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives))]).astype(np.int8)
    u, v = _pair_vectors(emb, nodes, pairs)
    order = np.random.default_rng(seed + 2).permutation(len(pairs))
    n_train = int(round(train_ratio * len(pairs)))
    train, test = order[:n_train], order[n_train:]
    if len(np.unique(y[train])) < 2 or len(np.unique(y[test])) < 2:
        raise InvalidInputError("the train/test split of the edge pairs lacks a class; use more edges")
    auc = {}
    for name in operators:
        features = EDGE_OPERATORS[name](u, v)
        model = LogisticRegression(C=C, solver="liblinear", max_iter=1000).fit(features[train], y[train])
        auc[name] = roc_auc(y[test], model.decision_function(features[test]))
    dot = roc_auc(y[test], (u[test] * v[test]).sum(axis=1))
    return LinkPredictionResult(auc, len(src), len(removed), len(negatives), fraction, dot,
                                positives, negatives)


def link_prediction_auc(emb, pos_pairs, neg_pairs, score: str = "dot") -> float:
    """ROC-AUC of ``score`` ("dot" or "cosine") similarities: positive pairs against negative ones.

    Pairs are sequences of (node, node) raw ids; unknown nodes raise `UnknownKeyError`.
    """
    if score not in ("dot", "cosine"):
        raise InvalidInputError(f"score must be 'dot' or 'cosine', got {score!r}")
    pos = list(pos_pairs)
    neg = list(neg_pairs)
    if not pos or not neg:
        raise InvalidInputError("need at least one positive and one negative pair")
    vectors = np.asarray(emb.vectors, dtype=np.float64)
    rows = np.asarray([[emb.index_of(a), emb.index_of(b)] for a, b in pos + neg], dtype=np.int64)
    u, v = vectors[rows[:, 0]], vectors[rows[:, 1]]
    s = (u * v).sum(axis=1)
    if score == "cosine":
        s /= np.maximum(np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1), 1e-12)
    return roc_auc(np.r_[np.ones(len(pos)), np.zeros(len(neg))], s)


# --------------------------------------------------------------------------------- communities
def _csr(graph):
    """(indptr, indices, weights, n) from a Graph-like object or a SciPy sparse matrix."""
    import scipy.sparse as sp

    if sp.issparse(graph):
        m = sp.csr_matrix(graph)
        return m.indptr, m.indices, m.data.astype(np.float64), m.shape[0]
    weights = getattr(graph, "weights", None)
    indices = np.asarray(graph.indices)
    weights = np.ones(len(indices)) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.asarray(graph.indptr), indices, weights, graph.n_nodes


def modularity(graph, communities) -> float:
    """Newman's modularity Q = 1/(2m) Σ_ij (A_ij − k_i k_j / 2m) δ(c_i, c_j).

    `graph` is a Graph (its CSR adjacency: an undirected edge is stored in both rows) or a SciPy
    sparse adjacency matrix; `communities` one integer community per node index. Computed per
    community: Q = Σ_c [ L_c / 2m − (K_c / 2m)² ] with L_c the summed A_ij inside c (both
    directions) and K_c the summed degree of c.
    """
    indptr, indices, weights, n = _csr(graph)
    c = np.asarray(communities)
    if len(c) != n:
        raise InvalidInputError(f"{len(c)} community ids for {n} nodes")
    _, c = np.unique(c, return_inverse=True)
    two_m = weights.sum()
    if two_m <= 0:
        raise InvalidInputError("modularity needs a graph with edges")
    rows = np.repeat(np.arange(n), np.diff(indptr))
    inside = c[rows] == c[indices]
    internal = np.bincount(c[rows[inside]], weights=weights[inside], minlength=c.max() + 1)
    degree = np.bincount(rows, weights=weights, minlength=n)
    total = np.bincount(c, weights=degree, minlength=c.max() + 1)
    return float((internal / two_m - (total / two_m) ** 2).sum())


@dataclass
class CommunityResult:
    """k-means clusters of the embeddings (keys → cluster) and their scores (NaN when not asked)."""

    keys: list = field(repr=False)
    clusters: np.ndarray = field(repr=False)
    n_clusters: int = 0
    nmi: float = float("nan")
    ari: float = float("nan")
    modularity: float = float("nan")
    n_labelled: int = 0

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("keys", "clusters")}


def communities(emb, labels=None, n_clusters: int | None = None, graph=None, seed: int = 0, *,
                normalize: bool = True, strict: bool = True) -> CommunityResult:
    """k-means on the embeddings (L2-normalised rows unless ``normalize=False``; n_init 10).

    `n_clusters` defaults to the number of label names. With single `labels` (anything
    `node_classification` takes), NMI (arithmetic normalisation, scikit-learn's default) and
    ARI of the clusters of the labelled nodes; multi-label data raises `InvalidInputError`.
    With `graph` (a Graph keyed by the same raw ids, or a SciPy adjacency whose rows follow the
    embeddings' keys), the modularity of the clustering; graph nodes missing from the embeddings
    count as singleton communities.
    """
    _sklearn()
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if labels is not None:
        labels = _as_labels(labels)
        if labels.multilabel:
            raise InvalidInputError("NMI/ARI need single-label nodes; these labels are multi-label")
        labels, _ = _restrict(labels, emb, strict)
    if n_clusters is None:
        if labels is None:
            raise InvalidInputError("give n_clusters or labels")
        n_clusters = len(labels.names)
    if not 1 <= n_clusters <= len(emb):
        raise InvalidInputError(f"n_clusters must be in [1, {len(emb)}], got {n_clusters}")
    x = np.asarray(emb.vectors, dtype=np.float64)
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    clusters = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(x)
    result = CommunityResult(emb.keys, clusters, n_clusters)
    if labels is not None:
        truth = labels.matrix.argmax(axis=1)
        found = clusters[_rows_of(emb, labels.nodes)]
        result.nmi = float(normalized_mutual_info_score(truth, found))
        result.ari = float(adjusted_rand_score(truth, found))
        result.n_labelled = len(labels.nodes)
    if graph is not None:
        import scipy.sparse as sp

        if sp.issparse(graph):
            per_node = clusters
        else:
            per_node = np.empty(graph.n_nodes, dtype=np.int64)
            next_id = n_clusters
            for i, node in enumerate(graph.nodes):
                if node in emb:
                    per_node[i] = clusters[emb.index_of(node)]
                else:
                    per_node[i] = next_id
                    next_id += 1
        result.modularity = modularity(graph, per_node)
    return result
