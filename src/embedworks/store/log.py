"""A collection's append-only log: framed, checksummed records, each one committed write.

A record is ``magic (4 bytes "EWL1") | payload length (u64 LE) | CRC-32 of the payload (u32 LE) |
payload``; the payload is ``header length (u32 LE) | JSON header | float32 LE vectors``. A write
is committed once its record is written and `fdatasync` returns. Reading stops at the first
record that is short, has the wrong magic or fails its checksum: that is the write a crash
interrupted (a torn tail), and everything before it is intact.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

MAGIC = b"EWL1"
_FRAME = struct.Struct("<4sQI")
_HEADER_LENGTH = struct.Struct("<I")


def encode(header: dict, vectors: np.ndarray | None = None) -> bytes:
    """One framed record holding `header` (JSON-able) and optional float32 `vectors`."""
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    body = b"" if vectors is None else np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    payload = _HEADER_LENGTH.pack(len(head)) + head + body
    return _FRAME.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def decode(payload: bytes, dim: int) -> tuple[dict, np.ndarray | None]:
    """(header, vectors or None) of a record's payload."""
    (length,) = _HEADER_LENGTH.unpack_from(payload)
    start = _HEADER_LENGTH.size
    header = json.loads(payload[start:start + length].decode("utf-8"))
    body = payload[start + length:]
    vectors = np.frombuffer(body, dtype="<f4").astype(np.float32).reshape(-1, dim) if body else None
    return header, vectors


def records(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(end offset, payload) of every intact record from byte `start`, stopping at a torn one."""
    with open(path, "rb") as f:
        f.seek(start)
        offset = start
        while True:
            frame = f.read(_FRAME.size)
            if len(frame) < _FRAME.size:
                return
            magic, length, checksum = _FRAME.unpack(frame)
            if magic != MAGIC:
                return
            payload = f.read(length)
            if len(payload) < length or zlib.crc32(payload) != checksum:
                return
            offset += _FRAME.size + length
            yield offset, payload


class LogWriter:
    """Appends records to a log file; `append` returns once the record is on disk."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(self.path, "ab", buffering=0)
        self.size = os.fstat(self._file.fileno()).st_size

    def append(self, record: bytes) -> None:
        """Write and `fdatasync` one record; on any failure the file is cut back to where it was."""
        try:
            view = memoryview(record)
            while view:
                view = view[self._file.write(view):]
            os.fdatasync(self._file.fileno())
        except BaseException:
            os.ftruncate(self._file.fileno(), self.size)
            raise
        self.size += len(record)

    def truncate(self, size: int) -> None:
        """Cut the file to `size` bytes (a torn tail found on opening) and sync it."""
        os.ftruncate(self._file.fileno(), size)
        os.fsync(self._file.fileno())
        self.size = size

    def close(self) -> None:
        self._file.close()
