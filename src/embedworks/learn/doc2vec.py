"""Doc2Vec: paragraph vectors (Le & Mikolov 2014), PV-DBOW and PV-DM, trained by Numba kernels.

>>> from embedworks.learn import Doc2Vec
>>> docs = [(text.lower().split(), f"doc{i}") for i, text in enumerate(texts)]   # doctest: +SKIP
>>> model = Doc2Vec(dim=100, epochs=20, min_count=2).fit(docs)                   # doctest: +SKIP
>>> model.embeddings.most_similar("doc0", k=5)                                   # doctest: +SKIP
>>> model.infer("a new document to embed".split())                              # doctest: +SKIP

Documents are read once: every document's words become int32 word ids in one flat array (with
an int64 offsets array, one entry per document, empty documents kept) and its tags become rows
of the document-vector matrix, in a single pass (the `Vocabulary` machinery of `vocab.py`; no
Python work per token beyond the dictionary lookup that encodes it). Every epoch then runs over
the integers. Each of `workers` threads trains a contiguous range of documents with a kernel of
`_doc2vec.py` that releases the GIL; all threads update the shared matrices lock-free (Hogwild),
so results with `workers > 1` vary slightly from run to run, while `workers=1` with a `seed` is
bit-identical.

The algorithms and their options are gensim's ``Doc2Vec`` (``vector_size`` is `dim`); see
`_doc2vec.py` for the exact update rules.
"""

from __future__ import annotations

import difflib
import itertools
import json
import logging
import os
import threading
import time
from array import array
from collections import defaultdict
from numbers import Integral
from pathlib import Path

import numpy as np

from ..errors import FormatError, InvalidInputError
from ..files import atomic_directory, read_marker
from . import _doc2vec, _sgns
from .training import ProgressBar, check_int, default_workers, limit_blas_threads
from .vocab import Vocabulary, _TokenSink, release_pages

logger = logging.getLogger(__name__)

__all__ = ["Doc2Vec", "EncodedDocuments"]

#: tokens per kernel call; between calls a thread reports progress and checks for interruption
PIECE_TOKENS = 200_000

#: gensim's names for what Doc2Vec calls otherwise (for the unknown-option message)
_GENSIM_NAMES = {"vector_size": "dim", "cbow_mean": "dm_mean", "sg": "dm (dm=False is PV-DBOW)",
                 "iter": "epochs", "size": "dim", "documents": "fit(documents)",
                 "corpus_iterable": "fit(documents)", "random_state": "seed"}


class EncodedDocuments:
    """Integer-encoded documents: `tokens` (int32 word ids), `offsets` (int64, documents + 1;
    document k's words are ``tokens[offsets[k]:offsets[k + 1]]``, possibly none), and its tags
    as rows of the document-vector matrix, ``tag_idx[tag_ptr[k]:tag_ptr[k + 1]]``."""

    __slots__ = ("tokens", "offsets", "tag_ptr", "tag_idx")

    def __init__(self, tokens, offsets, tag_ptr, tag_idx):
        self.tokens = tokens
        self.offsets = offsets
        self.tag_ptr = tag_ptr
        self.tag_idx = tag_idx

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])


class Doc2Vec:
    """Paragraph vectors: PV-DBOW (``dm=False``, the default) or PV-DM (``dm=True``), with
    negative sampling and/or hierarchical softmax, as gensim's ``Doc2Vec``.

    Parameters
    ----------
    dim : vector size (gensim's ``vector_size``), of word and document vectors alike.
    dm : PV-DM when True (context words and the document vector predict the centre word);
        PV-DBOW when False (the document vector predicts each of its words).
    dm_mean : PV-DM averages its inputs (True) or sums them (False; the error is then divided by
        the number of inputs, as gensim).
    dm_concat : PV-DM concatenates the document vector and the 2 * `window` words around the
        centre (a fixed window, padded with a trained null word at the document's edges) into one
        input of ``(1 + 2 * window) * dim``; far slower and larger. Every document must have
        exactly one tag (gensim's ``dm_tag_count=1``). Needs ``dm=True``.
    dbow_words : PV-DBOW also trains word vectors by skip-gram over `window`, interleaved with
        the document vectors word by word (as gensim). Needs ``dm=False``.
    window : maximum distance between centre and context word (word2vec's dynamic window: drawn
        uniformly from 1..window per centre word; fixed for `dm_concat`).
    negative : noise words per positive example (0 turns negative sampling off).
    hs : hierarchical softmax over a Huffman tree of the words (may be combined with `negative`).
    sample : subsampling threshold for frequent words (0 disables it).
    min_count : words occurring fewer times are dropped.
    epochs : passes over the documents.
    alpha : initial learning rate; ``None`` / ``"auto"``: 0.025 (gensim's Doc2Vec default, for
        every mode).
    min_alpha : the learning rate decays linearly to this over all epochs of a `train` call.
    workers : training threads; ``None`` means the number of usable CPU cores.
    seed : seeds the initial vectors and every thread's random stream.
    progress : a rich progress bar with words/s and ETA: None shows it when stderr is a terminal,
        True always, False never.

    Documents (`fit`, `train`): an iterable of ``(tokens, tags)`` pairs, of objects with
    ``.words`` and ``.tags`` (gensim's ``TaggedDocument``), or of plain token lists (tagged by
    their position, an int). A tag is a str or an int; ``tags`` may be one tag or a list of them
    (a document trains every vector it names; documents sharing a tag share its vector).

    After `fit`: `embeddings` (alias `dv`, the document vectors keyed by tag), `words` (the word
    vectors, trained by PV-DM and ``dbow_words``; plain PV-DBOW leaves them at their random
    start), `infer` / `infer_many` for new documents, `vocab`, `tags`, `doc_vectors` (T, dim),
    `syn0` (word vectors; one extra padding row with `dm_concat`), `syn1neg` / `syn1` (output
    weights) and `training_stats`.
    """

    label = "doc2vec"  # names threads, the progress bar and log lines

    FORMAT = "embedworks.doc2vec"
    FORMAT_VERSION = 1

    def __init__(self, dim: int = 100, dm: bool = False, dm_mean: bool = True,
                 dm_concat: bool = False, dbow_words: bool = False, window: int = 5,
                 negative: int = 5, hs: bool = False, sample: float = 1e-3, min_count: int = 5,
                 epochs: int = 10, alpha: float | str | None = None, min_alpha: float = 1e-4,
                 workers: int | None = 2, seed: int = 0, progress: bool | None = None, **unknown):
        if unknown:
            raise InvalidInputError(_unknown_options_message(unknown))
        self.dim = dim
        self.dm = dm
        self.dm_mean = dm_mean
        self.dm_concat = dm_concat
        self.dbow_words = dbow_words
        self.window = window
        self.negative = negative
        self.hs = hs
        self.sample = sample
        self.min_count = min_count
        self.epochs = epochs
        self.alpha = alpha
        self.min_alpha = min_alpha
        self.workers = workers
        self.seed = seed
        self.progress = progress
        self._validate()
        self.vocab: Vocabulary | None = None
        self.tags: list = []
        self.tag_index: dict = {}
        self.syn0: np.ndarray | None = None
        self.doc_vectors: np.ndarray | None = None
        self.syn1neg: np.ndarray | None = None
        self.syn1: np.ndarray | None = None
        self.training_stats: dict = {}
        self.train_calls = 0
        self.epochs_trained = 0
        self._pending: EncodedDocuments | None = None
        self._embeddings = None
        self._words = None
        self._table_cache = None

    # ------------------------------------------------------------------ parameters
    def _validate(self) -> None:
        for name in ("dm", "dm_mean", "dm_concat", "dbow_words", "hs"):
            value = getattr(self, name)
            if isinstance(value, (bool, np.bool_)) or (isinstance(value, Integral) and value in (0, 1)):
                setattr(self, name, bool(value))
            else:
                raise InvalidInputError(f"{name} must be True or False, got {value!r}")
        self.dim = check_int("dim", self.dim, 1)
        self.window = check_int("window", self.window, 1)
        self.negative = check_int("negative", self.negative, 0)
        self.min_count = check_int("min_count", self.min_count, 1)
        self.epochs = check_int("epochs", self.epochs, 1)
        if self.workers is not None:
            self.workers = check_int("workers", self.workers, 1)
        if not self.hs and self.negative == 0:
            raise InvalidInputError("nothing to train: set negative > 0 or hs=True (or both)")
        if self.dm_concat and not self.dm:
            raise InvalidInputError("dm_concat=True is a PV-DM option: set dm=True as well")
        if self.dbow_words and self.dm:
            raise InvalidInputError("dbow_words=True is a PV-DBOW option: it needs dm=False "
                                    "(PV-DM trains word vectors anyway)")
        if isinstance(self.sample, bool) or not isinstance(self.sample, (int, float)) \
                or not np.isfinite(self.sample) or self.sample < 0:
            raise InvalidInputError(f"sample must be >= 0 (0 disables subsampling), got {self.sample!r}")
        if self.alpha is not None and self.alpha != "auto":
            if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) \
                    or not np.isfinite(self.alpha) or not self.alpha > 0:
                raise InvalidInputError(f"alpha must be a positive number or 'auto', got {self.alpha!r}")
        if isinstance(self.min_alpha, bool) or not isinstance(self.min_alpha, (int, float)) \
                or not np.isfinite(self.min_alpha) or self.min_alpha < 0:
            raise InvalidInputError(f"min_alpha must be >= 0, got {self.min_alpha!r}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise InvalidInputError(f"seed must be a non-negative integer, got {self.seed!r}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise InvalidInputError(f"progress must be True, False or None, got {self.progress!r}")

    def get_params(self) -> dict:
        """The hyperparameters, as given to the constructor."""
        return {"dim": self.dim, "dm": self.dm, "dm_mean": self.dm_mean, "dm_concat": self.dm_concat,
                "dbow_words": self.dbow_words, "window": self.window, "negative": self.negative,
                "hs": self.hs, "sample": self.sample, "min_count": self.min_count,
                "epochs": self.epochs, "alpha": self.alpha, "min_alpha": self.min_alpha,
                "workers": self.workers, "seed": int(self.seed), "progress": self.progress}

    @property
    def start_alpha(self) -> float:
        """The initial learning rate: `alpha`, or 0.025 for None / "auto" (gensim's default)."""
        if self.alpha is None or self.alpha == "auto":
            return 0.025
        return float(self.alpha)

    @property
    def mode(self) -> str:
        """"dbow", "dm" or "dm_concat"."""
        return "dm_concat" if self.dm_concat else ("dm" if self.dm else "dbow")

    @property
    def _mode_code(self) -> int:
        return {"dbow": _doc2vec.DBOW, "dm": _doc2vec.DM, "dm_concat": _doc2vec.DM_CONCAT}[self.mode]

    @property
    def layer_size(self) -> int:
        """Width of the hidden layer (and of the output weights): dim, or (1 + 2 * window) * dim
        with dm_concat."""
        return (1 + 2 * self.window) * self.dim if self.dm_concat else self.dim

    def __repr__(self) -> str:
        name = {"dbow": "PV-DBOW" + (" + words" if self.dbow_words else ""),
                "dm": f"PV-DM {'mean' if self.dm_mean else 'sum'}", "dm_concat": "PV-DM concat"}[self.mode]
        state = f", {len(self.tags)} tags, {len(self.vocab)} words" if self.vocab is not None else ""
        return (f"Doc2Vec({name}, dim={self.dim}, window={self.window}, negative={self.negative}, "
                f"hs={self.hs}{state})")

    # ------------------------------------------------------------------ reading documents
    def _encode(self, documents, scan: bool):
        """One pass over `documents`. With `scan`, every distinct word gets a provisional id (in
        order of first appearance) and (words, counts, tokens, lengths, tag_ptr, tag_idx) comes
        back; otherwise words are looked up in the vocabulary (-1 for unknown ones). Tags are
        looked up in (and new ones added to) `self.tags`."""
        _check_documents_source(documents)
        if scan:
            ids = defaultdict(itertools.count().__next__)
            lookup = ids.__getitem__
            word_ids = lambda words: map(lookup, words)  # noqa: E731
        else:
            get = self.vocab.index.get
            minus = itertools.repeat(-1)
            word_ids = lambda words: map(get, words, minus)  # noqa: E731
        sink = _TokenSink()
        add = sink.add
        lengths = array("q")
        tag_ptr = array("q", [0])
        tag_idx = array("i")
        tags, tag_index = self.tags, self.tag_index
        n_tags_before = len(tags)
        try:
            iterator = iter(documents)
        except TypeError:
            raise InvalidInputError(f"documents must be an iterable of token lists, (tokens, tags) "
                                    f"pairs or TaggedDocuments, got {type(documents).__name__}") from None
        k = -1
        try:
            for k, doc in enumerate(iterator):
                words, doc_tags = _split_document(doc, k)
                n = len(words)
                try:
                    add(word_ids(words), n)
                except TypeError:
                    bad = next((w for w in words if not isinstance(w, (str, Integral))), None)
                    raise InvalidInputError(f"document {k}: tokens must be str, got "
                                            f"{type(bad).__name__} {bad!r}") from None
                lengths.append(n)
                for t in doc_tags:
                    row = tag_index.get(t)
                    if row is None:
                        row = tag_index[t] = len(tags)
                        tags.append(t)
                    tag_idx.append(row)
                if self.dm_concat and len(doc_tags) != 1:
                    raise InvalidInputError(f"document {k} has {len(doc_tags)} tags: dm_concat needs "
                                            f"exactly one tag per document")
                tag_ptr.append(len(tag_idx))
        except BaseException:
            for t in tags[n_tags_before:]:  # leave the model's tags as they were
                del tag_index[t]
            del tags[n_tags_before:]
            raise
        if k < 0:
            raise InvalidInputError("no documents: the corpus is empty")
        tokens, _ = sink.finish()
        lengths = np.frombuffer(lengths, dtype=np.int64).copy()
        tag_ptr = np.frombuffer(tag_ptr, dtype=np.int64).copy()
        tag_idx = np.frombuffer(tag_idx, dtype=np.int32).copy() if len(tag_idx) else np.zeros(0, np.int32)
        if not scan:
            return tokens, lengths, tag_ptr, tag_idx
        words = list(ids)
        counts = np.zeros(len(words), dtype=np.int64)
        counts[:len(sink.counts)] = sink.counts
        return words, counts, tokens, lengths, tag_ptr, tag_idx

    @staticmethod
    def _compact(tokens, lengths, remap=None) -> tuple[np.ndarray, np.ndarray]:
        use = remap is not None
        remap = np.ascontiguousarray(remap, np.int32) if use else np.zeros(1, np.int32)
        offsets, kept = _doc2vec.compact_documents(tokens, lengths, remap, use)
        return tokens[:kept], offsets

    def encode(self, documents) -> EncodedDocuments:
        """`documents` in the model's integer form (unknown words dropped, new tags added)."""
        if self.vocab is None:
            raise InvalidInputError("no vocabulary: call fit(documents) or build_vocab(documents) first")
        n_before = len(self.tags)
        tokens, lengths, tag_ptr, tag_idx = self._encode(documents, scan=False)
        tokens, offsets = self._compact(tokens, lengths)
        self._grow_tags(n_before)
        return EncodedDocuments(tokens, offsets, tag_ptr, tag_idx)

    # ------------------------------------------------------------------ vocabulary
    def build_vocab(self, documents) -> "Doc2Vec":
        """Count the words of `documents`, collect their tags and set up the weights; returns self.

        The documents are encoded in the same pass and kept for the next `train()` call, so
        they are read only once (a generator is fine)."""
        saved = (self.tags, self.tag_index)
        self.tags, self.tag_index = [], {}
        try:
            words, counts, tokens, lengths, tag_ptr, tag_idx = self._encode(documents, scan=True)
            vocab, order = Vocabulary._select(words, counts, len(tokens), self.min_count,
                                              return_order=True)
        except BaseException:
            self.tags, self.tag_index = saved
            raise
        remap = np.full(len(words), -1, dtype=np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
        del words
        vocab._repack_words()
        tokens, offsets = self._compact(tokens, lengths, remap)
        self.vocab = vocab
        self._embeddings = self._words = self._table_cache = None
        self._init_weights()
        self.train_calls = 0
        self.epochs_trained = 0
        self._pending = EncodedDocuments(tokens, offsets, tag_ptr, tag_idx)
        logger.info("%s: %d documents, %d tags, %d words kept, %d of %d tokens", self.label,
                    len(offsets) - 1, len(self.tags), len(vocab), len(tokens), vocab.raw_words)
        return self

    def _seed_state(self, *key: int) -> np.uint64:
        ss = np.random.SeedSequence(int(self.seed), spawn_key=tuple(int(k) for k in key))
        return np.uint64(ss.generate_state(1, np.uint64)[0])

    def _init_weights(self) -> None:
        V, d, L = len(self.vocab), self.dim, self.layer_size
        self.syn0 = np.empty((V + 1 if self.dm_concat else V, d), dtype=np.float32)
        _sgns.init_vectors(self.syn0, self._seed_state(0, V))
        self.doc_vectors = np.empty((len(self.tags), d), dtype=np.float32)
        _sgns.init_vectors(self.doc_vectors, self._seed_state(4, 0, len(self.tags)))
        self.syn1neg = np.zeros((V, L), dtype=np.float32) if self.negative else None
        self.syn1 = np.zeros((max(V - 1, 1), L), dtype=np.float32) if self.hs else None

    def _grow_tags(self, n_old: int) -> None:
        T = len(self.tags)
        if T == n_old:
            return
        new = np.empty((T - n_old, self.dim), dtype=np.float32)
        _sgns.init_vectors(new, self._seed_state(4, n_old, T))
        self.doc_vectors = np.concatenate([self.doc_vectors, new])
        self._embeddings = None
        logger.info("%s: %d new tags, %d in all", self.label, T - n_old, T)

    def _drop_tags(self, n_keep: int) -> None:
        for t in self.tags[n_keep:]:
            del self.tag_index[t]
        del self.tags[n_keep:]
        self.doc_vectors = self.doc_vectors[:n_keep]

    # ------------------------------------------------------------------ training
    def fit(self, documents) -> "Doc2Vec":
        """Build the vocabulary and tags from `documents` and train `epochs` passes; returns self.

        `documents`: an iterable of (tokens, tags) pairs, of objects with ``.words`` and
        ``.tags`` (gensim's TaggedDocument), or of plain token lists (tag = position)."""
        self.build_vocab(documents)
        return self.train()

    def train(self, documents=None, epochs: int | None = None) -> "Doc2Vec":
        """Train on `documents` (default: those given to the last `build_vocab`); returns self.

        Words not in the vocabulary are skipped; tags not seen before get new vectors. The
        learning rate decays from `alpha` to `min_alpha` over these epochs."""
        if self.vocab is None:
            raise InvalidInputError("no vocabulary: call fit(documents), or build_vocab(documents) "
                                    "before train")
        epochs = self.epochs if epochs is None else check_int("epochs", epochs, 1)
        pending, self._pending = self._pending, None
        if documents is None:
            if pending is None:
                raise InvalidInputError("train() needs documents (none pending from build_vocab)")
            encoded = pending
        elif isinstance(documents, EncodedDocuments):
            encoded = documents
        else:
            n_tags = len(self.tags)
            encoded = self.encode(documents)
            if encoded.n_tokens == 0:
                self._drop_tags(n_tags)
        if encoded.n_tokens == 0:
            raise InvalidInputError("the documents have no words from the vocabulary: nothing to train on")
        if len(encoded.tag_idx) and int(encoded.tag_idx.max()) >= len(self.doc_vectors):
            raise InvalidInputError("encoded documents name tags this model does not have")
        self._embeddings = self._words = None
        self._run(encoded, epochs)
        self.train_calls += 1
        self.epochs_trained += epochs
        return self

    def _tables(self):
        """Sampling tables (cached: the vocabulary does not change after build_vocab) and the
        output matrices, dummies where unused."""
        vocab = self.vocab
        key = (id(vocab), len(vocab), self.sample, self.negative, self.hs)
        cached = self._table_cache
        if cached is None or cached[0] != key:
            keep = vocab.keep_probabilities(self.sample)
            if self.negative:
                neg_thr, neg_alias = vocab.negative_alias(0.75)
            else:
                neg_thr, neg_alias = np.zeros(1, np.uint32), np.zeros(1, np.int32)
            if self.hs:
                codes, points, lengths = vocab.huffman()
            else:
                codes, points, lengths = (np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.int32),
                                          np.zeros(1, np.int32))
            cached = self._table_cache = (key, (keep, neg_thr, neg_alias, codes, points, lengths))
        L = self.layer_size
        syn1neg = self.syn1neg if self.syn1neg is not None else np.zeros((1, L), np.float32)
        syn1 = self.syn1 if self.syn1 is not None else np.zeros((1, L), np.float32)
        return (*cached[1], syn1neg, syn1)

    def _null_word(self) -> int:
        return len(self.vocab) if self.dm_concat else 0

    def _run(self, encoded: EncodedDocuments, epochs: int) -> None:
        tokens = encoded.tokens
        offsets = np.ascontiguousarray(encoded.offsets, dtype=np.int64)
        tag_ptr = np.ascontiguousarray(encoded.tag_ptr, dtype=np.int64)
        tag_idx = np.ascontiguousarray(encoded.tag_idx, dtype=np.int32)
        n_docs = len(offsets) - 1
        n_tok = int(offsets[-1])
        workers = self.workers or default_workers()
        keep, neg_thr, neg_alias, codes, points, lengths, syn1neg, syn1 = self._tables()
        syn0, dv = self.syn0, self.doc_vectors
        alpha0, min_alpha = self.start_alpha, float(min(self.min_alpha, self.start_alpha))
        fixed = (self._mode_code, syn0, dv, syn1neg, syn1, tokens, offsets, tag_ptr, tag_idx)
        options = (keep, neg_thr, neg_alias, codes, points, lengths, self.window, self.negative,
                   self.hs, self.dm_mean, self.dbow_words, self._null_word(), self.layer_size,
                   alpha0, min_alpha)

        shards = _shards(offsets, workers)
        states = [self._seed_state(2, self.train_calls, t) for t in range(len(shards))]
        done = np.zeros(2, dtype=np.int64)  # words, words kept by subsampling
        lock = threading.Lock()
        stop = threading.Event()
        errors: list[BaseException] = []

        def work(shard_index: int) -> None:
            cuts = shards[shard_index]
            nr = states[shard_index]
            first = offsets[cuts[0]]
            shard_len = float(offsets[cuts[-1]] - first)
            span_all = epochs * shard_len
            if shard_len == 0:  # only empty documents
                return
            try:
                for epoch in range(epochs):
                    for c0, c1 in zip(cuts[:-1], cuts[1:]):
                        if stop.is_set():
                            return
                        p0 = (epoch * shard_len + (offsets[c0] - first)) / span_all
                        span = (offsets[c1] - offsets[c0]) / span_all
                        nr, words, kept = _doc2vec.train_documents(
                            *fixed, c0, c1, *options, p0, span, nr)
                        nr = np.uint64(nr)  # numba hands a uint64 back as a Python int
                        release_pages(tokens, offsets[c0], offsets[c1])
                        with lock:
                            done[0] += words
                            done[1] += kept
            except BaseException as e:  # re-raised in the calling thread
                errors.append(e)
                stop.set()

        total = n_tok * epochs
        logger.info("training %s %s on %d documents (%d tokens) x %d epochs, %d words, %d tags, "
                    "%d workers", self.label, self.mode, n_docs, n_tok, epochs, len(self.vocab),
                    len(self.tags), len(shards))
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
            "documents": n_docs, "epochs": epochs, "workers": len(shards)}
        logger.info("trained %d words (%d after subsampling) in %.2f s: %.0f words/s",
                    done[0], done[1], seconds, self.training_stats["words_per_second"])

    # ------------------------------------------------------------------ inference
    def infer(self, tokens, epochs: int | None = None, alpha: float | None = None,
              min_alpha: float | None = None, seed: int | None = None) -> np.ndarray:
        """A float32 vector for a new document (a list of tokens), trained with the word vectors
        and output weights frozen (gensim's ``infer_vector``).

        The vector starts from a random point drawn from `seed` (default: the model's) and the
        document's words, then takes `epochs` passes (default: the model's) with the learning
        rate stepping linearly from `alpha` (default: the model's initial rate) to `min_alpha`
        (default: the model's). The same document, seed and model give the same vector, also
        inside any `infer_many` batch. Words not in the vocabulary are ignored; a document with
        no known word keeps its random start."""
        if isinstance(tokens, str):
            raise InvalidInputError("infer() takes a list of tokens, not a str (split the text first)")
        return self.infer_many([tokens], epochs=epochs, alpha=alpha, min_alpha=min_alpha, seed=seed)[0]

    def infer_many(self, documents, epochs: int | None = None, alpha: float | None = None,
                   min_alpha: float | None = None, seed: int | None = None,
                   workers: int | None = None) -> np.ndarray:
        """`infer` for many documents at once: an (n, dim) float32 array, row k for documents[k].

        Documents are token lists (or anything `fit` takes; their tags are ignored). Runs in a
        Numba kernel over `workers` threads (default: the model's); every row is the same as
        `infer` of that document alone."""
        self._check_trained()
        epochs = self.epochs if epochs is None else check_int("epochs", epochs, 1)
        alpha = self.start_alpha if alpha is None else _positive("alpha", alpha)
        min_alpha = self.min_alpha if min_alpha is None else _positive("min_alpha", min_alpha, zero=True)
        seed = self.seed if seed is None else seed
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
        workers = (self.workers or default_workers()) if workers is None else check_int("workers", workers, 1)
        if isinstance(documents, (str, bytes)) or (isinstance(documents, (list, tuple)) and documents
                                                    and isinstance(documents[0], str)):
            raise InvalidInputError("infer_many() takes a list of token lists; use infer(tokens) for one")
        tokens, offsets = self._encode_for_inference(documents)
        n = len(offsets) - 1
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        keep, neg_thr, neg_alias, codes, points, lengths, syn1neg, syn1 = self._tables()
        args = (self._mode_code, self.syn0, syn1neg, syn1, tokens, offsets, out)
        options = (keep, neg_thr, neg_alias, codes, points, lengths, self.window, self.negative,
                   self.hs, self.dm_mean, self._null_word(), self.layer_size, float(alpha),
                   float(min(min_alpha, alpha)), epochs, np.uint64(seed))
        shards = _shards(offsets, workers, piece_tokens=None)
        errors: list[BaseException] = []

        def work(lo: int, hi: int) -> None:
            try:
                _doc2vec.infer_documents(*args, lo, hi, *options)
            except BaseException as e:  # re-raised in the calling thread
                errors.append(e)

        with limit_blas_threads():
            if len(shards) == 1:
                work(shards[0][0], shards[0][-1])
            else:
                threads = [threading.Thread(target=work, args=(s[0], s[-1]), daemon=True,
                                            name=f"{self.label}-infer-{i}") for i, s in enumerate(shards)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
        if errors:
            raise errors[0]
        return out

    def _encode_for_inference(self, documents):
        _check_documents_source(documents)
        get = self.vocab.index.get
        minus = itertools.repeat(-1)
        sink = _TokenSink()
        lengths = array("q")
        try:
            iterator = iter(documents)
        except TypeError:
            raise InvalidInputError(f"expected an iterable of token lists, got {type(documents).__name__}") from None
        for k, doc in enumerate(iterator):
            words = _split_document(doc, k, tags=False)[0]
            try:
                sink.add(map(get, words, minus), len(words))
            except TypeError:
                bad = next((w for w in words if not isinstance(w, (str, Integral))), None)
                raise InvalidInputError(f"document {k}: tokens must be str, got "
                                        f"{type(bad).__name__} {bad!r}") from None
            lengths.append(len(words))
        tokens, _ = sink.finish()
        tokens, offsets = self._compact(np.ascontiguousarray(tokens), np.frombuffer(lengths, np.int64).copy())
        return tokens, offsets

    # ------------------------------------------------------------------ results
    def _check_trained(self) -> None:
        if self.doc_vectors is None or self.vocab is None:
            raise InvalidInputError("the model has no vectors yet: call fit(documents) first")

    @property
    def embeddings(self):
        """The document vectors keyed by tag, as an `Embeddings` (a snapshot: later training does
        not change it)."""
        self._check_trained()
        if self._embeddings is None:
            from ..space import Embeddings

            self._embeddings = Embeddings(keys=self.tags, vectors=self.doc_vectors.copy(), metric="cosine")
        return self._embeddings

    @property
    def dv(self):
        """Alias of `embeddings` (gensim's name)."""
        return self.embeddings

    @property
    def words(self):
        """The word vectors as an `Embeddings` with a ``count`` column (a snapshot). Trained by
        PV-DM and by PV-DBOW with ``dbow_words=True``; plain PV-DBOW leaves them random."""
        self._check_trained()
        if self._words is None:
            from ..space import Embeddings

            V = len(self.vocab)
            self._words = Embeddings(keys=self.vocab.words, vectors=self.syn0[:V].copy(),
                                     metadata={"count": self.vocab.counts.tolist()}, metric="cosine")
        return self._words

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Save the full model (to continue training or inferring) as a directory; returns its path.

        Files: ``params.json`` (format, version, hyperparameters, training state), ``vocab.jsonl``
        + ``counts.npy`` (words), ``tags.jsonl`` (one JSON tag per line, in row order),
        ``syn0.npy``, ``doc_vectors.npy`` and ``syn1neg.npy`` / ``syn1.npy`` when used (plain
        ``.npy``, memory-mappable). Written beside `path` first and moved into place, so a failure
        leaves any existing model untouched. No pickle."""
        if self.vocab is None:
            raise InvalidInputError("nothing to save: the model has no vocabulary yet")
        path = Path(path)
        with atomic_directory(path, marker="params.json") as tmp:
            meta = {"format": self.FORMAT, "format_version": self.FORMAT_VERSION,
                    "params": self.get_params(),
                    "state": {"train_calls": self.train_calls, "epochs_trained": self.epochs_trained,
                              "raw_words": self.vocab.raw_words, "vocab_size": len(self.vocab),
                              "tags": len(self.tags), "training_stats": self.training_stats}}
            with open(tmp / "params.json", "w", encoding="utf-8") as f:
                json.dump(meta, f, indent=2)
            self.vocab.save(tmp)
            with open(tmp / "tags.jsonl", "w", encoding="utf-8") as f:
                for t in self.tags:
                    f.write(json.dumps(t, ensure_ascii=False))
                    f.write("\n")
            np.save(tmp / "syn0.npy", self.syn0)
            np.save(tmp / "doc_vectors.npy", self.doc_vectors)
            if self.syn1neg is not None:
                np.save(tmp / "syn1neg.npy", self.syn1neg)
            if self.syn1 is not None:
                np.save(tmp / "syn1.npy", self.syn1)
        return path

    @classmethod
    def load(cls, path, mmap: bool = False) -> "Doc2Vec":
        """Load a model written by `save`; `train` and `infer` then continue where it stopped.

        With `mmap=True` the matrices are memory-mapped copy-on-write: pages are read from the
        files when touched and shared between processes until written."""
        path = Path(path)
        params_file = path / "params.json"
        meta = read_marker(path, params_file.name, cls.FORMAT, cls.FORMAT_VERSION, "a Doc2Vec model",
                           version_key="format_version")
        try:
            model = cls(**meta["params"])
        except (KeyError, TypeError, InvalidInputError) as e:
            raise FormatError(f"bad params: {e}", params_file) from None
        state = meta.get("state", {})
        if not (path / "vocab.jsonl").is_file():
            raise FormatError("missing", path / "vocab.jsonl")
        model.vocab = Vocabulary.load(path, raw_words=state.get("raw_words"))
        tags_file = path / "tags.jsonl"
        if not tags_file.is_file():
            raise FormatError("missing", tags_file)
        tags = []
        with open(tags_file, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    tag = json.loads(line)
                except json.JSONDecodeError as e:
                    raise FormatError(f"not a JSON tag: {e}", tags_file, lineno) from None
                if isinstance(tag, bool) or not isinstance(tag, (str, int)):
                    raise FormatError(f"tags must be str or int, got {tag!r}", tags_file, lineno)
                tags.append(tag)
        model.tags = tags
        model.tag_index = {t: i for i, t in enumerate(tags)}
        if len(model.tag_index) != len(tags):
            raise FormatError("duplicate tags", tags_file)

        def array_(file_name, rows, cols):
            file = path / file_name
            if not file.is_file():
                raise FormatError("missing", file)
            a = np.load(file, allow_pickle=False, mmap_mode="c" if mmap else None)
            if a.dtype != np.float32 or a.ndim != 2 or a.shape != (rows, cols):
                raise FormatError(f"expected float32 ({rows}, {cols}), got {a.dtype} {a.shape}", file)
            return a if mmap else np.ascontiguousarray(a)

        V, d, L = len(model.vocab), model.dim, model.layer_size
        model.syn0 = array_("syn0.npy", V + 1 if model.dm_concat else V, d)
        model.doc_vectors = array_("doc_vectors.npy", len(tags), d)
        model.syn1neg = array_("syn1neg.npy", V, L) if model.negative else None
        model.syn1 = array_("syn1.npy", max(V - 1, 1), L) if model.hs else None
        model.train_calls = int(state.get("train_calls", 0))
        model.epochs_trained = int(state.get("epochs_trained", 0))
        model.training_stats = state.get("training_stats", {})
        return model


# --------------------------------------------------------------------------- helpers
def _unknown_options_message(unknown: dict) -> str:
    known = list(Doc2Vec.__init__.__code__.co_varnames[1:Doc2Vec.__init__.__code__.co_argcount])
    parts = []
    for name in unknown:
        hint = _GENSIM_NAMES.get(name)
        if hint is None:
            close = difflib.get_close_matches(name, known, n=1)
            hint = close[0] if close else None
        parts.append(f"{name!r}" + (f" (did you mean {hint}?)" if hint else ""))
    return f"unknown Doc2Vec option{'s' if len(parts) > 1 else ''}: {', '.join(parts)}"


def _positive(name: str, value, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise InvalidInputError(f"{name} must be a {'non-negative' if zero else 'positive'} number, "
                                f"got {value!r}")
    return float(value)


def _check_documents_source(documents) -> None:
    if documents is None:
        raise InvalidInputError("no documents given")
    if isinstance(documents, (str, bytes, os.PathLike)):
        raise InvalidInputError(
            "Doc2Vec takes documents, not a path or a str: pass an iterable of token lists, "
            "(tokens, tags) pairs or TaggedDocuments (e.g. [(line.split(), i) for i, line in "
            "enumerate(open(path))])")


def _tag_key(tag, position: int):
    if isinstance(tag, str):
        return tag
    if isinstance(tag, Integral) and not isinstance(tag, (bool, np.bool_)):
        return int(tag)
    raise InvalidInputError(f"document {position}: tags must be str or int, got "
                            f"{type(tag).__name__} {tag!r}")


def _split_document(doc, position: int, tags: bool = True):
    """(words, tags) of one document: a TaggedDocument-like object, a (tokens, tags) pair or a
    plain token list (tagged by `position`)."""
    words = getattr(doc, "words", None)
    if words is not None and hasattr(doc, "tags"):
        doc_tags = doc.tags
    elif isinstance(doc, (tuple, list)) and len(doc) == 2 and isinstance(doc[0], (list, tuple, np.ndarray)):
        words, doc_tags = doc
    elif isinstance(doc, tuple) and len(doc) == 2 and isinstance(doc[0], str) and len(doc[0].split()) > 1:
        raise InvalidInputError(f"document {position}: words must be a list of tokens, got a str "
                                f"{doc[0][:40]!r} (split the text first)")
    elif isinstance(doc, (list, tuple, np.ndarray)):
        words, doc_tags = doc, position
    elif isinstance(doc, (str, bytes)):
        raise InvalidInputError(f"document {position} is a {type(doc).__name__}, not a list of tokens "
                                f"(split the text first)")
    else:
        raise InvalidInputError(
            f"document {position}: expected a list of tokens, a (tokens, tags) pair or an object with "
            f".words and .tags (gensim's TaggedDocument), got {type(doc).__name__}")
    if isinstance(words, np.ndarray):
        if words.ndim != 1:
            raise InvalidInputError(f"document {position}: words must be a 1-D list of tokens, got an "
                                    f"array of shape {words.shape}")
        words = words.tolist()
    elif isinstance(words, (str, bytes)):
        raise InvalidInputError(f"document {position}: words must be a list of tokens, got a "
                                f"{type(words).__name__} (split the text first)")
    elif not isinstance(words, (list, tuple)):
        try:
            words = list(words)
        except TypeError:
            raise InvalidInputError(f"document {position}: words must be a list of tokens, got "
                                    f"{type(words).__name__}") from None
    if not tags:
        return words, ()
    if isinstance(doc_tags, (str, Integral)) and not isinstance(doc_tags, (bool, np.bool_)):
        return words, (_tag_key(doc_tags, position),)
    if isinstance(doc_tags, (list, tuple, np.ndarray)):
        return words, tuple(_tag_key(t, position) for t in (doc_tags.tolist() if isinstance(doc_tags, np.ndarray)
                                                              else doc_tags))
    raise InvalidInputError(f"document {position}: tags must be a str, an int or a list of them, "
                            f"got {type(doc_tags).__name__} {doc_tags!r}")


def _shards(offsets: np.ndarray, workers: int, piece_tokens: int | None = PIECE_TOKENS) -> list[np.ndarray]:
    """Contiguous document ranges with about equal tokens, one per worker, each cut into pieces
    of about `piece_tokens` tokens: a list of int64 arrays of document boundaries
    ``[first, ..., stop]`` (the kernel calls run between consecutive entries)."""
    n_docs = len(offsets) - 1
    n_tok = int(offsets[-1])
    workers = max(1, min(workers, n_docs))
    targets = np.linspace(0, n_tok, workers + 1)
    bounds = np.searchsorted(offsets[:-1], targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, n_docs
    bounds = np.maximum.accumulate(bounds)
    shards = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        if piece_tokens is None:
            shards.append(np.array([lo, hi], dtype=np.int64))
            continue
        starts = offsets[lo:hi]
        marks = np.arange(offsets[lo], offsets[hi], piece_tokens)
        cuts = lo + np.searchsorted(starts, marks, side="left")
        cuts = np.unique(np.concatenate([[lo], cuts, [hi]])).astype(np.int64)
        shards.append(cuts)
    return shards
