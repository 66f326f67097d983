"""Colouring points by a metadata column, shared by the static plots and the HTML projector.

A column is *categorical* when its values are text or booleans, or integers with at most 12
distinct values; its categories get the tab10 (up to 10) or tab20 (up to 20) palette, in
sorted order (text in natural order: "c2" before "c10"). With more than 20 distinct values
the 19 most common keep a colour and the rest become one grey "(other)" entry. Missing values
(None) are their own grey "(missing)" entry.

Any other numeric column is *continuous*, on the viridis colour map; a "log" scale is used
when every value is positive and the largest is at least 100 times the smallest (counts,
frequencies), unless `log` says otherwise. Missing and NaN values are grey.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from ..errors import InvalidInputError

TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
         "#bcbd22", "#17becf"]
TAB20 = ["#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
         "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
         "#bcbd22", "#dbdb8d", "#17becf", "#9edae5"]
VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70",
           "#7ad151", "#bddf26", "#fde725"]
DEFAULT_COLOR = "#3366aa"
OTHER_COLOR = "#b0b0b0"
MISSING_COLOR = "#d9d9d9"
OTHER, MISSING = "(other)", "(missing)"
MAX_CATEGORIES = 20
MAX_INTEGER_CATEGORIES = 12


@dataclass
class Coloring:
    """How one column colours the points.

    kind "categorical": `categories` (legend order), `colors` (hex, one per category), `codes`
    (category index per point). kind "continuous": `values` (float, NaN for missing), `vmin`,
    `vmax`, `log`.
    """

    column: str
    kind: str
    categories: list = field(default_factory=list)
    colors: list = field(default_factory=list)
    codes: np.ndarray | None = None
    counts: list = field(default_factory=list)
    values: np.ndarray | None = None
    vmin: float = 0.0
    vmax: float = 1.0
    log: bool = False

    @property
    def legend(self) -> dict:
        """Category → hex colour, in legend order (empty for a continuous column)."""
        return dict(zip(self.categories, self.colors))

    def rgb(self) -> np.ndarray:
        """(n, 3) uint8 colours, one per point."""
        if self.kind == "categorical":
            table = np.array([_hex_rgb(c) for c in self.colors], dtype=np.uint8)
            return table[self.codes]
        scaled = self.scaled()
        ramp = np.array([_hex_rgb(c) for c in VIRIDIS], dtype=np.float64)
        position = np.nan_to_num(scaled, nan=0.0) * (len(VIRIDIS) - 1)
        low = np.clip(np.floor(position).astype(int), 0, len(VIRIDIS) - 2)
        frac = (position - low)[:, None]
        colours = ramp[low] * (1 - frac) + ramp[low + 1] * frac
        colours[np.isnan(scaled)] = _hex_rgb(MISSING_COLOR)
        return np.round(colours).astype(np.uint8)

    def scaled(self) -> np.ndarray:
        """Continuous values mapped to [0, 1] (log scale when `log`), NaN where missing."""
        values = self.values.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.log:
                lo, hi, v = np.log10(self.vmin), np.log10(self.vmax), np.log10(values)
            else:
                lo, hi, v = self.vmin, self.vmax, values
            return np.clip((v - lo) / (hi - lo), 0, 1) if hi > lo else np.where(np.isnan(v), np.nan, 0.5)


def _natural(text: str) -> list:
    """Sort key putting "c2" before "c10": digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def coloring(column: str, values: list, log: bool | None = None) -> Coloring:
    """Decide how `values` (one per point) colour the points; see the module docstring."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    numeric = bool(present) and all(_is_number(v) for v in present)
    integral = numeric and all(isinstance(v, Integral) or float(v).is_integer() for v in present)
    if numeric and not (integral and len(set(present)) <= MAX_INTEGER_CATEGORIES):
        floats = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        finite = floats[np.isfinite(floats)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if log is None:
            log = vmin > 0 and vmax >= 100 * vmin
        elif log and vmin <= 0:
            raise InvalidInputError(f"metadata column {column!r} has values ≤ 0; it cannot use a log colour scale")
        return Coloring(column, "continuous", values=floats, vmin=vmin, vmax=vmax, log=bool(log))
    return _categorical(column, values)


def _categorical(column: str, values: list) -> Coloring:
    labels = [MISSING if v is None else v for v in values]
    counts = Counter(labels)
    distinct = [c for c in counts if c != MISSING]
    if len(distinct) > MAX_CATEGORIES - (MISSING in counts):
        keep = [c for c, _ in counts.most_common() if c != MISSING][:MAX_CATEGORIES - 1 - (MISSING in counts)]
    else:
        keep = distinct
    try:
        keep = sorted(keep, key=_natural) if all(isinstance(c, str) for c in keep) else sorted(keep)
    except TypeError:  # mixed types: keep them by frequency
        keep = sorted(keep, key=lambda c: (-counts[c], str(c)))
    palette = TAB10 if len(keep) <= 10 else TAB20
    categories, colors = [*keep], palette[:len(keep)]
    index = {c: i for i, c in enumerate(categories)}
    extra = []
    if len(keep) < len(distinct):
        extra.append((OTHER, OTHER_COLOR))
    if MISSING in counts:
        extra.append((MISSING, MISSING_COLOR))
    for name, colour in extra:
        index[name] = len(categories)
        categories.append(name)
        colors.append(colour)
    other = index.get(OTHER, -1)
    codes = np.array([index.get(label, other) if label != MISSING else index[MISSING] for label in labels],
                     dtype=np.int32)
    tally = np.bincount(codes, minlength=len(categories)).tolist()
    return Coloring(column, "categorical", categories=[str(c) if not isinstance(c, (int, float)) else c
                                                       for c in categories],
                    colors=list(colors), codes=codes, counts=tally)
