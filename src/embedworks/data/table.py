"""`Table`: columns of a tabular data set, and `TableEncoder`, its fitted numeric form for a model.

A `Table` holds named columns of equal length, each either numeric (float64, NaN = missing) or
text (an object array of str, None = missing). Read one with `Table.from_csv` (any separator,
sniffed; plain or .gz), `Table.from_parquet`, `Table.from_dataframe`, or `Table.read` (any of the
three by type and suffix).

CSV rules: fields are stripped of surrounding spaces (so ``a, b`` reads as ``a`` and ``b``, as UCI
Adult is written); the tokens in `missing` (default ``""`` and ``"?"``) are missing values; a
column is numeric when every present value is a number and none is an integer written with a
leading zero (zip codes stay text); blank lines are skipped, and so are the first `skip_rows`
lines and lines starting with `comment`. The first row is a header unless `names` is given or
`header=False`; by default (``header=None``) it is a header when none of its fields is a number
or missing. A row with the wrong number of fields raises `FormatError` naming its line. Values
written differently in two files (UCI adult.test's ``>50K.`` for adult.data's ``>50K``) are
unified with `Table.replace`.

`TableEncoder.fit` decides the roles of the columns (`Table.roles`: text columns and integer
columns with at most `max_int_categories` distinct values are categorical, the other numbers
numeric, unless declared) and learns, from the training table only: one vocabulary per
categorical column (row 0 is `UNKNOWN`, which also takes categories seen fewer than `min_count`
times, categories never seen in training, and missing values), mean and standard deviation of
each numeric column (missing values become the mean, i.e. 0 after standardising, and a column
that had missing values in training gets a 0/1 indicator feature), and the target's classes (or
its mean and standard deviation for regression). Category keys are always strings: an integer
category 13 is the key ``"13"``.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from ..errors import FormatError, InvalidInputError, MissingExtraError, close_matches
from .interactions import _open_text

logger = logging.getLogger(__name__)

__all__ = ["Table", "TableEncoder", "UNKNOWN"]

UNKNOWN = "<unknown>"
TASKS = ("binary", "multiclass", "regression")

_SEPARATORS = (",", "\t", ";", "|")
_SNIFF_LINES = 50
_LEADING_ZERO = re.compile(r"^[+-]?0\d")


# --------------------------------------------------------------------------- value helpers
def _category(value) -> str | None:
    """A category value as its key: str stays str, integers (and integral floats) their digits."""
    if value is None or (isinstance(value, Real) and not isinstance(value, Integral) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _text_column(values) -> np.ndarray:
    """An object array of str / None from any sequence of values."""
    return np.array([_category(v) for v in values], dtype=object)


def _as_column(array: np.ndarray) -> np.ndarray:
    """float64 (NaN missing) for numbers, else an object array of str / None."""
    if array.dtype.kind in "iuf":
        return array.astype(np.float64)
    if array.dtype == object:
        items = array.tolist()
        if all(v is None or isinstance(v, str) for v in items):
            return array
        if all(v is None or (isinstance(v, Real) and not isinstance(v, (bool, np.bool_))) for v in items):
            return np.array([np.nan if v is None else float(v) for v in items], dtype=np.float64)
    return _text_column(array.tolist())


def _numeric_or_none(strings: np.ndarray) -> np.ndarray | None:
    """float64 values of a column of present-value strings, or None when it is text."""
    try:
        numbers = strings.astype(np.float64)
    except (ValueError, TypeError):
        return None
    if any(_LEADING_ZERO.match(s) for s in np.unique(strings)):
        return None
    return numbers


def is_number(text: str) -> bool:
    """True when `text` parses as a float (header sniffing here, word-pair files in evaluate)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


class Table:
    """Named columns of equal length: numeric (float64, NaN missing) or text (object, None missing).

    `lines` (optional) holds the source line of each row, so errors can name it; `source` the file.
    """

    def __init__(self, columns: Mapping[str, Iterable], *, source=None, lines: Sequence[int] | None = None):
        self.columns: dict[str, np.ndarray] = {}
        for name, values in columns.items():
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"column names must be non-empty strings, got {name!r}")
            array = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
            if array.ndim != 1:
                raise InvalidInputError(f"column {name!r} must be one-dimensional, got shape {array.shape}")
            self.columns[name] = _as_column(array)
        lengths = {name: len(a) for name, a in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidInputError(f"columns differ in length: {lengths}")
        self.source = source
        self.lines = None if lines is None else np.asarray(lines, dtype=np.int64)

    # ------------------------------------------------------------------ container protocol
    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __contains__(self, name) -> bool:
        return name in self.columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[self.check_column(name)]

    def __repr__(self) -> str:
        kinds = ", ".join(f"{n}:{'num' if self.is_numeric(n) else 'text'}" for n in self.names)
        return f"Table({len(self)} rows; {kinds})"

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def is_numeric(self, name: str) -> bool:
        return self[name].dtype == np.float64

    def check_column(self, name: str, role: str = "column") -> str:
        """`name` if the table has it, else `InvalidInputError` naming it and close matches."""
        if name not in self.columns:
            hint = close_matches(str(name), self.columns)
            hint = f" (did you mean {', '.join(map(repr, hint))}?)" if hint else ""
            where = f" in {self.source}" if self.source else ""
            raise InvalidInputError(f"no {role} {name!r}{where}{hint}; columns: {', '.join(self.columns)}")
        return name

    def where(self, row: int) -> str:
        """Where row `row` came from: the file and line, or the row number."""
        if self.lines is not None:
            return f"{self.source}, line {int(self.lines[row])}"
        return f"row {row}"

    # ------------------------------------------------------------------ new tables from this one
    def take(self, rows) -> "Table":
        """A table with the given rows (indices or a boolean mask), in that order."""
        rows = np.asarray(rows)
        return Table({n: a[rows] for n, a in self.columns.items()}, source=self.source,
                     lines=None if self.lines is None else self.lines[rows])

    def split(self, fraction: float, seed: int = 0) -> tuple["Table", "Table"]:
        """(rest, held out): a seeded random `fraction` of the rows held out, both in row order."""
        held = self.held_out(fraction, seed)
        return self.take(~held), self.take(held)

    def held_out(self, fraction: float, seed: int = 0) -> np.ndarray:
        """The boolean row mask of the rows `split(fraction, seed)` holds out."""
        if not 0 < fraction < 1:
            raise InvalidInputError(f"the split fraction must be between 0 and 1, got {fraction!r}")
        n_held = int(round(len(self) * fraction))
        if not 0 < n_held < len(self):
            raise InvalidInputError(f"cannot hold out {fraction:g} of {len(self)} rows")
        held = np.zeros(len(self), dtype=bool)
        held[np.random.default_rng(seed).permutation(len(self))[:n_held]] = True
        return held

    def replace(self, name: str, mapping: Mapping) -> "Table":
        """A copy where the values of column `name` found in `mapping` are replaced."""
        columns = dict(self.columns)
        values = self[name]
        if values.dtype == object:
            columns[name] = np.array([mapping.get(v, v) for v in values.tolist()], dtype=object)
        else:
            columns[name] = np.array([mapping.get(v, v) for v in values.tolist()])
        return Table(columns, source=self.source, lines=self.lines)

    # ------------------------------------------------------------------ roles
    def roles(self, target: str | None = None, categorical: Iterable[str] | None = None,
              numeric: Iterable[str] | None = None, max_int_categories: int = 20) -> tuple[list, list]:
        """(categorical, numeric) feature columns.

        Given lists are used as they are. A list not given is inferred among the columns not
        named elsewhere (and not the target): text columns, and integer columns with at most
        `max_int_categories` distinct values, are categorical; other numeric columns numeric.
        """
        if target is not None:
            self.check_column(target, "target column")
        given_cat = None if categorical is None else [self.check_column(c) for c in _names(categorical)]
        given_num = None if numeric is None else [self.check_column(c) for c in _names(numeric)]
        for c in (given_cat or []) + (given_num or []):
            if c == target:
                raise InvalidInputError(f"column {c!r} is the target; it cannot also be a feature")
        both = set(given_cat or ()) & set(given_num or ())
        if both:
            raise InvalidInputError(f"column {sorted(both)[0]!r} is declared both categorical and numeric")
        for c in given_num or []:
            if not self.is_numeric(c):
                j = next(i for i, v in enumerate(self[c].tolist()) if v is not None)
                raise InvalidInputError(f"numeric column {c!r} holds text: {self[c][j]!r} at {self.where(j)}")
        taken = {target, *(given_cat or ()), *(given_num or ())}
        rest = [c for c in self.names if c not in taken]
        inferred = {c: self._inferred_kind(c, max_int_categories) for c in rest}
        cat = given_cat if given_cat is not None else [c for c in rest if inferred[c] == "categorical"]
        num = given_num if given_num is not None else [c for c in rest if inferred[c] == "numeric"]
        return cat, num

    def _inferred_kind(self, name: str, max_int_categories: int) -> str:
        values = self[name]
        if values.dtype == object:
            return "categorical"
        present = values[~np.isnan(values)]
        if len(present) and (present == np.floor(present)).all() and len(np.unique(present)) <= max_int_categories:
            return "categorical"
        return "numeric"

    # ------------------------------------------------------------------ readers
    @classmethod
    def read(cls, source, **options) -> "Table":
        """A `Table` from a Table, a pandas DataFrame, a Parquet file (.parquet/.pq) or a CSV file."""
        if isinstance(source, Table):
            return source
        if hasattr(source, "columns") and hasattr(source, "dtypes"):
            return cls.from_dataframe(source)
        path = Path(source)
        if path.suffix.lower() in (".parquet", ".pq"):
            return cls.from_parquet(path, **options)
        return cls.from_csv(path, **options)

    @classmethod
    def from_csv(cls, path, sep: str | None = None, header: bool | None = None, names: Sequence[str] | None = None,
                 missing: Iterable[str] = ("", "?"), skip_rows: int = 0, comment: str | None = None) -> "Table":
        """Read a delimited text file (plain or .gz); see the module docstring for the rules."""
        path = Path(path)
        missing = set(missing)
        with _open_text(path) as f:
            for _ in range(skip_rows):
                f.readline()
            start = skip_rows
            sample = []
            while len(sample) < _SNIFF_LINES:
                line = f.readline()
                if not line:
                    break
                if line.strip() and not (comment and line.lstrip().startswith(comment)):
                    sample.append(line)
            sep = sep or _sniff_separator(sample)
            f.seek(0)
            for _ in range(skip_rows):
                f.readline()
            rows, lines = [], []
            reader = csv.reader(f, delimiter=sep, skipinitialspace=True)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if comment and row[0].lstrip().startswith(comment):
                    continue
                rows.append([field.strip() for field in row])
                lines.append(reader.line_num + start)
        if not rows:
            raise FormatError("no rows", path)
        if names is not None:
            header_names = list(names)
            if header:
                rows, lines = rows[1:], lines[1:]
        else:
            first = rows[0]
            if header is None:
                header = not any(is_number(v) or v in missing for v in first)
            header_names = first if header else [f"column{j}" for j in range(len(first))]
            if header:
                rows, lines = rows[1:], lines[1:]
        _check_names(header_names, path)
        width = len(header_names)
        for row, line in zip(rows, lines):
            if len(row) != width:
                raise FormatError(f"{len(row)} fields, expected {width} ({', '.join(header_names)})", path, line)
        if not rows:
            raise FormatError("a header but no rows", path)
        cells = np.array(rows, dtype=object).reshape(len(rows), width)
        columns = {}
        for j, name in enumerate(header_names):
            raw = cells[:, j]
            absent = np.array([v in missing for v in raw.tolist()], dtype=bool)
            numbers = _numeric_or_none(raw[~absent].astype(str))
            if numbers is not None and (~absent).any():
                column = np.full(len(raw), np.nan)
                column[~absent] = numbers
            else:
                column = raw.copy()
                column[absent] = None
            columns[name] = column
        return cls(columns, source=path, lines=lines)

    @classmethod
    def from_parquet(cls, path, columns: Sequence[str] | None = None) -> "Table":
        """Read a Parquet file (needs pyarrow: the `tabular` extra)."""
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise MissingExtraError("pyarrow", "tabular") from None
        path = Path(path)
        try:
            frame = pq.read_table(path, columns=list(columns) if columns else None).to_pandas()
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            raise FormatError(f"cannot read as Parquet: {exc}", path) from None
        table = cls.from_dataframe(frame)
        table.source = path
        return table

    @classmethod
    def from_dataframe(cls, frame) -> "Table":
        """A table from a pandas DataFrame: numeric dtypes stay numbers, everything else is text."""
        import pandas as pd

        columns = {}
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                columns[str(name)] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                columns[str(name)] = _text_column(series.astype(object).where(series.notna(), None).tolist())
        return cls(columns)


def _names(columns) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def _check_names(names: list[str], path) -> None:
    seen = set()
    for j, name in enumerate(names):
        if not name:
            raise FormatError(f"column {j + 1} has no name in the header", path)
        if name in seen:
            raise FormatError(f"column name {name!r} appears twice in the header", path)
        seen.add(name)


def _sniff_separator(lines: list[str]) -> str:
    """The separator that splits every sample line into the same number (≥ 2) of fields, else ','."""
    for sep in _SEPARATORS:
        counts = {len(row) for row in csv.reader(lines, delimiter=sep)}
        if len(counts) == 1 and counts.pop() >= 2:
            return sep
    return ","


# --------------------------------------------------------------------------- fitted encoding
class TableEncoder:
    """What a model learns from its training table before training: vocabularies, statistics, target.

    Build with `TableEncoder.fit`; `codes` / `numbers` / `target_values` turn any table with the
    same columns into arrays; `to_dict` / `from_dict` are its JSON form.
    """

    def __init__(self, categories: dict[str, list[str]], counts: dict[str, list[int]], numeric: dict[str, dict],
                 target: str | None = None, task: str | None = None, classes: list | None = None,
                 target_stats: dict | None = None):
        self.categories, self.counts, self.numeric = categories, counts, numeric
        self.target, self.task, self.classes, self.target_stats = target, task, classes, target_stats
        self._index = {c: {k: i for i, k in enumerate(keys)} for c, keys in categories.items()}

    @classmethod
    def fit(cls, table: Table, target: str | None = None, task: str | None = None,
            categorical: Iterable[str] | None = None, numeric: Iterable[str] | None = None,
            min_count: int = 1, max_int_categories: int = 20) -> "TableEncoder":
        """Learn the encoding from `table` (see the module docstring).

        Declared columns that are constant (a single value and never missing, or always
        missing) raise `InvalidInputError`; inferred ones are left out with a warning.
        """
        cat, num = table.roles(target, categorical, numeric, max_int_categories)
        declared = set(_names(categorical or ())) | set(_names(numeric or ()))
        categories, counts, stats = {}, {}, {}
        for c in cat:
            keys = _text_column(table[c].tolist())
            absent = np.array([k is None for k in keys.tolist()], dtype=bool)
            values, freq = np.unique(keys[~absent].astype(str), return_counts=True)
            present = list(zip(values.tolist(), freq.tolist()))
            n_missing = int(absent.sum())
            if not present or (len(present) == 1 and not n_missing):
                _constant(c, table, c in declared)
                continue
            kept = [(v, n) for v, n in present if n >= min_count and v != UNKNOWN]
            dropped = len(table) - sum(n for _, n in kept)
            categories[c] = [UNKNOWN] + [v for v, _ in kept]
            counts[c] = [dropped] + [n for _, n in kept]
        for c in num:
            values = table[c]
            present = values[~np.isnan(values)]
            if len(present) == 0 or (present.min() == present.max() and len(present) == len(values)):
                _constant(c, table, c in declared)
                continue
            std = float(present.std())
            stats[c] = {"mean": float(present.mean()), "std": std if std > 0 else 1.0,
                        "indicator": bool(len(present) < len(values))}
        if not categories and not stats:
            raise InvalidInputError("no feature columns left to learn from")
        encoder = cls(categories, counts, stats, target, task)
        if target is not None:
            encoder._fit_target(table)
        return encoder

    def _fit_target(self, table: Table) -> None:
        if self.task not in TASKS:
            raise InvalidInputError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        values = table[self.target]
        if self.task == "regression":
            if values.dtype != np.float64:
                raise InvalidInputError(f"regression target {self.target!r} holds text, e.g. "
                                        f"{next(v for v in values if v is not None)!r}")
            present = values[~np.isnan(values)]
            if len(present) < 2:
                raise InvalidInputError(f"target {self.target!r} has fewer than two values")
            self.target_stats = {"mean": float(present.mean()), "std": float(present.std()) or 1.0}
            return
        labels = [v for v in _text_column(values.tolist()).tolist() if v is not None]
        classes = sorted(set(labels))
        if not classes:
            raise InvalidInputError(f"target {self.target!r} has no values")
        if len(classes) == 1:
            raise InvalidInputError(f"target {self.target!r} has only one class ({classes[0]!r}); "
                                    "a classifier needs at least two")
        if self.task == "binary" and len(classes) > 2:
            shown = ", ".join(map(repr, classes[:5])) + (", …" if len(classes) > 5 else "")
            raise InvalidInputError(f"target {self.target!r} has {len(classes)} classes ({shown}); "
                                    "use task='multiclass'")
        self.classes = classes

    # ------------------------------------------------------------------ encoding tables
    @property
    def categorical(self) -> list[str]:
        return list(self.categories)

    @property
    def numeric_features(self) -> list[str]:
        """Names of the numeric feature columns `numbers` returns (indicators as ``name (missing)``)."""
        names = []
        for c, s in self.numeric.items():
            names += [c] + ([f"{c} (missing)"] if s["indicator"] else [])
        return names

    def codes(self, table: Table) -> np.ndarray:
        """(n, n_categorical) int64 rows of each category in its vocabulary; 0 is `UNKNOWN`."""
        out = np.zeros((len(table), len(self.categories)), dtype=np.int64)
        for j, (c, index) in enumerate(self._index.items()):
            keys = _text_column(table[table.check_column(c, "categorical column")].tolist())
            out[:, j] = [index.get(k, 0) for k in keys.tolist()]
        return out

    def numbers(self, table: Table) -> np.ndarray:
        """(n, len(numeric_features)) float32: standardised values, 0 where missing, indicators."""
        out = []
        for c, s in self.numeric.items():
            values = table[table.check_column(c, "numeric column")]
            if values.dtype != np.float64:
                j = next(i for i, v in enumerate(values.tolist()) if v is not None)
                raise InvalidInputError(f"numeric column {c!r} holds text: {values[j]!r} at {table.where(j)}")
            absent = np.isnan(values)
            out.append(np.where(absent, 0.0, (values - s["mean"]) / s["std"]))
            if s["indicator"]:
                out.append(absent.astype(np.float64))
        return np.stack(out, axis=1).astype(np.float32) if out else np.zeros((len(table), 0), np.float32)

    def target_values(self, table: Table) -> tuple[np.ndarray, np.ndarray]:
        """(targets, kept rows): class indices (int64) or standardised values (float32), for the
        rows where the target is present."""
        values = table[table.check_column(self.target, "target column")]
        if self.task == "regression":
            kept = ~np.isnan(values) if values.dtype == np.float64 else np.zeros(len(values), bool)
            return ((values[kept] - self.target_stats["mean"]) / self.target_stats["std"]).astype(np.float32), kept
        labels = _text_column(values.tolist())
        kept = np.array([v is not None for v in labels.tolist()], dtype=bool)
        index = {k: i for i, k in enumerate(self.classes)}
        unknown = next((v for v in labels[kept].tolist() if v not in index), None)
        if unknown is not None:
            raise InvalidInputError(f"target {self.target!r} has the class {unknown!r}, not seen in training "
                                    f"(classes: {', '.join(map(repr, self.classes))})")
        return np.array([index[v] for v in labels[kept].tolist()], dtype=np.int64), kept

    # ------------------------------------------------------------------ JSON form
    def to_dict(self) -> dict:
        return {"categories": self.categories, "counts": self.counts, "numeric": self.numeric,
                "target": self.target, "task": self.task, "classes": self.classes,
                "target_stats": self.target_stats}

    @classmethod
    def from_dict(cls, state: Mapping) -> "TableEncoder":
        return cls(**{k: state.get(k) for k in ("categories", "counts", "numeric", "target", "task",
                                                 "classes", "target_stats")})


def _constant(column: str, table: Table, declared: bool) -> None:
    values = table[column]
    absent = np.isnan(values) if values.dtype == np.float64 else np.array([v is None for v in values.tolist()])
    what = "is always missing" if absent.all() else f"has a single value ({values[~absent][0]!r})"
    if declared:
        raise InvalidInputError(f"column {column!r} {what}: nothing to learn from it; leave it out")
    logger.warning("leaving out column %r: it %s", column, what)
