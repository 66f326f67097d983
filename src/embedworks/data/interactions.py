"""`Interactions`: a user × item matrix of values (ratings, counts, clicks) with raw ids both ways.

Raw ids (str or int, whatever the data uses) map to dense indices ``0 … n-1`` and back:
``inter.users[3]`` is the raw id of user index 3 and ``inter.user_index[raw]`` its index. The
matrix is kept as aligned COO arrays sorted by user then item, with no repeated (user, item)
pair, and exposed as SciPy CSR / CSC views (float32) for the trainers.

Constructors: `Interactions.from_csv` (any separator, plain or .gz, MovieLens ``u.data`` and
``ratings.dat`` with no options), `from_dataframe`, `from_arrays`, `from_sparse`; `load` reads
what `save` wrote. Splits (`split_random`, `split_per_user`, `split_leave_k_out`,
`split_temporal`, or `split(method=...)`) are seeded and return ``(train, test)`` sharing the
same id lists, so index ``u`` is the same user in both.

Id order. Without a given mapping, ids are numbered in sorted order (integers numerically,
strings lexicographically), so the same data in any row order gives the same indices; ids that
cannot be sorted together (a mix of str and int) are numbered in order of first appearance.
When `user_ids` / `item_ids` are given, those lists fix the numbering; ids they do not hold raise
`UnknownKeyError` unless ``extend=True``, which appends the new ids (sorted) after the known ones.

Repeated (user, item) pairs, by `duplicates`:

* ``"sum"`` (default): values are added (clicks, play counts); the pair keeps its latest
  timestamp;
* ``"last"``: the latest one wins — by timestamp when there are timestamps (ties: the later row),
  else the later row in input order;
* ``"error"``: `InvalidInputError` naming the pair (and the file lines when read from a file).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
from collections.abc import Sequence
from itertools import islice
from numbers import Integral
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..errors import FormatError, InvalidInputError, UnknownKeyError
from ..files import atomic_directory

logger = logging.getLogger(__name__)

__all__ = ["Interactions"]

FORMAT_NAME = "embedworks-interactions"
FORMAT_VERSION = 1

#: rows parsed per chunk by `from_csv` (keeps memory at arrays, not Python strings)
CHUNK_ROWS = 1 << 20

_ROLES = ("user", "item", "value", "timestamp")
_DUPLICATES = ("sum", "last", "error")


def _norm_name(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.strip().lower())


#: header names recognised for each role (compared lower-case, without spaces/underscores/dashes)
_ALIASES = {
    "user": ("user", "user_id", "userid", "uid", "u", "user_name", "username", "customer",
             "customer_id", "visitor", "visitorid", "session", "session_id", "client_id"),
    "item": ("item", "item_id", "itemid", "iid", "i", "movie", "movie_id", "movieid", "product",
             "product_id", "productid", "track", "track_id", "artist", "artist_id", "song",
             "song_id", "book", "book_id", "isbn", "sku", "article", "article_id", "repo"),
    "value": ("value", "rating", "ratings", "score", "count", "counts", "weight", "clicks",
              "click", "plays", "playcount", "play_count", "quantity", "qty", "confidence",
              "stars", "target"),
    "timestamp": ("timestamp", "time", "ts", "date", "datetime", "unix_timestamp", "unixtime",
                  "created_at", "event_time", "time_stamp"),
}
_ALIAS_ROLE = {_norm_name(a): role for role, names in _ALIASES.items() for a in names}


# --------------------------------------------------------------------------- id helpers

def _normalize_id(key, what: str):
    """A raw id as stored: str stays str, any integer (NumPy too) or integral float becomes int."""
    if isinstance(key, str):
        return key
    if isinstance(key, Integral) and not isinstance(key, bool):
        return int(key)
    if isinstance(key, (float, np.floating)) and np.isfinite(key) and float(key).is_integer():
        return int(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    raise InvalidInputError(f"{what} ids must be str or int, got {type(key).__name__} {key!r}")


def _as_id_array(raw, what: str) -> np.ndarray:
    """Raw ids as a 1-D array of int64 or str (object only for a str/int mix)."""
    arr = np.asarray(raw)
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise InvalidInputError(f"{what} ids must be one-dimensional, got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind in "iu":
        return arr.astype(np.int64, copy=False)
    if kind == "b":
        raise InvalidInputError(f"{what} ids must be str or int, got booleans")
    if kind == "f":
        if not np.isfinite(arr).all() or not (arr == np.floor(arr)).all():
            bad = arr[~(np.isfinite(arr) & (arr == np.floor(arr)))][0]
            raise InvalidInputError(f"{what} ids must be str or int, got the float {bad!r}")
        return arr.astype(np.int64)
    if kind == "U":
        return arr
    if kind == "S":
        return arr.astype(str)
    if kind == "M":
        raise InvalidInputError(f"{what} ids must be str or int, got dates")
    # object: normalise each distinct value (np.unique works when all are str or all numbers)
    try:
        uniq, inv = np.unique(arr, return_inverse=True)
    except TypeError:
        uniq = None
    if uniq is not None and len(uniq):
        norm = [_normalize_id(k, what) for k in uniq.tolist()]
        if all(isinstance(k, str) for k in norm):
            return np.asarray(norm, dtype=str)[inv.reshape(-1)]
        if all(isinstance(k, int) for k in norm):
            return np.asarray(norm, dtype=np.int64)[inv.reshape(-1)]
    out = np.empty(len(arr), dtype=object)
    cache: dict = {}
    for j, key in enumerate(arr.tolist()):
        try:
            out[j] = cache[key]
        except (KeyError, TypeError):
            norm = _normalize_id(key, what)
            try:
                cache[key] = norm
            except TypeError:
                pass
            out[j] = norm
    if len(out) and all(isinstance(x, str) for x in cache.values()):
        return out.astype(str)
    if len(out) and all(isinstance(x, int) for x in cache.values()):
        return out.astype(np.int64)
    return out


def _unique_inverse(arr: np.ndarray):
    """(distinct ids in sorted order — or first-appearance order when unsortable, inverse codes)."""
    try:
        uniq, inv = np.unique(arr, return_inverse=True)
        return uniq.tolist(), inv.reshape(-1).astype(np.int64)
    except TypeError:  # str/int mix: number by first appearance
        index: dict = {}
        codes = np.fromiter((index.setdefault(x, len(index)) for x in arr.tolist()),
                            dtype=np.int64, count=len(arr))
        return list(index), codes


def _map_ids(arr: np.ndarray, known: Sequence | None, extend: bool, what: str):
    """(id list, id→index dict, codes) for raw ids `arr`, numbered as documented in the module."""
    uniq, inv = _unique_inverse(arr)
    if known is None:
        ids = uniq
        return ids, {k: j for j, k in enumerate(ids)}, inv
    ids = [_normalize_id(k, what) for k in known]
    index = {}
    for j, k in enumerate(ids):
        if index.setdefault(k, j) != j:
            raise InvalidInputError(f"the given {what} id list repeats the id {k!r}")
    mapped = np.empty(len(uniq), dtype=np.int64)
    new = []
    for j, key in enumerate(uniq):
        pos = index.get(key)
        if pos is None:
            if not extend:
                raise UnknownKeyError(key, ids, what=what)
            new.append(j)
            mapped[j] = -1
        else:
            mapped[j] = pos
    if new:
        for j in new:  # uniq is sorted (or first-appearance), so new ids keep that order
            index[uniq[j]] = len(ids)
            mapped[j] = len(ids)
            ids.append(uniq[j])
    return ids, index, mapped[inv]


def _jsonable_ids(ids: list, what: str) -> list:
    for k in ids:
        if not isinstance(k, (str, int)) or isinstance(k, bool):
            raise InvalidInputError(f"{what} id {k!r} cannot be saved: ids must be str or int")
    return ids


# --------------------------------------------------------------------------- value helpers

def _check_finite_values(values: np.ndarray, what: str = "value", describe=None):
    bad = ~np.isfinite(values)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        where = describe(j) if describe else f"position {j}"
        raise InvalidInputError(f"{what} {values[j]!r} at {where} is not finite ({int(bad.sum())} such)")


def _as_timestamps(ts, n: int) -> np.ndarray:
    arr = np.asarray(ts)
    if arr.shape != (n,):
        raise InvalidInputError(f"timestamps must have one entry per interaction ({n}), got shape {arr.shape}")
    if arr.dtype.kind == "M":
        if np.isnat(arr).any():
            raise InvalidInputError(f"timestamp at position {int(np.flatnonzero(np.isnat(arr))[0])} is missing (NaT)")
        return arr.astype("datetime64[s]").astype(np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    try:
        f = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"timestamps must be numbers or datetime64: {exc}") from None
    _check_finite_values(f, "timestamp")
    return np.floor(f).astype(np.int64)


# --------------------------------------------------------------------------- file helpers

def _open_text(path: Path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


_WS = "whitespace"
_CSV_SEPS = (",", ";")  # separators read with the csv module (quoted fields)


def _split_line(line: str, sep: str) -> list[str]:
    if sep == _WS:
        return line.split()
    if sep in _CSV_SEPS:
        return next(csv.reader([line], delimiter=sep, skipinitialspace=True))
    return [f.strip() for f in line.strip("\r\n").split(sep)]


def _sniff_sep(lines: list[str]) -> str:
    """The first separator that splits every sample line into the same number (≥ 2) of fields,
    else the first that splits every line into at least 2 (rows of the wrong length are then
    reported with their line number)."""
    cands = ("::", "\t", ",", ";", "|", _WS)
    counts = {c: [len(_split_line(line, c)) for line in lines] for c in cands}
    for c in cands:
        if len(set(counts[c])) == 1 and counts[c][0] >= 2:
            return c
    for c in cands:
        if min(counts[c]) >= 2:
            return c
    raise FormatError("cannot tell the field separator (tried '::', tab, ',', ';', '|', whitespace); "
                      "pass sep=")


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _resolve_columns(columns: dict | None, names: list[str] | None, n_fields: int) -> dict:
    """role → column position (or None) from `columns`, header `names` and positional defaults."""
    pos: dict = {}
    given = dict(columns or {})
    for role in given:
        if role not in _ROLES:
            raise InvalidInputError(f"unknown column role {role!r}; roles are {', '.join(_ROLES)}")
    taken: set = set()
    for role, col in given.items():
        if col is None:
            pos[role] = None
            continue
        if isinstance(col, Integral) and not isinstance(col, bool):
            p = int(col) + (n_fields if col < 0 else 0)
            if not 0 <= p < n_fields:
                raise InvalidInputError(f"column {col} for {role} is out of range: rows have {n_fields} fields")
        elif isinstance(col, str):
            if names is None:
                raise InvalidInputError(f"column {col!r} for {role} is a name but the file has no header")
            if col in names:
                p = names.index(col)
            else:
                normed = [_norm_name(n) for n in names]
                if _norm_name(col) not in normed:
                    raise InvalidInputError(f"no column {col!r} (for {role}); the header has "
                                            f"{', '.join(map(repr, names))}")
                p = normed.index(_norm_name(col))
        else:
            raise InvalidInputError(f"column for {role} must be a name or a position, got {col!r}")
        if p in taken:
            raise InvalidInputError(f"column {col!r} is given for two roles")
        pos[role] = p
        taken.add(p)
    if names is not None:  # header aliases for the roles not given
        for p, name in enumerate(names):
            role = _ALIAS_ROLE.get(_norm_name(name))
            if role is not None and role not in pos and p not in taken:
                pos[role] = p
                taken.add(p)
    for default, role in enumerate(_ROLES):  # positions 0..3 for whatever is still missing
        if role not in pos:
            if default < n_fields and default not in taken:
                pos[role] = default
                taken.add(default)
            else:
                pos[role] = None
    for role in ("user", "item"):
        if pos[role] is None:
            raise InvalidInputError(f"no {role} column: rows have {n_fields} fields; pass columns=")
    return pos


_POW10 = 10 ** np.arange(19, dtype=np.int64)


def _is_canonical_int(strs: np.ndarray, ints: np.ndarray) -> bool:
    """True when every string is exactly str(int): no sign '+', spaces, leading zeros or '_'.

    int() accepts those extras, and each one lengthens the string, so equal lengths suffice.
    """
    digits = np.searchsorted(_POW10, np.abs(ints), side="right")
    digits = np.maximum(digits, 1) + (ints < 0)
    return bool((np.char.str_len(strs) == digits).all())


def _parse_ids(strs, ids: str) -> np.ndarray:
    """A column of id strings as int64 (see `ids` in `from_csv`) or as a str array (stripped)."""
    if ids != "str":
        try:
            ints = np.fromiter(map(int, strs), dtype=np.int64, count=len(strs))
        except (ValueError, OverflowError):
            if ids == "int":
                bad = next(s for s in strs if not re.fullmatch(r"\s*[-+]?\d+\s*", s))
                raise InvalidInputError(f"id {bad!r} is not an integer (ids are read as integers: "
                                        "ids='int', or the given id list holds integers)") from None
        else:
            arr = np.asarray(strs, dtype=str)
            if ids == "int" or _is_canonical_int(arr, ints):
                return ints
            arr = np.char.strip(arr)
            if _is_canonical_int(arr, ints):
                return ints
            return arr
    return np.char.strip(np.asarray(strs, dtype=str))


def _parse_numbers(strs, lines: np.ndarray, path, what: str, integer: bool = False) -> np.ndarray:
    """A column of number strings as float64 (or int64 when `integer`, floats floored);
    `FormatError` naming the line of the first bad or non-finite entry."""
    n = len(strs)
    if integer:
        try:
            return np.fromiter(map(int, strs), dtype=np.int64, count=n)
        except (ValueError, OverflowError):
            pass
    try:
        f = np.fromiter(map(float, strs), dtype=np.float64, count=n)
    except ValueError:
        for s, line in zip(strs, lines.tolist()):
            if not _is_number(s):
                raise FormatError(f"{what} {s.strip()!r} is not a number", path, int(line)) from None
        raise
    bad = ~np.isfinite(f)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise FormatError(f"{what} {strs[j].strip()!r} is not a finite number", path, int(lines[j]))
    return np.floor(f).astype(np.int64) if integer else f


# --------------------------------------------------------------------------- the class

class Interactions:
    """User × item values with raw ids ↔ dense indices both ways (see the module docstring).

    Attributes: `users` / `items` (raw ids in index order), `user_index` / `item_index`
    (raw id → index), `n_users`, `n_items`, `nnz`; aligned COO arrays sorted by user then item:
    `user_ids` / `item_ids` (the dense int64 *indices* of each interaction; also reachable as
    `user_indices` / `item_indices`), `values` (float32) and `timestamps` (int64 or None);
    `csr` / `csc` (float32 SciPy matrices, sorted indices, no repeated entries).

    Build one with `from_csv`, `from_dataframe`, `from_arrays`, `from_sparse` or `load`.
    Instances are treated as immutable: splits and filters return new objects that share the id
    lists and dicts.
    """

    def __init__(self, users: list, items: list, user_ids: np.ndarray, item_ids: np.ndarray,
                 values: np.ndarray, timestamps: np.ndarray | None = None, *,
                 user_index: dict | None = None, item_index: dict | None = None,
                 _sorted: bool = False):
        """Low level: COO indices into `users` × `items`. Prefer the `from_*` constructors.

        Unless `_sorted` is true the entries are checked, sorted by (user, item) and must not
        repeat a pair.
        """
        self.users = users
        self.items = items
        self.user_index = user_index if user_index is not None else {k: j for j, k in enumerate(users)}
        self.item_index = item_index if item_index is not None else {k: j for j, k in enumerate(items)}
        u = np.asarray(user_ids, dtype=np.int64)
        i = np.asarray(item_ids, dtype=np.int64)
        v = np.asarray(values, dtype=np.float32)
        t = None if timestamps is None else np.asarray(timestamps, dtype=np.int64)
        if not _sorted:
            n = len(u)
            if len(i) != n or len(v) != n or (t is not None and len(t) != n):
                raise InvalidInputError("user, item, value and timestamp arrays differ in length")
            if n and (u.min() < 0 or u.max() >= len(users) or i.min() < 0 or i.max() >= len(items)):
                raise InvalidInputError("user or item index out of range")
            _check_finite_values(v)
            key = u * max(1, len(items)) + i
            order = np.argsort(key, kind="stable")
            key = key[order]
            if n > 1 and (key[1:] == key[:-1]).any():
                raise InvalidInputError("repeated (user, item) pair; use from_arrays(duplicates=...)")
            u, i, v = u[order], i[order], v[order]
            t = None if t is None else t[order]
        self.user_ids = u
        self.item_ids = i
        self.values = v
        self.timestamps = t
        self._csr = None
        self._csc = None

    # ------------------------------------------------------------------ basic views
    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def nnz(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    @property
    def user_indices(self) -> np.ndarray:
        return self.user_ids

    @property
    def item_indices(self) -> np.ndarray:
        return self.item_ids

    @property
    def has_timestamps(self) -> bool:
        return self.timestamps is not None

    def __len__(self) -> int:
        return self.nnz

    def __repr__(self) -> str:
        return (f"Interactions({self.n_users} users × {self.n_items} items, {self.nnz} interactions"
                f"{', with timestamps' if self.has_timestamps else ''})")

    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointer: user u's interactions are entries indptr[u]:indptr[u+1]."""
        return self.csr.indptr

    @property
    def csr(self) -> sp.csr_matrix:
        """n_users × n_items float32 CSR matrix (sorted indices, no repeated entries)."""
        if self._csr is None:
            counts = np.bincount(self.user_ids, minlength=self.n_users)
            idx_dtype = np.int32 if max(self.nnz, self.n_items) < 2**31 - 1 else np.int64
            indptr = np.zeros(self.n_users + 1, dtype=idx_dtype)
            np.cumsum(counts, out=indptr[1:])
            m = sp.csr_matrix((self.values, self.item_ids.astype(idx_dtype), indptr),
                              shape=self.shape, copy=False)
            m.has_sorted_indices = True
            self._csr = m
        return self._csr

    @property
    def csc(self) -> sp.csc_matrix:
        """n_users × n_items float32 CSC matrix (sorted indices, no repeated entries)."""
        if self._csc is None:
            m = self.csr.tocsc()
            m.sort_indices()
            self._csc = m
        return self._csc

    def user_counts(self) -> np.ndarray:
        """Interactions per user index (int64, length n_users)."""
        return np.bincount(self.user_ids, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """Interactions per item index (int64, length n_items)."""
        return np.bincount(self.item_ids, minlength=self.n_items)

    def raw_user_ids(self) -> list:
        """Raw user id of every interaction, aligned with `values`."""
        return [self.users[j] for j in self.user_ids.tolist()]

    def raw_item_ids(self) -> list:
        """Raw item id of every interaction, aligned with `values`."""
        return [self.items[j] for j in self.item_ids.tolist()]

    def _like(self, mask_or_idx, values=None) -> "Interactions":
        """A new Interactions on the same id lists holding the selected entries."""
        u = self.user_ids[mask_or_idx]
        i = self.item_ids[mask_or_idx]
        v = self.values[mask_or_idx] if values is None else values
        t = None if self.timestamps is None else self.timestamps[mask_or_idx]
        return Interactions(self.users, self.items, u, i, v, t, user_index=self.user_index,
                            item_index=self.item_index, _sorted=True)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def _build(cls, users_raw, items_raw, values, timestamps, duplicates: str, user_ids, item_ids,
               extend: bool, source=None, lines: np.ndarray | None = None) -> "Interactions":
        if duplicates not in _DUPLICATES:
            raise InvalidInputError(f"duplicates must be one of {', '.join(_DUPLICATES)}, got {duplicates!r}")
        n = len(users_raw)
        if len(items_raw) != n:
            raise InvalidInputError(f"{n} users but {len(items_raw)} items")
        users, user_index, u = _map_ids(users_raw, user_ids, extend, "user")
        items, item_index, i = _map_ids(items_raw, item_ids, extend, "item")
        if values is None:
            v = np.ones(n, dtype=np.float64)
        else:
            v = np.asarray(values, dtype=np.float64)
            if v.shape != (n,):
                raise InvalidInputError(f"values must have one entry per interaction ({n}), got shape {v.shape}")

        def describe(j):
            where = f"(user {users[u[j]]!r}, item {items[i[j]]!r})"
            if lines is not None:
                where = f"line {int(lines[j])} {where}"
            return f"{source}, {where}" if source is not None else where

        _check_finite_values(v, "value", describe)
        t = None if timestamps is None else _as_timestamps(timestamps, n)

        key = u * max(1, len(items)) + i
        if duplicates == "last" and t is not None:
            order = np.lexsort((np.arange(n), t, key))
        else:
            order = np.argsort(key, kind="stable")
        key = key[order]
        u, i, v = u[order], i[order], v[order]
        t = None if t is None else t[order]
        if n > 1:
            dup = key[1:] == key[:-1]
            if dup.any():
                if duplicates == "error":
                    j = int(np.flatnonzero(dup)[0])
                    pair = f"(user {users[u[j]]!r}, item {items[i[j]]!r})"
                    if lines is not None:
                        ls = sorted(int(x) for x in lines[order[j:j + 2]])
                        pair += f" on lines {ls[0]} and {ls[1]}"
                    where = f"{source}: " if source is not None else ""
                    raise InvalidInputError(f"{where}repeated (user, item) pair {pair} "
                                            f"({int(dup.sum())} repeats); pass duplicates='sum' or 'last'")
                starts = np.flatnonzero(np.r_[True, ~dup])
                if duplicates == "sum":
                    v = np.add.reduceat(v, starts)
                    t = None if t is None else np.maximum.reduceat(t, starts)
                    u, i = u[starts], i[starts]
                else:  # last
                    ends = np.r_[starts[1:], n] - 1
                    u, i, v = u[ends], i[ends], v[ends]
                    t = None if t is None else t[ends]
        return cls(users, items, u, i, v.astype(np.float32), t, user_index=user_index,
                   item_index=item_index, _sorted=True)

    @classmethod
    def from_arrays(cls, users, items, values=None, timestamps=None, duplicates: str = "sum",
                    user_ids: Sequence | None = None, item_ids: Sequence | None = None,
                    extend: bool = False) -> "Interactions":
        """Interactions from aligned sequences of raw user ids, raw item ids, values, timestamps.

        `values` None means 1.0 for every pair (implicit feedback). `timestamps` are integers
        (e.g. Unix seconds), floats (floored) or datetime64 (converted to seconds). `user_ids` /
        `item_ids` fix the numbering with existing id lists (e.g. ``train.users``) so that a
        second set maps the same way; ids they lack raise `UnknownKeyError` unless
        ``extend=True``. `duplicates` is "sum", "last" or "error" (module docstring).
        """
        u = _as_id_array(users, "user")
        i = _as_id_array(items, "item")
        if len(u) != len(i):
            raise InvalidInputError(f"{len(u)} users but {len(i)} items")
        if len(u) == 0 and user_ids is None and item_ids is None:
            raise InvalidInputError("no interactions given")
        return cls._build(u, i, values, timestamps, duplicates, user_ids, item_ids, extend)

    @classmethod
    def from_dataframe(cls, df, user: str = "user", item: str = "item", value: str | None = None,
                       timestamp: str | None = None, duplicates: str = "sum",
                       user_ids: Sequence | None = None, item_ids: Sequence | None = None,
                       extend: bool = False) -> "Interactions":
        """Interactions from the columns of a pandas DataFrame (or any mapping of name → array).

        `value` None gives 1.0 for every pair; name the column (e.g. ``value="rating"``) to
        keep its values. A datetime `timestamp` column becomes Unix seconds.
        """
        columns = list(getattr(df, "columns", None) if hasattr(df, "columns") else df.keys())

        def col(name, role):
            if name not in columns:
                raise InvalidInputError(f"no column {name!r} for {role}; columns are "
                                        f"{', '.join(map(repr, columns))}")
            c = df[name]
            return c.to_numpy() if hasattr(c, "to_numpy") else np.asarray(c)

        u = col(user, "user")
        i = col(item, "item")
        v = None if value is None else col(value, "value")
        t = None if timestamp is None else col(timestamp, "timestamp")
        if v is not None:
            try:
                v = np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):
                raise InvalidInputError(f"column {value!r} holds values that are not numbers") from None
        return cls.from_arrays(u, i, v, t, duplicates=duplicates, user_ids=user_ids,
                               item_ids=item_ids, extend=extend)

    @classmethod
    def from_sparse(cls, matrix, users: Sequence | None = None,
                    items: Sequence | None = None) -> "Interactions":
        """Interactions from a SciPy sparse (or dense) n_users × n_items matrix.

        Stored entries become interactions (zeros are dropped, repeated COO entries summed).
        `users` / `items` name the rows / columns (default: their positions 0 … n-1).
        """
        m = sp.csr_matrix(matrix, dtype=np.float64) if not sp.issparse(matrix) else matrix.tocsr(copy=True)
        m = m.astype(np.float64)
        m.sum_duplicates()
        m.eliminate_zeros()
        m.sort_indices()
        n_users, n_items = m.shape
        user_list = list(range(n_users)) if users is None else [_normalize_id(k, "user") for k in users]
        item_list = list(range(n_items)) if items is None else [_normalize_id(k, "item") for k in items]
        if len(user_list) != n_users or len(item_list) != n_items:
            raise InvalidInputError(f"matrix is {n_users} × {n_items} but {len(user_list)} users and "
                                    f"{len(item_list)} items were named")
        for what, ids in (("user", user_list), ("item", item_list)):
            if len(set(ids)) != len(ids):
                raise InvalidInputError(f"the {what} ids repeat")
        _check_finite_values(m.data)
        u = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(m.indptr))
        return cls(user_list, item_list, u, m.indices.astype(np.int64), m.data.astype(np.float32),
                   None, _sorted=True)

    @classmethod
    def from_csv(cls, path, sep: str | None = None, columns: dict | None = None, header="infer",
                 duplicates: str = "sum", user_ids: Sequence | None = None,
                 item_ids: Sequence | None = None, extend: bool = False,
                 ids: str = "auto") -> "Interactions":
        """Read interactions from a delimited text file, plain or gzip (detected by content).

        `sep`: the field separator; None sniffs it from the first lines, trying ``::`` (MovieLens
        ``ratings.dat``), tab (``u.data``), ``,``, ``;``, ``|`` and runs of whitespace
        (``"whitespace"`` names that one explicitly). Comma and semicolon files may quote fields.

        `columns` maps roles ("user", "item", "value", "timestamp") to a column name or a
        0-based position; a role mapped to None is left out (``{"value": None}`` reads a rating
        file as implicit 1.0 feedback). Roles not given are found by header name (user/userId/
        user_id/…, item/movieId/…, rating/value/count/…, timestamp/time/…), else by position:
        user 0, item 1, value 2, timestamp 3 when the rows have that many fields. No value
        column means 1.0 for every row.

        `header`: True, False or "infer" — a header is assumed when `columns` names a column,
        when the first row's value or timestamp field is not a number, or when its fields are
        all recognised column names.

        `ids`: "auto" turns an id column into ints when every id is a plain integer
        (``"42"`` but not ``"042"``), else keeps strings; "str" and "int" force one. When
        `user_ids` / `item_ids` are given, "auto" follows their type.

        Errors: an empty file (or one with only a header) → `InvalidInputError`; a row with
        another number of fields than the first, a non-numeric or non-finite value or timestamp
        → `FormatError` with the file and line.
        """
        path = Path(path)
        if not path.exists():
            raise InvalidInputError(f"{path}: no such file")
        if duplicates not in _DUPLICATES:
            raise InvalidInputError(f"duplicates must be one of {', '.join(_DUPLICATES)}, got {duplicates!r}")
        if ids not in ("auto", "str", "int"):
            raise InvalidInputError(f"ids must be 'auto', 'str' or 'int', got {ids!r}")
        if header not in (True, False, "infer", None):
            raise InvalidInputError(f"header must be True, False or 'infer', got {header!r}")

        # ---- sample the first lines: separator, header, columns
        sample: list[str] = []
        with _open_text(path) as f:
            for line in f:
                if line.strip():
                    sample.append(line)
                    if len(sample) >= 50:
                        break
        if not sample:
            raise InvalidInputError(f"{path}: the file is empty (no interactions)")
        if sep is None:
            try:
                sep = _sniff_sep(sample)
            except FormatError as exc:
                try:  # a header may split differently from the data rows
                    sep = _sniff_sep(sample[1:]) if len(sample) > 1 else None
                except FormatError:
                    sep = None
                if sep is None:
                    raise FormatError(str(exc), path) from None
        elif sep in (" ", r"\s+", _WS):
            sep = _WS
        first = _split_line(sample[0], sep)
        n_fields = len(first)

        if header is None:
            header = False
        if header == "infer":
            if columns and any(isinstance(c, str) for c in columns.values()):
                header = True
            else:
                pos = _resolve_columns(columns, None, n_fields)
                numeric = [first[pos[r]] for r in ("value", "timestamp") if pos[r] is not None]
                header = any(not _is_number(s) for s in numeric) or (
                    n_fields >= 2 and all(_norm_name(s) in _ALIAS_ROLE for s in first))
        names = [s.strip() for s in first] if header else None
        pos = _resolve_columns(columns, names, n_fields)

        # ids: "auto" follows the type of a given mapping
        def id_mode(known):
            if ids != "auto" or known is None or len(known) == 0:
                return ids
            if all(isinstance(k, str) for k in known):
                return "str"
            if all(isinstance(k, Integral) for k in known):
                return "int"
            return ids

        user_mode, item_mode = id_mode(user_ids), id_mode(item_ids)

        # ---- parse in chunks
        chunks: dict[str, list] = {r: [] for r in ("user", "item", "value", "timestamp", "line")}
        with _open_text(path) as f:
            line_no = 0
            skipped_header = not header
            while True:
                block = list(islice(f, CHUNK_ROWS))
                if not block:
                    break
                start = line_no + 1
                line_no += len(block)
                if sep in _CSV_SEPS:
                    nonblank = [(start + k, line) for k, line in enumerate(block) if line.strip()]
                    reader = csv.reader((line for _, line in nonblank), delimiter=sep,
                                        skipinitialspace=True)
                    rows, lines = [], []
                    for row in reader:  # a quoted field may span lines: name the row's last line
                        rows.append(row)
                        lines.append(nonblank[reader.line_num - 1][0])
                    lines = np.asarray(lines, dtype=np.int64)
                else:
                    if sep == _WS:
                        rows = [line.split() for line in block]
                    else:
                        rows = [line.rstrip("\r\n").split(sep) for line in block]
                    lines = np.arange(start, start + len(block), dtype=np.int64)
                    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
                    odd = lengths != n_fields
                    if odd.any():  # blank lines are skipped; anything else is reported below
                        blank = np.zeros(len(rows), dtype=bool)
                        for j in np.flatnonzero(odd).tolist():
                            blank[j] = not block[j].strip()
                        if blank.any():
                            rows = [r for r, b in zip(rows, blank.tolist()) if not b]
                            lines = lines[~blank]
                if not skipped_header and rows:
                    rows, lines = rows[1:], lines[1:]
                    skipped_header = True
                if not rows:
                    continue
                lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
                bad = lengths != n_fields
                if bad.any():
                    j = int(np.flatnonzero(bad)[0])
                    raise FormatError(f"expected {n_fields} fields (as on the first row), found "
                                      f"{int(lengths[j])}", path, int(lines[j]))
                cols = list(zip(*rows))
                del rows
                chunks["user"].append(_parse_ids(cols[pos["user"]], user_mode))
                chunks["item"].append(_parse_ids(cols[pos["item"]], item_mode))
                if pos["value"] is not None:
                    chunks["value"].append(_parse_numbers(cols[pos["value"]], lines, path, "value"))
                if pos["timestamp"] is not None:
                    chunks["timestamp"].append(_parse_numbers(cols[pos["timestamp"]], lines, path,
                                                              "timestamp", integer=True))
                chunks["line"].append(lines)
        if not chunks["user"]:
            raise InvalidInputError(f"{path}: no interactions (only a header)" if header
                                    else f"{path}: the file is empty (no interactions)")

        def concat_ids(parts):
            if all(p.dtype.kind == "i" for p in parts):
                return np.concatenate(parts)
            return np.concatenate([p.astype(str) if p.dtype.kind == "i" else p for p in parts])

        users_raw = concat_ids(chunks["user"])
        items_raw = concat_ids(chunks["item"])
        values = np.concatenate(chunks["value"]) if chunks["value"] else None
        timestamps = np.concatenate(chunks["timestamp"]) if chunks["timestamp"] else None
        lines = np.concatenate(chunks["line"])
        out = cls._build(users_raw, items_raw, values, timestamps, duplicates, user_ids, item_ids,
                         extend, source=path, lines=lines)
        logger.info("read %d interactions (%d users, %d items) from %s", out.nnz, out.n_users,
                    out.n_items, path)
        return out

    # ------------------------------------------------------------------ transforms
    def filter(self, min_value: float | None = None, max_value: float | None = None) -> "Interactions":
        """A new Interactions on the same id lists keeping entries with min_value ≤ value ≤ max_value.

        ``ratings.filter(min_value=4)`` keeps ratings of 4 and 5 as positives.
        """
        mask = np.ones(self.nnz, dtype=bool)
        if min_value is not None:
            mask &= self.values >= min_value
        if max_value is not None:
            mask &= self.values <= max_value
        return self._like(mask)

    def binarize(self) -> "Interactions":
        """A new Interactions with every value set to 1.0 (same entries, same id lists)."""
        return self._like(slice(None), values=np.ones(self.nnz, dtype=np.float32))

    # ------------------------------------------------------------------ splits
    @staticmethod
    def _check_fraction(fraction: float):
        if not 0 < fraction < 1:
            raise InvalidInputError(f"fraction must be strictly between 0 and 1, got {fraction}")

    def _split_mask(self, test_mask: np.ndarray) -> tuple["Interactions", "Interactions"]:
        return self._like(~test_mask), self._like(test_mask)

    def split_random(self, fraction: float = 0.2, seed: int | None = 0):
        """(train, test): a uniformly random round(fraction · nnz) interactions go to test.

        Rounding is half up. Users may end up with no training (or no test) interactions.
        """
        self._check_fraction(fraction)
        n_test = int(np.floor(fraction * self.nnz + 0.5))
        rng = np.random.default_rng(seed)
        mask = np.zeros(self.nnz, dtype=bool)
        mask[rng.permutation(self.nnz)[:n_test]] = True
        return self._split_mask(mask)

    def _per_user_tail(self, n_test: np.ndarray, sort_keys: tuple) -> np.ndarray:
        """Test mask taking, for each user u, the n_test[u] entries that come first in the order
        lexsort(sort_keys + (user,))."""
        order = np.lexsort(sort_keys + (self.user_ids,))
        counts = self.user_counts()
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        users_sorted = self.user_ids[order]
        rank = np.arange(self.nnz) - starts[users_sorted]
        mask = np.zeros(self.nnz, dtype=bool)
        mask[order[rank < n_test[users_sorted]]] = True
        return mask

    def _n_test_per_user(self, fraction, k, min_interactions) -> np.ndarray:
        counts = self.user_counts()
        if k is not None:
            n = np.full(self.n_users, int(k), dtype=np.int64)
        else:
            n = np.floor(fraction * counts + 0.5).astype(np.int64)
        n = np.clip(n, 1, np.maximum(counts - 1, 0))
        n[counts < max(2, min_interactions)] = 0
        return n

    def split_per_user(self, fraction: float = 0.2, seed: int | None = 0, min_interactions: int = 2):
        """(train, test): each user with ≥ min_interactions puts round(fraction · n) of their n
        interactions (at least 1, rounding half up) in test, chosen at random, and keeps at least
        one in train. Users with fewer interactions stay wholly in train.
        """
        self._check_fraction(fraction)
        n_test = self._n_test_per_user(fraction, None, min_interactions)
        rng = np.random.default_rng(seed)
        return self._split_mask(self._per_user_tail(n_test, (rng.random(self.nnz),)))

    def split_leave_k_out(self, k: int = 1, seed: int | None = 0, min_interactions: int | None = None):
        """(train, test): each user with ≥ min_interactions (default k + 1) interactions puts k of
        them, chosen at random, in test; the rest (at least one) stays in train.
        """
        if k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        min_interactions = k + 1 if min_interactions is None else min_interactions
        n_test = self._n_test_per_user(None, k, min_interactions)
        rng = np.random.default_rng(seed)
        return self._split_mask(self._per_user_tail(n_test, (rng.random(self.nnz),)))

    def split_temporal(self, fraction: float | None = None, k: int | None = None,
                       min_interactions: int = 2):
        """(train, test): each user's latest interactions (by timestamp) go to test.

        Give `fraction` (round(fraction · n), at least 1, rounding half up; the default 0.2) or
        `k` (k per user) — not both. Each user with ≥ min_interactions keeps at least one
        interaction in train; others stay wholly in train. Equal timestamps are ordered by item
        index (the higher index counts as later). Raises `InvalidInputError` without timestamps.
        """
        if self.timestamps is None:
            raise InvalidInputError("split_temporal needs timestamps and these interactions have none")
        if fraction is not None and k is not None:
            raise InvalidInputError("give fraction or k, not both")
        if k is None:
            fraction = 0.2 if fraction is None else fraction
            self._check_fraction(fraction)
        elif k < 1:
            raise InvalidInputError(f"k must be at least 1, got {k}")
        n_test = self._n_test_per_user(fraction, k, min_interactions)
        # latest first: sort by (user, -timestamp, -item)
        return self._split_mask(self._per_user_tail(n_test, (-self.item_ids, -self.timestamps)))

    def split(self, method: str = "random", **kwargs):
        """Dispatch to a split: "random", "user" (or "per_user"), "leave_k_out", "temporal"."""
        methods = {"random": self.split_random, "user": self.split_per_user,
                   "per_user": self.split_per_user, "leave_k_out": self.split_leave_k_out,
                   "temporal": self.split_temporal}
        if method not in methods:
            raise InvalidInputError(f"unknown split method {method!r}; choose from "
                                    "'random', 'user', 'leave_k_out', 'temporal'")
        return methods[method](**kwargs)

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write to directory `path`: interactions.json (format, version, sizes), users.json,
        items.json and .npy arrays (user_indices, item_indices, values, timestamps). No pickle.

        Written to a temporary directory first, then renamed, so a failure leaves any existing
        output untouched. An existing directory at `path` is replaced only if it holds a saved
        Interactions (or is empty).
        """
        path = Path(path)
        users = _jsonable_ids(self.users, "user")
        items = _jsonable_ids(self.items, "item")
        with atomic_directory(path, marker="interactions.json") as tmp:
            meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "n_users": self.n_users,
                    "n_items": self.n_items, "nnz": self.nnz,
                    "timestamps": self.timestamps is not None}
            (tmp / "interactions.json").write_text(json.dumps(meta, indent=1) + "\n")
            (tmp / "users.json").write_text(json.dumps(users, ensure_ascii=False))
            (tmp / "items.json").write_text(json.dumps(items, ensure_ascii=False))
            np.save(tmp / "user_indices.npy", self.user_ids)
            np.save(tmp / "item_indices.npy", self.item_ids)
            np.save(tmp / "values.npy", self.values)
            if self.timestamps is not None:
                np.save(tmp / "timestamps.npy", self.timestamps)
        return path

    @classmethod
    def load(cls, path) -> "Interactions":
        """Read a directory written by `save`; checks format, version and array shapes."""
        path = Path(path)
        meta_path = path / "interactions.json"
        if not meta_path.exists():
            raise FormatError("not a saved Interactions (no interactions.json)", path)
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise FormatError(f"invalid JSON: {exc}", meta_path) from None
        if meta.get("format") != FORMAT_NAME:
            raise FormatError(f"format is {meta.get('format')!r}, expected {FORMAT_NAME!r}", meta_path)
        if meta.get("version") != FORMAT_VERSION:
            raise FormatError(f"format version {meta.get('version')!r} is not supported "
                              f"(this embedworks reads version {FORMAT_VERSION})", meta_path)

        def read_ids(name):
            try:
                ids = json.loads((path / name).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise FormatError(f"cannot read ids: {exc}", path / name) from None
            if not isinstance(ids, list):
                raise FormatError("expected a JSON list of ids", path / name)
            return ids

        def read_array(name, dtype):
            try:
                arr = np.load(path / name, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise FormatError(f"cannot read array: {exc}", path / name) from None
            if arr.ndim != 1 or len(arr) != meta["nnz"]:
                raise FormatError(f"expected {meta['nnz']} entries, found shape {arr.shape}", path / name)
            return arr.astype(dtype, copy=False)

        users, items = read_ids("users.json"), read_ids("items.json")
        if len(users) != meta["n_users"] or len(items) != meta["n_items"]:
            raise FormatError("id lists do not match the sizes in interactions.json", path)
        u = read_array("user_indices.npy", np.int64)
        i = read_array("item_indices.npy", np.int64)
        v = read_array("values.npy", np.float32)
        t = read_array("timestamps.npy", np.int64) if meta.get("timestamps") else None
        try:
            return cls(users, items, u, i, v, t)
        except InvalidInputError as exc:
            raise FormatError(str(exc), path) from None
