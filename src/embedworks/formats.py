"""Read and write embeddings: native, word2vec text and binary, GloVe, fastText .vec, TensorBoard TSV, NumPy.

`load(path)` picks the format from the suffix (after stripping `.gz`), or from the content for
`.txt` and unknown suffixes; `save(emb, path)` picks it from the suffix, native by default.

Readers stream: text is read line by line and binary in chunks, into an array preallocated
from the header's count when there is one. Malformed input raises `FormatError` naming the file
and the 1-based line (text) or row (binary). Writers check everything before creating a file,
write to a temporary file beside the target and rename it into place, so a failed write never
damages or removes an existing file.

Native layout (a directory, suffix `.emb` by convention)::

    meta.json        {"format": "embedworks", "version": 1, "count", "dim", "metric",
                      "dtype": "float32", "key_type": "str" | "int", "metadata_columns": [...],
                      "encoder": {...} (only when an encoder made the vectors; optional, so
                      version 1 files with and without it read the same)}
    vectors.npy      (count, dim) float32, loaded memory-mapped
    keys.jsonl       one JSON key per line (any characters survive)
    metadata.jsonl   one JSON list per key, values in `metadata_columns` order (only with columns)
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from pathlib import Path

import numpy as np

from .errors import FormatError, InvalidInputError
from .files import atomic_directory, atomic_file
from .space import Embeddings, normalize_key

logger = logging.getLogger(__name__)

FORMATS = ("native", "word2vec", "word2vec-binary", "glove", "fasttext", "tsv", "npy")
NATIVE_VERSION = 1

_SUFFIX_FORMATS = {".bin": "word2vec-binary", ".vec": "fasttext", ".tsv": "tsv", ".npy": "npy",
                   ".emb": "native"}
_WRITE_SUFFIX_FORMATS = {**_SUFFIX_FORMATS, ".txt": "word2vec"}
_FLOAT_FORMAT = "%.9g"  # 9 significant digits round-trip every float32 exactly
_SNIFF_BYTES = 1 << 16
_CHUNK_BYTES = 1 << 20
_MAX_KEY_BYTES = 1 << 16
_GROW_ROWS = 1024
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f\x7f]")


# ---------------------------------------------------------------------------------------- public API
def load(path, format: str | None = None, limit: int | None = None, metric: str | None = None) -> Embeddings:
    """Read embeddings from `path`.

    `format` is one of `FORMATS`; by default it comes from the suffix or the content (see
    `detect_format`). `limit` reads only the first N rows. `metric` overrides the metric stored
    in native files; other formats load as `metric` or "cosine".
    """
    path = Path(path)
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise InvalidInputError(f"limit must be a positive integer, got {limit!r}")
    try:
        format = _checked_format(format) if format else detect_format(path)
        return _READERS[format](path, limit, metric)
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        if not _is_gzip(path):
            raise
        raise FormatError(f"corrupt or truncated gzip data ({error})", path=path) from None


def save(emb: Embeddings, path, format: str | None = None) -> Path:
    """Write `emb` to `path` and return the path written (the vectors file for tsv and npy).

    `format` defaults to the suffix's (`.txt` writes word2vec text), native otherwise; a `.gz`
    suffix compresses single-file formats. Information a format cannot hold (metadata, metric)
    is dropped with a logged warning.
    """
    path = Path(path)
    format = _checked_format(format) if format else _format_for_writing(path)
    _warn_about_dropped_information(emb, format)
    return _WRITERS[format](emb, path)


def detect_format(path) -> str:
    """The format of an existing file or directory: from the suffix, else from the content.

    A directory holding meta.json is native; `.bin`, `.vec`, `.tsv`, `.npy`, `.emb` name their
    formats (a `.gz` suffix is stripped first). Anything else is sniffed: a first line of two
    integers is a word2vec header (text if the next line reads as numbers or the bytes after the
    header hold no control characters, binary otherwise); a token followed by numbers is GloVe.
    """
    path = Path(path)
    if path.is_dir():
        if (path / "meta.json").is_file():
            return "native"
        raise FormatError("directory is not native embeddings (no meta.json)", path=path)
    suffix = _suffix_without_gz(path)
    return _SUFFIX_FORMATS.get(suffix) or _sniffed_format(path)


def _checked_format(format: str) -> str:
    if format not in FORMATS:
        raise InvalidInputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    return format


def _format_for_writing(path: Path) -> str:
    return _WRITE_SUFFIX_FORMATS.get(_suffix_without_gz(path), "native")


def _suffix_without_gz(path: Path) -> str:
    name = path.name[:-3] if _is_gzip(path) else path.name
    return Path(name).suffix.lower()


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def _warn_about_dropped_information(emb: Embeddings, format: str) -> None:
    if format == "native":
        return
    if emb.metric != "cosine":
        logger.warning("%s files do not store the metric; load with metric=%r", format, emb.metric)
    if emb.metadata and format != "tsv":
        logger.warning("%s files cannot hold metadata; dropped columns %s", format, list(emb.metadata))


# ---------------------------------------------------------------------------------------- files
def _open_read(path: Path):
    """A binary file object for `path`, decompressing `.gz` transparently."""
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def _vector_blocks(vectors, rows: int = 4096):
    """(start, float32 block) pairs covering `vectors`, so memory maps are read a piece at a time."""
    for start in range(0, len(vectors), rows):
        yield start, np.asarray(vectors[start:start + rows], dtype=np.float32)


# ---------------------------------------------------------------------------------------- streamed rows
def _error_at(path, unit: str, at: int, message: str) -> FormatError:
    """A FormatError located at a 1-based text line or binary row."""
    if unit == "line":
        return FormatError(message, path=path, line=at)
    return FormatError(f"{unit} {at}: {message}", path=path)


class _RowCollector:
    """Keys and float32 rows gathered while a file streams past.

    Rejects duplicate keys, rows whose dimension differs from the header's (or the first
    row's), non-finite values, more rows than the header declares, and files that end early.
    A key of None marks an anonymous row (TSV vectors, whose keys live in another file).
    """

    def __init__(self, path, unit: str, dim: int | None = None, count: int | None = None,
                 limit: int | None = None):
        self.path, self.unit, self.dim, self.count, self.limit = path, unit, dim, count, limit
        self.keys: list = []
        self._first_seen: dict = {}
        self._dim_source = "the header"
        self._vectors = None if dim is None else self._allocate(dim)

    def _allocate(self, dim: int) -> np.ndarray:
        """Room for the rows the header promises (up to `limit`); a start to grow from otherwise."""
        known = [n for n in (self.count, self.limit) if n is not None]
        try:
            return np.empty((min(known) if known else _GROW_ROWS, dim), dtype=np.float32)
        except MemoryError:  # an absurd count in a corrupt header: grow, and report it at the end
            return np.empty((_GROW_ROWS, dim), dtype=np.float32)

    def _error(self, at: int, message: str) -> FormatError:
        return _error_at(self.path, self.unit, at, message)

    @property
    def full(self) -> bool:
        """True once `limit` rows have been read."""
        return self.limit is not None and len(self.keys) >= self.limit

    def add(self, key, values: np.ndarray, at: int) -> None:
        """Append one row read at line/row `at`, or raise naming it."""
        of_key = "" if key is None else f" for key {key!r}"
        if self.count is not None and len(self.keys) >= self.count:
            raise self._error(at, f"more rows than the {self.count} declared in the header")
        if self.dim is None:
            if len(values) == 0:
                raise self._error(at, f"no values{of_key}")
            self.dim, self._dim_source = len(values), f"{self.unit} {at}"
            self._vectors = self._allocate(self.dim)
        if len(values) != self.dim:
            raise self._error(at, f"{len(values)} values{of_key}, expected {self.dim} (from {self._dim_source})")
        finite = np.isfinite(values)
        if not finite.all():
            column = int(np.flatnonzero(~finite)[0])
            raise self._error(at, f"non-finite value {values[column]} (value {column + 1}){of_key}; "
                                  f"NaN or infinite vectors are corrupt")
        if key is not None and self._first_seen.setdefault(key, at) != at:
            raise self._error(at, f"duplicate key {key!r} (first on {self.unit} {self._first_seen[key]})")
        row = len(self.keys)
        if row == len(self._vectors):
            self._vectors.resize((max(2 * row, _GROW_ROWS), self.dim), refcheck=False)
        self._vectors[row] = values
        self.keys.append(key)

    def finish(self, next_at: int | None = None) -> tuple[list, np.ndarray]:
        """(keys, vectors); `next_at` is where a missing row would have been, for the error."""
        if self.dim is None:
            raise FormatError("empty file: no vectors", path=self.path)
        if self.count is not None and len(self.keys) < min(self.count, self.limit or self.count):
            raise self._error(next_at, f"file ends after {len(self.keys)} of the {self.count} rows "
                                       f"declared in the header")
        if len(self._vectors) != len(self.keys):
            self._vectors.resize((len(self.keys), self.dim), refcheck=False)
        return self.keys, self._vectors


def _decoded_key(path, unit: str, at: int, raw: bytes) -> str:
    if not raw:
        raise _error_at(path, unit, at, "empty key")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _error_at(path, unit, at, f"key {raw!r} is not valid UTF-8 "
                                        f"(bad byte at offset {error.start})") from None


def _parsed_floats(path, line: int, tokens: list[bytes], first_column: int) -> np.ndarray:
    """The tokens as float32, or a FormatError naming the first that is not a number."""
    try:
        return np.array(tokens, dtype=np.float32)
    except ValueError:
        for column, token in enumerate(tokens, start=first_column):
            if not _is_number(token):
                raise FormatError(f"column {column}: {token.decode('utf-8', 'replace')!r} is not a number",
                                  path=path, line=line) from None
        raise


def _is_number(token: bytes) -> bool:
    try:
        np.array([token], dtype=np.float32)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------- sniffing
def _header_numbers(line: bytes) -> tuple[int, int] | None:
    """(count, dim) when `line` is a word2vec header, else None."""
    tokens = line.split()
    if len(tokens) == 2 and all(t.isdigit() for t in tokens) and int(tokens[1]) > 0:
        return int(tokens[0]), int(tokens[1])
    return None


def _parsed_header(path, line: bytes) -> tuple[int, int]:
    if not line.strip():
        raise FormatError("empty file: no header", path=path, line=1)
    numbers = _header_numbers(line)
    if numbers is None:
        shown = line[:80].decode("utf-8", "replace").strip()
        raise FormatError(f'expected a header "count dim", found {shown!r}', path=path, line=1)
    return numbers


def _looks_like_text_row(line: bytes, dim: int | None) -> bool:
    tokens = line.split()
    values = tokens[1:]
    return bool(values) and (dim is None or len(values) == dim) and all(map(_is_number, values))


def _looks_like_text_after_header(sample: bytes, dim: int) -> bool:
    """True when the bytes after a word2vec header are text: a row of `dim` numbers, or no control bytes.

    Binary float32 data practically always holds control bytes; checking for them too sends
    malformed text to the text reader, whose errors name the line.
    """
    first_row = sample.split(b"\n", 1)[0]
    return not sample or _looks_like_text_row(first_row, dim) or not _CONTROL_BYTES.search(sample)


def _sniffed_format(path: Path) -> str:
    with _open_read(path) as f:
        first = f.readline(_SNIFF_BYTES)
        if not first.strip():
            raise FormatError("empty file", path=path)
        header = _header_numbers(first)
        if header is not None:
            return "word2vec" if _looks_like_text_after_header(f.read(_SNIFF_BYTES), header[1]) \
                else "word2vec-binary"
        if _looks_like_text_row(first, None):
            return "glove"
    raise FormatError("cannot tell the format from the content; pass format= one of "
                      + ", ".join(FORMATS), path=path)


# ------------------------------------------------------------------------------ word2vec text, GloVe, fastText
def _load_text(path: Path, limit, metric, header: bool = True) -> Embeddings:
    """word2vec / fastText .vec text (header "count dim"), or GloVe (header=False)."""
    with _open_read(path) as f:
        lines = enumerate(f, start=1)
        count = dim = None
        if header:
            count, dim = _parsed_header(path, next(lines, (1, b""))[1])
        rows = _RowCollector(path, "line", dim, count, limit)
        last = 1 if header else 0
        for last, raw in lines:
            tokens = raw.split()
            if not tokens:
                continue
            key = _decoded_key(path, "line", last, tokens[0])
            rows.add(key, _parsed_floats(path, last, tokens[1:], first_column=2), last)
            if rows.full:
                break
        keys, vectors = rows.finish(last + 1)
    return Embeddings(keys, vectors, metric=metric or "cosine")


def _load_glove(path: Path, limit, metric) -> Embeddings:
    return _load_text(path, limit, metric, header=False)


def _text_keys(emb: Embeddings, path: Path, format: str) -> list[str]:
    """Keys as they will be written, refusing any that a space-separated format cannot hold."""
    keys = [str(k) for k in emb.keys]
    for row, key in enumerate(keys):
        if not key or any(ch.isspace() for ch in key):
            raise FormatError(f"key {key!r} (row {row}) is empty or contains whitespace, which {format} "
                              f"files cannot hold; save as native or tsv instead", path=path)
    return keys


def _save_text(emb: Embeddings, path: Path, format: str = "word2vec", header: bool = True) -> Path:
    keys = _text_keys(emb, path, format)
    row_format = " ".join([_FLOAT_FORMAT] * emb.dim)
    with atomic_file(path) as f:
        if header:
            f.write(f"{len(keys)} {emb.dim}\n".encode())
        for start, block in _vector_blocks(emb.vectors):
            block_keys = keys[start:start + len(block)]
            f.write("".join(f"{key} {row_format % tuple(row)}\n"
                            for key, row in zip(block_keys, block.tolist())).encode("utf-8"))
    return path


def _save_glove(emb: Embeddings, path: Path) -> Path:
    return _save_text(emb, path, format="glove", header=False)


def _save_fasttext(emb: Embeddings, path: Path) -> Path:
    return _save_text(emb, path, format="fasttext")


# ---------------------------------------------------------------------------------------- word2vec binary
def _binary_rows(path, f, count: int, dim: int):
    """(row, key bytes, vector bytes) for each row after the header.

    A row is the key, a space, then `dim` little-endian float32; a newline after the vector
    (the C tool writes one) is optional.
    """
    size = 4 * dim
    chunk, start = b"", 0
    for row in range(1, count + 1):
        while True:
            space = chunk.find(b" ", start, start + _MAX_KEY_BYTES)
            if space >= 0 and len(chunk) >= space + 1 + size:
                break
            if space < 0 and len(chunk) - start > _MAX_KEY_BYTES:
                raise _error_at(path, "row", row, f"no space after {_MAX_KEY_BYTES} bytes: not a key")
            more = f.read(_CHUNK_BYTES)
            if not more:
                raise _error_at(path, "row", row, _truncation_message(chunk[start:], row, count, size))
            chunk, start = chunk[start:] + more, 0
        yield row, chunk[start:space].lstrip(b"\n"), chunk[space + 1:space + 1 + size]
        start = space + 1 + size
    if chunk[start:].strip(b"\n") or f.read(1):
        raise _error_at(path, "row", count + 1, f"more data after the {count} rows declared in the header")


def _truncation_message(rest: bytes, row: int, count: int, size: int) -> str:
    if not rest.strip(b"\n"):
        return f"file ends after {row - 1} of the {count} rows declared in the header"
    return f"file ends inside the row (expected a key, a space and {size} bytes of vector)"


def _load_word2vec_binary(path: Path, limit, metric) -> Embeddings:
    with _open_read(path) as f:
        count, dim = _parsed_header(path, f.readline(_SNIFF_BYTES))
        rows = _RowCollector(path, "row", dim, count, limit)
        last = 0
        for last, raw_key, raw_vector in _binary_rows(path, f, count, dim):
            rows.add(_decoded_key(path, "row", last, raw_key), np.frombuffer(raw_vector, dtype="<f4"), last)
            if rows.full:
                break
        keys, vectors = rows.finish(last + 1)
    return Embeddings(keys, vectors, metric=metric or "cosine")


def _save_word2vec_binary(emb: Embeddings, path: Path) -> Path:
    """The C tool's layout: "count dim\\n", then per row key, space, little-endian float32, newline."""
    keys = [k.encode("utf-8") for k in _text_keys(emb, path, "word2vec-binary")]
    with atomic_file(path) as f:
        f.write(f"{len(keys)} {emb.dim}\n".encode())
        for start, block in _vector_blocks(emb.vectors):
            block_keys = keys[start:start + len(block)]
            little = block.astype("<f4", copy=False)
            f.write(b"".join(key + b" " + row.tobytes() + b"\n" for key, row in zip(block_keys, little)))
    return path


# ---------------------------------------------------------------------------------------- TensorBoard TSV
def _tsv_metadata_path(path: Path) -> Path:
    """metadata.tsv beside vectors.tsv, else `<stem>.metadata.tsv` (keeping any `.gz`)."""
    gz = ".gz" if _is_gzip(path) else ""
    stem = Path(path.name[:-3] if gz else path.name).stem
    name = "metadata.tsv" if stem == "vectors" else f"{stem}.metadata.tsv"
    return path.with_name(name + gz)


def _tsv_lines(path: Path):
    """(line number, text without the line ending) for each line, decoded as UTF-8."""
    with _open_read(path) as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise FormatError(f"not valid UTF-8 (bad byte at offset {error.start})",
                                  path=path, line=number) from None


def _load_tsv_vectors(path: Path, limit) -> np.ndarray:
    """Tab-separated floats, one vector per line, no header; blank lines are skipped."""
    rows = _RowCollector(path, "line", limit=limit)
    for number, text in _tsv_lines(path):
        if text.strip():
            tokens = [t.encode() for t in text.rstrip("\t").split("\t")]
            rows.add(None, _parsed_floats(path, number, tokens, first_column=1), number)
            if rows.full:
                break
    return rows.finish()[1]


_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def _typed_column(values: list[str]) -> list:
    """The column as ints or floats when every value is written exactly that way, else as strings."""
    if all(_CANONICAL_INT.fullmatch(v) for v in values):
        return [int(v) for v in values]
    try:
        floats = [float(v) for v in values]
    except ValueError:
        return values
    return floats if all(repr(f) == v for f, v in zip(floats, values)) else values


def _tsv_metadata_rows(path: Path, n: int, exact: bool) -> tuple[list[str] | None, list[list[str]]]:
    """(header or None, first `n` rows) of a metadata file; with `exact`, it must hold exactly `n`."""
    lines = _tsv_lines(path)
    number, first = next(lines, (1, None))
    if first is None:
        raise FormatError("empty metadata file", path=path)
    header = first.split("\t") if "\t" in first else None
    rows = [] if header else [[first]]
    for number, text in lines:
        if len(rows) == n:
            if exact:
                raise FormatError(f"more metadata rows than the {n} vectors", path=path, line=number)
            break
        fields = text.split("\t")
        if header and len(fields) != len(header):
            raise FormatError(f"{len(fields)} columns, expected {len(header)} as in the header",
                              path=path, line=number)
        rows.append(fields)
    if len(rows) < n:
        raise FormatError(f"{len(rows)} metadata rows for {n} vectors", path=path, line=number + 1)
    return header, rows


def _load_tsv_metadata(path: Path, n: int, exact: bool) -> tuple[list, dict]:
    """(keys, metadata columns) from a projector metadata file for `n` vectors.

    One column: no header, one key per line. Several: a header row; a first column named
    "key" holds the keys, otherwise keys are row numbers and every column is metadata.
    """
    header, rows = _tsv_metadata_rows(path, n, exact)
    first_line = 2 if header else 1
    if header is None:
        keys = [row[0] for row in rows]
        _check_unique(path, keys, first_line)
        return keys, {}
    columns = [list(column) for column in zip(*rows)] if rows else [[] for _ in header]
    if header[0] != "key":
        return list(range(n)), {name: _typed_column(c) for name, c in zip(header, columns)}
    _check_unique(path, columns[0], first_line)
    return columns[0], {name: _typed_column(c) for name, c in zip(header[1:], columns[1:])}


def _check_unique(path, keys: list, first_line: int) -> None:
    seen: dict = {}
    for offset, key in enumerate(keys):
        if seen.setdefault(key, offset) != offset:
            raise FormatError(f"duplicate key {key!r} (first on line {seen[key] + first_line})",
                              path=path, line=offset + first_line)


def _load_tsv(path: Path, limit, metric) -> Embeddings:
    """vectors.tsv (tab-separated floats) with keys and metadata from its metadata file.

    Without a metadata file the keys are row numbers. Metadata values come back as ints or
    floats when a whole column is written that way, else as strings.
    """
    vectors = _load_tsv_vectors(path, limit)
    metadata_path = _tsv_metadata_path(path)
    keys, metadata = list(range(len(vectors))), {}
    if metadata_path.exists():
        exact = limit is None or len(vectors) < limit
        keys, metadata = _load_tsv_metadata(metadata_path, len(vectors), exact)
    return Embeddings(keys, vectors, metadata, metric=metric or "cosine")


def _tsv_cell(path: Path, value, what: str) -> str:
    text = "" if value is None else str(value)
    if any(ch in text for ch in "\t\n\r"):
        raise FormatError(f"{what} {text!r} contains a tab or line break, which TSV cannot hold; "
                          f"save as native instead", path=path)
    return text


def _tsv_metadata_lines(emb: Embeddings, path: Path) -> list[str]:
    """The metadata file's lines: keys alone, or a "key" header and one row per key."""
    keys = [_tsv_cell(path, k, "key") for k in emb.keys]
    if not emb.metadata:
        return keys
    names = [_tsv_cell(path, name, "metadata column name") for name in emb.metadata]
    columns = [[_tsv_cell(path, v, f"metadata value in column {name!r}") for v in values]
               for name, values in emb.metadata.items()]
    return ["\t".join(["key", *names])] + ["\t".join(row) for row in zip(keys, *columns)]


def _save_tsv(emb: Embeddings, path: Path) -> Path:
    metadata_lines = _tsv_metadata_lines(emb, _tsv_metadata_path(path))
    row_format = "\t".join([_FLOAT_FORMAT] * emb.dim)
    with atomic_file(path) as vectors_file, atomic_file(_tsv_metadata_path(path)) as metadata_file:
        for _, block in _vector_blocks(emb.vectors):
            vectors_file.write("".join(row_format % tuple(row) + "\n" for row in block.tolist()).encode())
        metadata_file.write("".join(line + "\n" for line in metadata_lines).encode("utf-8"))
    return path


# ---------------------------------------------------------------------------------------- NumPy
def _npy_keys_path(path: Path) -> Path:
    """`X.keys.json` beside `X.npy` (or `X.npy.gz`)."""
    name = path.name[:-3] if _is_gzip(path) else path.name
    return path.with_name(Path(name).stem + ".keys.json")


def _first_nonfinite_row(vectors) -> int | None:
    for start, block in _vector_blocks(vectors, rows=65536):
        bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
        if len(bad):
            return start + int(bad[0])
    return None


def _load_npy_matrix(path: Path) -> np.ndarray:
    """The 2-D float matrix in `path`, memory-mapped unless gzip-compressed; never unpickles."""
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as f:
                matrix = np.load(f, allow_pickle=False)
        else:
            matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError) as error:
        raise FormatError(f"not a readable .npy array ({error})", path=path) from None
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
        raise FormatError(f"expected a 2-D float array, found shape {matrix.shape} of {matrix.dtype}", path=path)
    return matrix


def _load_npy_keys(path: Path, n: int) -> list:
    try:
        keys = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FormatError(f"not valid UTF-8 JSON ({error})", path=path) from None
    if not isinstance(keys, list) or len(keys) != n:
        raise FormatError(f"expected a JSON list of {n} keys", path=path)
    seen: dict = {}
    for item, key in enumerate(keys):
        if not isinstance(key, (str, int)) or isinstance(key, bool):
            raise FormatError(f"item {item}: key {key!r} is not a string or an integer", path=path)
        if seen.setdefault(key, item) != item:
            raise FormatError(f"item {item}: duplicate key {key!r} (first at item {seen[key]})", path=path)
    return keys


def _load_npy(path: Path, limit, metric) -> Embeddings:
    """X.npy with keys from X.keys.json when present (else row numbers); other float dtypes become float32."""
    matrix = _load_npy_matrix(path)
    keys_path = _npy_keys_path(path)
    keys = _load_npy_keys(keys_path, len(matrix)) if keys_path.exists() else list(range(len(matrix)))
    matrix, keys = matrix[:limit], keys[:limit]
    bad = _first_nonfinite_row(matrix)
    if bad is not None:
        raise FormatError(f"row {bad} (key {keys[bad]!r}) has a non-finite value", path=path)
    return Embeddings(keys, matrix, metric=metric or "cosine")


def _plain_keys(emb: Embeddings) -> list:
    return [normalize_key(k) for k in emb.keys]


def _save_npy(emb: Embeddings, path: Path) -> Path:
    keys = json.dumps(_plain_keys(emb), ensure_ascii=False).encode("utf-8")
    with atomic_file(path) as vectors_file, atomic_file(_npy_keys_path(path)) as keys_file:
        np.save(vectors_file, np.asarray(emb.vectors, dtype=np.float32), allow_pickle=False)
        keys_file.write(keys)
    return path


# ---------------------------------------------------------------------------------------- native
def _read_meta(path: Path) -> dict:
    """meta.json, checked for the fields this version needs and refused if newer."""
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise FormatError("not native embeddings: no meta.json", path=path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FormatError(f"not valid JSON ({error})", path=meta_path) from None
    if not isinstance(meta, dict) or meta.get("format") != "embedworks":
        raise FormatError('not an embedworks file (expected "format": "embedworks")', path=meta_path)
    version = meta.get("version")
    if not isinstance(version, int):
        raise FormatError(f"version {version!r} is not an integer", path=meta_path)
    if version > NATIVE_VERSION:
        raise FormatError(f"written in native format version {version}, newer than version "
                          f"{NATIVE_VERSION} that this embedworks reads; upgrade embedworks", path=meta_path)
    missing = [f for f in ("count", "dim", "metric", "key_type") if f not in meta]
    if missing:
        raise FormatError(f"missing fields {missing}", path=meta_path)
    return meta


def _jsonl_values(path: Path, n: int):
    """(line, value) for the first `n` lines of a JSON-lines file; raises if it has fewer."""
    line = 0
    with open(path, "rb") as f:
        for line, raw in zip(range(1, n + 1), f):
            try:
                yield line, json.loads(raw)
            except ValueError as error:
                raise FormatError(f"not valid JSON ({error})", path=path, line=line) from None
    if line < n:
        raise FormatError(f"file ends after {line} of {n} lines", path=path, line=line + 1)


def _load_native_keys(path: Path, n: int, key_type: str) -> list:
    kind = {"str": str, "int": int}.get(key_type)
    if kind is None:
        raise FormatError(f"unknown key_type {key_type!r}", path=path.parent / "meta.json")
    keys, seen = [], {}
    for line, key in _jsonl_values(path, n):
        if not isinstance(key, kind) or isinstance(key, bool):
            raise FormatError(f"key {key!r} is not of key_type {key_type}", path=path, line=line)
        if seen.setdefault(key, line) != line:
            raise FormatError(f"duplicate key {key!r} (first on line {seen[key]})", path=path, line=line)
        keys.append(key)
    return keys


def _load_native_metadata(path: Path, n: int, columns: list[str]) -> dict:
    values: list[list] = [[] for _ in columns]
    for line, row in _jsonl_values(path, n):
        if not isinstance(row, list) or len(row) != len(columns):
            raise FormatError(f"expected a JSON list of {len(columns)} values", path=path, line=line)
        for column, value in zip(values, row):
            column.append(value)
    return dict(zip(columns, values))


def _load_native(path: Path, limit, metric) -> Embeddings:
    meta = _read_meta(path)
    count, dim = meta["count"], meta["dim"]
    vectors = _load_npy_matrix(path / "vectors.npy")
    if vectors.shape != (count, dim) or vectors.dtype != np.float32:
        raise FormatError(f"holds {vectors.shape} {vectors.dtype}, meta.json says ({count}, {dim}) float32",
                          path=path / "vectors.npy")
    n = count if limit is None else min(count, limit)
    keys = _load_native_keys(path / "keys.jsonl", n, meta["key_type"])
    columns = meta.get("metadata_columns", [])
    metadata = _load_native_metadata(path / "metadata.jsonl", n, columns) if columns else None
    encoder = meta.get("encoder")
    if encoder is not None and not isinstance(encoder, dict):
        raise FormatError(f'"encoder" must be a JSON object, got {encoder!r}', path=path / "meta.json")
    return Embeddings(keys, vectors[:n], metadata, metric=metric or meta["metric"], encoder=encoder)


def _key_type(keys: list) -> str:
    if all(isinstance(k, int) for k in keys):
        return "int"
    if all(isinstance(k, str) for k in keys):
        return "str"
    raise InvalidInputError("native files need keys that are all str or all int, not a mix")


def _json_line(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=_json_scalar).encode("utf-8") + b"\n"


def _json_scalar(value):
    """NumPy scalars in metadata as plain Python values."""
    if isinstance(value, np.generic):
        return value.item()
    raise InvalidInputError(f"metadata value {value!r} of type {type(value).__name__} cannot be stored")


def _is_replaceable(path: Path) -> bool:
    """True when nothing is at `path`, or an empty directory, or native embeddings."""
    if not path.exists():
        return True
    return path.is_dir() and ((path / "meta.json").is_file() or not any(path.iterdir()))


def _save_native(emb: Embeddings, path: Path) -> Path:
    if not _is_replaceable(path):
        raise FormatError("refusing to replace something that is not native embeddings", path=path)
    keys = _plain_keys(emb)
    columns = list(emb.metadata)
    meta = {"format": "embedworks", "version": NATIVE_VERSION, "count": len(keys), "dim": emb.dim,
            "metric": emb.metric, "dtype": "float32", "key_type": _key_type(keys), "metadata_columns": columns}
    if emb.encoder is not None:
        meta["encoder"] = emb.encoder
    with atomic_directory(path) as temp:
        with open(temp / "vectors.npy", "wb") as f:
            np.save(f, np.asarray(emb.vectors, dtype=np.float32), allow_pickle=False)
        with open(temp / "keys.jsonl", "wb") as f:
            f.writelines(map(_json_line, keys))
        if columns:
            with open(temp / "metadata.jsonl", "wb") as f:
                f.writelines(_json_line(list(row)) for row in zip(*emb.metadata.values()))
        (temp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


_READERS = {"native": _load_native, "word2vec": _load_text, "fasttext": _load_text, "glove": _load_glove,
            "word2vec-binary": _load_word2vec_binary, "tsv": _load_tsv, "npy": _load_npy}
_WRITERS = {"native": _save_native, "word2vec": _save_text, "fasttext": _save_fasttext, "glove": _save_glove,
            "word2vec-binary": _save_word2vec_binary, "tsv": _save_tsv, "npy": _save_npy}
