"""Word2Vec: skip-gram and CBOW word embeddings (Mikolov et al. 2013), trained by Numba kernels.

>>> from embedworks.learn import Word2Vec
>>> model = Word2Vec(dim=100, window=5, epochs=5).fit("corpus.txt")     # doctest: +SKIP
>>> model.embeddings.most_similar("king", k=5)                           # doctest: +SKIP

The corpus is read once: the vocabulary is counted and the text turned into int32 word ids in a
single pass (see `Vocabulary.build_and_encode`), then every epoch runs over the integers. Each
of `workers` threads trains on its own contiguous shard of the encoded corpus with a kernel from
`_sgns.py` that releases the GIL (compiled ahead of time at install, see `_aot.py`); all threads
update the shared matrices lock-free (Hogwild), except the output rows of the most frequent
words, which each thread keeps private and folds back after every piece (`HOT_ROWS`). Results
with `workers > 1` vary slightly from run to run; `workers=1` with a `seed` is bit-identical.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import numpy as np

from ..data.corpus import Corpus, as_corpus
from ..errors import FormatError, InvalidInputError
from ..files import atomic_directory, read_marker
from ._aot import word2vec_kernels
from .training import ProgressBar, check_int, default_workers, limit_blas_threads
from .vocab import EncodedCorpus, Vocabulary, _is_id_arrays, release_pages

logger = logging.getLogger(__name__)

__all__ = ["Word2Vec"]

#: tokens per kernel call; between calls a thread reports progress, checks for interruption
#: and folds its private hot rows back (HOT_ROWS: folding every 200k tokens cost CBOW about
#: 0.8 analogy points on text8, every 50k about 0.3)
PIECE_TOKENS = 50_000


class Word2Vec:
    """Skip-gram (``sg=True``) or CBOW word vectors with negative sampling and/or hierarchical softmax.

    Parameters
    ----------
    sg : skip-gram when True, CBOW when False.
    dim : vector size.
    window : maximum distance between centre and context word; per centre word the window is
        drawn uniformly from 1..window (word2vec's dynamic window).
    negative : noise words per positive example (0 turns negative sampling off).
    hs : hierarchical softmax over a Huffman tree (may be combined with `negative`).
    sample : subsampling threshold for frequent words (0 disables it).
    min_count : words occurring fewer times are dropped.
    max_vocab_size : prune rare words while counting once more than this many distinct words
        are held (as gensim); None for no limit. Needs a corpus that can be read twice.
    alpha : initial learning rate. ``None`` / ``"auto"``: 0.025 for skip-gram, 0.05 for CBOW
        (word2vec.c's defaults).
    min_alpha : the learning rate decays linearly to this value over all epochs of a `train` call.
    epochs : passes over the corpus.
    workers : training threads; ``None`` means the number of usable CPU cores.
    seed : seeds initial vectors and every thread's random stream.
    cbow_mean : CBOW uses the mean of the context vectors (True) or their sum.
    shared_negatives : skip-gram with negative sampling shares one set of noise words across a
        centre word's window and updates it as a small matrix product (pWord2Vec); False for
        word2vec.c's per-pair scheme. Ignored for CBOW.
    max_sentence_length : longer sentences (or lines) are cut into chunks of this many tokens.
    progress : a rich progress bar with words/s and ETA: None shows it when stderr is a
        terminal, True always, False never.

    After `fit`: `vocab` (`Vocabulary`), `syn0` (input vectors, the embeddings), `syn1neg` /
    `syn1` (output weights), `training_stats` (seconds, words, words/s of the last `train`), and
    `embeddings`, an `Embeddings` of the words with a ``count`` metadata column.
    """

    label = "word2vec"  # names threads, the progress bar and log lines

    FORMAT = "embedworks.word2vec"
    FORMAT_VERSION = 1
    #: input vectors start uniform in ±INIT_RANGE / dim (word2vec.c's 0.5 for words)
    INIT_RANGE = 0.5
    #: with several workers, each keeps a private copy of the output rows of the HOT_ROWS most
    #: frequent words and folds its changes into the shared rows after every piece
    #: (PIECE_TOKENS): every thread writes those rows all the time, and sharing them halved the
    #: speed of two threads on text8 CBOW when the two cores were far apart (_sgns.py). 0: off.
    HOT_ROWS = 1024

    def __init__(self, sg: bool = True, dim: int = 100, window: int = 5, negative: int = 5,
                 hs: bool = False, sample: float = 1e-3, min_count: int = 5,
                 max_vocab_size: int | None = None, alpha: float | str | None = None,
                 min_alpha: float = 1e-4, epochs: int = 5, workers: int | None = None, seed: int = 0,
                 cbow_mean: bool = True, shared_negatives: bool = True,
                 max_sentence_length: int = 10_000, progress: bool | None = None):
        self.sg = bool(sg)
        self.dim = dim
        self.window = window
        self.negative = negative
        self.hs = bool(hs)
        self.sample = sample
        self.min_count = min_count
        self.max_vocab_size = max_vocab_size
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.epochs = epochs
        self.workers = workers
        self.seed = seed
        self.cbow_mean = bool(cbow_mean)
        self.shared_negatives = bool(shared_negatives)
        self.max_sentence_length = max_sentence_length
        self.progress = progress
        self._validate()
        self.vocab: Vocabulary | None = None
        self.syn0: np.ndarray | None = None
        self.syn1neg: np.ndarray | None = None
        self.syn1: np.ndarray | None = None
        self.training_stats: dict = {}
        self.train_calls = 0
        self.epochs_trained = 0
        self._pending: tuple | None = None
        self._embeddings = None

    # ------------------------------------------------------------------ parameters
    def _validate(self) -> None:
        self.dim = check_int("dim", self.dim, 1)
        self.window = check_int("window", self.window, 1)
        self.negative = check_int("negative", self.negative, 0)
        self.min_count = check_int("min_count", self.min_count, 1)
        self.epochs = check_int("epochs", self.epochs, 1)
        self.max_sentence_length = check_int("max_sentence_length", self.max_sentence_length, 1)
        if self.max_vocab_size is not None:
            self.max_vocab_size = check_int("max_vocab_size", self.max_vocab_size, 1)
        if self.workers is not None:
            self.workers = check_int("workers", self.workers, 1)
        if not self.hs and self.negative == 0:
            raise InvalidInputError("nothing to train: set negative > 0 or hs=True (or both)")
        self._check_sample()
        if self.alpha is not None and self.alpha != "auto":
            if not isinstance(self.alpha, (int, float)) or not self.alpha > 0:
                raise InvalidInputError(f"alpha must be a positive number or 'auto', got {self.alpha!r}")
        if not isinstance(self.min_alpha, (int, float)) or self.min_alpha < 0:
            raise InvalidInputError(f"min_alpha must be >= 0, got {self.min_alpha!r}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise InvalidInputError(f"seed must be a non-negative integer, got {self.seed!r}")

    def get_params(self) -> dict:
        """The hyperparameters, as given to the constructor."""
        return {"sg": self.sg, "dim": self.dim, "window": self.window, "negative": self.negative,
                "hs": self.hs, "sample": self.sample, "min_count": self.min_count,
                "max_vocab_size": self.max_vocab_size, "alpha": self.alpha,
                "min_alpha": self.min_alpha, "epochs": self.epochs, "workers": self.workers,
                "seed": int(self.seed), "cbow_mean": self.cbow_mean,
                "shared_negatives": self.shared_negatives,
                "max_sentence_length": self.max_sentence_length, "progress": self.progress}

    @property
    def start_alpha(self) -> float:
        """The initial learning rate: `alpha`, or 0.025 (skip-gram) / 0.05 (CBOW) for "auto"."""
        if self.alpha is None or self.alpha == "auto":
            return 0.025 if self.sg else 0.05
        return float(self.alpha)

    def __repr__(self) -> str:
        state = f", {len(self.vocab)} words" if self.vocab is not None else ""
        return (f"Word2Vec({'skip-gram' if self.sg else 'CBOW'}, dim={self.dim}, window={self.window}, "
                f"negative={self.negative}, hs={self.hs}{state})")

    # ------------------------------------------------------------------ vocabulary
    def _corpus(self, corpus):
        if isinstance(corpus, (EncodedCorpus, Corpus)):
            return corpus
        if corpus is None:
            raise InvalidInputError("no corpus given")
        return as_corpus(corpus, max_sentence_length=self.max_sentence_length)

    def build_vocab(self, corpus, update: bool = False) -> "Word2Vec":
        """Count the words of `corpus` and set up the weights; returns self.

        With `update=True` the existing vocabulary is extended: known words add their counts,
        new words reaching `min_count` get new rows after the existing ones (initialised like
        word2vec.c), and existing rows keep their index and values. The corpus is encoded in the
        same pass and kept for the next `train(corpus)` call, so text is read only once.
        """
        original = corpus
        corpus = self._corpus(corpus)
        if isinstance(corpus, EncodedCorpus):
            raise InvalidInputError("an already-encoded corpus needs an existing vocabulary; pass tokens")
        self._embeddings = None
        if update:
            if self.vocab is None:
                raise InvalidInputError("build_vocab(update=True) needs a vocabulary: call build_vocab or fit first")
            n_old = len(self.vocab)
            if self.max_vocab_size is None:
                n_new, encoded = self.vocab.update_and_encode(corpus, self.min_count)
            else:
                n_new = self.vocab.update(corpus, self.min_count, self.max_vocab_size)
                encoded = self.vocab.encode(corpus)
            self._grow(n_old)
            logger.info("vocabulary update: %d new words, %d in all", n_new, len(self.vocab))
        else:
            if self.max_vocab_size is None:
                self.vocab, encoded = Vocabulary.build_and_encode(corpus, self.min_count)
            else:
                self.vocab = Vocabulary.build(corpus, self.min_count, self.max_vocab_size)
                encoded = self.vocab.encode(corpus)
            self._init_weights()
            self.train_calls = 0
            self.epochs_trained = 0
        self._pending = (original, corpus, encoded)
        self._report_decode_errors(corpus)
        return self

    @staticmethod
    def _report_decode_errors(corpus) -> None:
        if isinstance(corpus, Corpus) and corpus.decode_errors:
            logger.info("corpus had %d invalid UTF-8 byte sequences (replaced)", corpus.decode_errors)

    def _seed_state(self, *key: int) -> np.uint64:
        ss = np.random.SeedSequence(int(self.seed), spawn_key=tuple(int(k) for k in key))
        return np.uint64(ss.generate_state(1, np.uint64)[0])

    def _initial_vectors(self, rows: int, state) -> np.ndarray:
        """(rows, dim) starting input vectors, uniform in ±INIT_RANGE / dim from `state`."""
        out = np.empty((rows, self.dim), dtype=np.float32)
        word2vec_kernels().init_vectors(out, state)  # ±0.5 / dim, word2vec.c's
        if self.INIT_RANGE != 0.5:
            out *= np.float32(self.INIT_RANGE / 0.5)
        return out

    def _init_weights(self) -> None:
        V, d = len(self.vocab), self.dim
        self.syn0 = self._initial_vectors(V, self._seed_state(0, V))
        threads = self.workers or default_workers()
        spare = threads * self._hot_rows(threads)  # for _output_rows: no copy when training starts
        self.syn1neg = np.zeros((V + spare, d), dtype=np.float32)[:V] if self.negative else None
        self.syn1 = np.zeros((max(V - 1, 1), d), dtype=np.float32) if self.hs else None

    def _grow(self, n_old: int) -> None:
        V, d = len(self.vocab), self.dim
        if V == n_old:
            return
        self.syn0 = np.concatenate([self.syn0, self._initial_vectors(V - n_old, self._seed_state(1, n_old, V))])
        if self.syn1neg is not None:
            self.syn1neg = np.concatenate([self.syn1neg, np.zeros((V - n_old, d), np.float32)])
        if self.syn1 is not None:
            extra = max(V - 1, 1) - len(self.syn1)
            if extra > 0:
                self.syn1 = np.concatenate([self.syn1, np.zeros((extra, d), np.float32)])

    # ------------------------------------------------------------------ training
    def fit(self, corpus) -> "Word2Vec":
        """Build the vocabulary from `corpus` and train `epochs` passes; returns self.

        `corpus`: a path or list of paths (plain or .gz, one sentence per line), a `Corpus`, an
        iterable of token lists, or a list of integer arrays (int keys, e.g. random walks).
        """
        corpus = self._corpus(corpus)
        self.build_vocab(corpus)
        return self.train(corpus)

    def train(self, corpus=None, epochs: int | None = None) -> "Word2Vec":
        """Train on `corpus` (default: the one given to the last `build_vocab`); returns self.

        Words not in the vocabulary are skipped (call ``build_vocab(corpus, update=True)`` first
        to add them). The learning rate decays from `alpha` to `min_alpha` over these epochs.
        """
        if self.vocab is None:
            raise InvalidInputError("no vocabulary: call fit(corpus), or build_vocab(corpus) before train")
        epochs = self.epochs if epochs is None else check_int("epochs", epochs, 1)
        pending, self._pending = self._pending, None
        if corpus is None:
            if pending is None:
                raise InvalidInputError("train() needs a corpus (none pending from build_vocab)")
            encoded = pending[2]
        elif pending is not None and _same_corpus(corpus, pending[0], pending[1]):
            encoded = pending[2]
        elif isinstance(corpus, EncodedCorpus):
            encoded = corpus
        else:
            corpus = corpus if _is_id_arrays(corpus) else self._corpus(corpus)
            encoded = self.vocab.encode(corpus)
            self._report_decode_errors(corpus)
        if encoded.n_tokens == 0:
            raise InvalidInputError("the corpus has no words from the vocabulary: nothing to train on")
        self._embeddings = None
        self._run(encoded, epochs)
        self.train_calls += 1
        self.epochs_trained += epochs
        return self

    def _check_sample(self) -> None:
        sample = self.sample
        try:
            valid = bool(np.isfinite(sample)) and sample >= 0
        except TypeError:  # None, a string
            valid = False
        if not valid:
            raise InvalidInputError(f"sample must be >= 0 (0 disables subsampling), got {sample!r}")

    @property
    def effective_sample(self) -> float | None:
        """The subsampling threshold training uses: `sample` (subclasses may derive it)."""
        return float(self.sample)

    def _tables(self):
        vocab = self.vocab
        keep = vocab.keep_probabilities(self.effective_sample)
        if self.negative:
            neg_thr, neg_alias = vocab.negative_alias(0.75)
        else:
            neg_thr, neg_alias = np.zeros(1, np.uint32), np.zeros(1, np.int32)
        if self.hs:
            codes, points, lengths = vocab.huffman()
        else:
            codes, points, lengths = (np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.int32),
                                      np.zeros(1, np.int32))
        d = self.dim
        syn1neg = self.syn1neg if self.syn1neg is not None else np.zeros((1, d), np.float32)
        syn1 = self.syn1 if self.syn1 is not None else np.zeros((1, d), np.float32)
        return keep, neg_thr, neg_alias, codes, points, lengths, syn1neg, syn1

    def _hot_rows(self, threads: int) -> int:
        """How many of the most frequent words' output rows each of `threads` threads keeps
        private (HOT_ROWS; none for one thread or without negative sampling)."""
        if threads < 2 or not self.negative:
            return 0
        return min(self.HOT_ROWS, len(self.vocab))

    def _output_rows(self, extra: int) -> np.ndarray:
        """syn1neg with `extra` more rows after it, in one array whose first V rows stay the
        model's `syn1neg` (reusing the spare rows `_init_weights` allocated when there are)."""
        V = len(self.syn1neg)
        base = self.syn1neg.base
        if (isinstance(base, np.ndarray) and base.ndim == 2 and base.flags.c_contiguous
                and len(base) >= V + extra and base.ctypes.data == self.syn1neg.ctypes.data):
            return base[:V + extra]
        rows = np.zeros((V + extra, self.dim), dtype=np.float32)
        rows[:V] = self.syn1neg
        self.syn1neg = rows[:V]
        return rows

    def _piece_trainer(self, tokens: np.ndarray, threads: int):
        """The kernel call for one piece of a shard: (thread, offsets, p0, span, rng) ->
        (rng, words, kept), for `threads` threads numbered from 0.

        Subclasses with other kernels (FastText) override this and inherit the threading.
        """
        keep, neg_thr, neg_alias, codes, points, lengths, syn1neg, syn1 = self._tables()
        syn0 = self.syn0
        V = len(syn0)
        hot = self._hot_rows(threads)
        if hot:
            syn1neg = self._output_rows(threads * hot)
            private = [syn1neg[V + t * hot:V + (t + 1) * hot] for t in range(threads)]
            for rows in private:
                rows[:] = syn1neg[:hot]
            folded = [syn1neg[:hot].copy() for _ in range(threads)]  # shared rows at the last fold
            lock = threading.Lock()
        alpha0, min_alpha = self.start_alpha, float(min(self.min_alpha, self.start_alpha))
        if self.sg:
            kernel = word2vec_kernels().train_sg
            mode = (self.window, self.negative, self.hs, self.shared_negatives)
        else:
            kernel = word2vec_kernels().train_cbow
            mode = (self.window, self.negative, self.hs, self.cbow_mean)

        def train_piece(thread, offsets, p0, span, nr):
            result = kernel(syn0, syn1neg, syn1, tokens, offsets, keep, neg_thr, neg_alias, codes,
                            points, lengths, *mode, alpha0, min_alpha, p0, span,
                            hot, V + thread * hot, nr)
            if hot:  # fold this thread's changes to its private rows into the shared ones
                with lock:
                    shared = syn1neg[:hot]
                    shared += private[thread] - folded[thread]
                    private[thread][:] = shared
                    folded[thread][:] = shared
            return result

        return train_piece

    def _run(self, encoded: EncodedCorpus, epochs: int) -> None:
        tokens = np.asarray(encoded.tokens)
        offsets = np.ascontiguousarray(encoded.offsets, dtype=np.int64)
        n_tok = int(offsets[-1])
        workers = self.workers or default_workers()

        # contiguous shards by token position; a sentence cut by a boundary becomes two
        bounds = np.linspace(0, n_tok, workers + 1).round().astype(np.int64)
        shards = []
        for t in range(workers):
            lo, hi = bounds[t], bounds[t + 1]
            if hi <= lo:
                continue
            inner = offsets[(offsets > lo) & (offsets < hi)]
            so = np.concatenate([[lo], inner, [hi]]).astype(np.int64)
            cuts = np.unique(np.searchsorted(so, np.arange(lo, hi, PIECE_TOKENS), side="right") - 1)
            cuts = np.append(cuts[cuts < len(so) - 1], len(so) - 1)
            shards.append((so, cuts))
        states = [self._seed_state(2, self.train_calls, t) for t in range(len(shards))]
        train_piece = self._piece_trainer(tokens, len(shards))

        done = np.zeros(2, dtype=np.int64)  # words, words kept by subsampling
        lock = threading.Lock()
        stop = threading.Event()
        errors: list[BaseException] = []

        def work(shard_index: int) -> None:
            so, cuts = shards[shard_index]
            nr = states[shard_index]
            shard_len = float(so[-1] - so[0])
            span_all = epochs * shard_len
            try:
                for epoch in range(epochs):
                    for c0, c1 in zip(cuts[:-1], cuts[1:]):
                        if stop.is_set():
                            return
                        p0 = (epoch * shard_len + (so[c0] - so[0])) / span_all
                        span = (so[c1] - so[c0]) / span_all
                        nr, words, kept = train_piece(shard_index, so[c0:c1 + 1], p0, span, nr)
                        nr = np.uint64(nr)  # numba hands a uint64 back as a Python int
                        release_pages(encoded.tokens, so[c0], so[c1])
                        with lock:
                            done[0] += words
                            done[1] += kept
            except BaseException as e:  # re-raised in the calling thread
                errors.append(e)
                stop.set()

        total = n_tok * epochs
        logger.info("training %s %s on %d tokens x %d epochs, %d words, %d workers", self.label,
                    "skip-gram" if self.sg else "CBOW", n_tok, epochs, len(self.vocab), len(shards))
        threads = [threading.Thread(target=work, args=(i,), name=f"{self.label}-{i}", daemon=True)
                   for i in range(len(shards))]
        start = time.perf_counter()
        with limit_blas_threads(), ProgressBar(self.progress, total, self.label, "words") as bar:
            for th in threads:
                th.start()
            try:
                while True:
                    alive = [th for th in threads if th.is_alive()]
                    if not alive:
                        break
                    alive[0].join(timeout=0.2)
                    bar.update(int(done[0]))
            except KeyboardInterrupt:
                stop.set()
                for th in threads:
                    th.join()
                raise
            bar.update(int(done[0]))
        seconds = time.perf_counter() - start
        if errors:
            raise errors[0]
        self.training_stats = {
            "seconds": seconds, "words": int(done[0]), "effective_words": int(done[1]),
            "words_per_second": done[0] / seconds if seconds > 0 else float("inf"),
            "epochs": epochs, "workers": len(shards)}
        logger.info("trained %d words (%d after subsampling) in %.2f s: %.0f words/s",
                    done[0], done[1], seconds, self.training_stats["words_per_second"])

    # ------------------------------------------------------------------ results
    @property
    def embeddings(self):
        """The word vectors as an `Embeddings` (a snapshot: later training does not change it)."""
        if self.syn0 is None:
            raise InvalidInputError("the model has no vectors yet: call fit(corpus) first")
        if self._embeddings is None:
            from ..space import Embeddings

            self._embeddings = Embeddings(keys=self.vocab.words, vectors=self.syn0.copy(),
                                          metadata={"count": self.vocab.counts.tolist()},
                                          metric="cosine")
        return self._embeddings

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Save the full model (to continue training) as a directory; returns its path.

        Files: ``params.json`` (format, version, hyperparameters, training state),
        ``vocab.jsonl`` + ``counts.npy``, ``syn0.npy`` and ``syn1neg.npy`` / ``syn1.npy`` when
        used. Written beside `path` first and moved into place, so a failure leaves any existing
        model untouched. No pickle.
        """
        if self.vocab is None:
            raise InvalidInputError("nothing to save: the model has no vocabulary yet")
        path = Path(path)
        with atomic_directory(path, marker="params.json") as tmp:
            meta = {"format": self.FORMAT, "format_version": self.FORMAT_VERSION,
                    "params": self.get_params(),
                    "state": {"train_calls": self.train_calls, "epochs_trained": self.epochs_trained,
                              "raw_words": self.vocab.raw_words, "vocab_size": len(self.vocab),
                              "training_stats": self.training_stats}}
            with open(tmp / "params.json", "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=2)
            self.vocab.save(tmp)
            np.save(tmp / "syn0.npy", self.syn0)
            if self.syn1neg is not None:
                np.save(tmp / "syn1neg.npy", self.syn1neg)
            if self.syn1 is not None:
                np.save(tmp / "syn1.npy", self.syn1)
            for name, array in self._extra_arrays().items():
                np.save(tmp / f"{name}.npy", array)
        return path

    @classmethod
    def load(cls, path):
        """Load a model written by `save`; `train` then continues where it stopped."""
        path = Path(path)
        params_file = path / "params.json"
        meta = read_marker(path, params_file.name, cls.FORMAT, cls.FORMAT_VERSION, f"a {cls.__name__} model",
                           version_key="format_version")
        try:
            model = cls(**meta["params"])
        except (KeyError, TypeError) as e:
            raise FormatError(f"bad params: {e}", params_file) from None
        state = meta.get("state", {})
        model.vocab = Vocabulary.load(path, raw_words=state.get("raw_words"))

        def array(file_name, rows):
            file = path / file_name
            if not file.is_file():
                raise FormatError("missing", file)
            a = np.load(file, allow_pickle=False)
            if a.dtype != np.float32 or a.ndim != 2 or a.shape[1] != model.dim or a.shape[0] != rows:
                raise FormatError(f"expected float32 ({rows}, {model.dim}), got {a.dtype} {a.shape}", file)
            return np.ascontiguousarray(a)

        V = len(model.vocab)
        model.syn0 = array("syn0.npy", V)
        model.syn1neg = array("syn1neg.npy", V) if model.negative else None
        model.syn1 = array("syn1.npy", max(V - 1, 1)) if model.hs else None
        model._restore_extra(path, array)
        model.train_calls = int(state.get("train_calls", 0))
        model.epochs_trained = int(state.get("epochs_trained", 0))
        model.training_stats = state.get("training_stats", {})
        return model

    def _extra_arrays(self) -> dict:
        """Arrays beyond syn0/syn1neg/syn1 that `save` writes as NAME.npy (none for Word2Vec)."""
        return {}

    def _restore_extra(self, path: Path, array) -> None:
        """Read back what `_extra_arrays` wrote; `array(file, rows)` loads a checked float32 matrix."""


# --------------------------------------------------------------------------- helpers
def _same_corpus(corpus, original, wrapped) -> bool:
    """True when `corpus` is what `build_vocab` just read (the same object or the same files)."""
    if corpus is original or corpus is wrapped:
        return True
    if not isinstance(wrapped, Corpus) or wrapped.paths is None:
        return False
    if isinstance(corpus, Corpus):
        paths = corpus.paths
    elif isinstance(corpus, (str, os.PathLike)):
        paths = [Path(corpus)]
    elif isinstance(corpus, (list, tuple)) and corpus and all(isinstance(p, (str, os.PathLike)) for p in corpus):
        paths = [Path(p) for p in corpus]
    else:
        return False
    try:
        return paths is not None and [p.resolve() for p in paths] == [p.resolve() for p in wrapped.paths]
    except OSError:
        return False
