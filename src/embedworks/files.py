"""Atomic writes: build a file or directory beside its target, then rename it into place.

A failure at any point leaves what was at the target untouched; a reader never sees half a file.
`read_marker` reads back the JSON file that names what a saved directory holds.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import uuid
from pathlib import Path

from .errors import FormatError, InvalidInputError


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


def read_marker(folder, marker: str, format: str, version: int, what: str, fields=(),
                version_key: str = "version") -> dict:
    """The JSON object in `folder / marker` that names a saved directory's format, checked: it
    exists, is valid JSON, says ``"format": format``, has a `version_key` (``"version"``; trained
    models write ``"format_version"``) no newer than `version` and every one of `fields`;
    otherwise a `FormatError` naming the file and saying it is not `what` (e.g. "an LSA model")."""
    folder = Path(folder)
    path = folder / marker
    if not path.is_file():
        raise FormatError(f"not {what}: no {marker}", path=folder)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FormatError(f"not valid JSON ({error})", path=path) from None
    if not isinstance(meta, dict) or meta.get("format") != format:
        raise FormatError(f'not {what} (expected "format": "{format}")', path=path)
    found = meta.get(version_key)
    if isinstance(found, bool) or not isinstance(found, int):
        raise FormatError(f"format version {found!r} is not an integer", path=path)
    if found > version:
        raise FormatError(f"format version {found} is newer than this embedworks reads (≤ {version}); "
                          "upgrade embedworks", path=path)
    missing = [field for field in fields if field not in meta]
    if missing:
        raise FormatError(f"missing fields {missing}", path=path)
    return meta
