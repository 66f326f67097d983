"""Atomic writes: build a file or directory beside its target, then rename it into place.

A failure at any point leaves what was at the target untouched; a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import uuid
from pathlib import Path

from .errors import InvalidInputError


def temp_sibling(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.{tag}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_file(path: Path):
    """A binary file object whose content replaces `path` only when the block succeeds.

    Writes a temporary file beside `path` (gzip-compressed for a `.gz` path) and renames it.
    """
    temp = temp_sibling(path, "tmp")
    try:
        with open(temp, "xb") as raw:
            if path.name.lower().endswith(".gz"):
                with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw, mtime=0) as zipped:
                    yield zipped
            else:
                yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(path: Path, marker: str | None = None):
    """A temporary directory that replaces `path` when the block succeeds.

    The old directory is moved aside, the new one renamed in, and only then is the old removed.
    With `marker`, an existing `path` is replaced only if it is empty or holds that file (so a
    model never overwrites an unrelated folder).
    """
    path = Path(path)
    if marker is not None and path.exists() and not (
            path.is_dir() and (not any(path.iterdir()) or (path / marker).is_file())):
        raise InvalidInputError(f"{path} exists and is not what this writes (no {marker}); "
                                "refusing to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_sibling(path, "tmp")
    temp.mkdir()
    try:
        yield temp
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    for written in temp.rglob("*"):
        if written.is_file():
            with open(written, "rb") as f:
                os.fsync(f.fileno())
    old = temp_sibling(path, "old") if path.exists() else None
    if old:
        os.replace(path, old)
    try:
        os.replace(temp, path)
    except BaseException:
        if old:
            os.replace(old, path)
        shutil.rmtree(temp, ignore_errors=True)
        raise
    if old:
        shutil.rmtree(old)
