"""`Collection`: a named, persistent set of keyed vectors with metadata, an index and its encoder.

>>> col = Collection.create("docs.col", dim=384, encoder={"kind": "text", "model": "minilm"})  # doctest: +SKIP
>>> col.upsert(["a", "b"], items=["first text", "second"], metadata={"lang": ["en", "en"]})  # doctest: +SKIP
>>> col.search(text="a text", k=5, filter={"lang": "en"})                                    # doctest: +SKIP
[('a', 0.71...), ('b', 0.42...)]

One directory holds everything::

    collection.json          {"format": "embedworks-collection", "version": 1, "name", "dim",
                              "metric", "index": {"kind", "params"}, "encoder": spec | null}
    CURRENT                  {"generation": g, "snapshot": "snapshot-<g>", "log": "log-<g>.wal"}
    snapshot-<g>/            rows.emb/ (native embeddings: keys, vectors, metadata, encoder),
                             index/ (the saved FAISS index; none for exact), snapshot.json
    log-<g>.wal              every write since that snapshot (see `store.log`)
    lock                     flock'd by the one writer (it holds the writer's pid)

Durability: a write (`upsert`, `delete`) is one log record, committed when `fdatasync` returns,
and only then applied in memory. Opening loads the snapshot and replays the intact records;
a torn last record (a crash mid-write) is dropped with a warning, so a kill -9 loses at most the
write in flight. Compaction writes a new snapshot directory (temp dir, fsync, rename), an empty
log, then swaps CURRENT atomically; a crash at any point leaves CURRENT naming a complete state.
It runs when the log outgrows `log_limit` bytes (and the snapshot), or on `compact()`.

Concurrency: one writer process (`CollectionLockedError` for a second); any number of readers
(``Collection.open(path, readonly=True)``) that see the last snapshot plus the committed prefix
of the log, and catch up with `refresh()`. Within one process, searches run in parallel and
writes exclude them (a readers–writer lock).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Mapping
from numbers import Integral
from pathlib import Path

import numpy as np

from ..errors import DimensionError, FormatError, InvalidInputError
from ..files import atomic_directory, atomic_file, read_marker
from ..formats import load as load_embeddings
from ..index import INDEX_KINDS, load_index, make_index, resolve_kind
from ..index.approx import import_faiss
from ..index.exact import check_metric
from ..space import Embeddings, normalize_key
from . import log
from .locks import ReadWriteLock, WriterLock
from .table import Table, check_columns

logger = logging.getLogger(__name__)

FORMAT = "embedworks-collection"
VERSION = 1
_CONFIG = "collection.json"
_CURRENT = "CURRENT"
#: compaction starts once the log holds this many bytes and more than the snapshot's vectors
LOG_LIMIT = 64 * 1024 * 1024
#: an "ivfpq" collection searches exactly until it holds this many vectors, then trains IVF-PQ
IVF_TRAIN_FROM = 10_000
#: shorthands for encoder specs (the CLI's --encoder)
ENCODER_NAMES = {"minilm": {"kind": "text", "model": "minilm"},
                 "efficientnet-lite0": {"kind": "image", "model": "efficientnet-lite0"}}
_GENERATION_FILE = re.compile(r"^(snapshot-\d+|log-\d+\.wal)$")
_OPEN_RETRIES = 5


class Collection:
    """A persistent, searchable set of keyed vectors. Make one with `create`, reopen with `open`."""

    def __init__(self, path: Path, config: dict, *, readonly: bool, log_limit: int | None, encoder=None):
        self.path = path
        self._config = config
        self.readonly = readonly
        self.log_limit = LOG_LIMIT if log_limit is None else int(log_limit)
        self._encoder = encoder
        self._lock = ReadWriteLock()
        self._log: log.LogWriter | None = None
        self._writer_lock = None
        if not readonly:
            self._writer_lock = WriterLock(path / "lock", f"collection {path}")
        try:
            self._load()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ making and opening
    @classmethod
    def create(cls, path, dim: int | None = None, metric: str = "cosine", index="auto", encoder=None,
               name: str | None = None, *, log_limit: int | None = None) -> "Collection":
        """A new empty collection in the directory `path` (absent or empty), open for writing.

        `index`: "auto" (exact below 50,000 vectors, HNSW above), "exact", "hnsw", "ivfpq", or a
        mapping ``{"kind": ..., **params}`` (e.g. ``{"kind": "hnsw", "M": 16, "ef_search": 48}``).
        `encoder`: None, a spec dict, a name ("minilm", "efficientnet-lite0"), or an encoder object
        with ``encoder_spec`` (used as is in this session); `dim` may be left out with an encoder.
        """
        path = Path(path)
        if path.exists() and not (path.is_dir() and not any(path.iterdir())):
            raise InvalidInputError(f"{path} already exists and is not an empty directory")
        spec, encoder_object = _encoder_spec(encoder)
        if dim is None:
            if spec is None:
                raise InvalidInputError("give dim, or an encoder to take it from")
            encoder_object = encoder_object or _load_encoder(spec)
            dim = _encoder_dim(encoder_object)
        if isinstance(dim, bool) or not isinstance(dim, Integral) or dim < 1:
            raise InvalidInputError(f"dim must be a positive integer, got {dim!r}")
        kind, params = _index_spec(index)
        if kind in ("hnsw", "ivfpq"):
            import_faiss()
        make_index("hnsw" if kind == "auto" else kind, int(dim), check_metric(metric), **params)  # checks params
        config = {"format": FORMAT, "version": VERSION, "name": name or path.resolve().name, "dim": int(dim),
                  "metric": metric, "index": {"kind": kind, "params": params}, "encoder": spec}
        with atomic_directory(path) as temp:
            (temp / _CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            _write_snapshot(temp / "snapshot-0", Table(int(dim)), None, config, 0)
            (temp / "log-0.wal").touch()
            _write_current(temp, 0)
        logger.info("created collection %r (%d dims, %s, index %s) at %s", config["name"], dim, metric, kind, path)
        return cls(path, config, readonly=False, log_limit=log_limit, encoder=encoder_object)

    @classmethod
    def open(cls, path, readonly: bool = False, *, log_limit: int | None = None) -> "Collection":
        """Open an existing collection: for writing (one process at a time) or `readonly`."""
        path = Path(path)
        return cls(path, _read_config(path), readonly=readonly, log_limit=log_limit)

    def close(self) -> None:
        """Release the log and the writer lock (the collection stays usable for nothing further)."""
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._writer_lock is not None:
            self._writer_lock.release()
            self._writer_lock = None

    def __enter__(self) -> "Collection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()

    # ------------------------------------------------------------------ what it is
    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, key) -> bool:
        try:
            return normalize_key(key) in self._table.rows
        except InvalidInputError:
            return False

    def __repr__(self) -> str:
        return (f"Collection({self.name!r}, {len(self):,} × {self.dim}, metric={self.metric!r}, "
                f"index={self._index.kind!r})")

    @property
    def name(self) -> str:
        return self._config["name"]

    @property
    def dim(self) -> int:
        return self._config["dim"]

    @property
    def metric(self) -> str:
        return self._config["metric"]

    @property
    def encoder_spec(self) -> dict | None:
        return self._config["encoder"]

    @property
    def index(self):
        """The index in use (exact, or the configured one once big enough). Its search-time knobs
        (``ef_search`` for HNSW, ``nprobe`` for IVF-PQ) may be set here for this session."""
        return self._index

    @property
    def keys(self) -> list:
        """The keys, in storage order (a copy)."""
        with self._lock.reading:
            return list(self._table.keys)

    def info(self) -> dict:
        """A JSON-able summary: sizes, metric, index (configured and in use), encoder, files."""
        with self._lock.reading:
            index = self._config["index"]
            return {"name": self.name, "path": str(self.path), "count": len(self._table), "dim": self.dim,
                    "metric": self.metric, "encoder": self.encoder_spec,
                    "index": {"kind": index["kind"], "active": self._index.kind,
                              "params": getattr(self._index, "params", {})},
                    "metadata_columns": list(self._table.columns), "generation": self._generation,
                    "log_bytes": self._log_offset, "log_records": self._log_records, "readonly": self.readonly}

    @property
    def encoder(self):
        """The encoder that made the vectors, loaded on first use (None without a spec)."""
        if self._encoder is None and self.encoder_spec is not None:
            self._encoder = _load_encoder(self.encoder_spec)
        return self._encoder

    # ------------------------------------------------------------------ writing
    def upsert(self, keys, vectors=None, metadata=None, items=None) -> int:
        """Insert or replace `keys`; returns how many. Committed to disk before it returns.

        Give `vectors` ((n, dim) or (dim,) for one key), or `items` (texts or file paths) to encode
        with the collection's encoder, or neither to update only the given `metadata` of existing
        keys. `metadata` is {column: [value per key]} or one dict per key; values are str, int,
        float, bool or None. A row written with vectors replaces the key's vector and metadata.
        Any invalid input raises before anything is written.
        """
        self._check_writable()
        keys = self._checked_keys(keys)
        if vectors is not None and items is not None:
            raise InvalidInputError("give vectors or items, not both")
        if items is not None:
            vectors = self._encode(items, "items")
        if vectors is not None:
            vectors = self._checked_vectors(vectors, len(keys))
        elif metadata is None:
            raise InvalidInputError("upsert needs vectors, items or metadata")
        columns = check_columns(metadata, keys)
        if vectors is not None and self._wanted_kind(len(self._table) + len(keys)) != "exact":
            import_faiss()  # fail before committing a write that would need it
        header = {"op": "upsert", "keys": keys, "metadata": columns, "vectors": vectors is not None}
        with self._lock.writing:
            self._check_writable()
            if vectors is None:
                for key in keys:
                    self._table.row_of(key)
            self._commit(header, vectors)
        return len(keys)

    def delete(self, keys) -> int:
        """Remove `keys` (all must exist, else nothing is removed); returns how many."""
        self._check_writable()
        keys = self._checked_keys(keys)
        with self._lock.writing:
            self._check_writable()
            for key in keys:
                self._table.row_of(key)
            self._commit({"op": "delete", "keys": keys}, None)
        return len(keys)

    def compact(self) -> None:
        """Write a snapshot of the current state and start an empty log."""
        self._check_writable()
        with self._lock.writing:
            self._compact()

    def refresh(self) -> bool:
        """Catch up with what the writer committed since this reader loaded; True if anything changed."""
        if not self.readonly:
            return False
        with self._lock.writing:
            if _read_current(self.path)["generation"] != self._generation:
                self._load()
                return True
            return self._replay(self.path / self._log_name, self._log_offset) > 0

    # ------------------------------------------------------------------ reading
    def get(self, keys) -> Embeddings:
        """The vectors and metadata of `keys` (one key or a list) as `Embeddings`."""
        keys = [keys] if isinstance(keys, (str, Integral)) else list(keys)
        with self._lock.reading:
            rows = [self._table.row_of(normalize_key(key)) for key in keys]
            return Embeddings([self._table.keys[r] for r in rows], self._table.vectors[rows].reshape(-1, self.dim),
                              self._table.metadata_of(rows), self.metric, self.encoder_spec)

    def to_embeddings(self) -> Embeddings:
        """Everything, as `Embeddings` (a copy)."""
        with self._lock.reading:
            rows = list(range(len(self._table)))
            return Embeddings(self._table.keys, self._table.vectors.copy(), self._table.metadata_of(rows),
                              self.metric, self.encoder_spec)

    def search(self, query=None, *, vector=None, text=None, file=None, key=None, k: int = 10, filter=None):
        """The k nearest keys as ``[(key, score), …]``, best first; a batch gives one list per query.

        Give exactly one of: `vector` (one (dim,) vector or an (n, dim) batch), `text` (a str or a
        list, encoded with the collection's encoder), `file` (a path or a list: images, audio),
        `key` (a stored key or a list; the key itself is left out), or `query`: a str is a text,
        anything else a vector. `filter` = {column: value or [values]} keeps only keys whose
        metadata match every column; it is applied before the search, so k results come back
        whenever k keys match. Scores are similarities (cosine, dot) or distances (euclidean).
        """
        if type(k) is not int and (isinstance(k, bool) or not isinstance(k, Integral)) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        if type(vector) is np.ndarray and vector.shape == (self.dim,) and query is None and text is None \
                and file is None and key is None:
            vectors, single, own = vector, True, None  # one plain vector: the per-query path, no detours
        else:
            vectors, single, own = self._queries(query, vector, text, file, key)
        with self._lock.reading:
            allowed = self._table.matching(filter) if filter else None
            found, scores = self._index.search(vectors, k + (own is not None), filter=allowed)
        found = found.tolist()
        results = [list(zip(row_keys, row_scores)) for row_keys, row_scores in zip(found, scores.tolist())]
        if own is not None or any(row[-1] is None for row in found):  # missing slots come last
            results = [[hit for hit in hits if hit[0] is not None and (own is None or hit[0] != own[i])][:k]
                       for i, hits in enumerate(results)]
        return results[0] if single else results

    # ------------------------------------------------------------------ internals: input
    def _check_writable(self) -> None:
        if self.readonly:
            raise InvalidInputError(f"collection {self.name!r} is open read-only")
        if self._log is None:
            raise InvalidInputError(f"collection {self.name!r} is closed")

    def _checked_keys(self, keys) -> list:
        keys = [keys] if isinstance(keys, (str, Integral)) else list(keys)
        keys = [normalize_key(key) for key in keys]
        if not keys:
            raise InvalidInputError("no keys given")
        seen = set()
        for key in keys:
            if key in seen:
                raise InvalidInputError(f"key {key!r} is given twice")
            seen.add(key)
        stored = type(self._table.keys[0]) if len(self._table) else type(keys[0])
        odd = next((key for key in keys if type(key) is not stored), None)
        if odd is not None:
            raise InvalidInputError(f"key {odd!r} is {type(odd).__name__} but the collection's keys are "
                                    f"{stored.__name__}; keys must be all str or all int")
        return keys

    def _checked_vectors(self, vectors, n: int) -> np.ndarray:
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim == 1 and n == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != self.dim:
            raise DimensionError(f"vectors have shape {array.shape}; collection {self.name!r} holds "
                                 f"{self.dim}-dim vectors")
        if len(array) != n:
            raise DimensionError(f"{n} keys but {len(array)} vectors")
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if len(bad):
            raise InvalidInputError(f"vector {bad[0]} contains NaN or infinity; nothing was written")
        return array

    def _encode(self, items, what: str) -> np.ndarray:
        if self.encoder_spec is None and self._encoder is None:
            raise InvalidInputError(f"collection {self.name!r} has no encoder; give vectors instead of {what}")
        items = [items] if isinstance(items, (str, os.PathLike)) else list(items)
        if not items:
            raise InvalidInputError(f"no {what} given")
        items = [str(item) if isinstance(item, os.PathLike) else item for item in items]
        encoder = self.encoder
        vectors = np.asarray(encoder.encode_array(items), dtype=np.float32)
        if len(vectors) != len(items):
            skipped = getattr(encoder, "last_skipped", None) or []
            shown = f" (could not read {', '.join(map(str, skipped[:3]))})" if skipped else ""
            raise InvalidInputError(f"the encoder gave {len(vectors)} vectors for {len(items)} {what}{shown}")
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise DimensionError(f"the encoder gives vectors of shape {vectors.shape[1:]}; collection "
                                 f"{self.name!r} holds {self.dim}-dim vectors")
        return vectors

    def _queries(self, query, vector, text, file, key):
        """(query vectors, single?, per-query key to leave out or None)."""
        if sum(value is not None for value in (query, vector, text, file, key)) != 1:
            given = [name for name, value in (("query", query), ("vector", vector), ("text", text), ("file", file),
                                              ("key", key)) if value is not None]
            raise InvalidInputError("give exactly one of query, vector, text, file or key"
                                    + (f" (got {', '.join(given)})" if given else ""))
        if query is not None:
            text, vector = (query, None) if isinstance(query, str) or _is_str_list(query) else (None, query)
        if text is not None:
            return self._encode(text, "texts"), isinstance(text, str), None
        if file is not None:
            return self._encode(file, "files"), isinstance(file, (str, os.PathLike)), None
        if key is not None:
            single = isinstance(key, (str, Integral))
            keys = [normalize_key(k) for k in ([key] if single else key)]
            with self._lock.reading:
                rows = [self._table.row_of(k) for k in keys]
                vectors = self._table.vectors[rows].reshape(-1, self.dim)
            return vectors, single, keys
        array = np.asarray(vector, dtype=np.float32)
        if array.ndim not in (1, 2) or array.shape[-1] != self.dim:
            raise DimensionError(f"query vector has shape {array.shape}; collection {self.name!r} holds "
                                 f"{self.dim}-dim vectors")
        return array, array.ndim == 1, None  # every index checks values (NaN, infinity) itself

    # ------------------------------------------------------------------ internals: state
    def _commit(self, header: dict, vectors: np.ndarray | None) -> None:
        """Append the record (durable on return), then apply it; compact when the log is big."""
        self._log.append(log.encode(header, vectors))
        self._apply(header, vectors)
        self._log_offset, self._log_records = self._log.size, self._log_records + 1
        if self._log_offset > max(self.log_limit, 4 * self.dim * self._snapshot_rows):
            try:
                self._compact()
            except OSError as error:  # the write is committed in the log; compaction can wait
                logger.warning("collection %r: compaction failed (%s); the log keeps growing", self.name, error)

    def _apply(self, header: dict, vectors: np.ndarray | None) -> None:
        keys = header["keys"]
        if header["op"] == "delete":
            self._table.delete(keys)
            self._index.remove(keys)
        elif vectors is None:
            self._table.update(keys, header["metadata"])
        else:
            present = [key for key in keys if key in self._table.rows]
            if present:
                self._index.remove(present)
            self._table.put(keys, vectors, header["metadata"])
            self._index.add(keys, vectors)
            self._grow_index()

    def _grow_index(self) -> None:
        """Move from the exact index to the configured approximate one once there are enough vectors."""
        wanted = self._wanted_kind(len(self._table))
        if self._index.kind == "exact" and wanted != "exact":
            logger.info("collection %r reached %d vectors: building its %s index", self.name, len(self._table),
                        wanted)
            self._index = self._built_index(wanted)

    def _wanted_kind(self, count: int) -> str:
        kind = self._config["index"]["kind"]
        if kind == "ivfpq":
            return "ivfpq" if count >= IVF_TRAIN_FROM else "exact"
        return resolve_kind(kind, count)

    def _built_index(self, kind: str):
        params = self._config["index"]["params"] if kind != "exact" else {}
        index = make_index(kind, self.dim, self.metric, **params)
        if len(self._table):
            index.add(self._table.keys, self._table.vectors)
        return index

    def _load(self) -> None:
        """Read CURRENT, its snapshot and the intact log records (retrying if a compaction races)."""
        for attempt in range(_OPEN_RETRIES):
            current = _read_current(self.path)
            try:
                self._load_generation(current)
                return
            except (FileNotFoundError, FormatError):
                if attempt == _OPEN_RETRIES - 1 or _read_current(self.path) == current:
                    raise
                logger.debug("collection %s changed while loading; loading again", self.path)

    def _load_generation(self, current: dict) -> None:
        snapshot = self.path / current["snapshot"]
        meta = _read_json(snapshot / "snapshot.json")
        rows = load_embeddings(snapshot / "rows.emb", format="native")
        if rows.dim != self.dim:
            raise FormatError(f"holds {rows.dim}-dim vectors, collection.json says {self.dim}", path=snapshot)
        table = Table(self.dim)
        if len(rows):
            table.put(rows.keys, np.asarray(rows.vectors), rows.metadata)
        self._table = table
        kind = meta.get("index", "exact")
        self._index = load_index(snapshot / "index") if kind != "exact" else self._built_index("exact")
        self._grow_index()
        self._generation, self._log_name = current["generation"], current["log"]
        self._snapshot_rows = len(table)
        self._log_offset = self._log_records = 0
        log_path = self.path / self._log_name
        self._replay(log_path, 0)
        if not self.readonly:
            self._open_log(log_path)
            self._remove_stale_files()

    def _replay(self, path: Path, start: int) -> int:
        """Apply the intact records of the log at `path` from byte `start`; how many were applied."""
        applied = 0
        for end, payload in log.records(path, start):
            header, vectors = log.decode(payload, self.dim)
            try:
                self._apply(header, vectors)
            except (KeyError, InvalidInputError) as error:
                raise FormatError(f"record ending at byte {end} cannot be applied ({error})", path=path) from None
            self._log_offset, applied = end, applied + 1
        self._log_records += applied
        return applied

    def _open_log(self, path: Path) -> None:
        self._log = log.LogWriter(path)
        if self._log.size > self._log_offset:
            logger.warning("collection %s: dropping %d bytes after the last intact record of %s "
                           "(a write interrupted by a crash; it was never committed)",
                           self.path, self._log.size - self._log_offset, path.name)
            self._log.truncate(self._log_offset)

    def _compact(self) -> None:
        generation = self._generation + 1
        _write_snapshot(self.path / f"snapshot-{generation}", self._table, self._index, self._config, generation)
        log_name = f"log-{generation}.wal"
        with open(self.path / log_name, "wb") as f:
            os.fsync(f.fileno())
        _write_current(self.path, generation)
        old_log = self._log
        self._log = log.LogWriter(self.path / log_name)
        old_log.close()
        self._generation, self._log_name = generation, log_name
        self._snapshot_rows, self._log_offset, self._log_records = len(self._table), 0, 0
        self._remove_stale_files()
        logger.info("collection %r compacted into snapshot %d (%d vectors)", self.name, generation, len(self))

    def _remove_stale_files(self) -> None:
        """Delete snapshots and logs of earlier generations and temp files of interrupted writes."""
        keep = {f"snapshot-{self._generation}", self._log_name}
        for entry in self.path.iterdir():
            stale = _GENERATION_FILE.match(entry.name) and entry.name not in keep
            if stale or entry.name.startswith((".snapshot-", f".{_CURRENT}.")):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------- files
def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise FormatError(f"not valid JSON ({error})", path=path) from None
    if not isinstance(value, dict):
        raise FormatError("expected a JSON object", path=path)
    return value


def _read_config(path: Path) -> dict:
    return read_marker(path, _CONFIG, FORMAT, VERSION, "a collection",
                       fields=("name", "dim", "metric", "index", "encoder"))


def _read_current(path: Path) -> dict:
    current = _read_json(path / _CURRENT)
    if not isinstance(current.get("generation"), int):
        raise FormatError("no generation", path=path / _CURRENT)
    return current


def _write_current(folder: Path, generation: int) -> None:
    current = {"generation": generation, "snapshot": f"snapshot-{generation}", "log": f"log-{generation}.wal"}
    with atomic_file(folder / _CURRENT) as f:
        f.write(json.dumps(current).encode("utf-8") + b"\n")
    _fsync_directory(folder)


def _fsync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_snapshot(path: Path, table: Table, index, config: dict, generation: int) -> None:
    kind = "exact" if index is None else index.kind
    with atomic_directory(path) as temp:
        rows = list(range(len(table)))
        Embeddings(table.keys, table.vectors, table.metadata_of(rows), config["metric"],
                   config["encoder"]).save(temp / "rows.emb", format="native")
        if kind != "exact":
            index.save(temp / "index")
        (temp / "snapshot.json").write_text(json.dumps({"generation": generation, "count": len(table),
                                                        "index": kind}) + "\n", encoding="utf-8")
    _fsync_directory(path.parent)


# ---------------------------------------------------------------------------------------- encoders and indexes
def _encoder_spec(encoder) -> tuple[dict | None, object]:
    """(spec, encoder object or None) for what `Collection.create` was given."""
    from ..encode.registry import checked_spec, spec_of

    if encoder is None:
        return None, None
    if isinstance(encoder, str):
        if encoder in ENCODER_NAMES:
            return dict(ENCODER_NAMES[encoder]), None
        path = Path(encoder)
        if path.is_dir():
            from ..encode.lsa import is_lsa_dir

            if is_lsa_dir(path):
                return {"kind": "lsa", "path": str(path.resolve())}, None
            return {"kind": "text", "model": str(path.resolve())}, None
        raise InvalidInputError(f"unknown encoder {encoder!r}: use {', '.join(ENCODER_NAMES)}, a model folder, "
                                "or a spec such as {'kind': 'text', 'model': 'minilm'}")
    if isinstance(encoder, Mapping):
        return checked_spec(encoder), None
    spec = spec_of(encoder)
    if spec is None:
        raise InvalidInputError(f"the {type(encoder).__name__} encoder has no encoder_spec (save it first), "
                                "so the collection could not remake it")
    return spec, encoder


def _load_encoder(spec: dict):
    from ..encode.registry import from_spec

    return from_spec(spec)


def _encoder_dim(encoder) -> int:
    dim = getattr(encoder, "dim", None)
    if not isinstance(dim, Integral):
        raise InvalidInputError(f"cannot tell the dimension of the {type(encoder).__name__} encoder; give dim")
    return int(dim)


def _index_spec(index) -> tuple[str, dict]:
    if isinstance(index, str):
        kind, params = index, {}
    elif isinstance(index, Mapping) and "kind" in index:
        params = dict(index)
        kind = params.pop("kind")
    else:
        raise InvalidInputError(f"index must be one of {', '.join(INDEX_KINDS)} or a mapping with a 'kind', "
                                f"got {index!r}")
    if kind not in INDEX_KINDS:
        raise InvalidInputError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    return kind, params


def _is_str_list(value) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, str) for v in value)


__all__ = ["Collection", "ENCODER_NAMES", "IVF_TRAIN_FROM", "LOG_LIMIT"]
