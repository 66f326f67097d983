"""Streaming readers: text corpora (plain or .gz) and helpers to write them."""

from .corpus import Corpus, as_corpus, write_corpus

__all__ = ["Corpus", "as_corpus", "write_corpus"]
from .interactions import Interactions  # noqa: E402
__all__ += ["Interactions"]
from .graph import Graph  # noqa: E402
__all__ += ["Graph"]
from .table import Table, TableEncoder  # noqa: E402
__all__ += ["Table", "TableEncoder"]
