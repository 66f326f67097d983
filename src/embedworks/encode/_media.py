"""What the media encoders share: turning "a folder, a file or a list" into items to encode,
reading and running them in batches, reporting the files that could not be read, and the
`Embeddings` they return.

A folder is searched recursively; hidden files (a name or folder starting with ".") are left
out. Keys are the paths relative to the folder, and the top-level sub-folder's name becomes the
item's label. One path is keyed as given; in a list, paths are keyed as given and in-memory
items (PIL images, waveforms) by their position.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from ..learn.training import ProgressBar


@dataclass
class Item:
    key: object
    source: object  # a Path, or what `convert` made of an in-memory value
    label: str | None = None


def _folder_items(root: Path, what: str, suffixes: tuple[str, ...] | None) -> list[Item]:
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
                   and (suffixes is None or p.suffix.lower() in suffixes))
    if not files:
        kinds = f" ending in {', '.join(suffixes)}" if suffixes else ""
        raise InvalidInputError(f"{root}: the folder holds no files{kinds} (expected {what})")
    items = []
    for path in files:
        relative = path.relative_to(root)
        label = relative.parts[0] if len(relative.parts) > 1 else None
        items.append(Item(relative.as_posix(), path, label))
    return items


def collect(inputs, *, what: str, accepted: str, single: Callable[[object], bool],
            convert: Callable[[object, str], object], suffixes: tuple[str, ...] | None = None) -> list[Item]:
    """The items to encode from a folder, one path, one in-memory value or a list of both.

    `what` names the media ("images", "audio"), `accepted` describes the in-memory values for
    error messages, `single(value)` tells one in-memory value from a list, and
    `convert(value, where)` checks one in-memory value (raising `InvalidInputError` naming
    `where`) and returns what the encoder reads. A folder keeps only files whose suffix is in
    `suffixes` (all files when None).
    """
    if isinstance(inputs, (str, os.PathLike)):
        root = Path(inputs).expanduser()
        if root.is_dir():
            return _folder_items(root, what, suffixes)
        if not root.exists():
            raise InvalidInputError(f"{root}: no such file or folder")
        return [Item(str(inputs), root)]
    if single(inputs):
        inputs = [inputs]
    elif not isinstance(inputs, Iterable) or isinstance(inputs, (bytes, bytearray)):
        raise InvalidInputError(f"{what} inputs must be a folder, a file path, or a list of paths or {accepted}, "
                                f"got {type(inputs).__name__}")
    items = []
    for i, value in enumerate(inputs):
        if isinstance(value, (str, os.PathLike)):
            items.append(Item(str(value), Path(value).expanduser()))
        else:
            items.append(Item(i, convert(value, f"{what}[{i}]")))
    return items


def is_folder(inputs) -> bool:
    return isinstance(inputs, (str, os.PathLike)) and Path(inputs).expanduser().is_dir()


def report_skipped(logger: logging.Logger, inputs, skipped: list, reasons: list[str], total: int,
                   kept: int, what: str) -> None:
    """Log the skipped inputs in one warning; a folder with nothing readable is an error."""
    if skipped:
        shown = ", ".join(f"{k} ({r})" for k, r in zip(skipped[:3], reasons[:3]))
        logger.warning("skipped %d of %d inputs that could not be read as %s: %s%s",
                       len(skipped), total, what, shown, ", …" if len(skipped) > 3 else "")
    if is_folder(inputs) and not kept:
        raise InvalidInputError(f"{inputs}: the folder holds no readable {what} ({len(skipped)} files skipped)")


def run_in_batches(items: list[Item], read: Callable, run: Callable, *, batch_size: int, workers: int,
                   progress: bool | None, unit: str):
    """Read `items` on `workers` threads and `run` each batch of up to `batch_size` that could be
    read. `read(item)` gives (value, None) or (None, reason); `run(values)` gives an (n, width)
    array. Returns (items kept, their outputs stacked or None, skipped keys, their reasons)."""
    kept: list[Item] = []
    outputs, skipped, reasons = [], [], []
    with ProgressBar(progress, total=len(items), description="encoding", unit=unit) as bar, \
            ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            values = []
            for item, (value, reason) in zip(chunk, pool.map(read, chunk)):
                if value is None:
                    skipped.append(item.key)
                    reasons.append(reason)
                else:
                    kept.append(item)
                    values.append(value)
            if values:
                outputs.append(run(values))
            bar.advance(len(chunk))
    return kept, (np.concatenate(outputs) if outputs else None), skipped, reasons


def labelled_embeddings(kept: list[Item], vectors: np.ndarray, encoder: dict | None):
    """An `Embeddings` (metric cosine) keyed by the kept items, with a ``label`` column when a
    folder's sub-folders gave labels, remembering `encoder` (its spec)."""
    from ..space import Embeddings

    metadata = None
    if any(item.label is not None for item in kept):
        metadata = {"label": [item.label for item in kept]}
    return Embeddings([item.key for item in kept], vectors, metadata, metric="cosine", encoder=encoder)
