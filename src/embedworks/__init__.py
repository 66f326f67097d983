"""embedworks: turn objects into vectors and put the vectors to work."""

from .errors import (DimensionError, EmbedworksError, FormatError, InvalidInputError,
                     MissingExtraError, UnknownKeyError)
from .space import Embeddings

__version__ = "0.1.0"


def load(path, format: str | None = None, limit: int | None = None, metric: str | None = None) -> Embeddings:
    """Read embeddings from `path`; the format comes from `format`, else the suffix or the content."""
    from .formats import load as _load

    return _load(path, format=format, limit=limit, metric=metric)


__all__ = ["Embeddings", "load", "EmbedworksError", "UnknownKeyError", "DimensionError",
           "FormatError", "InvalidInputError", "MissingExtraError", "__version__"]
