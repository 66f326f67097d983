"""Readers: text corpora (plain or .gz), interactions, graphs and tables.

Each class's module is imported on first use (SciPy, pandas and pyarrow only where needed).
"""

from .._lazy import lazy_attributes

_LAZY = {"Corpus": ".corpus", "as_corpus": ".corpus", "write_corpus": ".corpus",
         "Interactions": ".interactions", "Graph": ".graph", "Table": ".table",
         "TableEncoder": ".table"}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
