"""What the HTTP service serves: embeddings, recommender models, text indexes and collections.

`load_resource("name=path")` opens one, recognising the kind by content:

* a directory with ``params.json`` of a recommender (`Recommender.save`) → ``recommender``
* a directory with ``index.json`` of a text index (`TextIndex.save`) → ``text-index``
* a collection directory (`embedworks.store.Collection`) → ``collection``
* anything `embedworks.load` reads (native ``.emb``, word2vec, GloVe, fastText, TSV, NumPy) → ``embeddings``

Each resource answers the operations its kind supports (`operations`); the others raise
`UnsupportedOperation`. Results are lists of hits ``{"key", "score", "metadata"?}``. Nothing here
imports FastAPI: the HTTP layer (`app.py`) only translates.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import DimensionError, EmbedworksError, FormatError, InvalidInputError
from ..space import Embeddings, stored_key

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TEXT_ENCODERS = ("text", "lsa")
_SNIPPET = 300
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class UnsupportedOperation(EmbedworksError):
    """An operation the resource's kind does not offer (e.g. `recommend` on word vectors)."""


# ---------------------------------------------------------------------------------------- helpers
def checked_vector(values, dim: int, what: str = "vector") -> np.ndarray:
    """`values` as a finite float32 vector of length `dim`, or a 4xx-mapped error naming it."""
    vector = np.asarray(values, dtype=np.float64)
    if vector.shape != (dim,):
        raise DimensionError(f"{what} has {vector.size} values, expected {dim}")
    if not (np.isfinite(vector).all() and np.abs(vector).max() <= _FLOAT32_MAX):
        raise InvalidInputError(f"{what} holds NaN, infinity or values too large for float32")
    return vector.astype(np.float32)


def _hits(pairs, metadata=None) -> list[dict]:
    hits = []
    for key, score in pairs:
        hit = {"key": key, "score": float(score)}
        if metadata is not None:
            hit["metadata"] = metadata(key)
        hits.append(hit)
    return hits


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _matches(value, wanted) -> bool:
    return value in wanted if isinstance(wanted, list) else value == wanted


# ---------------------------------------------------------------------------------------- kinds
class Resource:
    """One named thing the service serves; subclasses implement what their kind can do."""

    kind = ""
    operations: tuple[str, ...] = ()

    def __init__(self, name: str, path: Path | None = None):
        self.name = name
        self.path = path
        self._encoding = threading.Lock()  # one encoding at a time: models are big and multi-threaded

    def info(self) -> dict:
        return {"name": self.name, "kind": self.kind, "path": str(self.path) if self.path else None,
                "operations": list(self.operations)}

    def version(self) -> int:
        """Changes whenever the contents change (keys the projector cache)."""
        return 0

    def close(self) -> None:
        """Release files and locks (collections); called when the service stops."""

    def _unsupported(self, operation: str):
        raise UnsupportedOperation(f"{self.kind} {self.name!r} does not support {operation} "
                                   f"(it supports: {', '.join(self.operations) or 'nothing'})")

    def similar(self, key=None, vector=None, k: int = 10, metric: str | None = None, filter=None):
        self._unsupported("similar")

    def analogy(self, positive, negative, k: int = 10, method: str = "3cosadd"):
        self._unsupported("analogy")

    def search(self, text=None, vector=None, file=None, k: int = 10, filter=None):
        self._unsupported("search")

    def encode(self, texts=None, file=None) -> np.ndarray:
        self._unsupported("encode")

    def recommend(self, user, n: int = 10, filter_seen: bool = True):
        self._unsupported("recommend")

    def upsert(self, keys, vectors=None, texts=None, metadata=None) -> int:
        self._unsupported("upsert")

    def delete(self, keys) -> int:
        self._unsupported("delete")

    def projector_embeddings(self, limit: int) -> Embeddings:
        self._unsupported("projector")


class EncoderMixin:
    """Encodes query texts and uploaded files with the encoder that made the vectors."""

    encoder_spec: dict | None = None

    def _encoder(self):
        if self.encoder_spec is None:
            raise UnsupportedOperation(f"{self.kind} {self.name!r} has no encoder: query it by key or vector")
        from ..encode.registry import from_spec

        return from_spec(self.encoder_spec)

    def _reads_text(self) -> bool:
        return self.encoder_spec is not None and self.encoder_spec.get("kind") in _TEXT_ENCODERS

    def _check_reads_text(self) -> None:
        """Only text encoders get texts: a media encoder would read a text as a server-side path."""
        if not self._reads_text():
            raise UnsupportedOperation(f"{self.kind} {self.name!r} encodes "
                                       f"{(self.encoder_spec or {}).get('kind', 'nothing')} files, not texts: "
                                       "upload a file" + ("" if self.encoder_spec else " or give a vector"))

    def encode(self, texts=None, file=None) -> np.ndarray:
        """(n, dim) vectors of `texts`, or (1, dim) of `file` (an `Upload`)."""
        encoder = self._encoder()
        if file is not None:
            if self._reads_text():
                texts = [file.text()]
            else:
                with file.on_disk() as path, self._encoding:
                    vectors = np.asarray(encoder.encode_array([str(path)]), dtype=np.float32)
                if len(vectors) != 1:
                    reasons = getattr(encoder, "last_skipped_reasons", None) or ["unreadable"]
                    raise InvalidInputError(f"could not read the uploaded file {file.filename!r} as "
                                            f"{self.encoder_spec.get('kind')} input ({reasons[0]})")
                return self._checked(vectors)
        self._check_reads_text()
        texts = list(texts or [])
        for i, text in enumerate(texts):
            if not text.strip():
                raise InvalidInputError(f"texts[{i}] is empty")
        with self._encoding:
            encode = getattr(encoder, "encode_array", None) or encoder.encode
            return self._checked(np.asarray(encode(texts), dtype=np.float32))

    @staticmethod
    def _checked(vectors: np.ndarray) -> np.ndarray:
        if vectors.ndim != 2 or not np.isfinite(vectors).all():
            raise InvalidInputError("the encoder returned no usable vectors")
        return vectors


class EmbeddingsResource(EncoderMixin, Resource):
    """A set of embeddings: similar, analogy; search and encode when its encoder is known."""

    kind = "embeddings"
    similar_metric: str | None = None

    def __init__(self, name: str, emb: Embeddings, path: Path | None = None):
        super().__init__(name, path)
        self.emb = emb
        self.encoder_spec = getattr(emb, "encoder", None)
        emb.norms()  # computed once here, not inside concurrent requests
        self.operations = ("similar", "analogy", "projector") + (
            ("search", "encode") if self.encoder_spec else ())

    def info(self) -> dict:
        return {**super().info(), "count": len(self.emb), "dim": self.emb.dim, "metric": self.emb.metric,
                "encoder": self.encoder_spec, "metadata_columns": list(self.emb.metadata)}

    def _metadata(self, key) -> dict | None:
        if not self.emb.metadata:
            return None
        row = self.emb.index_of(key)
        return {name: _jsonable(column[row]) for name, column in self.emb.metadata.items()}

    def _restrict(self, filter):
        if not filter:
            return None
        keep = np.ones(len(self.emb), dtype=bool)
        for column, wanted in filter.items():
            if column not in self.emb.metadata:
                raise InvalidInputError(f"no metadata column {column!r} to filter by (columns: "
                                        f"{', '.join(self.emb.metadata) or 'none'})")
            values = self.emb.metadata[column]
            keep &= np.fromiter((_matches(v, wanted) for v in values), dtype=bool, count=len(values))
        keys = self.emb.keys
        return [keys[i] for i in np.flatnonzero(keep)]

    def _nearest(self, query, k, metric, filter):
        restrict = self._restrict(filter)
        if restrict is not None and not restrict:
            return []
        pairs = self.emb.most_similar(query, k=k, metric=metric or self.similar_metric, restrict=restrict)
        return _hits(pairs, self._metadata if self.emb.metadata else None)

    def similar(self, key=None, vector=None, k: int = 10, metric: str | None = None, filter=None):
        if key is not None:
            key = stored_key(key, self.emb)
            self.emb.index_of(key)  # unknown keys fail before any work
            return self._nearest(key, k, metric, filter)
        return self._nearest(checked_vector(vector, self.emb.dim), k, metric, filter)

    def analogy(self, positive, negative, k: int = 10, method: str = "3cosadd"):
        positive = [stored_key(key, self.emb) for key in positive]
        negative = [stored_key(key, self.emb) for key in negative]
        pairs = self.emb.analogy(positive, negative, k=k, method=method)
        return _hits(pairs, self._metadata if self.emb.metadata else None)

    def _query_vector(self, text, vector, file) -> np.ndarray | None:
        """The one query vector; None for a text the encoder maps to zero (no known word)."""
        if vector is not None:
            return checked_vector(vector, self.emb.dim)
        query = self.encode(texts=None if text is None else [text], file=file)[0]
        if query.shape != (self.emb.dim,):
            raise DimensionError(f"the encoder gives {query.size}-dim vectors, the resource holds {self.emb.dim}")
        return query if query.any() else None

    def search(self, text=None, vector=None, file=None, k: int = 10, filter=None):
        if vector is None and self.encoder_spec is None:
            self._unsupported("search by text or file")
        query = self._query_vector(text, vector, file)
        return [] if query is None else self._nearest(query, k, None, filter)

    def projector_embeddings(self, limit: int) -> Embeddings:
        return self.emb if len(self.emb) <= limit else self.emb.subset(self.emb.keys[:limit])


class TextIndexResource(EmbeddingsResource):
    """A `TextIndex`: documents found by text (its own encoder), vector or document id."""

    kind = "text-index"

    def __init__(self, name: str, index, path: Path | None = None):
        super().__init__(name, index.embeddings, path)
        self.index = index
        self.encoder_spec = dict(index.encoder_spec)
        self.operations = ("similar", "search", "encode", "projector")

    def _encoder(self):
        return self.index.encoder

    def _metadata(self, key) -> dict:
        document = self.index.document(key)
        return {"title": document["title"], "text": document["text"][:_SNIPPET]}

    def _nearest(self, query, k, metric, filter):
        if filter:
            raise InvalidInputError("a text index has no metadata to filter by")
        return _hits(self.emb.most_similar(query, k=k, metric=metric), self._metadata)


class RecommenderResource(EmbeddingsResource):
    """A recommender model: top-N items for a user; `similar` compares items (cosine)."""

    kind = "recommender"
    similar_metric = "cosine"

    def __init__(self, name: str, model, path: Path | None = None):
        super().__init__(name, model.items, path)
        self.model = model
        self.operations = ("recommend", "similar", "projector")

    def info(self) -> dict:
        return {**super().info(), "model": type(self.model).__name__, "users": self.model.n_users,
                "items": self.model.n_items}

    def analogy(self, positive, negative, k: int = 10, method: str = "3cosadd"):
        self._unsupported("analogy")

    def recommend(self, user, n: int = 10, filter_seen: bool = True):
        user = stored_key(user, self.model.user_index)
        return _hits(self.model.recommend(user, n=n, filter_seen=filter_seen))


# ---------------------------------------------------------------------------------------- uploads
class Upload:
    """An uploaded file held in memory: its name, its bytes, as text or as a temporary file."""

    def __init__(self, filename: str | None, data: bytes):
        self.filename = filename or "upload"
        self.data = data

    def text(self) -> str:
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"the uploaded file {self.filename!r} is not UTF-8 text") from None
        if not text.strip():
            raise InvalidInputError(f"the uploaded file {self.filename!r} is empty")
        return text

    @contextmanager
    def on_disk(self):
        """A temporary file with the upload's bytes and suffix (encoders read files by path)."""
        suffix = "".join(Path(self.filename).suffixes[-2:])[:16]
        with tempfile.TemporaryDirectory(prefix="embedworks-upload-") as folder:
            path = Path(folder) / f"upload{suffix if re.fullmatch(r'[.A-Za-z0-9]*', suffix) else ''}"
            path.write_bytes(self.data)
            yield path


# ---------------------------------------------------------------------------------------- loading
def split_spec(spec: str) -> tuple[str, Path]:
    """(name, path) of "name=path" or of a bare path (named after the file, suffixes dropped)."""
    name, sep, rest = spec.partition("=")
    if sep and _NAME.fullmatch(name) and not Path(spec).exists():
        return name, Path(rest)
    path = Path(spec)
    name = path.name.split(".")[0] or path.name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "resource", path


def _json_format(path: Path) -> str | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta.get("format") if isinstance(meta, dict) else None


def detect_kind(path: Path) -> str:
    """"recommender", "text-index", "collection" or "embeddings", from what `path` holds."""
    if path.is_dir():
        if str(_json_format(path / "params.json")).startswith("embedworks.recommend"):
            return "recommender"
        if _json_format(path / "index.json") == "embedworks-text-index":
            return "text-index"
        if _json_format(path / "collection.json") == "embedworks-collection":
            return "collection"
    return "embeddings"


def load_resource(spec: str, *, readonly: bool = False) -> Resource:
    """Open what "name=path" or "path" names (see the module docstring)."""
    name, path = split_spec(spec)
    if not path.exists():
        raise FormatError("no such file or directory", path)
    kind = detect_kind(path)
    logger.info("loading %s %r from %s", kind, name, path)
    if kind == "recommender":
        from ..learn.recommend import Recommender

        return RecommenderResource(name, Recommender.load(path), path)
    if kind == "text-index":
        from ..search import TextIndex

        return TextIndexResource(name, TextIndex.load(path), path)
    if kind == "collection":
        from .collection import CollectionResource, open_collection

        return CollectionResource(name, open_collection(path, readonly=readonly), path)
    from ..formats import load

    return EmbeddingsResource(name, load(path), path)


def load_resources(specs, *, readonly: bool = False) -> dict[str, Resource]:
    """Name → resource for every spec; two resources with one name are an error."""
    resources: dict[str, Resource] = {}
    for spec in specs:
        resource = spec if isinstance(spec, Resource) else load_resource(str(spec), readonly=readonly)
        if resource.name in resources:
            raise InvalidInputError(f"two resources are named {resource.name!r}; name them with name=path")
        resources[resource.name] = resource
    return resources
