"""The exception hierarchy: every error embedworks raises on purpose derives from EmbedworksError."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EmbedworksError(Exception):
    """Root of every error embedworks raises on purpose."""


class UnknownKeyError(EmbedworksError, KeyError):
    """A key (word, user, item, node …) that the embeddings or model do not hold.

    The message names the key and, for string keys, up to three close matches.
    """

    def __init__(self, key, known: Iterable | None = None, what: str = "key"):
        self.key = key
        self.suggestions: list[str] = []
        if known is not None and isinstance(key, str):
            self.suggestions = close_matches(key, known)
        message = f"unknown {what} {key!r}"
        if self.suggestions:
            message += f" (did you mean {', '.join(map(repr, self.suggestions))}?)"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class DimensionError(EmbedworksError, ValueError):
    """Vectors whose dimension does not match what they are combined with."""


class FormatError(EmbedworksError, ValueError):
    """A file that cannot be read or written in the requested format; names file and line."""

    def __init__(self, message: str, path=None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        self.path = path
        self.line = line
        super().__init__(where + message)


class InvalidInputError(EmbedworksError, ValueError):
    """Input data that is empty, non-finite, or otherwise unusable (NaN vectors, empty corpora …)."""


class MissingExtraError(EmbedworksError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str):
        super().__init__(f"{module} is needed for this; install it with: pip install \"embedworks[{extra}]\"")


_CLOSE_MATCH_SCAN_LIMIT = 200_000


def close_matches(key: str, known: Iterable, n: int = 3) -> list[str]:
    """Up to `n` string keys similar to `key`; scans at most the first 200,000 keys to stay fast."""
    candidates = []
    for i, k in enumerate(known):
        if i >= _CLOSE_MATCH_SCAN_LIMIT:
            break
        if isinstance(k, str):
            candidates.append(k)
    lowered = [c for c in candidates if c.lower() == key.lower() and c != key]
    return (lowered + difflib.get_close_matches(key, candidates, n=n, cutoff=0.6))[:n]
