"""A collection's rows in memory: keys, vectors and metadata, with an inverted index for filters.

Rows are dense: a deleted row is filled by the last one, so vectors stay one matrix. Metadata
values are JSON scalars (str, int, float, bool, None); every column has a value for every row
(None where an upsert did not give one). `matching(filter)` answers a filter from per-column
postings (value → keys), never by scanning the rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real

import numpy as np

from ..errors import DimensionError, InvalidInputError, UnknownKeyError


def _posting(value):
    """The postings key of a value: bools apart from the numbers they equal (True == 1)."""
    return (type(value) is bool, value)


def checked_value(value, column: str, key):
    """A metadata value as stored: a JSON scalar (NumPy scalars become Python ones)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        if not math.isfinite(value):
            raise InvalidInputError(f"metadata {column!r} of key {key!r} is {value}; NaN and infinity cannot be stored")
        return float(value)
    raise InvalidInputError(f"metadata {column!r} of key {key!r} is a {type(value).__name__}; "
                            "values must be str, int, float, bool or None")


class Table:
    """Keys ↔ rows of a float32 matrix, metadata columns and their postings."""

    def __init__(self, dim: int):
        self.dim = dim
        self.keys: list = []
        self.rows: dict = {}
        self.columns: dict[str, list] = {}
        self._vectors = np.empty((0, dim), dtype=np.float32)
        self._postings: dict[str, dict] = {}

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def vectors(self) -> np.ndarray:
        """The (len, dim) matrix (a view: do not modify)."""
        return self._vectors[:len(self.keys)]

    def row_of(self, key) -> int:
        try:
            return self.rows[key]
        except KeyError:
            raise UnknownKeyError(key, self.rows) from None

    # ------------------------------------------------------------------ changes
    def put(self, keys: list, vectors: np.ndarray, columns: Mapping[str, list]) -> None:
        """Insert or replace whole rows: vectors and metadata (columns not given become None)."""
        new = [key for key in keys if key not in self.rows]
        self._grow(len(self.keys) + len(new))
        for key in new:
            self.rows[key] = len(self.keys)
            self.keys.append(key)
            for name, values in self.columns.items():
                values.append(None)
                self._postings[name].setdefault(_posting(None), set()).add(key)
        rows = [self.rows[key] for key in keys]
        self._vectors[rows] = vectors
        for name in self.columns:
            if name not in columns:
                self._set(name, keys, rows, [None] * len(keys))
        for name, values in columns.items():
            self._set(name, keys, rows, values)

    def update(self, keys: list, columns: Mapping[str, list]) -> None:
        """Set the given metadata columns of existing rows, leaving the others."""
        rows = [self.row_of(key) for key in keys]
        for name, values in columns.items():
            self._set(name, keys, rows, values)

    def delete(self, keys: Iterable) -> None:
        """Remove rows; the last row moves into each hole."""
        for key in keys:
            row, last = self.rows.pop(key), len(self.keys) - 1
            for name, values in self.columns.items():
                self._postings[name][_posting(values[row])].discard(key)
            if row != last:
                moved = self.keys[last]
                self.keys[row], self.rows[moved] = moved, row
                self._vectors[row] = self._vectors[last]
                for values in self.columns.values():
                    values[row] = values[last]
            self.keys.pop()
            for values in self.columns.values():
                values.pop()

    def _set(self, name: str, keys: list, rows: list, values: list) -> None:
        if name not in self.columns:
            self.columns[name] = [None] * len(self.keys)
            self._postings[name] = {_posting(None): set(self.keys)} if self.keys else {}
        column, postings = self.columns[name], self._postings[name]
        for key, row, value in zip(keys, rows, values):
            postings[_posting(column[row])].discard(key)
            column[row] = value
            postings.setdefault(_posting(value), set()).add(key)

    def _grow(self, size: int) -> None:
        if size > len(self._vectors):
            grown = np.empty((max(size, 2 * len(self._vectors), 1024), self.dim), dtype=np.float32)
            grown[:len(self.keys)] = self._vectors[:len(self.keys)]
            self._vectors = grown

    # ------------------------------------------------------------------ reading
    def metadata_of(self, rows: list[int]) -> dict[str, list]:
        return {name: [values[row] for row in rows] for name, values in self.columns.items()}

    def matching(self, filter: Mapping) -> set:
        """Keys whose metadata match `filter`: every column equal to the value or one of the values."""
        if not isinstance(filter, Mapping):
            raise InvalidInputError(f"filter must be a mapping of metadata column to value(s), got {filter!r}")
        found = None
        for name, wanted in filter.items():
            if name not in self.columns:
                known = ", ".join(map(repr, self.columns)) or "none"
                raise InvalidInputError(f"unknown metadata column {name!r} in filter (columns: {known})")
            values = wanted if isinstance(wanted, (list, tuple, set, frozenset)) else [wanted]
            postings = self._postings[name]
            keys = set()
            for value in values:
                keys |= postings.get(_posting(checked_value(value, name, "in filter")), set())
            found = keys if found is None else found & keys
            if not found:
                break
        return set(self.keys) if found is None else found


def check_columns(metadata, keys: list) -> dict[str, list]:
    """Metadata for `keys` as {column: [value per key]}, from that form or from one dict per key."""
    n = len(keys)
    if metadata is None:
        return {}
    if isinstance(metadata, Mapping):
        columns = {}
        for name, values in metadata.items():
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"metadata column names must be non-empty strings, got {name!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise InvalidInputError(f"metadata column {name!r} must be a list with one value per key")
            values = list(values)
            if len(values) != n:
                raise DimensionError(f"metadata column {name!r} has {len(values)} values for {n} keys")
            columns[name] = [checked_value(v, name, key) for v, key in zip(values, keys)]
        return columns
    rows = list(metadata)
    if len(rows) != n:
        raise DimensionError(f"{len(rows)} metadata records for {n} keys")
    names = list(dict.fromkeys(name for row in rows if row is not None for name in _checked_row(row)))
    return check_columns({name: [None if row is None else row.get(name) for row in rows] for name in names}, keys)


def _checked_row(row) -> Mapping:
    if not isinstance(row, Mapping):
        raise InvalidInputError(f"a metadata record must be a mapping of column to value, got {row!r}")
    return row
