"""A persistent `embedworks.store.Collection` as a served resource: queries and writes.

Searches share the collection; an upsert or delete has it alone (a readers–writer lock), so a reader never
sees half a write. The collection encodes texts and files itself with the encoder it remembers.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from ..space import stored_key
from .resources import EncoderMixin, Resource, _hits, _jsonable, checked_vector


class RWLock:
    """Many readers or one writer among the service's threads."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._writing and self._readers == 0)
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


def open_collection(path: Path, readonly: bool = False):
    from ..store import Collection

    return Collection.open(path, readonly=readonly)


class CollectionResource(EncoderMixin, Resource):
    """similar, search (text, vector or file; metadata filter), encode, upsert, delete, projector."""

    kind = "collection"

    def __init__(self, name: str, collection, path: Path | None = None):
        super().__init__(name, path)
        self.collection = collection
        self.encoder_spec = collection.encoder_spec
        self.lock = RWLock()
        self._version = 0
        self.operations = ("similar", "search", "upsert", "delete", "projector") + (
            ("encode",) if self.encoder_spec else ())

    def info(self) -> dict:
        with self.lock.reading():
            info = dict(self.collection.info())
        return {**info, **super().info(), "count": len(self.collection), "dim": self.collection.dim,
                "metric": self.collection.metric, "encoder": self.encoder_spec}

    def version(self) -> int:
        return self._version

    def close(self) -> None:
        self.collection.close()

    def size(self) -> int:
        return len(self.collection)

    def _with_metadata(self, pairs) -> list[dict]:
        if not pairs:
            return []
        found = self.collection.get([key for key, _ in pairs])
        rows = {key: row for row, key in enumerate(found.keys)}
        columns = found.metadata

        def metadata(key):
            return {c: _jsonable(values[rows[key]]) for c, values in columns.items()
                    if values[rows[key]] is not None} if columns else None

        return _hits(pairs, metadata)

    def _key(self, key):
        return stored_key(key, self.collection)

    def similar(self, key=None, vector=None, k: int = 10, metric: str | None = None, filter=None):
        if metric is not None and metric != self.collection.metric:
            raise InvalidInputError(f"collection {self.name!r} is indexed for {self.collection.metric}; "
                                    f"it cannot answer in {metric}")
        with self.lock.reading():
            if key is not None:
                pairs = self.collection.search(key=self._key(key), k=k, filter=filter)
            else:
                pairs = self.collection.search(vector=checked_vector(vector, self.collection.dim), k=k,
                                               filter=filter)
            return self._with_metadata(pairs)

    def search(self, text=None, vector=None, file=None, k: int = 10, filter=None):
        if vector is not None:
            vector = checked_vector(vector, self.collection.dim)
        elif self.encoder_spec is None:
            self._unsupported("search by text or file (it has no encoder)")
        elif file is not None and self._reads_text():
            text, file = file.text(), None
        elif text is not None:
            self._check_reads_text()
        with self.lock.reading():
            if file is not None:
                with file.on_disk() as path:
                    pairs = self.collection.search(file=str(path), k=k, filter=filter)
            else:
                pairs = self.collection.search(vector=vector, text=text, k=k, filter=filter)
            return self._with_metadata(pairs)

    def upsert(self, keys, vectors=None, texts=None, metadata=None) -> int:
        if vectors is not None:
            vectors = np.stack([checked_vector(v, self.collection.dim, f"vector of {key!r}")
                                for key, v in zip(keys, vectors)])
        else:
            self._check_reads_text()
        with self.lock.writing():
            self.collection.upsert(keys, vectors=vectors, metadata=metadata, items=texts)
            self._version += 1
        return len(keys)

    def delete(self, keys) -> int:
        with self.lock.writing():
            keys = [self._key(key) for key in keys]
            self.collection.delete(keys)
            self._version += 1
        return len(keys)

    def projector_embeddings(self, limit: int):
        with self.lock.reading():
            return self.collection.get(self.collection.keys[:limit])
