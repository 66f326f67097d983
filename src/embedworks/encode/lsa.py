"""LSA: TF-IDF + truncated SVD text vectors, a fast encoder that needs no pretrained weights.

``LSA(dim=256).fit(texts)`` learns a vocabulary and inverse document frequencies (the work of
scikit-learn's ``TfidfVectorizer``: ``CountVectorizer`` followed by ``TfidfTransformer``'s
weighting), then the top `dim` right singular vectors of the TF-IDF matrix (``TruncatedSVD``,
randomized, seeded). ``transform`` projects TF-IDF rows onto them and scales every row to unit
length, so cosine similarity is a dot product. Texts with no known term map to the zero vector.

The weighting is done here, in one function used by both `fit_transform` and `transform`, with
exactly ``TfidfVectorizer``'s formulas (``smooth_idf=True``, ``norm="l2"``)::

    idf(t)  = ln((1 + n_documents) / (1 + document_frequency(t))) + 1
    tf(t,d) = 1 + ln(count(t,d))   with sublinear_tf (else the raw count)
    row     = tf · idf, scaled to unit L2 norm

so a model loaded from disk gives bit-identical output to the one that was saved.

`dim` larger than the corpus allows — more than the number of documents or of vocabulary
terms — is clipped to ``min(n_documents, n_terms)`` with a logged warning, and the `dim`
attribute then holds the dimension actually produced.

Saved models (a directory, see `LSA.save`) hold no pickle: ``meta.json`` (format version,
settings), ``vocabulary.json`` (the terms in column order), ``idf.npy`` and ``components.npy``.

scikit-learn (the ``text`` extra) is imported lazily.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import FormatError, InvalidInputError, MissingExtraError
from ..files import atomic_directory, read_marker

logger = logging.getLogger(__name__)

__all__ = ["LSA"]

FORMAT = "embedworks-lsa"
VERSION = 1
_MARKER = "meta.json"
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of two or more characters


def _sklearn():
    """(sklearn.feature_extraction.text, TruncatedSVD), or MissingExtraError naming the extra."""
    try:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction import text
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError("scikit-learn", "text") from None
    return text, TruncatedSVD


def _checked_texts(texts, what: str = "texts") -> list[str]:
    """`texts` as a list of str; one string (not a list of them) and non-str items are refused."""
    if isinstance(texts, (str, bytes)):
        raise InvalidInputError(f"{what} must be a list of strings, not a single {type(texts).__name__}")
    try:
        texts = list(texts)
    except TypeError:
        raise InvalidInputError(f"{what} must be an iterable of strings, got {type(texts).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(f"{what}[{i}] is {type(text).__name__} {text!r:.60}, not a str")
    return texts


class LSA:
    """Latent semantic analysis: TF-IDF (scikit-learn) + randomized truncated SVD, unit-length rows.

    Hyperparameters: `dim` output dimension; `min_df` / `max_df` drop terms in fewer / more
    documents (an int counts documents, a float is a fraction, as scikit-learn); `sublinear_tf`
    uses 1 + ln(count); `max_features` keeps only the most frequent terms; `ngram_range`,
    `lowercase`, `token_pattern`, `stop_words` ("english", a list, or None) and `strip_accents`
    are ``CountVectorizer``'s; `n_iter` power iterations of the randomized SVD; `seed`;
    `workers` BLAS threads for the SVD and projections (None: BLAS's own default; 1 avoids
    oversubscription on a busy machine, where OpenBLAS threads can make the SVD many times slower).

    >>> lsa = LSA(dim=2, min_df=1).fit(["cats purr", "dogs bark", "cats and dogs"])
    >>> lsa.transform(["cats"]).shape
    (1, 2)
    """

    def __init__(self, dim: int = 256, min_df: int | float = 2, max_df: int | float = 0.95,
                 sublinear_tf: bool = True, seed: int = 0, *, max_features: int | None = None,
                 ngram_range: tuple[int, int] = (1, 1), lowercase: bool = True,
                 token_pattern: str = _TOKEN_PATTERN, stop_words: str | list[str] | None = None,
                 strip_accents: str | None = None, n_iter: int = 5, workers: int | None = None):
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise InvalidInputError(f"dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self._requested_dim = dim
        self.min_df = min_df
        self.max_df = max_df
        self.sublinear_tf = bool(sublinear_tf)
        self.seed = seed
        self.max_features = max_features
        self.ngram_range = tuple(ngram_range)
        self.lowercase = bool(lowercase)
        self.token_pattern = token_pattern
        self.stop_words = list(stop_words) if isinstance(stop_words, (list, tuple, set)) else stop_words
        self.strip_accents = strip_accents
        self.n_iter = n_iter
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise InvalidInputError(f"workers must be a positive integer or None, got {workers!r}")
        self.workers = workers
        self.vocabulary: list[str] | None = None
        self.idf: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.n_documents = 0
        self._vectorizer = None
        self._path: Path | None = None  # where this fitted model was saved or loaded from

    def __repr__(self) -> str:
        state = f"{len(self.vocabulary):,} terms" if self.fitted else "not fitted"
        return f"LSA(dim={self.dim}, {state})"

    @property
    def fitted(self) -> bool:
        return self.components is not None

    # ------------------------------------------------------------------ vectorizer
    def _settings(self) -> dict:
        return {"lowercase": self.lowercase, "token_pattern": self.token_pattern,
                "ngram_range": list(self.ngram_range), "stop_words": self.stop_words,
                "strip_accents": self.strip_accents}

    def _count_vectorizer(self, vocabulary=None):
        text, _ = _sklearn()
        settings = self._settings()
        settings["ngram_range"] = tuple(settings["ngram_range"])
        if vocabulary is not None:
            return text.CountVectorizer(vocabulary={t: i for i, t in enumerate(vocabulary)}, **settings)
        return text.CountVectorizer(min_df=self.min_df, max_df=self.max_df, max_features=self.max_features,
                                    **settings)

    def _tfidf(self, counts):
        """TfidfVectorizer's weighting of a sparse count matrix (float64, CSR)."""
        X = counts.tocsr().astype(np.float64)
        X.sum_duplicates()
        if self.sublinear_tf:
            np.log(X.data, out=X.data)
            X.data += 1.0
        X.data *= self.idf[X.indices]
        squares = X.copy()
        squares.data **= 2
        norms = np.sqrt(np.asarray(squares.sum(axis=1)).ravel())
        X.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(X.indptr))
        return X

    def _project(self, tfidf) -> np.ndarray:
        vectors = np.asarray(tfidf.astype(np.float32) @ self.components.T, dtype=np.float32)
        norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        vectors /= np.where(norms > 0, norms, 1)[:, None]
        return vectors

    # ------------------------------------------------------------------ estimator API
    def _blas_threads(self):
        """A context limiting BLAS to `workers` threads (a no-op when None or without threadpoolctl)."""
        import contextlib

        if self.workers is None:
            return contextlib.nullcontext()
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            return contextlib.nullcontext()
        return threadpool_limits(limits=self.workers)

    def fit(self, texts: Iterable[str]) -> "LSA":
        """Learn the vocabulary, idf and SVD components from `texts` (returns self)."""
        with self._blas_threads():
            self._fit(texts)
        return self

    def fit_transform(self, texts: Iterable[str]) -> np.ndarray:
        """`fit(texts)` then the (n, dim) float32 vectors of `texts`, computed once."""
        with self._blas_threads():
            return self._project(self._fit(texts))

    def _fit(self, texts):
        _, TruncatedSVD = _sklearn()
        texts = _checked_texts(texts)
        if not texts:
            raise InvalidInputError("cannot fit LSA on an empty corpus")
        vectorizer = self._count_vectorizer()
        try:
            counts = vectorizer.fit_transform(texts)
        except ValueError as error:  # "empty vocabulary", "max_df corresponds to < documents than min_df"
            raise InvalidInputError(f"LSA found no usable terms in {len(texts)} texts: {error} "
                                    f"(min_df={self.min_df!r}, max_df={self.max_df!r})") from None
        n_docs, n_terms = counts.shape
        if n_terms < 2:
            raise InvalidInputError(f"LSA needs at least 2 vocabulary terms, found {n_terms} in {n_docs} texts "
                                    f"(min_df={self.min_df!r}, max_df={self.max_df!r})")
        dim = min(self._requested_dim, n_docs, n_terms)
        if dim < self._requested_dim:
            logger.warning("LSA dim %d clipped to %d: the corpus has %d documents and %d terms",
                           self._requested_dim, dim, n_docs, n_terms)
        vocabulary = [None] * n_terms
        for term, column in vectorizer.vocabulary_.items():
            vocabulary[column] = term
        counts = counts.tocsr()
        counts.sum_duplicates()
        df = np.bincount(counts.indices, minlength=n_terms).astype(np.float64)
        self.idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        tfidf = self._tfidf(counts)
        svd = TruncatedSVD(n_components=dim, algorithm="randomized", n_iter=self.n_iter, random_state=self.seed)
        svd.fit(tfidf)
        self.components = np.ascontiguousarray(svd.components_, dtype=np.float32)
        self.vocabulary = vocabulary
        self.dim = dim
        self.n_documents = n_docs
        self._vectorizer = self._count_vectorizer(vocabulary)
        self._path = None
        logger.info("LSA fitted: %d documents, %d terms, dim %d", n_docs, n_terms, dim)
        return tfidf

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """The (n, dim) float32 unit vectors of `texts` (zero rows for texts with no known term)."""
        if not self.fitted:
            raise InvalidInputError("the LSA model is not fitted yet; call fit(texts) first")
        texts = _checked_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._blas_threads():
            return self._project(self._tfidf(self._vectorizer.transform(texts)))

    def encode(self, texts: Iterable[str], batch_size: int = 4096, keys: Iterable | None = None,
               progress=None):
        """Vectors of `texts` as TextEncoder.encode gives them: an (n, dim) float32 array of
        unit rows, or, with `keys` (one per text), an `Embeddings` with metric cosine.

        A single str counts as a list of one. Unlike TextEncoder, an empty text is not an error:
        it gets the zero vector, as does a text with no known term. Texts are transformed
        `batch_size` at a time to bound memory; `progress` is accepted for compatibility with
        TextEncoder and ignored (LSA is fast).
        """
        texts = _checked_texts([texts] if isinstance(texts, str) else texts)
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be at least 1, got {batch_size}")
        if keys is not None:
            keys = list(keys)
            if len(keys) != len(texts):
                raise InvalidInputError(f"{len(keys)} keys for {len(texts)} texts")
        if not self.fitted:
            raise InvalidInputError("the LSA model is not fitted yet; call fit(texts) first")
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            vectors[start:start + batch_size] = self.transform(texts[start:start + batch_size])
        if keys is None:
            return vectors
        from ..space import Embeddings

        return Embeddings(keys, vectors, metric="cosine", encoder=self.encoder_spec)

    @property
    def encoder_spec(self) -> dict | None:
        """``{"kind": "lsa", "path": ...}`` once saved or loaded (see `encode.registry`), else None."""
        return {"kind": "lsa", "path": str(self._path)} if self._path is not None else None

    @classmethod
    def from_encoder_spec(cls, spec: dict) -> "LSA":
        return cls.load(spec["path"])

    def encode_array(self, texts: Iterable[str], batch_size: int = 4096, progress=None) -> np.ndarray:
        """The (n, dim) float32 vectors of `texts`, as every encoder offers (see `encode`)."""
        return self.encode(texts, batch_size=batch_size)

    # ------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the model to the directory `path` (replacing an LSA model or an empty folder)."""
        if not self.fitted:
            raise InvalidInputError("the LSA model is not fitted yet; call fit(texts) first")
        path = Path(path)
        meta = {"format": FORMAT, "version": VERSION, "dim": self.dim, "n_terms": len(self.vocabulary),
                "n_documents": self.n_documents, "min_df": self.min_df, "max_df": self.max_df,
                "max_features": self.max_features, "sublinear_tf": self.sublinear_tf, "seed": self.seed,
                "n_iter": self.n_iter, "smooth_idf": True, "norm": "l2", **self._settings()}
        with atomic_directory(path, marker=_MARKER) as temp:
            (temp / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False),
                                                  encoding="utf-8")
            with open(temp / "idf.npy", "wb") as f:
                np.save(f, self.idf, allow_pickle=False)
            with open(temp / "components.npy", "wb") as f:
                np.save(f, self.components, allow_pickle=False)
            (temp / _MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        self._path = path.resolve()
        return path

    @classmethod
    def load(cls, path) -> "LSA":
        """Read a model written by `save`; transform then gives identical output."""
        path = Path(path)
        meta = read_meta(path)
        try:
            vocabulary = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))
            idf = np.load(path / "idf.npy", allow_pickle=False)
            components = np.load(path / "components.npy", allow_pickle=False)
        except FileNotFoundError as error:
            raise FormatError(f"LSA model is missing {Path(error.filename).name}", path=path) from None
        except ValueError as error:
            raise FormatError(f"LSA model file is unreadable ({error})", path=path) from None
        n_terms, dim = meta["n_terms"], meta["dim"]
        if not isinstance(vocabulary, list) or len(vocabulary) != n_terms or \
                not all(isinstance(t, str) for t in vocabulary) or len(set(vocabulary)) != n_terms:
            raise FormatError(f"expected a JSON list of {n_terms} distinct terms", path=path / "vocabulary.json")
        if idf.shape != (n_terms,):
            raise FormatError(f"idf has shape {idf.shape}, expected ({n_terms},)", path=path / "idf.npy")
        if components.shape != (dim, n_terms) or components.dtype != np.float32:
            raise FormatError(f"holds {components.shape} {components.dtype}, expected ({dim}, {n_terms}) float32",
                              path=path / "components.npy")
        model = cls(dim=dim, min_df=meta["min_df"], max_df=meta["max_df"], sublinear_tf=meta["sublinear_tf"],
                    seed=meta["seed"], max_features=meta["max_features"], ngram_range=tuple(meta["ngram_range"]),
                    lowercase=meta["lowercase"], token_pattern=meta["token_pattern"],
                    stop_words=meta["stop_words"], strip_accents=meta["strip_accents"], n_iter=meta["n_iter"])
        model.vocabulary, model.idf, model.components = vocabulary, idf, components
        model.n_documents = meta["n_documents"]
        model._vectorizer = model._count_vectorizer(vocabulary)
        model._path = path.resolve()
        return model


def is_lsa_dir(path) -> bool:
    """True when `path` is a directory written by `LSA.save`."""
    meta = Path(path) / _MARKER
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("format") == FORMAT
    except (ValueError, UnicodeDecodeError, AttributeError):
        return False


def read_meta(path: Path) -> dict:
    return read_marker(path, _MARKER, FORMAT, VERSION, "an LSA model", fields=(
        "dim", "n_terms", "n_documents", "min_df", "max_df", "max_features", "sublinear_tf", "seed", "n_iter",
        "lowercase", "token_pattern", "ngram_range", "stop_words", "strip_accents"))
