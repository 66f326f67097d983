"""FastText: word vectors from words and their character n-grams (Bojanowski et al. 2017).

>>> from embedworks.learn import FastText
>>> model = FastText(dim=100, epochs=5).fit("corpus.txt")        # doctest: +SKIP
>>> model.vector("unseenword")                                      # doctest: +SKIP
>>> model.most_similar("misspeled", k=5)                            # doctest: +SKIP

A word's vector is the mean of its own row and the rows of its character n-grams (those of
``<word>`` with `min_n`..`max_n` characters, hashed into `bucket` rows with fastText's FNV-1a
variant, so the rows are compatible with fastText's and gensim's hashing). Words never seen in
training still get a vector from their n-grams.

`FastText` is a `Word2Vec` with subwords: vocabulary building (``build_vocab(update=True)``
included), the corpus handling, `train`, the threading model (one contiguous shard of the
encoded corpus per worker, lock-free Hogwild updates, kernels that release the GIL), the
learning-rate schedule, seeding, progress and the on-disk layout are Word2Vec's. The kernels
(`_fasttext.py`) cache each token's composed vector while it is inside the window span, so every
token's rows are read and written once per epoch instead of once per window (see there).
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import numpy as np

from ..errors import FormatError, InvalidInputError, UnknownKeyError
from . import _fasttext
from .training import check_int
from .word2vec import Word2Vec

logger = logging.getLogger(__name__)

__all__ = ["FastText"]

#: the largest bucket count whose row indices fit the kernels' int32 n-gram lists
MAX_BUCKET = 2 ** 31 - 1


class FastText(Word2Vec):
    """fastText word vectors: CBOW (default, as gensim and fastText) or skip-gram over words and
    their hashed character n-grams, with negative sampling and/or hierarchical softmax.

    Parameters (those shared with `Word2Vec` mean the same there)
    ----------
    sg : skip-gram when True, CBOW when False (the default, as gensim's FastText).
    dim, window, negative, sample, min_count, min_alpha, epochs, seed, progress : as `Word2Vec`.
    min_n, max_n : shortest and longest character n-gram of ``<word>``.
    bucket : rows of the hashed n-gram table (n-grams beyond that share rows).
    alpha : initial learning rate; ``None`` / ``"auto"`` means 0.025 for skip-gram and CBOW alike
        (gensim's FastText default).
    workers : training threads (``None``: the number of usable CPU cores).
    hs, cbow_mean, shared_negatives, max_vocab_size, max_sentence_length : as `Word2Vec`
        (keyword only).

    After `fit`: `vocab`, `syn0` (V, dim) the words' own rows, `syn0_ngrams` (n, dim) the rows of
    the n buckets that vocabulary words use and `ngram_buckets` (n,) their bucket ids (any other
    bucket keeps its initial vector, computed on demand: see `ngram_vectors`), `syn1neg` /
    `syn1` (output weights), `training_stats`, and `embeddings` (the in-vocabulary words' full
    vectors). `vector` / `vectors_for` / `most_similar` work for any word, in the vocabulary or
    not.
    """

    label = "fasttext"

    FORMAT = "embedworks.fasttext"
    FORMAT_VERSION = 1
    #: the subword kernels keep every output row shared (see Word2Vec.HOT_ROWS)
    HOT_ROWS = 0

    def __init__(self, sg: bool = False, dim: int = 100, window: int = 5, negative: int = 5,
                 sample: float = 1e-3, min_count: int = 5, min_n: int = 3, max_n: int = 6,
                 bucket: int = 2_000_000, alpha: float | str | None = None, min_alpha: float = 1e-4,
                 epochs: int = 5, workers: int | None = 2, seed: int = 0,
                 progress: bool | None = None, *, hs: bool = False, cbow_mean: bool = True,
                 shared_negatives: bool = True, max_vocab_size: int | None = None,
                 max_sentence_length: int = 10_000):
        self.min_n = min_n
        self.max_n = max_n
        self.bucket = bucket
        self.syn0_ngrams: np.ndarray | None = None
        self.ngram_buckets: np.ndarray | None = None
        self._sub_ptr: np.ndarray | None = None
        self._sub_idx: np.ndarray | None = None
        super().__init__(sg=sg, dim=dim, window=window, negative=negative, hs=hs, sample=sample,
                         min_count=min_count, max_vocab_size=max_vocab_size, alpha=alpha,
                         min_alpha=min_alpha, epochs=epochs, workers=workers, seed=seed,
                         cbow_mean=cbow_mean, shared_negatives=shared_negatives,
                         max_sentence_length=max_sentence_length, progress=progress)

    # ------------------------------------------------------------------ parameters
    def _validate(self) -> None:
        super()._validate()
        self.min_n = check_int("min_n", self.min_n, 1)
        self.max_n = check_int("max_n", self.max_n, 1)
        if self.min_n > self.max_n:
            raise InvalidInputError(f"min_n ({self.min_n}) must not exceed max_n ({self.max_n})")
        self.bucket = check_int("bucket", self.bucket, 1)
        if self.bucket > MAX_BUCKET:
            raise InvalidInputError(f"bucket must be <= {MAX_BUCKET}, got {self.bucket}")

    def get_params(self) -> dict:
        """The hyperparameters, as given to the constructor (Word2Vec's that FastText takes)."""
        accepted = inspect.signature(FastText.__init__).parameters
        params = {k: v for k, v in super().get_params().items() if k in accepted}
        params.update(min_n=self.min_n, max_n=self.max_n, bucket=self.bucket)
        return params

    @property
    def start_alpha(self) -> float:
        """The initial learning rate: `alpha`, or 0.025 for None / "auto" (gensim's default)."""
        if self.alpha is None or self.alpha == "auto":
            return 0.025
        return float(self.alpha)

    def __repr__(self) -> str:
        state = f", {len(self.vocab)} words" if self.vocab is not None else ""
        return (f"FastText({'skip-gram' if self.sg else 'CBOW'}, dim={self.dim}, window={self.window}, "
                f"negative={self.negative}, hs={self.hs}, n-grams {self.min_n}..{self.max_n} in "
                f"{self.bucket} buckets{state})")

    # ------------------------------------------------------------------ weights
    def _check_str_vocab(self) -> None:
        if self.vocab.int_keys:
            self.vocab = None
            raise InvalidInputError("FastText needs str tokens (character n-grams); got integer keys")

    def _bucket_seed(self) -> np.uint64:
        return self._seed_state(3)

    def _rows_of(self, buckets: np.ndarray) -> np.ndarray:
        """Stored row of each bucket id (int64), -1 where the table holds no row for it."""
        stored = self.ngram_buckets
        if stored is None or len(stored) == 0:
            return np.full(len(buckets), -1, dtype=np.int64)
        cache = getattr(self, "_bucket_lookup", None)
        if cache is None or cache[0] is not stored:  # the table changed: sort its buckets again
            order = np.argsort(stored, kind="stable")
            cache = self._bucket_lookup = (stored, order, stored[order])
        order, ordered = cache[1], cache[2]
        pos = np.minimum(np.searchsorted(ordered, buckets), len(ordered) - 1)
        return np.where(ordered[pos] == buckets, order[pos], -1)

    def _index_ngrams(self) -> None:
        """Bucket lists of every vocabulary word; buckets not stored yet get new rows (in order of
        first use, so the rows of frequent words sit together), initialised by bucket."""
        ptr, buckets = _fasttext.ngram_buckets(self.vocab.words, self.min_n, self.max_n, self.bucket)
        buckets = buckets.astype(np.int64)
        rows = self._rows_of(buckets)
        missing = buckets[rows < 0]
        if len(missing):
            uniq, first = np.unique(missing, return_index=True)
            new = missing[np.sort(first)]
            fresh = np.empty((len(new), self.dim), dtype=np.float32)
            _fasttext.init_bucket_rows(fresh, new, 1.0 / self.dim, self._bucket_seed())
            if self.ngram_buckets is None:
                self.ngram_buckets, self.syn0_ngrams = new, fresh
            else:
                self.ngram_buckets = np.concatenate([self.ngram_buckets, new])
                self.syn0_ngrams = np.concatenate([self.syn0_ngrams, fresh])
            rows = self._rows_of(buckets)
        elif self.syn0_ngrams is None:
            self.ngram_buckets = np.zeros(0, dtype=np.int64)
            self.syn0_ngrams = np.zeros((0, self.dim), dtype=np.float32)
        self._sub_ptr, self._sub_idx = ptr, rows.astype(np.int32)

    def _init_weights(self) -> None:
        self._check_str_vocab()
        V, d = len(self.vocab), self.dim
        self.syn0 = np.empty((V, d), dtype=np.float32)
        _fasttext.init_uniform(self.syn0, 1.0 / d, self._seed_state(0, V))  # fastText: [-1/d, 1/d)
        self.syn1neg = np.zeros((V, d), dtype=np.float32) if self.negative else None
        self.syn1 = np.zeros((max(V - 1, 1), d), dtype=np.float32) if self.hs else None
        self.syn0_ngrams = self.ngram_buckets = None
        self._index_ngrams()

    def _grow(self, n_old: int) -> None:
        V, d = len(self.vocab), self.dim
        if V != n_old:
            new = np.empty((V - n_old, d), dtype=np.float32)
            _fasttext.init_uniform(new, 1.0 / d, self._seed_state(1, n_old, V))
            self.syn0 = np.concatenate([self.syn0, new])
            if self.syn1neg is not None:
                self.syn1neg = np.concatenate([self.syn1neg, np.zeros((V - n_old, d), np.float32)])
            if self.syn1 is not None:
                extra = max(V - 1, 1) - len(self.syn1)
                if extra > 0:
                    self.syn1 = np.concatenate([self.syn1, np.zeros((extra, d), np.float32)])
        self._index_ngrams()

    # ------------------------------------------------------------------ training
    def _piece_trainer(self, tokens: np.ndarray, threads: int):
        """Word2Vec's threading with the subword kernels: input rows are word + n-gram rows."""
        keep, neg_thr, neg_alias, codes, points, lengths, syn1neg, syn1 = self._tables()
        syn0, ngrams = self.syn0, self.syn0_ngrams
        sub_ptr, sub_idx = self._sub_ptr, self._sub_idx
        alpha0, min_alpha = self.start_alpha, float(min(self.min_alpha, self.start_alpha))
        if self.sg:
            kernel = _fasttext.train_sg
            mode = (self.window, self.negative, self.hs, self.shared_negatives)
        else:
            kernel = _fasttext.train_cbow
            mode = (self.window, self.negative, self.hs, self.cbow_mean)

        def train_piece(thread, offsets, p0, span, nr):
            return kernel(syn0, ngrams, syn1neg, syn1, tokens, offsets, keep, neg_thr, neg_alias, codes,
                          points, lengths, sub_ptr, sub_idx, *mode, alpha0, min_alpha, p0, span, nr)

        return train_piece

    # ------------------------------------------------------------------ results
    def _check_trained(self) -> None:
        if self.syn0 is None or self.syn0_ngrams is None:
            raise InvalidInputError("the model has no vectors yet: call fit(corpus) first")

    @property
    def embeddings(self):
        """The in-vocabulary words' full vectors (own row and n-gram rows averaged, as gensim's
        ``wv.vectors``) as an `Embeddings` with a ``count`` column (a snapshot)."""
        self._check_trained()
        if self._embeddings is None:
            from ..space import Embeddings

            V = len(self.vocab)
            vectors = np.empty((V, self.dim), dtype=np.float32)
            _fasttext.compose(self.syn0, self.syn0_ngrams, np.zeros((0, self.dim), np.float32),
                              np.arange(V, dtype=np.int64), self._sub_ptr, self._sub_idx, vectors)
            self._embeddings = Embeddings(keys=self.vocab.words, vectors=vectors,
                                          metadata={"count": self.vocab.counts.tolist()},
                                          metric="cosine")
        return self._embeddings

    def buckets_of(self, word: str) -> np.ndarray:
        """The n-gram buckets of `word` (int64), in fastText's order; gensim's ``ft_ngram_hashes``."""
        if not isinstance(word, str):
            raise InvalidInputError(f"words must be str, got {type(word).__name__} {word!r}")
        return _fasttext.ngram_buckets([word], self.min_n, self.max_n, self.bucket)[1].astype(np.int64)

    def ngram_vectors(self, buckets) -> np.ndarray:
        """The (len(buckets), dim) vectors of n-gram buckets: the stored row, or for a bucket no
        vocabulary word uses its initial vector (what a full (bucket, dim) table would hold)."""
        self._check_trained()
        buckets = np.asarray(buckets, dtype=np.int64).reshape(-1)
        if len(buckets) and (buckets.min() < 0 or buckets.max() >= self.bucket):
            raise InvalidInputError(f"buckets must lie in [0, {self.bucket})")
        rows = self._rows_of(buckets)
        out = np.empty((len(buckets), self.dim), dtype=np.float32)
        out[rows >= 0] = self.syn0_ngrams[rows[rows >= 0]]
        if (rows < 0).any():
            fresh = np.empty((int((rows < 0).sum()), self.dim), dtype=np.float32)
            _fasttext.init_bucket_rows(fresh, buckets[rows < 0], 1.0 / self.dim, self._bucket_seed())
            out[rows < 0] = fresh
        return out

    def vectors_for(self, words) -> np.ndarray:
        """A (len(words), dim) float32 matrix: the full vector of each in-vocabulary word, and
        for any other word the mean of its n-gram vectors (as fastText and gensim).

        Raises `UnknownKeyError` for a word that is not in the vocabulary and has no n-gram at
        all (``<word>`` shorter than `min_n` characters)."""
        self._check_trained()
        if isinstance(words, str):
            raise InvalidInputError("vectors_for takes a list of words; use vector(word) for one")
        words = list(words)
        for w in words:
            if not isinstance(w, str):
                raise InvalidInputError(f"words must be str, got {type(w).__name__} {w!r}")
        index = self.vocab.index
        ids = np.fromiter((index.get(w, -1) for w in words), dtype=np.int64, count=len(words))
        ptr, buckets = _fasttext.ngram_buckets(words, self.min_n, self.max_n, self.bucket)
        buckets = buckets.astype(np.int64)
        rows = self._rows_of(buckets)
        extra = np.zeros((0, self.dim), dtype=np.float32)
        if (rows < 0).any():  # buckets no vocabulary word uses: their initial vectors
            uniq, inverse = np.unique(buckets[rows < 0], return_inverse=True)
            extra = np.empty((len(uniq), self.dim), dtype=np.float32)
            _fasttext.init_bucket_rows(extra, uniq, 1.0 / self.dim, self._bucket_seed())
            rows[rows < 0] = -1 - inverse.reshape(-1)
        out = np.empty((len(words), self.dim), dtype=np.float32)
        counts = _fasttext.compose(self.syn0, self.syn0_ngrams, extra, ids, ptr, rows, out)
        missing = np.flatnonzero(counts == 0)
        if len(missing):
            word = words[missing[0]]
            err = UnknownKeyError(word, what="word")
            err.args = (f"unknown word {word!r}: not in the vocabulary and it has no character "
                        f"n-gram of {self.min_n}..{self.max_n} characters (as '<{word}>')",)
            raise err
        return out

    def vector(self, word: str) -> np.ndarray:
        """The vector of one word, in the vocabulary or not (see `vectors_for`)."""
        if not isinstance(word, str):
            raise InvalidInputError(f"words must be str, got {type(word).__name__} {word!r}")
        return self.vectors_for([word])[0]

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vector(word)

    def most_similar(self, word: str, k: int = 10, **kwargs) -> list[tuple[str, float]]:
        """The k in-vocabulary words nearest to `word` (cosine), best first; `word` need not be in
        the vocabulary (it is then searched by its n-gram vector). Extra keyword arguments go to
        `Embeddings.most_similar` (`exclude`, `restrict`, `metric`)."""
        emb = self.embeddings
        if isinstance(word, str) and word in self.vocab.index:
            return emb.most_similar(word, k=k, **kwargs)
        return emb.most_similar(self.vector(word), k=k, **kwargs)

    # ------------------------------------------------------------------ files
    def _extra_arrays(self) -> dict:
        """``ngrams.npy`` (the stored n-gram rows) and ``ngram_buckets.npy`` (the bucket of each)."""
        return {"ngrams": self.syn0_ngrams, "ngram_buckets": self.ngram_buckets}

    def _restore_extra(self, path: Path, array) -> None:
        buckets_file = path / "ngram_buckets.npy"
        if not buckets_file.is_file():
            raise FormatError("missing", buckets_file)
        buckets = np.load(buckets_file, allow_pickle=False)
        if buckets.ndim != 1 or buckets.dtype.kind not in "iu" or (
                len(buckets) and (buckets.min() < 0 or buckets.max() >= self.bucket
                                  or len(np.unique(buckets)) != len(buckets))):
            raise FormatError(f"expected distinct bucket ids in [0, {self.bucket})", buckets_file)
        self.ngram_buckets = buckets.astype(np.int64)
        self.syn0_ngrams = array("ngrams.npy", len(buckets))
        self._index_ngrams()
        if len(self.ngram_buckets) != len(buckets):
            raise FormatError("the n-gram table lacks buckets its vocabulary uses", buckets_file)
