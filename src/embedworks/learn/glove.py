"""GloVe (Pennington, Socher & Manning, 2014): global vectors from a word co-occurrence matrix.

>>> from embedworks.learn import GloVe
>>> model = GloVe(dim=100, window=10, epochs=25).fit("corpus.txt")     # doctest: +SKIP
>>> model.embeddings.most_similar("king")                              # doctest: +SKIP

Two stages, both parallel over `workers` threads running Numba kernels that release the GIL
(`_glove.py`):

1. **Counting** (`cooccurrence_matrix`). Every pair of in-vocabulary words at most `window`
   tokens apart in the same sentence adds ``1 / distance`` to X[word, context]; with
   `symmetric=True` both orders are counted, so X is symmetric. Each thread counts a shard of the
   token stream: pairs of frequent words go to a small dense table, the rest to a fixed buffer
   of (row, col, value) triples that becomes a sparse partial matrix whenever it fills. Partials
   are summed as they come (similar sizes first), so memory stays near the size of the final
   matrix plus a few buffers, never the number of pairs in the corpus.
2. **Training** (`train`). Weighted least squares over the nonzeros,
   ``J = Σ f(x)·(w_i·w̃_j + b_i + b̃_j − log x)²`` with ``f(x) = min(1, (x / x_max)^alpha)``,
   by AdaGrad as in the Stanford C code (accumulators start at 1, step ``lr·grad / √accum``),
   one seeded shuffle of the nonzeros per epoch, Hogwild across threads on its shards.

The vectors returned are word + context vectors summed (the reference's default output).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import FormatError, InvalidInputError
from ..files import atomic_directory, read_marker
from . import _glove
from .training import ProgressBar, check_float, check_int

__all__ = ["GloVe", "cooccurrence_matrix"]

logger = logging.getLogger(__name__)

FORMAT = "embedworks.glove"
FORMAT_VERSION = 1

#: triples (row int32, col int32, value float32) each counting thread buffers before a flush
BUFFER_TRIPLES = 1 << 22
#: cells (float64) of each counting thread's dense table for frequent pairs
DENSE_CELLS = 1 << 22
#: nonzeros a training thread handles between progress updates
_TRAIN_CHUNK = 1 << 20


# --------------------------------------------------------------------------- counting
# Partial matrices are canonical CSR triples (indptr int64, indices int32, data float32), summed
# by the Numba kernels of _glove, which release the GIL (scipy's sparse sums do not).
def _nnz(part) -> int:
    return part[1].shape[0]


def _add(a, b):
    return _glove.csr_add(a[0], a[1], a[2], b[0], b[1], b[2])


def _merge_push(stack: list, part) -> None:
    """Push a partial matrix and sum the top two while they are of similar size (as an LSM tree
    does), so every entry takes part in O(log parts) sums and memory stays O(final size)."""
    stack.append(part)
    while len(stack) > 1 and 2 * _nnz(stack[-1]) >= _nnz(stack[-2]):
        top = stack.pop()
        stack[-1] = _add(stack[-1], top)


def _sum_all(parts: list, n_rows: int):
    if not parts:
        return np.zeros(n_rows + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)
    stack: list = []
    for part in sorted(parts, key=_nnz):
        _merge_push(stack, part)
    total = stack.pop()
    while stack:
        total = _add(total, stack.pop())
    return total


def _to_scipy(part, n: int) -> sp.csr_matrix:
    indptr, indices, data = part
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    else:  # scipy wants one index dtype for both arrays
        indices = indices.astype(np.int64)
    return sp.csr_matrix((data, indices, indptr), shape=(n, n), copy=False)


def cooccurrence_matrix(tokens, offsets, vocab_size: int, window: int = 10, symmetric: bool = True,
                        workers: int = 2, *, buffer_triples: int = BUFFER_TRIPLES,
                        dense_cells: int = DENSE_CELLS, progress=None) -> sp.csr_matrix:
    """The (vocab_size, vocab_size) float32 CSR co-occurrence matrix of an encoded corpus.

    `tokens` (int ids below `vocab_size`, best ranked by decreasing frequency so the dense table
    catches the frequent pairs) and `offsets` (sentence ``i`` is ``tokens[offsets[i]:offsets[i+1]]``)
    are what `Vocabulary.encode` returns. A word ``d <= window`` tokens left of another in the same
    sentence adds ``1/d`` to X[word, context]; `symmetric` also adds it to X[context, word]
    (so a repeated word adds ``2/d`` to its diagonal cell, as Stanford's ``cooccur`` does);
    otherwise only left contexts are counted. `workers` threads count shards of the tokens,
    each with `buffer_triples` buffered (row, col, value) triples (12 bytes each) and a
    `dense_cells` float64 table. The matrix has sorted indices and no duplicates.
    """
    tokens = np.ascontiguousarray(tokens, dtype=np.int32)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    vocab_size, window, workers = int(vocab_size), int(window), max(1, int(workers))
    if window < 1:
        raise InvalidInputError(f"window must be at least 1, got {window}")
    if offsets.ndim != 1 or offsets.size == 0 or offsets[0] != 0 or offsets[-1] != tokens.size \
            or np.any(np.diff(offsets) < 0):
        raise InvalidInputError("offsets must rise from 0 to len(tokens)")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise InvalidInputError(f"token ids must lie in [0, {vocab_size})")
    n_tokens = tokens.size
    workers = max(1, min(workers, n_tokens // 10_000 or 1))  # tiny inputs: one thread
    capacity = max(int(buffer_triples), window)
    start, length, col0, _ = _glove.dense_layout(vocab_size, int(dense_cells), upper=bool(symmetric))
    bounds = [n_tokens * k // workers for k in range(workers + 1)]

    def count(k: int, bar):
        t, t_end = bounds[k], bounds[k + 1]
        s = max(0, int(np.searchsorted(offsets, t, side="right")) - 1)
        dense = np.zeros(int(length.sum()), dtype=np.float64)
        rows = np.empty(capacity, dtype=np.int32)
        cols = np.empty(capacity, dtype=np.int32)
        vals = np.empty(capacity, dtype=np.float32)
        stack: list = []
        while t < t_end and not stop.is_set():
            t_new, s, n = _glove.cooccur_fill(tokens, offsets, t, s, t_end, window, bool(symmetric),
                                             dense, start, length, col0, rows, cols, vals)
            bar.advance(t_new - t)
            t = t_new
            if n:
                _merge_push(stack, _glove.triples_to_csr(rows[:n], cols[:n], vals[:n], vocab_size, vocab_size))
        return stack, dense

    stop = threading.Event()  # set on an exception (Ctrl-C) so threads stop at their next call
    with ProgressBar(progress, n_tokens, "counting", "tokens") as bar:
        if workers == 1:
            results = [count(0, bar)]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                try:
                    results = list(pool.map(lambda k: count(k, bar), range(workers)))
                except BaseException:
                    stop.set()
                    raise
    parts = [part for stack, _ in results for part in stack]
    dense = results[0][1]
    for _, other in results[1:]:
        dense += other
    del results
    r, c, v = _glove.dense_to_triples(dense, start, length, col0)
    del dense
    parts.append(_glove.triples_to_csr(r, c, v.astype(np.float32), vocab_size, vocab_size))
    del r, c, v
    total = _sum_all(parts, vocab_size)
    del parts
    if symmetric:  # upper triangle + its transpose (the diagonal doubles, as in Stanford's cooccur)
        total = _add(total, _glove.csr_transpose(total[0], total[1], total[2], vocab_size))
    return _to_scipy(total, vocab_size)


# --------------------------------------------------------------------------- model
class GloVe:
    """GloVe word vectors: co-occurrence counting, then weighted least squares with AdaGrad.

    Parameters
    ----------
    dim : vector size.
    window : context words on each side; a context ``d`` tokens away counts ``1/d``.
    min_count, max_vocab_size : vocabulary limits (see `Vocabulary.build`).
    x_max, alpha : weighting ``f(x) = min(1, (x / x_max) ** alpha)`` of a co-occurrence value.
    learning_rate : AdaGrad's initial step (0.05 as in the reference code).
    epochs : passes over the nonzeros of the co-occurrence matrix.
    symmetric : count contexts on both sides (True) or only on the left.
    workers : threads for counting and for (Hogwild) training.
    seed : seeds initialisation and the per-epoch shuffles; with ``workers=1`` results are
        bit-identical from run to run.
    progress : show a progress bar; None (default) shows one when stderr is a terminal.

    Attributes after `fit`: ``words_``, ``counts_`` (corpus frequencies, or None for a given
    matrix without counts), ``cooccurrence_`` (float32 CSR), ``loss_history_`` (per epoch, the
    mean of ``f(x)·(w_i·w̃_j + b_i + b̃_j − log x)²`` over the nonzeros, measured during the pass,
    i.e. twice the figure Stanford's code prints), ``embeddings``.
    """

    def __init__(self, dim: int = 100, window: int = 10, min_count: int = 5,
                 max_vocab_size: int | None = None, x_max: float = 100.0, alpha: float = 0.75,
                 learning_rate: float = 0.05, epochs: int = 25, symmetric: bool = True,
                 workers: int = 2, seed: int = 0, progress: bool | None = None):
        self.dim = check_int("dim", dim, 1)
        self.window = check_int("window", window, 1)
        self.min_count = check_int("min_count", min_count, 1)
        self.max_vocab_size = None if max_vocab_size is None else check_int("max_vocab_size", max_vocab_size, 1)
        self.x_max = check_float("x_max", x_max, strict=True)
        self.alpha = check_float("alpha", alpha)
        self.learning_rate = check_float("learning_rate", learning_rate, strict=True)
        self.epochs = check_int("epochs", epochs, 0)
        self.symmetric = bool(symmetric)
        self.workers = check_int("workers", workers, 1)
        self.seed = check_int("seed", seed, 0)
        self.progress = progress
        self.words_: list | None = None
        self.counts_: np.ndarray | None = None
        self.cooccurrence_: sp.csr_matrix | None = None
        self.loss_history_: list[float] = []
        self.epochs_trained_ = 0
        self._PW = self._PC = None  # (vocab, 2·(dim+1)): vector, bias, AdaGrad accumulators
        self._coo = None
        self._embeddings = None

    def get_params(self) -> dict:
        return {name: getattr(self, name) for name in
                ("dim", "window", "min_count", "max_vocab_size", "x_max", "alpha", "learning_rate",
                 "epochs", "symmetric", "workers", "seed", "progress")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"GloVe({args})"

    # ------------------------------------------------------------------ fitting
    def fit(self, corpus, words=None, counts=None) -> "GloVe":
        """Count co-occurrences in `corpus` and train `epochs` epochs; returns self.

        `corpus` is anything `Corpus` accepts (a path, a list of paths, an iterable of token
        lists), or an already computed square scipy sparse co-occurrence matrix; then `words`
        names its rows (default: the integers 0..n-1) and `counts` optionally gives their
        frequencies for the "count" metadata column.
        """
        if sp.issparse(corpus):
            self._set_matrix(corpus, words, counts)
        else:
            if words is not None or counts is not None:
                raise InvalidInputError("words= and counts= go with a co-occurrence matrix, not a corpus")
            self._count(corpus)
        self._init_params()
        self.train(self.epochs)
        return self

    def _count(self, corpus) -> None:
        from ..data.corpus import as_corpus
        from .vocab import Vocabulary

        corpus = as_corpus(corpus)
        if self.max_vocab_size is None:  # one pass over the text
            vocab, encoded = Vocabulary.build_and_encode(corpus, self.min_count)
        else:
            vocab = Vocabulary.build(corpus, self.min_count, self.max_vocab_size)
            encoded = vocab.encode(corpus)
        if getattr(corpus, "decode_errors", 0):
            logger.info("corpus had %d invalid UTF-8 byte sequences (replaced)", corpus.decode_errors)
        tokens, offsets = encoded.tokens, encoded.offsets
        del encoded
        matrix = cooccurrence_matrix(tokens, offsets, len(vocab.words), window=self.window,
                                     symmetric=self.symmetric, workers=self.workers,
                                     progress=self.progress)
        del tokens, offsets
        if matrix.nnz == 0:
            raise InvalidInputError(f"no co-occurrences: no two in-vocabulary words (min_count="
                                    f"{self.min_count}) lie within window={self.window} of each "
                                    f"other in a sentence")
        self.words_ = list(vocab.words)
        self.counts_ = np.asarray(vocab.counts, dtype=np.int64)
        self.cooccurrence_ = matrix
        logger.info("GloVe: %d words, %d co-occurring pairs", len(self.words_), matrix.nnz)

    def _set_matrix(self, matrix, words, counts) -> None:
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise InvalidInputError(f"the co-occurrence matrix must be square, got shape {matrix.shape}")
        n = matrix.shape[0]
        matrix = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
        matrix.sum_duplicates()
        if not np.all(np.isfinite(matrix.data)):
            raise InvalidInputError("the co-occurrence matrix holds NaN or infinite values")
        if np.any(matrix.data < 0):
            raise InvalidInputError("the co-occurrence matrix holds negative values")
        matrix.eliminate_zeros()
        matrix.sort_indices()
        if matrix.nnz == 0:
            raise InvalidInputError("no co-occurrences: the co-occurrence matrix has no positive entry")
        from ..space import normalize_key

        words = list(range(n)) if words is None else [normalize_key(w) for w in words]
        if len(words) != n:
            raise InvalidInputError(f"{len(words)} words for a {n} x {n} co-occurrence matrix")
        if len(set(words)) != n:
            raise InvalidInputError("words= holds duplicates")
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (n,):
                raise InvalidInputError(f"{counts.size} counts for a {n} x {n} co-occurrence matrix")
        self.words_, self.counts_, self.cooccurrence_ = words, counts, matrix

    def _init_params(self) -> None:
        n, dim = len(self.words_), self.dim
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(0,)))
        self._PW = np.ones((n, 2 * (dim + 1)), dtype=np.float32)  # accumulators start at 1
        self._PC = np.ones((n, 2 * (dim + 1)), dtype=np.float32)
        # vectors and biases uniform in [-0.5, 0.5) / dim, as glove.c initialises them
        for P in (self._PW, self._PC):
            P[:, :dim + 1] = (rng.random((n, dim + 1), dtype=np.float32) - np.float32(0.5)) / np.float32(dim)
        self.loss_history_ = []
        self.epochs_trained_ = 0
        self._coo = None
        self._embeddings = None

    def _nonzeros(self):
        if self._coo is None:
            m = self.cooccurrence_
            rows = np.repeat(np.arange(m.shape[0], dtype=np.int32), np.diff(m.indptr))
            self._coo = (rows, np.ascontiguousarray(m.indices, dtype=np.int32),
                         np.ascontiguousarray(m.data, dtype=np.float32))
        return self._coo

    def train(self, epochs: int | None = None) -> "GloVe":
        """Run `epochs` more AdaGrad epochs (default `self.epochs`), continuing where training
        stopped (also after `load`, when the co-occurrence matrix was saved)."""
        if self._PW is None or self.cooccurrence_ is None:
            raise InvalidInputError("train() needs a fitted model with its co-occurrence matrix")
        epochs = self.epochs if epochs is None else check_int("epochs", epochs, 0)
        if epochs == 0:
            return self
        self._embeddings = None
        rows, cols, vals = self._nonzeros()
        nnz = vals.size
        order = np.empty(nnz, dtype=np.int32 if nnz < 2**31 else np.int64)
        workers = max(1, min(self.workers, nnz // 1000 or 1))
        bounds = [nnz * k // workers for k in range(workers + 1)]
        PW, PC = self._PW, self._PC
        x_max, alpha, lr = float(self.x_max), float(self.alpha), float(self.learning_rate)

        def run(k: int, bar):
            loss, skipped = 0.0, 0
            for a in range(bounds[k], bounds[k + 1], _TRAIN_CHUNK):
                if stop.is_set():
                    break
                b = min(a + _TRAIN_CHUNK, bounds[k + 1])
                part_loss, part_skipped = _glove.glove_epoch(rows, cols, vals, order, a, b, PW, PC,
                                                             x_max, alpha, lr)
                loss += part_loss
                skipped += part_skipped
                bar.advance(b - a)
            return loss, skipped

        stop = threading.Event()  # set on an exception (Ctrl-C) so threads stop after their chunk
        pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
        try:
            with ProgressBar(self.progress, epochs * nnz, "training", "pairs") as bar:
                for _ in range(epochs):
                    epoch = self.epochs_trained_
                    began = time.perf_counter()
                    order[:] = np.arange(nnz, dtype=order.dtype)
                    np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(1, epoch))).shuffle(order)
                    if pool is None:
                        results = [run(0, bar)]
                    else:
                        results = list(pool.map(lambda k: run(k, bar), range(workers)))
                    loss = sum(r[0] for r in results) / nnz
                    skipped = sum(r[1] for r in results)
                    if skipped:
                        logger.warning("GloVe epoch %d: skipped %d non-finite updates", epoch + 1, skipped)
                    self.loss_history_.append(float(loss))
                    self.epochs_trained_ += 1
                    logger.info("GloVe epoch %d: loss %.6f (%.1f s)", epoch + 1, loss,
                                time.perf_counter() - began)
        except BaseException:
            stop.set()
            raise
        finally:
            if pool is not None:
                pool.shutdown()
        return self

    # ------------------------------------------------------------------ results
    @property
    def word_vectors(self) -> np.ndarray:
        """(vocab, dim) word vectors w (without biases)."""
        self._require_fitted()
        return self._PW[:, :self.dim]

    @property
    def context_vectors(self) -> np.ndarray:
        """(vocab, dim) context vectors w̃ (without biases)."""
        self._require_fitted()
        return self._PC[:, :self.dim]

    @property
    def embeddings(self):
        """An `Embeddings` of word + context vectors, cosine metric, with a "count" column."""
        from ..space import Embeddings

        self._require_fitted()
        if self._embeddings is None:
            vectors = self._PW[:, :self.dim] + self._PC[:, :self.dim]
            metadata = None if self.counts_ is None else {"count": self.counts_.tolist()}
            self._embeddings = Embeddings(self.words_, vectors, metadata=metadata, metric="cosine")
        return self._embeddings

    def _require_fitted(self) -> None:
        if self._PW is None:
            raise InvalidInputError("the GloVe model is not fitted yet; call fit() first")

    # ------------------------------------------------------------------ persistence
    def save(self, path, cooccurrence: bool = True) -> None:
        """Write the model to directory `path`: ``params.json`` (format and version,
        hyperparameters, loss history), ``words.json``, and ``.npy`` arrays (vectors with biases,
        AdaGrad state, counts, and with `cooccurrence` the CSR matrix, so `train` can go on after
        `load`). Written to a temporary directory first, then renamed over `path`."""
        self._require_fitted()
        with atomic_directory(Path(path), marker="params.json") as tmp:
            meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "params": self.get_params(),
                    "epochs_trained": self.epochs_trained_, "loss_history": self.loss_history_,
                    "vocab_size": len(self.words_), "has_counts": self.counts_ is not None,
                    "has_cooccurrence": bool(cooccurrence and self.cooccurrence_ is not None)}
            (tmp / "params.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            (tmp / "words.json").write_text(json.dumps(self.words_, ensure_ascii=False), encoding="utf-8")
            d1 = self.dim + 1
            for name, array in (("W", self._PW[:, :d1]), ("C", self._PC[:, :d1]),
                                ("gW", self._PW[:, d1:]), ("gC", self._PC[:, d1:])):
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
            if self.counts_ is not None:
                np.save(tmp / "counts.npy", self.counts_, allow_pickle=False)
            if meta["has_cooccurrence"]:
                m = self.cooccurrence_
                np.save(tmp / "cooccurrence_indptr.npy", m.indptr, allow_pickle=False)
                np.save(tmp / "cooccurrence_indices.npy", m.indices, allow_pickle=False)
                np.save(tmp / "cooccurrence_data.npy", m.data, allow_pickle=False)

    @classmethod
    def load(cls, path) -> "GloVe":
        """Read a model written by `save`."""
        path = Path(path)
        meta = read_marker(path, "params.json", FORMAT, FORMAT_VERSION, "a GloVe model",
                           version_key="format_version")

        def array(name):
            try:
                return np.load(path / f"{name}.npy", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise FormatError(f"cannot read {name}.npy: {exc}", path) from None

        model = cls(**meta["params"])
        words = json.loads((path / "words.json").read_text(encoding="utf-8"))
        model.words_ = words
        n = len(words)
        parts = {}
        for name in ("W", "C", "gW", "gC"):
            parts[name] = array(name)
            if parts[name].shape != (n, model.dim + 1):
                raise FormatError(f"{name}.npy has shape {parts[name].shape}, expected "
                                  f"({n}, {model.dim + 1}) for {n} words and dim {model.dim}", path)
        model._PW = np.concatenate([parts["W"], parts["gW"]], axis=1).astype(np.float32, copy=False)
        model._PC = np.concatenate([parts["C"], parts["gC"]], axis=1).astype(np.float32, copy=False)
        model.counts_ = array("counts") if meta.get("has_counts") else None
        if meta.get("has_cooccurrence"):
            model.cooccurrence_ = sp.csr_matrix(
                (array("cooccurrence_data"), array("cooccurrence_indices"), array("cooccurrence_indptr")),
                shape=(n, n))
        model.loss_history_ = [float(x) for x in meta.get("loss_history", [])]
        model.epochs_trained_ = int(meta.get("epochs_trained", len(model.loss_history_)))
        return model
