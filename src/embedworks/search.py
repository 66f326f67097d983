"""Semantic search over texts: encode a corpus once, save it, answer queries by cosine similarity.

>>> index = TextIndex.build("corpus.jsonl", encoder="minilm")      # doctest: +SKIP
>>> index.search("does vitamin D prevent fractures?", k=5)         # doctest: +SKIP
[('4983', 0.61...), ...]
>>> index.save("scifact.idx"); TextIndex.load("scifact.idx")       # doctest: +SKIP

The corpus is one of:

* a BEIR-style JSON-lines file (``.jsonl`` or ``.jsonl.gz``): one object per line with ``_id``,
  ``title`` and ``text``; the encoded text is ``title + " " + text`` (stripped), as BEIR's dense
  retrievers build it, and ids are strings;
* any other file (plain or ``.gz``): one document per line, its id the 1-based line number (an int);
* an iterable of ``(id, text)`` or ``(id, title, text)`` tuples, or a mapping ``{id: text}`` or
  ``{id: {"title": …, "text": …}}`` (the corpus `embedworks.evaluate.read_beir` returns).

Documents whose text (title included) is empty or only white space are skipped, and their count is
logged and kept as `skipped`; ids must be unique (a duplicate raises `InvalidInputError` naming it)
and all str or all int.

The encoder is ``"minilm"`` or a model path for `embedworks.encode.text.TextEncoder`, ``"lsa"``
(an `LSA` fitted on the corpus itself), the path of a saved LSA model, or any object with
``encode(texts)`` returning one row per text (an unfitted `LSA` is fitted on the corpus).

A saved index is a directory::

    index.json        {"format": "embedworks-text-index", "version": 1, "count", "dim", "skipped",
                       "encoder": {"kind": "text", "model": "minilm" | path} | {"kind": "lsa"} |
                                  {"kind": "custom", "class": …}}
    vectors.emb/      the document vectors as native embeddings (memory-mapped on load)
    documents.jsonl   one {"id", "title", "text"} per line, in vector order
    encoder/          the LSA model, for "lsa" indexes

so searching a loaded index encodes only the queries. A "custom" encoder cannot be saved: pass
it again with ``TextIndex.load(path, encoder=…)``.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .errors import DimensionError, FormatError, InvalidInputError
from .files import atomic_directory, read_marker
from .space import Embeddings, normalize_key

logger = logging.getLogger(__name__)

__all__ = ["TextIndex", "read_corpus"]

FORMAT = "embedworks-text-index"
VERSION = 1
_MARKER = "index.json"
_TEXT_ENCODER_NAMES = ("minilm",)


# ------------------------------------------------------------------------------------------ corpora
def _open_lines(path: Path):
    """(1-based line number, decoded line without its end) of a UTF-8 file, plain or .gz."""
    import gzip

    with (gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")) as f:
        for number, raw in enumerate(f, 1):
            try:
                yield number, raw.decode("utf-8").rstrip("\n").rstrip("\r")
            except UnicodeDecodeError as error:
                raise FormatError(f"not valid UTF-8 ({error})", path=path, line=number) from None


def _is_jsonl(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".jsonl") or name.endswith(".jsonl.gz")


def _jsonl_documents(path: Path):
    for number, line in _open_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise FormatError(f"not valid JSON ({error})", path=path, line=number) from None
        if not isinstance(record, dict) or "_id" not in record:
            raise FormatError('expected a JSON object with an "_id"', path=path, line=number)
        title, text = record.get("title") or "", record.get("text") or ""
        if not isinstance(title, str) or not isinstance(text, str):
            raise FormatError('"title" and "text" must be strings', path=path, line=number)
        yield f"{path}, line {number}", str(record["_id"]), title, text


def _line_documents(path: Path):
    for number, line in _open_lines(path):
        yield f"{path}, line {number}", number, "", line


def _item_documents(corpus):
    items = corpus.items() if isinstance(corpus, Mapping) else corpus
    try:
        iterator = iter(items)
    except TypeError:
        raise InvalidInputError(f"a corpus must be a file path, a mapping or an iterable of (id, text), "
                                f"got {type(corpus).__name__}") from None
    for number, item in enumerate(iterator):
        where = f"corpus item {number}"
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise InvalidInputError(f"{where}: expected (id, text) or (id, title, text), got {item!r:.80}")
        if len(item) == 3:
            doc_id, title, text = item
        elif isinstance(item[1], Mapping):
            doc_id, title, text = item[0], item[1].get("title") or "", item[1].get("text") or ""
        else:
            (doc_id, text), title = item, ""
        if not isinstance(title, str) or not isinstance(text, str):
            raise InvalidInputError(f"{where} (id {doc_id!r}): title and text must be strings")
        yield where, doc_id, title, text


def read_corpus(corpus) -> tuple[list, list[str], list[str], int]:
    """(ids, titles, texts, skipped) of a corpus in any form `TextIndex.build` takes.

    Empty documents are left out and counted in `skipped`; duplicate ids raise.
    """
    if isinstance(corpus, (str, Path)):
        path = Path(corpus)
        if not path.is_file():
            raise FileNotFoundError(f"corpus file not found: {path}")
        documents = _jsonl_documents(path) if _is_jsonl(path) else _line_documents(path)
    else:
        documents = _item_documents(corpus)
    ids, titles, texts, seen, skipped = [], [], [], {}, 0
    for where, doc_id, title, text in documents:
        try:
            doc_id = normalize_key(doc_id)
        except InvalidInputError as error:
            raise InvalidInputError(f"{where}: document {error}") from None
        if doc_id in seen:
            raise InvalidInputError(f"{where}: duplicate document id {doc_id!r} (first at {seen[doc_id]})")
        seen[doc_id] = where
        if not (title.strip() or text.strip()):
            skipped += 1
            continue
        ids.append(doc_id)
        titles.append(title)
        texts.append(text)
    if ids and len({type(i) for i in ids}) > 1:
        raise InvalidInputError("document ids must be all strings or all integers, not a mix")
    if skipped:
        logger.warning("skipped %d empty document(s)", skipped)
    if not ids:
        raise InvalidInputError("the corpus holds no non-empty document")
    return ids, titles, texts, skipped


def joined(title: str, text: str) -> str:
    """The text a document is encoded as: ``title + " " + text``, stripped (BEIR's convention)."""
    return f"{title} {text}".strip() if title else text.strip()


# ------------------------------------------------------------------------------------------ encoders
def _text_encoder(model: str):
    from .encode.text import TextEncoder

    return TextEncoder.from_pretrained(model)


def _is_text_encoder(encoder) -> bool:
    """True for an `embedworks.encode.text.TextEncoder` (checked without importing torch)."""
    return any(cls.__module__ == "embedworks.encode.text" and cls.__name__ == "TextEncoder"
               for cls in type(encoder).__mro__)


def _spec_of_text_encoder(encoder) -> dict | None:
    """{"kind": "text", "model": …} for a TextEncoder whose source is known, else None."""
    for attribute in ("model", "source", "name_or_path", "model_name", "path", "name"):
        value = getattr(encoder, attribute, None)
        if isinstance(value, (str, Path)) and value:
            return {"kind": "text", "model": str(value)}
    return None


def _resolved_encoder(encoder, texts: list[str], dim: int, seed: int, workers: int | None = None):
    """(encoder object, spec) for what `TextIndex.build` was given; fits LSA on `texts` when needed."""
    from .encode.lsa import LSA, is_lsa_dir

    if isinstance(encoder, str) and encoder.lower() == "lsa":
        return LSA(dim=dim, seed=seed, workers=workers).fit(texts), {"kind": "lsa"}
    if isinstance(encoder, str) and encoder.lower() in _TEXT_ENCODER_NAMES:
        return _text_encoder(encoder.lower()), {"kind": "text", "model": encoder.lower()}
    if isinstance(encoder, (str, Path)):
        path = Path(encoder)
        if is_lsa_dir(path):
            return LSA.load(path), {"kind": "lsa"}
        if not path.exists():
            raise FileNotFoundError(f"no model at {path} (choose 'minilm', 'lsa' or a model path)")
        return _text_encoder(str(path.resolve())), {"kind": "text", "model": str(path.resolve())}
    if isinstance(encoder, LSA):
        return (encoder if encoder.fitted else encoder.fit(texts)), {"kind": "lsa"}
    if not callable(getattr(encoder, "encode", None)):
        raise InvalidInputError(f"encoder must be 'minilm', 'lsa', a model path or an object with "
                                f"encode(texts), got {type(encoder).__name__}")
    if _is_text_encoder(encoder):
        spec = _spec_of_text_encoder(encoder)
        if spec is not None:
            return encoder, spec
    return encoder, {"kind": "custom", "class": type(encoder).__name__}


def _encode(encoder, texts: list[str], batch_size: int | None = None, progress=None) -> np.ndarray:
    """`encoder.encode(texts, …)` passing batch_size and progress only when it takes them.

    LSA keeps its own (large) batch size: `batch_size` is meant for neural encoders.
    """
    from .encode.lsa import LSA

    if isinstance(encoder, LSA):
        batch_size = None
    options = {}
    try:
        parameters = inspect.signature(encoder.encode).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        parameters = {}
    if batch_size is not None and "batch_size" in parameters:
        options["batch_size"] = batch_size
    if progress is not None and "progress" in parameters:
        options["progress"] = progress
    vectors = np.asarray(encoder.encode(texts, **options), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise DimensionError(f"the encoder returned shape {vectors.shape} for {len(texts)} texts")
    if not np.isfinite(vectors).all():
        raise InvalidInputError("the encoder returned NaN or infinite values")
    return vectors


# ------------------------------------------------------------------------------------------ the index
class TextIndex:
    """Document vectors (cosine) with their ids, titles and texts, and the encoder for queries.

    Build with `TextIndex.build`, query with `search`, persist with `save` / `TextIndex.load`.
    `embeddings` holds one unit-length row per document, keyed by document id.
    """

    def __init__(self, embeddings: Embeddings, titles: list[str], texts: list[str], encoder=None,
                 encoder_spec: dict | None = None, skipped: int = 0, *, encoder_path: Path | None = None):
        if len(titles) != len(embeddings) or len(texts) != len(embeddings):
            raise DimensionError(f"{len(embeddings)} vectors for {len(titles)} titles and {len(texts)} texts")
        self.embeddings = embeddings
        self._ids = embeddings.keys
        self.titles = titles
        self.texts = texts
        self.encoder_spec = encoder_spec or {"kind": "custom", "class": type(encoder).__name__}
        self.skipped = skipped
        self._encoder = encoder
        self._encoder_path = encoder_path

    def __len__(self) -> int:
        return len(self.embeddings)

    def __repr__(self) -> str:
        return (f"TextIndex({len(self):,} documents × {self.dim} dims, "
                f"encoder={self.encoder_spec.get('model', self.encoder_spec['kind'])!r})")

    @property
    def dim(self) -> int:
        return self.embeddings.dim

    @property
    def ids(self) -> list:
        """Document ids in row order (a copy)."""
        return list(self._ids)

    @property
    def encoder(self):
        """The query encoder, loaded on first use for a loaded index."""
        if self._encoder is None:
            kind = self.encoder_spec.get("kind")
            if kind == "lsa":
                from .encode.lsa import LSA

                self._encoder = LSA.load(self._encoder_path)
            elif kind == "text":
                self._encoder = _text_encoder(self.encoder_spec["model"])
            else:
                raise InvalidInputError(f"this index was built with a custom encoder "
                                        f"({self.encoder_spec.get('class', '?')}) that cannot be saved; "
                                        "load it with TextIndex.load(path, encoder=...)")
        return self._encoder

    @classmethod
    def build(cls, corpus, encoder="minilm", *, batch_size: int = 64, dim: int = 256, seed: int = 0,
              workers: int | None = None, progress=None) -> "TextIndex":
        """Encode every document of `corpus` (see the module docstring for corpora and encoders).

        `batch_size` and `progress` go to the encoder's ``encode`` when it takes them; `dim`,
        `seed` and `workers` (BLAS threads) configure the LSA fitted for ``encoder="lsa"``.
        """
        ids, titles, texts, skipped = read_corpus(corpus)
        documents = [joined(title, text) for title, text in zip(titles, texts)]
        encoder, spec = _resolved_encoder(encoder, documents, dim, seed, workers)
        vectors = _encode(encoder, documents, batch_size, progress)
        norms = np.linalg.norm(vectors, axis=1)
        vectors /= np.where(norms > 0, norms, 1)[:, None]
        logger.info("indexed %d documents × %d dims (%s encoder)", len(ids), vectors.shape[1], spec["kind"])
        return cls(Embeddings(ids, vectors, metric="cosine"), titles, texts, encoder, spec, skipped)

    def search(self, queries, k: int = 10, *, batch_size: int | None = None):
        """The k best documents by cosine similarity as ``[(id, score), …]``, best first.

        One query string gives one list; a list of strings gives one list per query. A query
        whose vector is zero (an LSA query with no known word) gets an empty list.
        """
        single = isinstance(queries, str)
        batch = [queries] if single else list(queries)
        for i, query in enumerate(batch):
            if not isinstance(query, str):
                raise InvalidInputError(f"queries must be strings; query {i} is {type(query).__name__}")
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be a positive integer, got {k!r}")
        if not batch:
            return []
        vectors = _encode(self.encoder, batch, batch_size)
        if vectors.shape[1] != self.dim:
            raise DimensionError(f"the encoder gives {vectors.shape[1]}-dim vectors but the index holds "
                                 f"{self.dim}-dim documents")
        found = self.embeddings.most_similar(vectors, k=min(k, len(self)))
        results = [hits if vector.any() else [] for hits, vector in zip(found, vectors)]
        return results[0] if single else results

    def document(self, doc_id) -> dict:
        """``{"id", "title", "text"}`` of one document."""
        row = self.embeddings.index_of(doc_id)
        return {"id": self._ids[row], "title": self.titles[row], "text": self.texts[row]}

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the index to the directory `path` (replacing an index or an empty folder)."""
        path = Path(path)
        spec = dict(self.encoder_spec)
        if spec["kind"] == "custom":
            logger.warning("the index's encoder (%s) cannot be saved; pass it again to TextIndex.load",
                           spec.get("class"))
        meta = {"format": FORMAT, "version": VERSION, "count": len(self), "dim": self.dim,
                "skipped": self.skipped, "encoder": spec}
        with atomic_directory(path, marker=_MARKER) as temp:
            self.embeddings.save(temp / "vectors.emb", format="native")
            with open(temp / "documents.jsonl", "wb") as f:
                for doc_id, title, text in zip(self._ids, self.titles, self.texts):
                    f.write(json.dumps({"id": doc_id, "title": title, "text": text},
                                       ensure_ascii=False).encode("utf-8") + b"\n")
            if spec["kind"] == "lsa":
                self.encoder.save(temp / "encoder")
            (temp / _MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path, encoder=None) -> "TextIndex":
        """Read an index written by `save`; `encoder` replaces the saved one (needed for "custom")."""
        from .formats import load as load_embeddings

        path = Path(path)
        meta = _read_meta(path)
        embeddings = load_embeddings(path / "vectors.emb", format="native")
        titles, texts = [], []
        documents = path / "documents.jsonl"
        if not documents.is_file():
            raise FormatError("text index is missing documents.jsonl", path=path)
        keys = embeddings.keys
        for number, line in _open_lines(documents):
            try:
                record = json.loads(line)
                doc_id, title, text = record["id"], record["title"], record["text"]
            except (ValueError, KeyError, TypeError):
                raise FormatError('expected a JSON object with "id", "title" and "text"',
                                  path=documents, line=number) from None
            if number > len(keys) or doc_id != keys[number - 1]:
                raise FormatError(f"document id {doc_id!r} does not match the vectors' key at row {number}",
                                  path=documents, line=number)
            titles.append(title)
            texts.append(text)
        if len(titles) != len(keys) or len(keys) != meta["count"]:
            raise FormatError(f"{len(titles)} documents for {len(keys)} vectors (index.json says "
                              f"{meta['count']})", path=path)
        spec = meta["encoder"]
        return cls(embeddings, titles, texts, encoder, spec if encoder is None else
                   _resolved_spec_of(encoder, spec), meta.get("skipped", 0), encoder_path=path / "encoder")


def _resolved_spec_of(encoder, saved: dict) -> dict:
    from .encode.lsa import LSA

    if isinstance(encoder, LSA):
        return {"kind": "lsa"}
    if _is_text_encoder(encoder):
        return _spec_of_text_encoder(encoder) or saved
    return {"kind": "custom", "class": type(encoder).__name__}


def _read_meta(path: Path) -> dict:
    meta = read_marker(path, _MARKER, FORMAT, VERSION, "a text index", fields=("count", "encoder"))
    encoder = meta["encoder"]
    if not isinstance(encoder, dict) or encoder.get("kind") not in ("lsa", "text", "custom"):
        raise FormatError(f"malformed encoder {encoder!r}", path=path / _MARKER)
    if encoder["kind"] == "text" and not isinstance(encoder.get("model"), str):
        raise FormatError('encoder "model" must be a string', path=path / _MARKER)
    return meta
