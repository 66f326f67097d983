"""Static maps of embeddings with matplotlib: PNG, SVG or PDF, 2-D or 3-D.

    >>> from embedworks.visualize import plot
    >>> plot(emb, "map.png", method="tsne", top_n=3000, color_by="pos")

matplotlib is imported only when a plot is drawn, and only its Agg canvas is used (no pyplot,
no display, no global figure state), so plotting works on servers and in threads.

Labels: a map with thousands of points cannot show every key. `labels="auto"` (the default)
labels a sample spread over the whole map: the map is cut into a grid and each cell offers its
first row (for a trained vocabulary, its most frequent word); busier cells go first, and each
label is placed only where it overlaps no label already placed, up to 30. `labels=N` does the same for up
to N labels. A list of keys labels those keys (each marked with a ringed point), trying four
positions around the point and leaving out, in `Plot.skipped`, any that would still overlap;
`labels=None` shows none.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path

import numpy as np

from ..errors import DimensionError, InvalidInputError, MissingExtraError, UnknownKeyError
from ..files import atomic_file
from .colors import DEFAULT_COLOR, Coloring, coloring
from .project import (METHOD_NAMES, Projection, _check_column, check_dims, check_method, projection,
                      select)

logger = logging.getLogger(__name__)

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
AUTO_LABELS = 30
# (dx, dy) in points and the text alignment for each position a label may take around its point
OFFSETS = ((4, 3, "left", "bottom"), (-4, 3, "right", "bottom"), (4, -3, "left", "top"),
           (-4, -3, "right", "top"))


@dataclass
class Plot:
    """What `plot` drew: the figure (a matplotlib `Figure`), the file, and how points were coloured.

    `legend` maps each category to its colour (empty for continuous or no colouring);
    `colorbar` is (vmin, vmax, log) for a continuous column; `labelled` lists the keys that got
    a label and `skipped` the requested ones left out to avoid overlaps.
    """

    figure: object
    path: Path | None
    coords: np.ndarray
    keys: list
    title: str
    coloring: Coloring | None = None
    labelled: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    projection: Projection | None = None

    @property
    def legend(self) -> dict:
        return self.coloring.legend if self.coloring is not None else {}

    @property
    def colorbar(self) -> tuple | None:
        c = self.coloring
        return (c.vmin, c.vmax, c.log) if c is not None and c.kind == "continuous" else None


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError("matplotlib", "viz") from None
    return matplotlib, Figure, FigureCanvasAgg


def _output_format(path: Path | None) -> str | None:
    if path is None:
        return None
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInputError(f"cannot write a plot to {path}: use a .png, .svg or .pdf file name")
    return fmt


def _label_request(labels, sub) -> tuple[list[int], int, bool]:
    """(candidate rows, how many labels at most, explicit?) for the `labels` argument."""
    if labels is None or labels is False or (isinstance(labels, str) and labels.lower() in ("none", "")):
        return [], 0, False
    if isinstance(labels, str) and labels.lower() == "auto":
        return [], AUTO_LABELS, False  # rows are chosen once the map is drawn (`_spread_rows`)
    if isinstance(labels, Integral) and not isinstance(labels, bool):
        if labels < 0:
            raise InvalidInputError(f"labels must be 'auto', a count, keys or None, got {labels!r}")
        return [], int(labels), False
    if isinstance(labels, str):
        labels = [labels]
    rows = []
    for key in labels:
        if key not in sub:
            raise UnknownKeyError(key, sub.keys, what="key to label (not among the plotted points)")
        rows.append(sub.index_of(key))
    return rows, len(rows), True


def _title_lines(estimator: Projection | None, dims: int, n: int, colour: Coloring | None,
                 title: str | None) -> tuple[str, str]:
    if estimator is not None:
        name = f"{METHOD_NAMES[estimator.method]} {dims}-D map of {n:,} keys"
        details = estimator.describe().split(" (", 1)[1].rstrip(")") if "(" in estimator.describe() else ""
    else:
        name, details = f"{dims}-D map of {n:,} keys", "coordinates given"
    if colour is not None:
        name += f" · colour: {colour.column}" + (" (log scale)" if colour.log else "")
    return title or name, details


def _auto_point_size(n: int, dims: int) -> float:
    return float(np.clip(30000 / max(n, 1), 0.5, 25) * (0.8 if dims == 3 else 1))


def plot(emb, path=None, method: str = "tsne", dims: int = 2, seed: int | None = 0, *,
         coords=None, color_by: str | None = None, labels="auto", keys: Iterable | None = None,
         top_n: int | None = None, where: Mapping[str, object] | None = None, title: str | None = None,
         log_color: bool | None = None, figsize: tuple[float, float] | None = None, dpi: int = 150,
         point_size: float | None = None, elev: float = 20, azim: float = -60, **params) -> Plot:
    """Draw a scatter map of `emb` and write it to `path` (.png, .svg or .pdf; None: no file).

    method, dims (2 or 3), seed and `params` (perplexity=…, n_neighbors=…) go to the projection
    (see `project`); `coords`, an (n, dims) array for the selected points or a fitted
    `Projection`, skips it. Selection: `keys`, `where`, `top_n` as in `select`.
    color_by: a metadata column; categories get a legend, numbers a colour bar (log scale for
    positive values spanning 100× or more, or as `log_color` says). labels: "auto", a count,
    a list of keys, or None (see the module docstring). The title names the method and its
    settings; `title` replaces the first line. 3-D maps are seen from `elev`/`azim` degrees.
    Returns a `Plot` holding the figure and what was drawn.
    """
    path = Path(path) if path is not None else None
    fmt = _output_format(path)
    sub = select(emb, keys=keys, top_n=top_n, where=where)
    if color_by is not None:
        _check_column(sub, color_by)
    label_rows, max_labels, explicit = _label_request(labels, sub)
    estimator = None
    if coords is None:
        dims = check_dims(dims)
        estimator = projection(check_method(method), dims, seed, **params).fit(sub)
        coords = estimator.coords
    elif isinstance(coords, Projection):
        estimator, coords = coords, coords.coords
    coords = np.asarray(coords, dtype=np.float32)
    if coords.ndim != 2 or coords.shape[0] != len(sub):
        raise DimensionError(f"coords have shape {coords.shape}, expected ({len(sub)}, 2 or 3) for the selected points")
    if not np.isfinite(coords).all():
        raise InvalidInputError("coords contain NaN or infinity")
    dims = check_dims(coords.shape[1])
    colour = coloring(color_by, sub.metadata[color_by], log=log_color) if color_by is not None else None

    matplotlib, Figure, FigureCanvasAgg = _matplotlib()
    from matplotlib import patheffects

    fig = Figure(figsize=figsize or ((9, 7.5) if dims == 3 else (10, 8)), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="3d" if dims == 3 else None)
    n = len(sub)
    rgb = colour.rgb() / 255.0 if colour is not None else np.tile(matplotlib.colors.to_rgb(DEFAULT_COLOR), (n, 1))
    order = np.random.default_rng(0).permutation(n)  # no category systematically drawn on top
    size = point_size if point_size is not None else _auto_point_size(n, dims)
    alpha = 0.85 if n < 5000 else 0.6 if n < 50000 else 0.4
    xyz = [coords[order, d] for d in range(dims)]
    ax.scatter(*xyz, c=rgb[order], s=size, alpha=alpha, linewidths=0, rasterized=n > 5000,
               **({"depthshade": True} if dims == 3 else {}))
    _frame(ax, coords, dims, estimator, elev, azim)

    if colour is not None and colour.kind == "categorical":
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], marker="o", linestyle="", markersize=6, markerfacecolor=c, markeredgewidth=0,
                          label=f"{cat} ({count:,})")
                   for cat, c, count in zip(colour.categories, colour.colors, colour.counts)]
        ax.legend(handles=handles, title=colour.column, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  frameon=False, fontsize=8, title_fontsize=9)
    elif colour is not None:
        norm = (matplotlib.colors.LogNorm if colour.log else matplotlib.colors.Normalize)(colour.vmin, colour.vmax)
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap="viridis")
        fig.colorbar(mappable, ax=ax, shrink=0.7, label=colour.column + (" (log scale)" if colour.log else ""))

    head, details = _title_lines(estimator, dims, n, colour, title)
    ax.set_title(f"{head}\n{details}" if details else head, fontsize=11, loc="left")
    labelled, skipped = _place_labels(fig, canvas, ax, sub, coords, rgb, size, label_rows, max_labels,
                                      explicit, dims, patheffects)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as f:
            fig.savefig(f, format=fmt, dpi=dpi, facecolor="white")
        logger.info("wrote %s (%d points, %d labels)", path, n, len(labelled))
    return Plot(fig, path, coords, sub.keys, f"{head}\n{details}" if details else head, colour,
                labelled, skipped, estimator)


def _frame(ax, coords, dims, estimator, elev, azim) -> None:
    """Limits with a margin, and axes that say only what is meaningful (PCA axes are; others not)."""
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    pad = np.where(hi > lo, (hi - lo) * 0.04, 1.0)
    setters = [ax.set_xlim, ax.set_ylim] + ([ax.set_zlim] if dims == 3 else [])
    for d, setter in enumerate(setters):
        setter(lo[d] - pad[d], hi[d] + pad[d])
    is_pca = estimator is not None and estimator.method == "pca"
    names = [f"PC{d + 1}" + (f" ({100 * estimator.explained_variance_ratio[d]:.1f}%)"
                             if estimator.explained_variance_ratio is not None else "") for d in range(dims)] \
        if is_pca else [f"{METHOD_NAMES.get(getattr(estimator, 'method', ''), 'axis')} {d + 1}" for d in range(dims)]
    ax.set_xlabel(names[0], fontsize=8, color="#555555")
    ax.set_ylabel(names[1], fontsize=8, color="#555555")
    if dims == 3:
        ax.set_zlabel(names[2], fontsize=8, color="#555555")
        ax.view_init(elev=elev, azim=azim)
        ax.set_box_aspect((1, 1, 1))
    if not is_pca:
        ax.set_xticklabels([])
        ax.set_yticklabels([])
        if dims == 3:
            ax.set_zticklabels([])
        else:
            ax.tick_params(length=0)
    if dims == 2:
        for spine in ax.spines.values():
            spine.set_color("#cccccc")


def _place_labels(fig, canvas, ax, sub, coords, rgb, size, rows, max_labels, explicit, dims, patheffects):
    """Greedy non-overlapping labels: (keys labelled, explicitly requested keys left out)."""
    if max_labels == 0 or (explicit and not rows):
        return [], []
    canvas.draw()  # fixes the layout (and, in 3-D, the projection) that label positions depend on
    renderer = canvas.get_renderer()
    if dims == 3:
        from mpl_toolkits.mplot3d import proj3d

        xs, ys, _ = proj3d.proj_transform(coords[:, 0], coords[:, 1], coords[:, 2], ax.get_proj())
        anchors = np.column_stack([xs, ys])
    else:
        anchors = coords
    frame = ax.get_window_extent(renderer)
    if not explicit:
        rows = _spread_rows(anchors, max_labels)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    placed, labelled, skipped, marked = [], [], [], []
    for row in rows:
        if len(labelled) >= max_labels:
            break
        key = sub.keys[row]
        for dx, dy, ha, va in OFFSETS if explicit else OFFSETS[:1]:
            note = ax.annotate(str(key), xy=tuple(anchors[row]), xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=8 if explicit else 7.5, color="#111111" if explicit else "#222222",
                               path_effects=halo, zorder=10, annotation_clip=False)
            box = note.get_window_extent(renderer).padded(1.5)
            inside = box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                labelled.append(key)
                marked.append(row)
                break
            note.remove()
        else:
            if explicit:
                skipped.append(key)
    if marked:
        marked = np.array(marked)
        ax.scatter(anchors[marked, 0], anchors[marked, 1], s=max(size * 2.5, 12) if explicit else max(size, 6),
                   c=rgb[marked], edgecolors="#111111", linewidths=0.7 if explicit else 0.4, zorder=9) \
            if dims == 2 else \
            ax.scatter(coords[marked, 0], coords[marked, 1], coords[marked, 2], s=max(size * 2.5, 12),
                       c=rgb[marked], edgecolors="#111111", linewidths=0.6, depthshade=False)
    if skipped:
        logger.info("left out %d label(s) that would overlap: %s", len(skipped), ", ".join(map(str, skipped[:10])))
    return labelled, skipped


def _spread_rows(anchors: np.ndarray, max_labels: int) -> list[int]:
    """Label candidates spread over the map: one per cell of a grid, busiest cells first.

    The grid has about 4 × `max_labels` cells (so enough candidates survive the overlap check),
    shaped like the map. Each cell offers its first row (for a trained vocabulary, its most
    frequent word); cells holding more points come first, so clusters are named before the
    stray points between them.
    """
    lo, hi = anchors.min(axis=0), anchors.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    aspect = float(span[0] / span[1])
    cells_y = max(2, int(round(np.sqrt(4 * max_labels / aspect))))
    cells_x = max(2, int(round(4 * max_labels / cells_y)))
    grid = np.minimum(((anchors - lo) / span * [cells_x, cells_y]).astype(np.int64), [cells_x - 1, cells_y - 1])
    _, first, counts = np.unique(grid[:, 0] * cells_y + grid[:, 1], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    return first[order].tolist()
