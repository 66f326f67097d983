"""Persistent collections: keyed vectors + metadata + index + encoder in one directory (see `collection`)."""

from .collection import Collection
from .locks import CollectionLockedError

__all__ = ["Collection", "CollectionLockedError"]
