"""An interactive, self-contained HTML projector, in the spirit of TensorFlow's Embedding Projector.

    >>> from embedworks.visualize import projector
    >>> projector(emb, "projector.html", methods=("pca", "tsne"), top_n=5000, neighbors=10)

The page is one file: it opens from disk with no server, no network and no CDN (its WebGL
renderer, about 500 lines of JavaScript, is inline). It shows the points in 2-D or 3-D with
pan, zoom and rotation, the key under the mouse, colouring by any metadata column (the same
rules as the static plots), a search box (text or /regex/) that highlights matching keys, and a
switch between the projections that were computed. Clicking a point lists its k nearest
neighbours *in the original space* among the points on the page, with their scores in the
embeddings' metric: they are computed here with embedworks' exact search
(`index.exact.top_k`, the search behind `Embeddings.most_similar`) and stored in the page.

Data travel compactly: coordinates, neighbour ids and scores, and numeric metadata are
base64-encoded little-endian typed arrays (Float32Array, Int32Array), so 100,000 points with
two 2-D projections and 10 neighbours each make a page of about 16 MB (11 MB of it the
neighbour lists). The page renders on demand and stays smooth at that size.

`window.projector` is a small JavaScript API (`ready`, `state`, `search`, `select`,
`screenPosition`, `neighbours`, `setProjection`, `colorBy`) for scripting and tests.

`export_tensorboard` writes the TensorBoard projector's TSV pair (vectors.tsv and
metadata.tsv, with a header row when there are metadata columns) through embedworks' TSV
writer, for projector.tensorflow.org's "Load" button or TensorBoard.
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from numbers import Integral
from pathlib import Path

import numpy as np

from ..errors import DimensionError, InvalidInputError
from ..files import atomic_file
from ..index.exact import top_k
from ..space import Embeddings
from .colors import DEFAULT_COLOR, MISSING_COLOR, VIRIDIS, coloring
from .project import (Projection, _check_column, check_dims, check_method, projection,
                      select)

logger = logging.getLogger(__name__)

#: categorical columns whose raw values are kept in the page for the selection panel
_MAX_TEXT_COLUMN_POINTS = 1_000_000


@dataclass
class ProjectorPage:
    """What `projector` wrote: the file, the points, the projections and the neighbour lists."""

    path: Path
    keys: list
    projections: dict = field(default_factory=dict)  # name → (n, dims) float32 coordinates
    neighbor_indices: np.ndarray | None = None  # (n, k) rows into `keys`, -1 where fewer exist
    neighbor_scores: np.ndarray | None = None  # (n, k) scores in the embeddings' metric
    size_bytes: int = 0


def _b64(array: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")


def neighbor_table(emb: Embeddings, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores): each row's k nearest other rows by exact search in the embeddings' metric.

    Exactly what `emb.most_similar(key, k)` returns for every key, computed in one batch.
    """
    n = len(emb)
    k = min(k, n - 1)
    if k < 1:
        return np.empty((n, 0), np.int32), np.empty((n, 0), np.float32)
    vectors = np.asarray(emb.vectors, dtype=np.float32)
    norms = None if emb.metric == "dot" else emb.norms()
    exclude = [np.array([i], dtype=np.int64) for i in range(n)]
    idx, scores = top_k(vectors, vectors, k, emb.metric, norms=norms, exclude=exclude)
    return idx.astype(np.int32), scores.astype(np.float32)


def _column_payload(name: str, values: list) -> dict:
    colour = coloring(name, values)
    if colour.kind == "continuous":
        return {"name": name, "kind": "continuous", "values": _b64(colour.values, "<f4"),
                "vmin": colour.vmin, "vmax": colour.vmax, "log": colour.log}
    dtype = "u8" if len(colour.categories) <= 255 else "u16"
    payload = {"name": name, "kind": "categorical", "categories": [_jsonable(c) for c in colour.categories],
               "colors": colour.colors, "counts": colour.counts, "dtype": dtype,
               "codes": _b64(colour.codes, "<u1" if dtype == "u8" else "<u2")}
    if any(str(c).startswith("(other)") for c in colour.categories) and len(values) <= _MAX_TEXT_COLUMN_POINTS:
        payload["text"] = ["" if v is None else str(v) for v in values]
    return payload


def _jsonable(value):
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _script_json(data: dict) -> str:
    """JSON safe to inline in a <script> element (no "</script>", no "<!--")."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _template() -> str:
    return (resources.files("embedworks.visualize") / "projector.html").read_text(encoding="utf-8")


def _parse_methods(methods) -> list[str]:
    if isinstance(methods, str):
        methods = [m for m in methods.replace(" ", "").split(",") if m]
    methods = [check_method(m) for m in methods]
    if not methods:
        raise InvalidInputError("no projection methods given; choose from pca, tsne, umap")
    return list(dict.fromkeys(methods))


def _parse_dims(dims) -> list[int]:
    if isinstance(dims, str):
        dims = [int(d) for d in dims.split(",") if d.strip()] if all(
            d.strip().isdigit() for d in dims.split(",") if d.strip()) else [dims]
    if not isinstance(dims, Iterable):
        dims = [dims]
    return list(dict.fromkeys(check_dims(d) for d in dims)) or [2]


def projector(emb, path, methods=("pca", "tsne"), dims=2, seed: int | None = 0, *,
              neighbors: int = 10, keys: Iterable | None = None, top_n: int | None = None,
              where: Mapping[str, object] | None = None, color_by: str | None = None,
              title: str | None = None, method_params: Mapping[str, Mapping] | None = None,
              projections: Mapping[str, object] | None = None, tensorboard=None) -> ProjectorPage:
    """Write the interactive projector page for `emb` (or its selected part) to `path`.

    methods: "pca", "tsne", "umap", a list of them, or "pca,tsne"; each is computed in every
    `dims` asked for (2, 3, or both as (2, 3)) with `seed`, and `method_params` gives settings
    per method ({"tsne": {"perplexity": 50}}). `projections` adds ready-made ones: name →
    (n, dims) coordinates or a fitted `Projection` (with `methods=()` only those are used).
    neighbors: how many nearest neighbours (exact, in the original space and metric, among the
    points on the page) to store for each point (0: none). Selection: `keys`, `where`, `top_n`
    as in `select`. color_by: the column coloured at first (every column can be chosen on the
    page). tensorboard: also write the TensorBoard TSV pair there (see `export_tensorboard`).
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InvalidInputError(f"the projector page is HTML: name it *.html, not {path.name}")
    sub = select(emb, keys=keys, top_n=top_n, where=where)
    if color_by is not None:
        _check_column(sub, color_by)
    if isinstance(neighbors, bool) or not isinstance(neighbors, Integral) or neighbors < 0:
        raise InvalidInputError(f"neighbors must be a whole number ≥ 0, got {neighbors!r}")
    method_list = _parse_methods(methods) if methods else []
    dims_list = _parse_dims(dims)
    method_params = {check_method(m): dict(p) for m, p in (method_params or {}).items()}
    unknown = [m for m in method_params if m not in method_list]
    if unknown:
        raise InvalidInputError(f"method_params for {unknown[0]!r}, which is not among the methods {method_list}")
    estimators = [projection(m, d, seed, **method_params.get(m, {})) for m in method_list for d in dims_list]

    ready: dict[str, tuple[np.ndarray, str, int]] = {}
    for name, given in (projections or {}).items():  # checked before any slow projection runs
        description = str(name)
        if isinstance(given, Projection):
            description, given = given.describe(), given.coords
        given = np.asarray(given, dtype=np.float32)
        if given.ndim != 2 or given.shape[0] != len(sub) or given.shape[1] not in (2, 3):
            raise DimensionError(f"projection {name!r} has shape {given.shape}, expected ({len(sub)}, 2 or 3)")
        if not np.isfinite(given).all():
            raise InvalidInputError(f"projection {name!r} contains NaN or infinity")
        ready[str(name)] = (given, description, given.shape[1])
    if not estimators and not ready:
        raise InvalidInputError("nothing to show: give methods or projections")
    computed: dict[str, tuple[np.ndarray, str, int]] = {}
    for estimator in estimators:
        estimator.fit(sub)
        computed[estimator.name] = (estimator.coords, estimator.describe(), estimator.dims)
        logger.info("projected %d points: %s", len(sub), estimator.describe())
    computed.update(ready)

    neighbors = int(neighbors)
    idx, scores = neighbor_table(sub, neighbors) if neighbors else (np.empty((len(sub), 0), np.int32),
                                                                    np.empty((len(sub), 0), np.float32))
    selection = _selection_note(len(emb) if isinstance(emb, Embeddings) else len(sub), len(sub), keys, top_n, where)
    data = {
        "title": title or f"embedworks projector — {len(sub):,} keys",
        "n": len(sub), "dim": sub.dim, "metric": sub.metric, "selection": selection,
        "keys": [_jsonable(k) for k in sub.keys],
        "projections": [{"name": name, "dims": int(d), "description": desc, "coords": _b64(c, "<f4")}
                         for name, (c, desc, d) in computed.items()],
        "columns": [_column_payload(name, values) for name, values in sub.metadata.items()],
        "color_by": color_by,
        "neighbors": {"k": int(idx.shape[1]), "indices": _b64(idx, "<i4"),
                      "scores": _b64(np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0), "<f4")},
        "viridis": VIRIDIS, "default_color": DEFAULT_COLOR, "missing_color": MISSING_COLOR,
    }
    from .. import __version__

    page = (_template().replace("{{TITLE}}", html.escape(data["title"]))
            .replace("{{VERSION}}", __version__)
            .replace("{{DATA}}", _script_json(data)))
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = page.encode("utf-8")
    with atomic_file(path) as f:
        f.write(encoded)
    logger.info("wrote %s (%d points, %.1f MB)", path, len(sub), len(encoded) / 1e6)
    if tensorboard is not None:
        export_tensorboard(sub, tensorboard)
    return ProjectorPage(path, sub.keys, {name: c for name, (c, _, _) in computed.items()},
                         idx, scores, len(encoded))


def _selection_note(total: int, shown: int, keys, top_n, where) -> str:
    if shown == total:
        return ""
    parts = []
    if keys is not None:
        parts.append("chosen keys")
    if where:
        parts.append("filtered by " + ", ".join(map(str, where)))
    if top_n is not None:
        parts.append(f"first {top_n:,} rows")
    return f"{shown:,} of {total:,} ({'; '.join(parts)})"


def export_tensorboard(emb, path) -> Path:
    """Write the TensorBoard projector TSV pair; returns the vectors file.

    `path` is a folder (gets vectors.tsv and metadata.tsv) or a *.tsv file (its metadata goes
    beside it as <stem>.metadata.tsv). Keys, and metadata columns under a "key" header, go to
    the metadata file, as TensorBoard's projector reads them.
    """
    from ..formats import save

    path = Path(path)
    if path.suffix.lower() != ".tsv":
        path.mkdir(parents=True, exist_ok=True)
        path = path / "vectors.tsv"
    return save(emb if isinstance(emb, Embeddings) else select(emb), path, format="tsv")
