"""Streaming text corpora: sentences as lists of tokens, read from files or any re-iterable.

`Corpus` never holds a whole file in memory: files are read in fixed-size blocks of bytes,
decoded incrementally, and cut into sentences at line ends, so a single 100 MB line (text8)
costs one block of memory, not one string of 100 MB. Sentences longer than
`max_sentence_length` tokens are cut into chunks of that many tokens, as gensim's
`LineSentence` and word2vec.c do.

Bytes that are not valid UTF-8 are replaced by U+FFFD, counted (`Corpus.decode_errors`, per
file in `Corpus.decode_errors_by_file`) and reported once per file with a `logging` warning that
names the file.
"""

from __future__ import annotations

import codecs
import gzip
import logging
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError

logger = logging.getLogger(__name__)

__all__ = ["Corpus", "write_corpus", "as_corpus", "is_path_like"]

#: bytes read from disk per block
BLOCK_BYTES = 1 << 20

# --------------------------------------------------------------------------- decode errors
# A codec error handler that replaces like "replace" and counts, per thread, how many invalid
# byte sequences it saw. The count is read right after each block is decoded in the same thread.
_tls = threading.local()
_HANDLER = "embedworks-count-replace"


def _count_replace(exc: UnicodeDecodeError):
    _tls.errors = getattr(_tls, "errors", 0) + 1
    return "\ufffd", exc.end


codecs.register_error(_HANDLER, _count_replace)


def is_path_like(obj) -> bool:
    return isinstance(obj, (str, os.PathLike))


def _looks_like_sentence(item) -> bool:
    """A str with whitespace that is not an existing file: a sentence, not a path."""
    return isinstance(item, str) and len(item.split()) > 1 and not os.path.isfile(item)


def _open_binary(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


class Corpus:
    """A re-iterable stream of sentences, each a list of str tokens.

    `source` is one of:

    * a path (str or `os.PathLike`), plain text or gzip (``.gz``), one sentence per line,
      tokens separated by whitespace (a single huge line such as text8 is fine);
    * a list or tuple of such paths, read one after the other;
    * any re-iterable of sentences, each a list/tuple of str tokens (a str sentence is split on
      whitespace), or a 1-D integer NumPy array (already-integer-encoded input, yielded as is).
      A one-shot iterator (a generator) can be read only once; a second pass raises
      `InvalidInputError`.

    Lines are cut into sentences of at most `max_sentence_length` tokens.
    """

    def __init__(self, source, max_sentence_length: int = 10_000):
        if max_sentence_length < 1:
            raise InvalidInputError(f"max_sentence_length must be >= 1, got {max_sentence_length}")
        self.max_sentence_length = int(max_sentence_length)
        self.paths: list[Path] | None = None
        self._iterable = None
        self._one_shot = False
        self._consumed = False
        self.decode_errors = 0
        self.decode_errors_by_file: dict[str, int] = {}
        self._warned: set[str] = set()
        if isinstance(source, Corpus):
            self.paths, self._iterable = source.paths, source._iterable
            self._one_shot = source._one_shot
        elif is_path_like(source):
            self.paths = [Path(source)]
        elif isinstance(source, (list, tuple)) and source and all(is_path_like(s) for s in source) \
                and not _looks_like_sentence(source[0]):
            self.paths = [Path(s) for s in source]
        elif isinstance(source, (bytes, bytearray)):
            raise InvalidInputError("a corpus cannot be bytes; pass a path or an iterable of token lists")
        else:
            try:
                it = iter(source)
            except TypeError:
                raise InvalidInputError(
                    f"a corpus must be a path, a list of paths or an iterable of token lists, "
                    f"got {type(source).__name__}") from None
            self._iterable = source
            self._one_shot = it is source
        if self.paths is not None:
            for p in self.paths:
                if not p.is_file():
                    raise InvalidInputError(f"corpus file not found: {p}")

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[list]:
        if self.paths is not None:
            return self._iter_files()
        if self._one_shot:
            if self._consumed:
                raise InvalidInputError(
                    "this corpus is a one-shot iterator (a generator) and was already read; pass a "
                    "list, a path, or an object whose __iter__ starts over")
            self._consumed = True
        return self._iter_iterable()

    def _iter_iterable(self):
        limit = self.max_sentence_length
        for i, sentence in enumerate(self._iterable):
            if isinstance(sentence, str):
                sentence = sentence.split()
            elif isinstance(sentence, np.ndarray):
                if sentence.ndim != 1 or not np.issubdtype(sentence.dtype, np.integer):
                    raise InvalidInputError(
                        f"sentence {i}: an array sentence must be 1-D integers, got "
                        f"{sentence.dtype} with shape {sentence.shape}")
                yield sentence
                continue
            elif not isinstance(sentence, list):
                if not isinstance(sentence, Iterable):
                    raise InvalidInputError(
                        f"sentence {i}: expected a list of tokens, got {type(sentence).__name__}")
                sentence = list(sentence)
            if len(sentence) <= limit:
                yield sentence
            else:
                for start in range(0, len(sentence), limit):
                    yield sentence[start:start + limit]

    def _iter_files(self):
        total = 0
        for path in self.paths:
            errors_before = total
            for sentence, n_errors in self._iter_file(path):
                total += n_errors
                if sentence is not None:
                    yield sentence
            n_file = total - errors_before
            self.decode_errors_by_file[str(path)] = n_file
            if n_file and str(path) not in self._warned:
                self._warned.add(str(path))
                logger.warning("%s: %d invalid UTF-8 byte sequence(s) replaced by U+FFFD", path, n_file)
        self.decode_errors = total

    def _iter_file(self, path: Path):
        """Yield (sentence or None, decode errors in the block just read)."""
        limit = self.max_sentence_length
        decoder = codecs.getincrementaldecoder("utf-8")(errors=_HANDLER)
        pending: list[str] = []  # tokens of the current, unfinished line
        carry = ""  # a token cut by the end of the block
        with _open_binary(path) as f:
            while True:
                raw = f.read(BLOCK_BYTES)
                _tls.errors = 0
                text = decoder.decode(raw, final=not raw)
                n_errors = _tls.errors
                if n_errors:
                    yield None, n_errors
                if not raw:
                    carry += text
                    break
                text = carry + text
                lines = text.split("\n")
                last = lines.pop()
                for line in lines:
                    tokens = line.split()
                    if pending:
                        pending.extend(tokens)
                        tokens, pending = pending, []
                    if not tokens:
                        continue
                    if len(tokens) <= limit:
                        yield tokens, 0
                    else:
                        for start in range(0, len(tokens), limit):
                            yield tokens[start:start + limit], 0
                tokens = last.split()
                carry = tokens.pop() if tokens and not last[-1].isspace() else ""
                pending.extend(tokens)
                done = 0
                while len(pending) - done >= limit:
                    yield pending[done:done + limit], 0
                    done += limit
                del pending[:done]
        pending.extend(carry.split())
        if pending:
            for start in range(0, len(pending), limit):
                yield pending[start:start + limit], 0

    def __repr__(self) -> str:
        if self.paths is not None:
            what = ", ".join(map(str, self.paths[:3])) + (" …" if len(self.paths) > 3 else "")
        else:
            what = type(self._iterable).__name__
        return f"Corpus({what}, max_sentence_length={self.max_sentence_length})"

    @property
    def one_shot(self) -> bool:
        """True when the source is an iterator that can be read only once."""
        return self._one_shot


def as_corpus(source, max_sentence_length: int = 10_000) -> Corpus:
    """`source` as a `Corpus` (returned unchanged when it already is one)."""
    if isinstance(source, Corpus):
        return source
    return Corpus(source, max_sentence_length=max_sentence_length)


def write_corpus(sentences: Iterable, path, compress: bool | None = None) -> Path:
    """Write sentences (token lists) one per line, tokens separated by spaces; returns the path.

    The file is written to a temporary file beside `path` and renamed into place, so an error
    leaves an existing file untouched. ``.gz`` paths (or `compress=True`) are gzip-compressed.
    Tokens must not contain whitespace.
    """
    path = Path(path)
    if compress is None:
        compress = path.suffix == ".gz"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as raw:
            out = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if compress else raw
            try:
                buf = []
                size = 0
                for sentence in sentences:
                    if isinstance(sentence, np.ndarray):
                        sentence = sentence.tolist()
                    line = " ".join(map(str, sentence)) + "\n"
                    buf.append(line)
                    size += len(line)
                    if size > BLOCK_BYTES:
                        out.write("".join(buf).encode("utf-8"))
                        buf, size = [], 0
                out.write("".join(buf).encode("utf-8"))
            finally:
                if compress:
                    out.close()
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
