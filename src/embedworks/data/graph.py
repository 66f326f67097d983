"""`Graph`: a directed or undirected, optionally weighted graph in CSR form with raw node ids.

>>> from embedworks.data import Graph
>>> g = Graph.from_edgelist("edges.tsv")                      # doctest: +SKIP
>>> g = Graph.from_mat("blogcatalog.mat")                     # doctest: +SKIP

Storage: ``indptr`` (int64, n_nodes + 1), ``indices`` (int32, neighbour indices, sorted within
each row) and ``weights`` (float32 aligned with `indices`, or None for an unweighted graph).
An undirected graph stores every edge in both rows. Raw node ids (str or int) map to dense
indices: ``graph.nodes[i]`` is the raw id of index ``i`` and ``graph.node_index[raw]`` its index.

Node order: ids found in an edge list are numbered in sorted order (integers numerically, strings
lexicographically); `from_mat` / `from_scipy` use the matrix rows; `from_networkx` keeps the
graph's node order. An edge-list file whose ids are not all canonical integers is read with
string ids throughout ("1" and "a" are both str), so a file never mixes id types; Python inputs
(`from_pairs`, `from_networkx`, a `nodes` list) that mix int and str ids are rejected.

Cleaning, reported through `logging` and in ``graph.report`` (a dict of counts):

* ``self_loops``: edges from a node to itself are dropped;
* ``duplicates``: repeated edges are merged and their weights summed (for an undirected graph
  ``u v`` and ``v u`` are the same edge);
* ``zero_weight``: edges whose (merged) weight is 0 are dropped (they can never be walked);
* ``isolated``: nodes without any edge are kept (they get no walks worth training on).

Bad input: a graph without edges raises `InvalidInputError`; negative or non-finite weights raise
`FormatError` naming the file and line (`InvalidInputError` for arrays).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import FormatError, InvalidInputError
from .interactions import _open_text, _parse_ids

logger = logging.getLogger(__name__)

__all__ = ["Graph"]

_HEADER_NAMES = {"source", "target", "src", "dst", "from", "to", "node1", "node2", "u", "v",
                 "weight", "w", "head", "tail", "id1", "id2", "source_id", "target_id"}


def _check_ids(nodes: list, what: str = "node") -> list:
    """Raw ids as builtin str/int; `InvalidInputError` for a mix of the two (naming examples)."""
    out = []
    first_int = first_str = None
    for k in nodes:
        if isinstance(k, (bool, np.bool_)):
            raise InvalidInputError(f"{what} ids must be str or int, got {k!r}")
        if isinstance(k, (int, np.integer)):
            k = int(k)
            if first_int is None:
                first_int = k
        elif isinstance(k, (str, np.str_)):
            k = str(k)
            if first_str is None:
                first_str = k
        elif isinstance(k, (float, np.floating)) and np.isfinite(k) and float(k).is_integer():
            k = int(k)
            if first_int is None:
                first_int = k
        else:
            raise InvalidInputError(f"{what} ids must be str or int, got {type(k).__name__} {k!r}")
        out.append(k)
    if first_int is not None and first_str is not None:
        raise InvalidInputError(f"{what} ids mix types: some are int (e.g. {first_int!r}) and some "
                                f"str (e.g. {first_str!r}); use one type for all ids")
    return out


class Graph:
    """A graph in CSR form (see the module docstring).

    Attributes: `indptr`, `indices`, `weights` (float32 or None), `nodes`, `node_index`,
    `n_nodes`, `n_edges` (undirected edges counted once), `directed`, `weighted`, `report`.
    Build one with `from_edgelist`, `from_mat`, `from_scipy`, `from_networkx`, `from_pairs` or
    `from_edges` (indices into an existing node list, e.g. a training graph for link prediction).
    """

    def __init__(self, indptr, indices, weights, nodes: list, directed: bool,
                 node_index: dict | None = None, report: dict | None = None):
        """Low level: an already clean CSR. Prefer the `from_*` constructors."""
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.weights = None if weights is None else np.ascontiguousarray(weights, dtype=np.float32)
        self.nodes = nodes
        self.node_index = node_index if node_index is not None else {k: i for i, k in enumerate(nodes)}
        self.directed = bool(directed)
        self.report = dict(report or {})
        if len(self.indptr) != len(nodes) + 1:
            raise InvalidInputError(f"indptr has {len(self.indptr)} entries for {len(nodes)} nodes")

    # ------------------------------------------------------------------ basics
    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """Number of edges (an undirected edge counts once)."""
        m = len(self.indices)
        return m if self.directed else m // 2

    @property
    def weighted(self) -> bool:
        return self.weights is not None

    def __len__(self) -> int:
        return self.n_nodes

    def __repr__(self) -> str:
        kind = "directed" if self.directed else "undirected"
        w = ", weighted" if self.weighted else ""
        return f"Graph({self.n_nodes} nodes, {self.n_edges} edges, {kind}{w})"

    def degree(self, weighted: bool = False) -> np.ndarray:
        """Out-degree of each node (neighbour count; the weight sum when `weighted`)."""
        if weighted and self.weights is not None:
            return np.add.reduceat(np.append(self.weights.astype(np.float64), 0.0),
                                   self.indptr[:-1]) * (np.diff(self.indptr) > 0)
        return np.diff(self.indptr)

    def neighbors(self, node) -> list:
        """Raw ids of the out-neighbours of the raw id `node`."""
        i = self.node_index[node]
        return [self.nodes[j] for j in self.indices[self.indptr[i]:self.indptr[i + 1]]]

    def edges(self):
        """(src, dst, weight) index arrays (int32, int32, float32; weight 1 when unweighted);
        an undirected edge appears once, with src < dst."""
        src = np.repeat(np.arange(self.n_nodes, dtype=np.int32), np.diff(self.indptr))
        dst = self.indices
        w = self.weights if self.weights is not None else np.ones(len(dst), dtype=np.float32)
        if not self.directed:
            keep = src < dst
            src, dst, w = src[keep], dst[keep], w[keep]
        return src, dst.copy(), w.copy()

    def to_scipy(self) -> sp.csr_matrix:
        """The adjacency matrix (float32 CSR; symmetric for an undirected graph)."""
        data = self.weights if self.weights is not None else np.ones(len(self.indices), np.float32)
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n_nodes, self.n_nodes))

    # ------------------------------------------------------------------ building
    @classmethod
    def from_edges(cls, src, dst, weights=None, nodes: list | None = None, directed: bool = False,
                   node_index: dict | None = None, n_nodes: int | None = None,
                   _where=None) -> "Graph":
        """A graph from edge arrays of node *indices* into `nodes` (shared, not copied).

        `weights` None makes an unweighted graph. Cleaning as in the module docstring.
        """
        src = np.asarray(src)
        dst = np.asarray(dst)
        if nodes is None:
            n = int(n_nodes if n_nodes is not None else
                    (max(src.max(initial=-1), dst.max(initial=-1)) + 1))
            nodes = list(range(n))
        n = len(nodes)
        if src.shape != dst.shape or src.ndim != 1:
            raise InvalidInputError(f"src and dst must be 1-D arrays of one length, got {src.shape}, {dst.shape}")
        if src.size and (src.dtype.kind not in "iu" or dst.dtype.kind not in "iu"):
            raise InvalidInputError("src and dst must be integer node indices")
        src = src.astype(np.int64)
        dst = dst.astype(np.int64)
        if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise InvalidInputError(f"node indices must lie in [0, {n})")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != src.shape:
                raise InvalidInputError(f"{len(weights)} weights for {len(src)} edges")
            bad = ~np.isfinite(weights) | (weights < 0)
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                msg = f"edge weights must be finite and >= 0, got {float(weights[j])!r}"
                if _where is not None:
                    path, lines = _where
                    raise FormatError(msg, path, int(lines[j]))
                raise InvalidInputError(f"{msg} (edge {j})")
        report = {"self_loops": 0, "duplicates": 0, "zero_weight": 0, "isolated": 0}
        loop = src == dst
        report["self_loops"] = int(loop.sum())
        if loop.any():
            src, dst = src[~loop], dst[~loop]
            weights = weights[~loop] if weights is not None else None
        if not directed:
            src, dst = np.minimum(src, dst), np.maximum(src, dst)
        key = src * n + dst
        uniq, inv = np.unique(key, return_inverse=True)
        report["duplicates"] = int(len(key) - len(uniq))
        if weights is not None:
            w = np.bincount(inv.reshape(-1), weights=weights, minlength=len(uniq))
        else:
            w = None
        src, dst = uniq // n, uniq % n
        if w is not None:
            zero = w == 0
            report["zero_weight"] = int(zero.sum())
            if zero.any():
                src, dst, w = src[~zero], dst[~zero], w[~zero]
        if len(src) == 0:
            raise InvalidInputError(f"the graph has no edges ({n} nodes"
                                    + (", after dropping self-loops and zero weights)" if n else ")"))
        if not directed:
            src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
            w = np.concatenate([w, w]) if w is not None else None
            order = np.lexsort((dst, src))
            src, dst = src[order], dst[order]
            w = w[order] if w is not None else None
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        touched = np.zeros(n, dtype=bool)
        touched[src] = True
        touched[dst] = True
        report["isolated"] = int(n - touched.sum())
        g = cls(indptr, dst.astype(np.int32), None if w is None else w.astype(np.float32), nodes,
                directed, node_index=node_index, report=report)
        for what, count in report.items():
            if count:
                logger.info("graph: %d %s %s", count, what.replace("_", " "),
                            {"self_loops": "dropped", "duplicates": "merged (weights summed)",
                             "zero_weight": "edges dropped", "isolated": "nodes kept"}[what])
        return g

    @classmethod
    def from_pairs(cls, sources, targets, weights=None, directed: bool = False,
                   nodes: list | None = None) -> "Graph":
        """A graph from raw-id edge sequences; `nodes` (optional) fixes the order and may add
        isolated nodes. Ids are numbered in sorted order otherwise."""
        sources = _check_ids(list(sources))
        targets = _check_ids(list(targets))
        if len(sources) != len(targets):
            raise InvalidInputError(f"{len(sources)} sources but {len(targets)} targets")
        if nodes is not None:
            ids = _check_ids(list(nodes))
            _check_ids(ids + sources[:1] + targets[:1])
        else:
            ids = _check_ids(sorted(set(sources) | set(targets),
                                    key=lambda k: (isinstance(k, str), k)) if sources or targets else [])
            if ids and isinstance(ids[0], int) and isinstance(ids[-1], str):
                _check_ids(ids)
        index = {k: i for i, k in enumerate(ids)}
        if len(index) != len(ids):
            raise InvalidInputError("the node list repeats an id")
        try:
            s = np.fromiter((index[k] for k in sources), dtype=np.int64, count=len(sources))
            t = np.fromiter((index[k] for k in targets), dtype=np.int64, count=len(targets))
        except KeyError as e:
            raise InvalidInputError(f"edge names node {e.args[0]!r}, which is not in the node list") from None
        return cls.from_edges(s, t, weights, ids, directed, node_index=index)

    @classmethod
    def from_edgelist(cls, path, weighted: bool | None = None, directed: bool = False,
                      sep: str | None = None, comments: str = "#") -> "Graph":
        """Read an edge list: one ``source target [weight]`` per line (plain or .gz).

        `sep`: None sniffs tab, then comma, then whitespace from the first data line. Lines
        starting with `comments` and blank lines are skipped; a first line of column names
        (``source,target,weight`` …) is skipped. `weighted` None: weighted when the lines have a
        third column that is numeric; True requires it; False ignores extra columns.
        """
        path = Path(path)
        if not path.is_file():
            raise FormatError("no such file", path)
        src, dst, wts, lines = [], [], [], []
        splitter = None
        with _open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                s = line.strip()
                if not s or (comments and s.startswith(comments)):
                    continue
                if splitter is None:
                    if sep is None:
                        sep = "\t" if "\t" in s else ("," if "," in s else None)
                    splitter = (lambda x: x.split()) if sep is None or sep.isspace() else \
                        (lambda x, _s=sep: [p.strip() for p in x.split(_s)])
                    fields = splitter(s)
                    if len(fields) >= 2 and fields[0].lower() in _HEADER_NAMES \
                            and fields[1].lower() in _HEADER_NAMES:
                        continue
                fields = splitter(s)
                if len(fields) < 2:
                    raise FormatError(f"expected 'source target [weight]', got {s[:80]!r}", path, lineno)
                if weighted is None:
                    weighted = len(fields) >= 3 and _is_float(fields[2])
                src.append(fields[0])
                dst.append(fields[1])
                lines.append(lineno)
                if weighted:
                    if len(fields) < 3:
                        raise FormatError("missing weight (third column)", path, lineno)
                    wts.append(fields[2])
        if not src:
            raise InvalidInputError(f"{path}: the graph is empty (no edges)")
        lines = np.asarray(lines, dtype=np.int64)
        weights = None
        if weighted:
            try:
                weights = np.fromiter(map(float, wts), dtype=np.float64, count=len(wts))
            except ValueError:
                j = next(j for j, x in enumerate(wts) if not _is_float(x))
                raise FormatError(f"weight {wts[j]!r} is not a number", path, int(lines[j])) from None
        ids = _parse_ids(src + dst, "auto")
        uniq, inv = np.unique(ids, return_inverse=True)
        inv = inv.reshape(-1)
        nodes = uniq.tolist()
        m = len(src)
        return cls.from_edges(inv[:m], inv[m:], weights, nodes, directed, _where=(path, lines))

    @classmethod
    def from_scipy(cls, matrix, nodes: list | None = None, directed: bool | None = None,
                   weighted: bool | None = None) -> "Graph":
        """A graph from a square adjacency matrix (SciPy sparse or dense NumPy).

        `directed` None: undirected when the matrix is symmetric. `weighted` None: weighted
        unless every stored value is 1.
        """
        m = sp.csr_matrix(matrix)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise InvalidInputError(f"an adjacency matrix must be square, got shape {m.shape}")
        n = m.shape[0]
        if nodes is None:
            nodes = list(range(n))
        else:
            nodes = _check_ids(list(nodes))
            if len(nodes) != n:
                raise InvalidInputError(f"{len(nodes)} node ids for a {n} x {n} matrix")
        m.eliminate_zeros()
        m.sum_duplicates()
        if directed is None:
            directed = (abs(m - m.T)).nnz != 0
        coo = m.tocoo()
        src, dst, data = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)
        if weighted is None:
            weighted = not bool((data == 1).all())
        if not directed:  # keep each symmetric pair once (the matrix holds both halves)
            keep = src <= dst
            src, dst, data = src[keep], dst[keep], data[keep]
        return cls.from_edges(src, dst, data if weighted else None, nodes, directed)

    @classmethod
    def from_mat(cls, path, variable: str = "network", directed: bool | None = None,
                 weighted: bool | None = None) -> "Graph":
        """A graph from a MATLAB ``.mat`` file holding an adjacency matrix (DeepWalk's datasets:
        ``blogcatalog.mat`` has ``network`` and ``group``); node ids are row numbers 0..n-1."""
        import scipy.io

        path = Path(path)
        try:
            mat = scipy.io.loadmat(str(path))
        except (OSError, ValueError, NotImplementedError) as e:
            raise FormatError(f"cannot read a .mat file: {e}", path) from None
        if variable not in mat:
            names = [k for k in mat if not k.startswith("__")]
            raise FormatError(f"no variable {variable!r} (it holds {', '.join(names)})", path)
        try:
            return cls.from_scipy(mat[variable], directed=directed, weighted=weighted)
        except InvalidInputError as e:
            raise InvalidInputError(f"{path}: {e}") from None

    @classmethod
    def from_networkx(cls, g, weight: str | None = "weight") -> "Graph":
        """A graph from a networkx graph (isolated nodes kept, its node order kept); edge
        attribute `weight` gives weights when any edge has it (missing ones count 1)."""
        nodes = _check_ids(list(g.nodes))
        index = {k: i for i, k in enumerate(nodes)}
        edges = list(g.edges(data=True))
        s = np.fromiter((index[e[0]] for e in edges), dtype=np.int64, count=len(edges))
        t = np.fromiter((index[e[1]] for e in edges), dtype=np.int64, count=len(edges))
        w = None
        if weight is not None and any(weight in e[2] for e in edges):
            w = np.fromiter((e[2].get(weight, 1.0) for e in edges), dtype=np.float64, count=len(edges))
        return cls.from_edges(s, t, w, nodes, g.is_directed(), node_index=index)


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
