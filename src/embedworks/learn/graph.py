"""Node2Vec and DeepWalk: node embeddings from random walks and skip-gram (Grover & Leskovec 2016;
Perozzi et al. 2014).

>>> from embedworks.data import Graph
>>> from embedworks.learn import Node2Vec
>>> g = Graph.from_mat("blogcatalog.mat")                                  # doctest: +SKIP
>>> model = Node2Vec(dim=128, p=0.25, q=4).fit(g)                          # doctest: +SKIP
>>> model.embeddings.most_similar(0, k=5)                                  # doctest: +SKIP

`fit` generates ``num_walks`` walks of up to ``walk_length`` nodes from every node with the
Numba kernels of `_walks.py` (parallel over walks, identical for any number of threads), and
trains skip-gram with negative sampling on them through `Word2Vec`'s own threads and kernels: the
walks are node indices, used directly as word ids (no string conversion). The vocabulary's words
are the node indices in graph order, its counts the visit counts (they shape the negative-sampling
distribution); ``min_count`` is 1. Frequent nodes are subsampled as gensim does for node2vec's
reference code and PecanPy: a node with ``f`` of the ``total`` visits is kept with probability
``min(1, (sqrt(f / (sample · total)) + 1) · sample · total / f)`` (below 1 once its share passes
about 2.6 · sample), drawn afresh every epoch before the windows are taken (so they widen past
dropped nodes, never across a walk); the learning rate decays by raw tokens, dropped ones
included. The default ``sample="auto"`` is ``max(1e-3, 10 / n_nodes)``: gensim's 1e-3, which
both inherit, on graphs of 10,000 nodes or more; on smaller graphs a threshold that still thins
only hubs (nodes visited more than about 26 times as often as the average one), where 1e-3 would
thin every node of a 100-node graph and leave a few-dozen-node graph almost untrained. Over 3
seeds on BlogCatalog (10,312 nodes, so 1e-3), ``sample=0`` scored link-prediction AUC
0.744 / 0.718 (p, q = 1, 1 / 0.25, 4) against 0.758 / 0.724 (PecanPy 0.758 / 0.727), Macro-F1
the same or better; on Cora neither 0 nor 1e-3 changed anything beyond noise
(benchmarks/RESULTS.md).

Memory: all walks take ``num_walks · n_nodes · walk_length · 4`` bytes. When that exceeds
`max_walk_memory`, walks are streamed: generated a few rounds at a time (a round is one walk from
every node), first once to count visits, then again for training, each chunk trained as it is
made with the learning rate continuing its linear decay across chunks. Walks are cheap next to
training, so streaming costs about one extra walk pass.

Isolated nodes (no edge in or out) get no training; they are left out of `embeddings` (a
warning says how many). Training with ``workers > 1`` is Hogwild (results vary slightly between
runs); the walks themselves depend only on `seed`.
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

import numba
import numpy as np

from ..data.graph import Graph
from ..errors import FormatError, InvalidInputError
from . import _walks
from ._aot import word2vec_kernels
from .training import check_float, check_int, default_workers
from .vocab import EncodedCorpus, Vocabulary
from .word2vec import Word2Vec

logger = logging.getLogger(__name__)

__all__ = ["DeepWalk", "Node2Vec", "random_walks"]

#: default limit on the bytes of walks held at once before `fit` streams them
MAX_WALK_MEMORY = 1 << 30
#: ``sample="auto"`` is ``max(AUTO_SAMPLE, AUTO_SAMPLE_HUB / n_nodes)``: gensim's threshold (what
#: node2vec's reference code and PecanPy train with), or on small graphs one that thins only nodes
#: visited more than about 26 times as often as the average node (thinning starts at a share of
#: 2.6 × sample; the average share is 1 / n_nodes)
AUTO_SAMPLE = 1e-3
AUTO_SAMPLE_HUB = 10.0


class _numba_threads:
    def __init__(self, workers: int):
        self.n = max(1, min(int(workers), numba.config.NUMBA_NUM_THREADS))

    def __enter__(self):
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)
        return False


def _walk_arrays(graph: Graph):
    if graph.weights is not None:
        return _walks.row_cumsum(graph.indptr, graph.weights), True
    return np.zeros(1, dtype=np.float64), False


def _round_starts(n: int, seed: int, round_: int) -> np.ndarray:
    """Start nodes of one round: every node once, in a seeded random order (DeepWalk shuffles)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(1, round_))))
    return rng.permutation(n).astype(np.int32)


def random_walks(graph: Graph, num_walks: int = 10, walk_length: int = 80, p: float = 1.0,
                 q: float = 1.0, seed: int = 0, workers: int | None = None,
                 rounds: tuple[int, int] | None = None, _prepared=None) -> EncodedCorpus:
    """Walks on `graph` as an `EncodedCorpus` (tokens = node indices, offsets = walk bounds).

    Rounds ``rounds[0] .. rounds[1] - 1`` (default all `num_walks`); walk ``r · n + i`` starts at
    the i-th node of round r's seeded permutation. p = q = 1 gives first-order (DeepWalk) walks,
    weighted by edge weight. Walks that hit a node without out-edges are shorter.
    """
    if not isinstance(graph, Graph):
        raise InvalidInputError(f"expected a Graph, got {type(graph).__name__}")
    num_walks = check_int("num_walks", num_walks, 1)
    walk_length = check_int("walk_length", walk_length, 1)
    p = check_float("p", p, 0.0, strict=True)
    q = check_float("q", q, 0.0, strict=True)
    r0, r1 = rounds if rounds is not None else (0, num_walks)
    n = graph.n_nodes
    cumw, weighted = _prepared if _prepared is not None else _walk_arrays(graph)
    starts = np.concatenate([_round_starts(n, seed, r) for r in range(r0, r1)])
    out = np.empty((len(starts), walk_length), dtype=np.int32)
    lengths = np.empty(len(starts), dtype=np.int32)
    with _numba_threads(workers or default_workers()):
        w = graph.weights if graph.weights is not None else np.zeros(1, dtype=np.float32)
        _walks.random_walks(graph.indptr, graph.indices, w, cumw, weighted, starts, np.int64(r0 * n),
                            walk_length, p, q, np.uint64(seed), out, lengths)
    if len(lengths) and lengths.min() == walk_length:
        tokens = out.reshape(-1)
        offsets = np.arange(0, len(starts) * walk_length + 1, walk_length, dtype=np.int64)
    else:
        tokens, offsets = _walks.compact_walks(out, lengths)
    return EncodedCorpus(tokens, offsets)


class Node2Vec(Word2Vec):
    """node2vec: skip-gram on second-order biased random walks (p, q); see the module docstring.

    Parameters
    ----------
    dim, window, negative, epochs, alpha, min_alpha, workers, seed, progress : as `Word2Vec`
        (skip-gram; the window is word2vec's dynamic window up to `window`).
    walk_length : nodes per walk (shorter at dead ends of a directed graph).
    num_walks : walks started from every node.
    p : return parameter (small p: walks backtrack); q : in-out parameter (small q: walks move
        outward, DFS-like; large q: stay local, BFS-like). Both > 0; p = q = 1 is DeepWalk.
    sample : frequent-node subsampling threshold; 0 disables it. ``"auto"`` (default):
        ``max(1e-3, 10 / n_nodes)``, i.e. gensim's 1e-3 (what node2vec's reference code and PecanPy
        train with) from 10,000 nodes up, thinning only hubs on smaller graphs. Hub nodes of skewed
        graphs otherwise dominate the training pairs: on BlogCatalog ``sample=0`` cost
        0.006-0.014 link-prediction AUC. `effective_sample` gives the value used.
    shared_negatives : False (default): word2vec's per-pair negatives, which measured better on
        graphs (BlogCatalog link-prediction AUC 0.73 vs 0.68, Macro-F1 0.217 vs 0.210); True:
        one set of negatives shared across a window (pWord2Vec), about 2× faster to train.
    keep_walks : keep the walks as ``walks_`` (an `EncodedCorpus` of node indices).
    max_walk_memory : bytes of walks to hold at once; beyond, walks are streamed in rounds.

    After `fit`: `embeddings` (keyed by raw node ids, with a ``count`` column of visits),
    `nodes`, `walk_stats` (seconds, walks, tokens, streamed chunks), `training_stats`, and
    `Word2Vec`'s `syn0` / `syn1neg` / `vocab` (words = node indices).
    """

    label = "node2vec"
    FORMAT = "embedworks.node2vec"
    FORMAT_VERSION = 1
    #: gensim's ±1 / dim start (what PecanPy trains with), not word2vec.c's ±0.5 / dim: on
    #: BlogCatalog, with the same walks, Macro-F1 0.2142 → 0.2201 (gensim's trainer: 0.2196)
    INIT_RANGE = 1.0
    #: every output row stays shared between threads (Word2Vec's private hot rows are not yet
    #: measured on graphs, where a small graph's rows are nearly all hot)
    HOT_ROWS = 0

    def __init__(self, dim: int = 128, walk_length: int = 80, num_walks: int = 10, window: int = 10,
                 p: float = 1.0, q: float = 1.0, negative: int = 5, epochs: int = 1,
                 alpha: float = 0.025, min_alpha: float = 1e-4, workers: int | None = 2,
                 seed: int = 0, sample: float | str = "auto", shared_negatives: bool = False,
                 keep_walks: bool = False, max_walk_memory: int = MAX_WALK_MEMORY,
                 progress: bool | None = None):
        self.walk_length = walk_length
        self.num_walks = num_walks
        self.p = p
        self.q = q
        self.keep_walks = bool(keep_walks)
        self.max_walk_memory = max_walk_memory
        super().__init__(sg=True, dim=dim, window=window, negative=negative, hs=False, sample=sample,
                         min_count=1, alpha=alpha, min_alpha=min_alpha, epochs=epochs,
                         workers=workers, seed=seed, shared_negatives=shared_negatives,
                         progress=progress)
        self.nodes: list | None = None
        self.trained: np.ndarray | None = None
        self.walks_: EncodedCorpus | None = None
        self.walk_stats: dict = {}

    def _validate(self) -> None:
        super()._validate()
        if self.negative < 1:
            raise InvalidInputError(f"negative must be >= 1, got {self.negative}")
        self.walk_length = check_int("walk_length", self.walk_length, 2)
        self.num_walks = check_int("num_walks", self.num_walks, 1)
        self.p = check_float("p", self.p, 0.0, strict=True)
        self.q = check_float("q", self.q, 0.0, strict=True)
        self.max_walk_memory = check_int("max_walk_memory", self.max_walk_memory, 1)

    def get_params(self) -> dict:
        return {"dim": self.dim, "walk_length": self.walk_length, "num_walks": self.num_walks,
                "window": self.window, "p": self.p, "q": self.q, "negative": self.negative,
                "epochs": self.epochs, "alpha": self.alpha, "min_alpha": self.min_alpha,
                "workers": self.workers, "seed": int(self.seed), "sample": self.sample,
                "shared_negatives": self.shared_negatives, "keep_walks": self.keep_walks,
                "max_walk_memory": self.max_walk_memory, "progress": self.progress}

    def __repr__(self) -> str:
        state = f", {len(self.nodes)} nodes" if self.nodes is not None else ""
        return (f"{type(self).__name__}(dim={self.dim}, walk_length={self.walk_length}, "
                f"num_walks={self.num_walks}, window={self.window}, p={self.p}, q={self.q}{state})")

    def _check_sample(self) -> None:
        if isinstance(self.sample, str):
            if self.sample != "auto":
                raise InvalidInputError(f"sample must be >= 0 or 'auto', got {self.sample!r}")
        else:
            super()._check_sample()

    @property
    def effective_sample(self) -> float | None:
        """The subsampling threshold training uses: `sample`, or for ``"auto"``
        ``max(1e-3, 10 / n_nodes)`` (None before `fit` has seen the graph)."""
        if self.sample != "auto":
            return float(self.sample)
        if self.vocab is None or len(self.vocab) == 0:
            return None
        return max(AUTO_SAMPLE, AUTO_SAMPLE_HUB / len(self.vocab))

    # ------------------------------------------------------------------ training
    def walks(self, graph: Graph, rounds: tuple[int, int] | None = None, _prepared=None) -> EncodedCorpus:
        """The walks `fit` trains on (all rounds, or ``rounds = (first, stop)``)."""
        return random_walks(graph, self.num_walks, self.walk_length, self.p, self.q, self.seed,
                            self.workers, rounds=rounds, _prepared=_prepared)

    def fit(self, graph: Graph) -> Node2Vec:
        """Generate the walks and train skip-gram on them; returns self."""
        if not isinstance(graph, Graph):
            raise InvalidInputError(f"{type(self).__name__}.fit expects a Graph "
                                    f"(embedworks.data.Graph), got {type(graph).__name__}")
        n = graph.n_nodes
        if graph.n_edges == 0:
            raise InvalidInputError("the graph has no edges: nothing to walk")
        prepared = _walk_arrays(graph)
        per_round = n * self.walk_length * 4
        chunk = max(1, min(self.num_walks, self.max_walk_memory // max(per_round, 1)))
        bounds = list(range(0, self.num_walks, chunk)) + [self.num_walks]
        pieces = list(itertools.pairwise(bounds))
        streamed = len(pieces) > 1
        self._embeddings = None
        self.walks_ = None
        walk_seconds = 0.0
        counts = np.zeros(n, dtype=np.int64)

        t0 = time.perf_counter()
        if not streamed:
            walks = self.walks(graph, _prepared=prepared)
            counts += word2vec_kernels().count_ids(walks.tokens, n)  # np.bincount would copy to int64
        else:
            logger.info("%s: walks need %.0f MB > max_walk_memory: streaming %d chunks of %d rounds",
                        self.label, per_round * self.num_walks / 1e6, len(pieces), chunk)
            walks = None
            for piece in pieces:
                counts += word2vec_kernels().count_ids(self.walks(graph, piece, prepared).tokens, n)
        walk_seconds += time.perf_counter() - t0

        deg_in = np.bincount(graph.indices, minlength=n)
        self.trained = (np.diff(graph.indptr) > 0) | (deg_in > 0)
        isolated = int(n - self.trained.sum())
        if isolated:
            logger.warning("%s: %d isolated nodes get no training and are left out of the embeddings",
                           self.label, isolated)
        self.nodes = graph.nodes
        self.vocab = Vocabulary(range(n), counts)
        self._init_weights()
        self.train_calls = 0
        self.epochs_trained = 0

        if not streamed:
            self._run(walks, self.epochs)
            train_seconds = self.training_stats["seconds"]
            n_tokens = walks.n_tokens
            if self.keep_walks:
                self.walks_ = walks
            del walks
        else:
            if self.keep_walks:
                logger.warning("%s: walks are streamed, so keep_walks keeps none", self.label)
            alpha0, min_alpha = self.start_alpha, float(min(self.min_alpha, self.start_alpha))
            saved = (self.alpha, self.min_alpha)
            segments = self.epochs * len(pieces)
            train_seconds, words, n_tokens = 0.0, 0, 0
            try:
                for j in range(segments):
                    t0 = time.perf_counter()
                    walks = self.walks(graph, pieces[j % len(pieces)], prepared)
                    walk_seconds += time.perf_counter() - t0
                    self.alpha = alpha0 - (alpha0 - min_alpha) * j / segments
                    self.min_alpha = alpha0 - (alpha0 - min_alpha) * (j + 1) / segments
                    self.train_calls = j
                    self._run(walks, 1)
                    train_seconds += self.training_stats["seconds"]
                    words += self.training_stats["words"]
                    if j < len(pieces):
                        n_tokens += walks.n_tokens
                    del walks
            finally:
                self.alpha, self.min_alpha = saved
            self.training_stats.update({"seconds": train_seconds, "words": words,
                                        "words_per_second": words / train_seconds if train_seconds else 0.0,
                                        "epochs": self.epochs})
        self.train_calls = 1
        self.epochs_trained = self.epochs
        self.walk_stats = {"seconds": walk_seconds, "walks": self.num_walks * n, "tokens": int(n_tokens),
                           "chunks": len(pieces), "streamed": streamed}
        logger.info("%s: %d walks (%d nodes) in %.2f s, training %.2f s", self.label,
                    self.num_walks * n, n_tokens, walk_seconds, train_seconds)
        return self

    def build_vocab(self, corpus, update: bool = False):
        raise InvalidInputError(f"{type(self).__name__} builds its vocabulary in fit(graph)")

    def train(self, corpus=None, epochs: int | None = None):
        """More skip-gram epochs on `corpus` (an `EncodedCorpus` or integer arrays of node
        indices, e.g. ``model.walks(graph)``); `fit` is the usual entry point."""
        if corpus is None:
            raise InvalidInputError(f"{type(self).__name__}.train needs walks: use fit(graph)")
        return super().train(corpus, epochs)

    # ------------------------------------------------------------------ results
    @property
    def embeddings(self):
        """Node vectors keyed by raw node id (isolated nodes left out), with a ``count`` column."""
        if self.syn0 is None or self.nodes is None:
            raise InvalidInputError("the model has no vectors yet: call fit(graph) first")
        if self._embeddings is None:
            from ..space import Embeddings

            rows = np.flatnonzero(self.trained)
            keys = [self.nodes[i] for i in rows] if len(rows) < len(self.nodes) else self.nodes
            self._embeddings = Embeddings(keys=keys, vectors=self.syn0[rows],
                                          metadata={"count": self.vocab.counts[rows].tolist()},
                                          metric="cosine")
        return self._embeddings

    def _extra_arrays(self) -> dict:
        nodes = np.asarray(self.nodes)
        if nodes.dtype.kind not in "iuU":
            raise InvalidInputError("node ids must be all int or all str to be saved")
        return {"nodes": nodes, "trained": self.trained}

    def _restore_extra(self, path: Path, array) -> None:
        for name in ("nodes", "trained"):
            if not (path / f"{name}.npy").is_file():
                raise FormatError("missing", path / f"{name}.npy")
        nodes = np.load(path / "nodes.npy", allow_pickle=False)
        trained = np.load(path / "trained.npy", allow_pickle=False)
        if len(nodes) != len(self.syn0) or trained.shape != (len(self.syn0),) or trained.dtype != bool:
            raise FormatError(f"expected {len(self.syn0)} node ids and flags", path / "nodes.npy")
        self.nodes = nodes.tolist()
        self.trained = trained


class DeepWalk(Node2Vec):
    """DeepWalk: skip-gram (negative sampling) on uniform random walks, i.e. node2vec with
    p = q = 1 (walks weighted by edge weight on a weighted graph). Parameters as `Node2Vec`
    without `p` and `q`; the defaults are node2vec's experimental settings (walk length 80,
    10 walks per node, window 10, dim 128) so the two compare directly."""

    label = "deepwalk"
    FORMAT = "embedworks.deepwalk"

    def __init__(self, dim: int = 128, walk_length: int = 80, num_walks: int = 10, window: int = 10,
                 negative: int = 5, epochs: int = 1, alpha: float = 0.025, min_alpha: float = 1e-4,
                 workers: int | None = 2, seed: int = 0, sample: float | str = "auto",
                 shared_negatives: bool = False, keep_walks: bool = False,
                 max_walk_memory: int = MAX_WALK_MEMORY, progress: bool | None = None):
        super().__init__(dim=dim, walk_length=walk_length, num_walks=num_walks, window=window,
                         p=1.0, q=1.0, negative=negative, epochs=epochs, alpha=alpha,
                         min_alpha=min_alpha, workers=workers, seed=seed, sample=sample,
                         shared_negatives=shared_negatives, keep_walks=keep_walks,
                         max_walk_memory=max_walk_memory, progress=progress)

    def get_params(self) -> dict:
        params = super().get_params()
        del params["p"], params["q"]
        return params
