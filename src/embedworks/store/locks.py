"""Locks: one writer process per collection (`flock` on a lock file), readers/writer within one."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from ..errors import EmbedworksError


class CollectionLockedError(EmbedworksError):
    """Another writer holds the collection; open it with ``readonly=True`` or close the other."""


class WriterLock:
    """An exclusive, non-blocking `flock` on `path`, released by `release` or when the process dies."""

    def __init__(self, path: Path, what: str):
        self.path = Path(path)
        self._file = open(self.path, "a+b")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().decode("ascii", "replace").strip()
            self._file.close()
            by = f" by process {holder}" if holder.isdigit() else ""
            raise CollectionLockedError(f"{what} is already open for writing{by} (lock file {self.path}); "
                                        "only one writer at a time: open it with readonly=True to read") from None
        self._file.truncate(0)
        self._file.write(str(os.getpid()).encode("ascii"))
        self._file.flush()

    def release(self) -> None:
        if not self._file.closed:
            self._file.truncate(0)
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()


class ReadWriteLock:
    """Many readers or one writer among the threads of one process: ``with lock.reading:`` and
    ``with lock.writing:``. Readers never wait for other readers, so searches run in parallel
    while FAISS releases the GIL; a writer waits for the readers in flight."""

    def __init__(self):
        self._readers = 0
        self._readers_lock = threading.Lock()
        self.writing = threading.Lock()
        self.reading = _Reading(self)


class _Reading:
    __slots__ = ("_owner",)

    def __init__(self, owner: ReadWriteLock):
        self._owner = owner

    def __enter__(self):
        owner = self._owner
        with owner._readers_lock:
            owner._readers += 1
            if owner._readers == 1:
                owner.writing.acquire()

    def __exit__(self, *exc):
        owner = self._owner
        with owner._readers_lock:
            owner._readers -= 1
            if owner._readers == 0:
                owner.writing.release()
