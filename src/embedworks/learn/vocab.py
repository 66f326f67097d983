"""Vocabulary for word-embedding trainers: counts, pruning, subsampling, negative sampling, Huffman.

`Vocabulary` holds the kept words (str, or int for already-integer-encoded corpora), their counts
(sorted by count descending, ties by first appearance, for a fresh build) and the reverse index.
It also turns a corpus into the integer form the kernels train on: one flat int32 array of word
ids plus an int64 array of sentence offsets (sentence ``s`` is ``tokens[offsets[s]:offsets[s+1]]``),
with out-of-vocabulary words dropped and empty sentences removed. Encoding streams: token ids are
collected in fixed-size chunks (4 bytes a token, never one Python object per token), and past
`spill_tokens` tokens the chunks go to a temporary file that is memory-mapped at the end, so
epochs re-read integers, not text.

Two ways to build: `Vocabulary.build` (count, then `encode` in a second pass; supports
`max_vocab_size`, which prunes rare words during the scan as gensim does) and
`Vocabulary.build_and_encode` (one pass over the text: every distinct word gets a provisional
id on first sight, the ids are written out, and after counting they are remapped to final ids in
place; this is what `Word2Vec.fit` uses when `max_vocab_size` is None, so text is read once).
"""

from __future__ import annotations

import itertools
import json
import logging
import mmap
import os
import tempfile
from array import array
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..data.corpus import Corpus, as_corpus
from ..errors import FormatError, InvalidInputError
from ._aot import word2vec_kernels

logger = logging.getLogger(__name__)

__all__ = ["Vocabulary", "EncodedCorpus", "encode_int_arrays", "alias_table"]

#: tokens per in-memory chunk while encoding
CHUNK_TOKENS = 1 << 20
#: encoded corpora larger than this many tokens (16 MB) are spilled to a memory-mapped temporary
#: file, whose pages training releases as it goes (`release_pages`), so RAM holds no copy
SPILL_TOKENS = 1 << 22
#: word2vec.c's cumulative-table domain (gensim uses the same)
CDF_DOMAIN = 2 ** 31 - 1


def alias_table(weights) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds uint32, alias int32) for sampling index i with probability ∝ weights[i]."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidInputError("alias table needs a non-empty vector of non-negative weights")
    thr = np.zeros(len(w), dtype=np.uint32)
    alias = np.zeros(len(w), dtype=np.int32)
    word2vec_kernels().vose(w / w.sum(), thr, alias)
    return thr, alias


# --------------------------------------------------------------------------- token sink
class _TokenSink:
    """Collects int32 ids sentence by sentence in bounded memory; spills to disk when large."""

    def __init__(self, spill_tokens: int | None = None, spill_dir=None):
        self.spill_tokens = SPILL_TOKENS if spill_tokens is None else spill_tokens
        #: occurrences of each id, counted while the chunk is in memory (so a spilled corpus
        #: need not be paged back in to count it)
        self.counts = np.zeros(0, dtype=np.int64)
        self.spill_dir = spill_dir
        # fixed-size numpy chunks (no realloc growth, which fragments the heap)
        self.buf = np.empty(CHUNK_TOKENS, dtype=np.int32)
        self.fill = 0
        self.chunks: list[np.ndarray] = []
        self.n_flushed = 0
        self.ends = array("q")
        self._file = None
        self._path = None

    def add(self, ids, n: int) -> None:
        """Append one sentence of `n` ids given as an iterable of ints (a `map` object is fastest)."""
        self.add_array(np.fromiter(ids, dtype=np.int32, count=n))

    def add_array(self, ids: np.ndarray) -> None:
        """Append one sentence given as an integer array (empty sentences are skipped)."""
        n = len(ids)
        if n == 0:
            return
        pos = 0
        while pos < n:
            take = min(n - pos, CHUNK_TOKENS - self.fill)
            self.buf[self.fill:self.fill + take] = ids[pos:pos + take]
            self.fill += take
            pos += take
            if self.fill == CHUNK_TOKENS:
                self._store(self.buf)
                self.buf = np.empty(CHUNK_TOKENS, dtype=np.int32)
                self.fill = 0
        self.ends.append(self.n_flushed + self.fill)

    @property
    def n_tokens(self) -> int:
        return self.n_flushed + self.fill

    def _flush(self) -> None:
        if self.fill:
            self._store(self.buf[:self.fill].copy())
            self.fill = 0

    def _store(self, chunk: np.ndarray) -> None:
        self.n_flushed += len(chunk)
        seen = np.bincount(chunk[chunk >= 0])
        if len(seen) > len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(len(seen) - len(self.counts), np.int64)])
        self.counts[:len(seen)] += seen
        if self._file is None and self.n_flushed > self.spill_tokens:
            fd, self._path = tempfile.mkstemp(prefix="embedworks-tokens-", suffix=".int32",
                                              dir=self.spill_dir)
            self._file = os.fdopen(fd, "wb")
            for c in self.chunks:
                c.tofile(self._file)
            self.chunks = []
            logger.info("encoded corpus passed %d tokens; spilling to %s", self.spill_tokens, self._path)
        if self._file is not None:
            chunk.tofile(self._file)
        else:
            self.chunks.append(chunk)

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """(tokens int32, offsets int64); tokens may be a writable memory map of a temp file."""
        self._flush()
        self.buf = None
        offsets = np.empty(len(self.ends) + 1, dtype=np.int64)
        offsets[0] = 0
        offsets[1:] = np.frombuffer(self.ends, dtype=np.int64) if len(self.ends) else []
        self.ends = array("q")
        if self._file is not None:
            self._file.close()
            self._file = None
            tokens = np.memmap(self._path, dtype=np.int32, mode="r+", shape=(self.n_flushed,))
            try:  # the mapping outlives the name on POSIX
                os.unlink(self._path)
            except OSError:
                pass
            return tokens, offsets
        if not self.chunks:
            return np.zeros(0, dtype=np.int32), offsets
        if len(self.chunks) == 1:
            tokens = self.chunks.pop()
        else:  # assemble chunk by chunk, freeing each: peak is the result plus one chunk
            tokens = np.empty(self.n_flushed, dtype=np.int32)
            pos = 0
            self.chunks.reverse()
            while self.chunks:
                c = self.chunks.pop()
                tokens[pos:pos + len(c)] = c
                pos += len(c)
                del c
        return tokens, offsets


def _compacted(tokens, offsets, remap=None, block_tokens: int = CHUNK_TOKENS * 4):
    """`compact` (_vocab.py) over blocks of sentences, releasing finished pages of a memory-mapped corpus
    as it goes, so compaction never holds the whole corpus in resident memory."""
    remap_arr = np.zeros(0, dtype=np.int32) if remap is None else np.ascontiguousarray(remap, np.int32)
    n_sentences = offsets.shape[0] - 1
    bounds = np.searchsorted(offsets[1:], np.arange(block_tokens, int(offsets[-1]) + block_tokens,
                                                    block_tokens), side="right")
    start = write = n_sent = s0 = 0
    for s1 in np.append(bounds, n_sentences):
        s1 = int(min(max(s1, s0), n_sentences))
        start, write, n_sent = word2vec_kernels().compact(tokens, offsets, remap_arr, remap is not None, s0, s1,
                                        start, write, n_sent)
        release_pages(tokens, 0, write)
        s0 = s1
    release_pages(tokens, 0, len(tokens))
    return tokens[:write], offsets[:n_sent + 1].copy()


def release_pages(tokens: np.ndarray, start: int, end: int) -> None:
    """Drop the whole pages of a memory-mapped tokens[start:end] from this process's resident
    memory (they stay in the file and are read back if touched again); no-op for plain arrays."""
    mapped = getattr(tokens, "_mmap", None)
    if mapped is None or not hasattr(mapped, "madvise"):
        return
    page, size = mmap.PAGESIZE, tokens.itemsize
    lo = -(-start * size // page) * page
    hi = min(end * size, len(mapped)) // page * page
    if hi > lo:
        mapped.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


class EncodedCorpus:
    """An integer-encoded corpus: `tokens` (int32 word ids) and `offsets` (int64 sentence bounds)."""

    __slots__ = ("tokens", "offsets")

    def __init__(self, tokens: np.ndarray, offsets: np.ndarray):
        self.tokens = tokens
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __iter__(self):
        return iter((self.tokens, self.offsets))

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])


def encode_int_arrays(arrays, vocab_size: int) -> EncodedCorpus:
    """Concatenate already-final word ids (each array a sentence) checking they are < vocab_size."""
    sink = _TokenSink()
    for i, a in enumerate(arrays):
        a = np.asarray(a)
        if a.size and (a.min() < 0 or a.max() >= vocab_size):
            raise InvalidInputError(f"sentence {i}: word ids must lie in [0, {vocab_size}), "
                                    f"got {a.min()}..{a.max()}")
        sink.add_array(a)
    return EncodedCorpus(*sink.finish())


# --------------------------------------------------------------------------- vocabulary
class Vocabulary:
    """Kept words, their counts and index; sampling tables for word2vec-style training.

    ``words[i]`` has count ``counts[i]`` and ``index[words[i]] == i``. `raw_words` is the number of
    tokens seen while building (rare words included); `total_words` the number kept.
    """

    def __init__(self, words, counts, raw_words: int | None = None):
        self.words = [_plain_key(w) for w in words]
        self.counts = np.asarray(counts, dtype=np.int64).copy()
        if len(self.words) != len(self.counts):
            raise InvalidInputError(f"{len(self.words)} words but {len(self.counts)} counts")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise InvalidInputError("duplicate words in vocabulary")
        self.raw_words = int(self.counts.sum() if raw_words is None else raw_words)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words, {self.total_words} tokens)"

    def _repack_words(self) -> None:
        """Replace the kept words by fresh copies allocated together, once nothing else holds the
        originals: the rare words they were scattered among are freed, and without this the few
        survivors pin Python's small-object arenas (tens of MB after a large scan)."""
        if not all(type(w) is str for w in self.words):
            return
        ends = np.cumsum([len(w) for w in self.words])
        joined = "".join(self.words)
        self.words = self.index = None
        self.words = [joined[a:b] for a, b in zip(np.concatenate([[0], ends[:-1]]).tolist(), ends.tolist())]
        self.index = {w: i for i, w in enumerate(self.words)}

    @property
    def total_words(self) -> int:
        return int(self.counts.sum())

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, corpus, min_count: int = 5, max_vocab_size: int | None = None) -> "Vocabulary":
        """Count the words of `corpus` and keep those occurring at least `min_count` times.

        With `max_vocab_size`, whenever more than that many distinct words are being counted, words
        with count <= n are dropped (n = 1, 2, … on successive prunings), as gensim does; counts of
        pruned words restart from zero if they reappear.
        """
        _check_counts_args(min_count, max_vocab_size)
        corpus = as_corpus(corpus)
        counts: dict = {}
        raw = 0
        min_reduce = 1
        n_sent = 0
        get = counts.get
        for sentence in corpus:
            n_sent += 1
            if isinstance(sentence, np.ndarray):
                sentence = sentence.tolist()
            raw += len(sentence)
            for w in sentence:
                counts[w] = get(w, 0) + 1
            if max_vocab_size is not None and len(counts) > max_vocab_size:
                before = len(counts)
                counts = {w: c for w, c in counts.items() if c > min_reduce}
                get = counts.get
                logger.info("pruned %d words with count <= %d (max_vocab_size %d)",
                            before - len(counts), min_reduce, max_vocab_size)
                min_reduce += 1
        words = list(counts)
        c = np.fromiter(counts.values(), dtype=np.int64, count=len(words))
        return cls._select(words, c, raw, min_count)

    @classmethod
    def _select(cls, words: list, counts: np.ndarray, raw: int, min_count: int,
                return_order: bool = False):
        if raw == 0:
            raise InvalidInputError("the corpus is empty: no words found")
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] >= min_count]
        if len(order) == 0:
            top = int(np.argmax(counts))
            raise InvalidInputError(
                f"no word occurs at least min_count={min_count} times (the most frequent, "
                f"{words[top]!r}, occurs {int(counts[top])} times in {raw} tokens); lower min_count")
        vocab = cls([words[i] for i in order], counts[order], raw_words=raw)
        logger.info("vocabulary: %d of %d distinct words kept (min_count %d), %d of %d tokens",
                    len(vocab), len(words), min_count, vocab.total_words, raw)
        return (vocab, order) if return_order else vocab

    @staticmethod
    def _scan(corpus: Corpus):
        """One pass: provisional ids in order of first appearance. (words, counts, tokens, offsets)."""
        ids = defaultdict(itertools.count().__next__)
        lookup = ids.__getitem__
        sink = _TokenSink()
        add = sink.add
        for sentence in corpus:
            if isinstance(sentence, np.ndarray):
                sentence = sentence.tolist()
            if sentence:
                add(map(lookup, sentence), len(sentence))
        tokens, offsets = sink.finish()
        words = list(ids)
        counts = np.zeros(len(words), dtype=np.int64)
        counts[:len(sink.counts)] = sink.counts
        return words, counts, tokens, offsets

    @classmethod
    def build_and_encode(cls, corpus, min_count: int = 5) -> tuple["Vocabulary", EncodedCorpus]:
        """Build the vocabulary and encode the corpus in a single pass over the text."""
        _check_counts_args(min_count, None)
        words, counts, tokens, offsets = cls._scan(as_corpus(corpus))
        vocab, order = cls._select(words, counts, len(tokens), min_count, return_order=True)
        remap = np.full(len(words), -1, dtype=np.int32)
        remap[order] = np.arange(len(order), dtype=np.int32)
        del words
        vocab._repack_words()
        return vocab, EncodedCorpus(*_compacted(tokens, offsets, remap))

    def update(self, corpus, min_count: int = 5, max_vocab_size: int | None = None) -> int:
        """Add the words of `corpus`: known words add their counts, new words reaching `min_count`
        (in this corpus) are appended after the existing ones (sorted by count), so existing rows
        keep their index. Returns the number of new words."""
        new = Vocabulary.build(corpus, min_count=1, max_vocab_size=max_vocab_size)
        return self._merge(new.words, new.counts, new.raw_words, min_count)

    def update_and_encode(self, corpus, min_count: int = 5) -> tuple[int, EncodedCorpus]:
        """`update` and `encode` in one pass over the text; returns (new words, encoded corpus)."""
        _check_counts_args(min_count, None)
        words, counts, tokens, offsets = self._scan(as_corpus(corpus))
        if len(tokens) == 0:
            raise InvalidInputError("the corpus is empty: no words found")
        n_new = self._merge(words, counts, len(tokens), min_count)
        remap = np.fromiter((self.index.get(w, -1) for w in words), dtype=np.int32, count=len(words))
        return n_new, EncodedCorpus(*_compacted(tokens, offsets, remap))

    def _merge(self, words, counts, raw, min_count) -> int:
        counts = np.asarray(counts, dtype=np.int64)
        known = np.fromiter((self.index.get(w, -1) for w in words), dtype=np.int64, count=len(words))
        is_known = known >= 0
        np.add.at(self.counts, known[is_known], counts[is_known])
        cand = np.flatnonzero(~is_known & (counts >= min_count))
        cand = cand[np.argsort(-counts[cand], kind="stable")]
        for i in cand:
            w = _plain_key(words[i])
            self.index[w] = len(self.words)
            self.words.append(w)
        self.counts = np.concatenate([self.counts, counts[cand]])
        self.raw_words += int(raw)
        logger.info("vocabulary update: %d new words, %d known words seen", len(cand), int(is_known.sum()))
        return len(cand)

    # ------------------------------------------------------------------ encoding
    def encode(self, corpus) -> EncodedCorpus:
        """Word ids of `corpus` as (tokens int32, offsets int64); unknown words are dropped.

        `corpus` may also be a list/iterable of integer arrays of word *ids* that are already final
        (as `encode` returns them); they are checked against the vocabulary size and concatenated.
        """
        if isinstance(corpus, EncodedCorpus):
            return corpus
        int_keys = self.int_keys
        if _is_id_arrays(corpus) and not int_keys:
            return encode_int_arrays(corpus, len(self))
        corpus = as_corpus(corpus)
        sink = _TokenSink()
        add = sink.add
        get = self.index.get
        minus = itertools.repeat(-1)
        lut = self._key_table() if int_keys else None
        for sentence in corpus:
            if isinstance(sentence, np.ndarray):
                if lut is not None:
                    a = sentence[(sentence >= 0) & (sentence < len(lut))]
                    sink.add_array(lut[a])
                    continue
                sentence = sentence.tolist()
            if sentence:
                add(map(get, sentence, minus), len(sentence))
        tokens, offsets = sink.finish()
        return EncodedCorpus(*_compacted(tokens, offsets))

    @property
    def int_keys(self) -> bool:
        """True when the words are int keys (the vocabulary came from integer arrays)."""
        return bool(self.words) and isinstance(self.words[0], (int, np.integer))

    def _key_table(self):
        """A lookup array key → id for non-negative int keys of moderate size, else None."""
        keys = np.fromiter(self.words, dtype=np.int64, count=len(self.words))
        if keys.min() < 0 or keys.max() > max(4 * len(keys), 1 << 20):
            return None
        lut = np.full(int(keys.max()) + 1, -1, dtype=np.int32)
        lut[keys] = np.arange(len(keys), dtype=np.int32)
        return lut

    # ------------------------------------------------------------------ sampling tables
    def keep_probabilities(self, sample: float = 1e-3) -> np.ndarray:
        """Probability of keeping each word under frequent-word subsampling (word2vec.c's rule).

        ``p = (sqrt(f / (sample * total)) + 1) * (sample * total) / f``, capped at 1, where f is
        the word's count and total the number of kept tokens; ``sample <= 0`` keeps everything.
        """
        if sample is None or sample <= 0:
            return np.ones(len(self), dtype=np.float32)
        threshold = float(sample) * self.total_words
        f = self.counts.astype(np.float64)
        p = (np.sqrt(f / threshold) + 1.0) * threshold / f
        return np.minimum(p, 1.0).astype(np.float32)

    def negative_cdf(self, power: float = 0.75) -> np.ndarray:
        """Cumulative table for drawing negatives with probability ∝ count**power.

        int64 values rising to 2**31 - 1; word i is drawn when a uniform integer r in
        [0, table[-1]) falls in [table[i-1], table[i]) (binary search, as gensim's cum_table).
        """
        weights = self.counts.astype(np.float64) ** power
        cum = np.cumsum(weights)
        table = np.round(cum / cum[-1] * CDF_DOMAIN).astype(np.int64)
        return table

    def negative_alias(self, power: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
        """Alias table (Walker/Vose) for drawing negatives with probability ∝ count**power in O(1).

        Returns (thresholds uint32, alias int32): bucket i, chosen uniformly, yields i when a
        uniform 32-bit integer is below thresholds[i] and alias[i] otherwise (`_sgns.draw_alias`).
        """
        return alias_table(self.counts.astype(np.float64) ** power)

    def huffman(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Huffman tree over counts, built like word2vec.c: (codes, points, lengths).

        ``codes[i, :lengths[i]]`` (uint8) are the branch bits root→leaf for word i and
        ``points[i, :lengths[i]]`` (int32) the inner nodes on the way (rows of syn1, the root is
        ``V - 2``). Works on unsorted counts too (after `update`) by building on the sorted order.
        """
        V = len(self)
        if V < 2:
            return (np.zeros((V, 1), np.uint8), np.zeros((V, 1), np.int32), np.zeros(V, np.int32))
        order = np.argsort(-self.counts, kind="stable")
        codes_s, points_s, lengths_s = word2vec_kernels().huffman_sorted(self.counts[order])
        codes = np.empty_like(codes_s)
        points = np.empty_like(points_s)
        lengths = np.empty_like(lengths_s)
        codes[order] = codes_s
        points[order] = points_s
        lengths[order] = lengths_s
        return codes, points, lengths

    # ------------------------------------------------------------------ files
    def save(self, directory) -> None:
        """Write ``vocab.jsonl`` (one JSON key per line) and ``counts.npy`` into `directory`."""
        directory = Path(directory)
        with open(directory / "vocab.jsonl", "w", encoding="utf-8") as f:
            for w in self.words:
                f.write(json.dumps(w, ensure_ascii=False))
                f.write("\n")
        np.save(directory / "counts.npy", self.counts)

    @classmethod
    def load(cls, directory, raw_words: int | None = None) -> "Vocabulary":
        directory = Path(directory)
        words = []
        with open(directory / "vocab.jsonl", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                try:
                    words.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise FormatError(f"not a JSON key: {e}", directory / "vocab.jsonl", lineno) from None
        counts = np.load(directory / "counts.npy", allow_pickle=False)
        return cls(words, counts, raw_words=raw_words)


def _plain_key(w):
    """str and int keys as the builtin types (np.str_ / np.int64 tokens become str / int)."""
    t = type(w)
    if t is str or t is int:
        return w
    if isinstance(w, str):
        return str(w)
    if isinstance(w, (int, np.integer)) and not isinstance(w, (bool, np.bool_)):
        return int(w)
    raise InvalidInputError(f"tokens must be str (or int for integer-encoded input), got "
                            f"{type(w).__name__} {w!r}")


def _check_counts_args(min_count, max_vocab_size) -> None:
    if min_count is None or min_count < 1:
        raise InvalidInputError(f"min_count must be >= 1, got {min_count}")
    if max_vocab_size is not None and max_vocab_size < 1:
        raise InvalidInputError(f"max_vocab_size must be >= 1 or None, got {max_vocab_size}")


def _is_id_arrays(corpus) -> bool:
    """True for a list/tuple whose first item is an integer NumPy array (pre-encoded word ids)."""
    return isinstance(corpus, (list, tuple)) and len(corpus) > 0 and isinstance(corpus[0], np.ndarray) \
        and np.issubdtype(corpus[0].dtype, np.integer)
