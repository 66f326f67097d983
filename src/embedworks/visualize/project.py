"""Projections of embeddings to 2 or 3 dimensions: PCA, t-SNE (openTSNE) and UMAP (umap-learn).

    >>> from embedworks.visualize import project
    >>> xy = project(emb, method="tsne", dims=2, seed=0, top_n=5000)   # (5000, 2) float32

Each method is also an estimator with the library's usual shape: `TSNE(dims=2, perplexity=30,
seed=0).fit(emb)` keeps `coords` ((n, dims) float32) and the fitted model, and `transform`
places new vectors into the existing map (PCA, t-SNE and UMAP all can).

What every method does first:

* **Selection** (`select`): `keys` (in the order given), then a metadata filter `where`, then
  `top_n`, the first n remaining rows. Trained vocabularies (Word2Vec, FastText, GloVe, and the
  files they write) are sorted by descending frequency, so for them the first n rows *are* the
  n most frequent words; for other sets "top" means "first".
* **Checks**: at least two points, finite vectors (a NaN or infinite vector is named by key),
  `dims` 2 or 3.
* **Metric**: for cosine embeddings (the default) rows are scaled to unit length first, so that
  Euclidean neighbourhoods, which PCA, t-SNE and UMAP work with, are cosine neighbourhoods.
  Dot and euclidean embeddings are used as they are.
* **PCA to 50 dimensions** (`pca_dims`) before t-SNE and UMAP when the vectors have more: it
  removes noise and makes the nearest-neighbour search that both start with much cheaper.

Large inputs (100,000+ points): PCA switches to the randomized solver above 1,000 dimensions;
t-SNE uses openTSNE's FFT-accelerated interpolation (linear in n) for 2-D maps of 10,000 points
or more, and approximate neighbours (Annoy) from 1,000 points. openTSNE's FFT gradient exists
only for 1-2 output dimensions, so a 3-D t-SNE always uses Barnes-Hut (n log n, several times
slower on large inputs); `gradient="fft"` with `dims=3` is refused with a message saying so.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping
from numbers import Integral

import numpy as np

from ..errors import DimensionError, InvalidInputError, MissingExtraError, UnknownKeyError
from ..space import Embeddings

logger = logging.getLogger(__name__)

METHODS = ("pca", "tsne", "umap")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
#: PCA's "auto" solver: exact (covariance eigendecomposition) up to this many input dimensions.
EXACT_PCA_MAX_DIM = 1000
#: t-SNE's "auto" gradient: FFT interpolation for 1-2 dims from this many points, else Barnes-Hut.
FFT_MIN_POINTS = 10_000


# ------------------------------------------------------------------------------ checks and selection
def check_dims(dims) -> int:
    """`dims` as an int, which must be 2 or 3."""
    if isinstance(dims, bool) or not isinstance(dims, Integral) or int(dims) not in (2, 3):
        raise DimensionError(f"dims must be 2 or 3, got {dims!r}")
    return int(dims)


def check_method(method: str) -> str:
    name = str(method).lower().replace("-", "").replace("_", "")
    if name not in METHODS:
        raise InvalidInputError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    return name


def as_embeddings(data) -> Embeddings:
    """An `Embeddings` as it is; a 2-D array becomes one keyed by row number."""
    if isinstance(data, Embeddings):
        return data
    matrix = np.asarray(data, dtype=np.float32)
    if matrix.ndim != 2:
        raise DimensionError(f"expected Embeddings or a 2-D array of vectors, got shape {matrix.shape}")
    return Embeddings(range(len(matrix)), matrix, metric="euclidean")


def _check_column(emb: Embeddings, column: str) -> list:
    if column not in emb.metadata:
        known = ", ".join(map(repr, emb.metadata)) or "none"
        raise InvalidInputError(f"no metadata column {column!r} (columns: {known})")
    return emb.metadata[column]


def _matcher(column: str, wanted) -> Callable[[object], bool]:
    """A predicate for one `where` entry: a callable, a collection of values, or one value.

    Values given as text also match non-text column values whose text is the same (so `--where
    count=5` from the command line matches the integer 5).
    """
    if callable(wanted):
        return lambda value: bool(wanted(value))
    if isinstance(wanted, Collection) and not isinstance(wanted, (str, bytes)):
        options = list(wanted)
        texts = {str(o) for o in options if isinstance(o, str)}
        return lambda value: value in options or (not isinstance(value, str) and str(value) in texts)
    if isinstance(wanted, str):
        return lambda value: value == wanted or (not isinstance(value, str) and str(value) == wanted)
    return lambda value: value == wanted


def select(emb, keys: Iterable | None = None, top_n: int | None = None,
           where: Mapping[str, object] | None = None) -> Embeddings:
    """The part of `emb` to project: `keys` (in that order), then the `where` filter, then `top_n`.

    `where` maps metadata columns to a value, a collection of values, or a predicate; a row is
    kept when every column matches. `top_n` keeps the first n rows left, which for trained
    vocabularies (sorted by descending frequency) are the n most frequent keys.
    """
    emb = as_embeddings(emb)
    if keys is not None:
        keys = list(keys)
        missing = next((k for k in keys if k not in emb), None)
        if missing is not None:
            raise UnknownKeyError(missing, emb.keys)
        emb = emb.subset(keys)
    if where:
        keep = np.ones(len(emb), dtype=bool)
        for column, wanted in where.items():
            values, match = _check_column(emb, column), _matcher(column, wanted)
            keep &= np.fromiter((match(v) for v in values), dtype=bool, count=len(values))
        if not keep.any():
            raise InvalidInputError(f"no keys match the filter {dict(where)!r}")
        if not keep.all():
            emb = emb.subset([k for k, kept in zip(emb.keys, keep) if kept])
    if top_n is not None:
        if isinstance(top_n, bool) or not isinstance(top_n, Integral) or top_n < 1:
            raise InvalidInputError(f"top_n must be a positive integer, got {top_n!r}")
        if top_n < len(emb):
            emb = emb.subset(emb.keys[:top_n])
    return emb


def prepared_vectors(emb: Embeddings, min_points: int = 2) -> np.ndarray:
    """The float32 matrix a projection works on: finite, unit rows for cosine embeddings."""
    n = len(emb)
    if n < min_points:
        raise InvalidInputError(f"a projection needs at least {min_points} points, got {n}")
    if emb.dim < 1:
        raise DimensionError("the vectors have no dimensions")
    matrix = np.array(emb.vectors, dtype=np.float32)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise InvalidInputError(f"vector of key {emb.keys[bad[0]]!r} (row {bad[0]}) contains NaN or "
                                f"infinity ({len(bad)} such row{'s' if len(bad) > 1 else ''}); "
                                "drop or fix them before projecting")
    if emb.metric == "cosine":
        norms = np.linalg.norm(matrix, axis=1)
        matrix /= np.where(norms > 0, norms, 1)[:, None]
    return matrix


def default_workers() -> int:
    """Cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# ------------------------------------------------------------------------------ estimators
class Projection:
    """Base of the projection estimators: `fit(data)` → self with `coords`, `transform(vectors)`.

    `data` is an `Embeddings` (its metric decides the cosine normalisation) or a 2-D array
    (taken as euclidean). `coords` is the (n, dims) float32 map, `keys` the keys in its rows.
    """

    method = ""

    def __init__(self, dims: int = 2, seed: int | None = 0):
        self.dims = check_dims(dims)
        self.seed = seed
        self.coords: np.ndarray | None = None
        self.keys: list | None = None
        self.metric: str | None = None
        self.n_input_dims: int | None = None

    @property
    def name(self) -> str:
        return f"{METHOD_NAMES[self.method]} {self.dims}-D"

    def fit(self, data) -> "Projection":
        emb = as_embeddings(data)
        self.metric, self.keys, self.n_input_dims = emb.metric, emb.keys, emb.dim
        self.coords = np.ascontiguousarray(self._fit(prepared_vectors(emb, self.min_points)), dtype=np.float32)
        return self

    def fit_transform(self, data) -> np.ndarray:
        return self.fit(data).coords

    def transform(self, data) -> np.ndarray:
        """Place new vectors (an `Embeddings` or a 2-D array of the same dimension) into this map."""
        if self.coords is None:
            raise InvalidInputError(f"{type(self).__name__} is not fitted yet; call fit first")
        emb = as_embeddings(data) if isinstance(data, Embeddings) else \
            Embeddings(range(len(np.atleast_2d(data))), np.atleast_2d(data), metric=self.metric)
        if emb.dim != self.n_input_dims:
            raise DimensionError(f"vectors have {emb.dim} dims, the map was fitted on {self.n_input_dims}")
        return np.ascontiguousarray(self._transform(prepared_vectors(emb, 1)), dtype=np.float32)

    @property
    def min_points(self) -> int:
        return 2

    def parameters(self) -> dict:
        """The settings that shaped the map, for titles and the projector page."""
        return {"seed": self.seed}

    def describe(self) -> str:
        """One line: the method, its dimensions and settings, e.g. for a plot title."""
        settings = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.parameters().items() if v is not None)
        return f"{self.name} ({settings})" if settings else self.name

    def _fit(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _transform(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class PCA(Projection):
    """Principal component analysis to `dims` dimensions.

    solver: "exact" (eigendecomposition of the d × d covariance, in float64), "randomized"
    (Halko, Martinsson & Tropp 2011: a seeded Gaussian sketch with power iterations, for very
    wide inputs), or "auto": exact up to 1,000 input dimensions, randomized above. Signs are
    fixed so that each component's largest loading is positive, so results do not flip between
    runs or solvers. `explained_variance_ratio` holds each component's share of the variance.
    """

    method = "pca"

    def __init__(self, dims: int = 2, solver: str = "auto", seed: int | None = 0):
        super().__init__(dims, seed)
        if solver not in ("auto", "exact", "randomized"):
            raise InvalidInputError(f"unknown PCA solver {solver!r}; choose auto, exact or randomized")
        self.solver = solver
        self.mean: np.ndarray | None = None
        self.components: np.ndarray | None = None
        self.explained_variance_ratio: np.ndarray | None = None

    def _fit(self, matrix: np.ndarray) -> np.ndarray:
        self.fit_matrix(matrix)
        return self._transform(matrix)

    def fit_matrix(self, matrix: np.ndarray) -> "PCA":
        """Fit on an already prepared float matrix (no normalisation, no checks)."""
        n, d = matrix.shape
        k = min(self.dims, d)
        solver = self.solver if self.solver != "auto" else "exact" if d <= EXACT_PCA_MAX_DIM else "randomized"
        self.mean = matrix.mean(axis=0, dtype=np.float64)
        centered = matrix - self.mean.astype(matrix.dtype)
        total = float(np.einsum("ij,ij->", centered, centered, dtype=np.float64)) / max(n - 1, 1)
        if solver == "exact" or k >= min(n, d):
            cov = centered.T.astype(np.float64) @ centered.astype(np.float64) / max(n - 1, 1)
            values, vectors = np.linalg.eigh(cov)
            order = np.argsort(values)[::-1][:k]
            variances, components = np.clip(values[order], 0, None), vectors[:, order].T
        else:
            variances, components = _randomized_pca(centered, k, self.seed)
        # deterministic signs: the largest-magnitude loading of each component is positive
        biggest = np.argmax(np.abs(components), axis=1)
        components *= np.sign(components[np.arange(k), biggest])[:, None]
        if k < self.dims:  # fewer input dims than asked for: the extra axes are zero
            components = np.vstack([components, np.zeros((self.dims - k, d))])
            variances = np.concatenate([variances, np.zeros(self.dims - k)])
        self.components = components.astype(np.float32)
        self.explained_variance_ratio = variances / total if total > 0 else np.zeros_like(variances)
        self.solver_used = solver
        return self

    def _transform(self, matrix: np.ndarray) -> np.ndarray:
        return (matrix - self.mean.astype(np.float32)) @ self.components.T

    def parameters(self) -> dict:
        explained = None if self.explained_variance_ratio is None else \
            f"{100 * float(np.sum(self.explained_variance_ratio)):.1f}% of variance"
        return {"solver": getattr(self, "solver_used", self.solver), "explained": explained}

    def describe(self) -> str:
        params = self.parameters()
        extra = f", {params['explained']}" if params["explained"] else ""
        return f"{self.name} ({params['solver']}{extra})"


def _randomized_pca(centered: np.ndarray, k: int, seed, oversample: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(variances, components) of the top k principal components by a randomized range finder."""
    n, d = centered.shape
    rng = np.random.default_rng(seed)
    width = min(d, n, k + oversample)
    power_iterations = 7 if k < 0.1 * min(n, d) else 4
    sketch = centered @ rng.standard_normal((d, width)).astype(centered.dtype)
    for _ in range(power_iterations):
        sketch, _ = np.linalg.qr(sketch)
        sketch, _ = np.linalg.qr(centered.T @ sketch)
        sketch = centered @ sketch
    basis, _ = np.linalg.qr(sketch.astype(np.float64))
    small = basis.T @ centered.astype(np.float64)
    _, singular, vt = np.linalg.svd(small, full_matrices=False)
    return singular[:k] ** 2 / max(n - 1, 1), vt[:k]


class _Reduced(Projection):
    """A projection that first reduces the input to `pca_dims` with PCA when it is wider."""

    def __init__(self, dims: int, seed, pca_dims: int | None):
        super().__init__(dims, seed)
        if pca_dims is not None and (isinstance(pca_dims, bool) or not isinstance(pca_dims, Integral)
                                     or pca_dims < dims):
            raise InvalidInputError(f"pca_dims must be an integer of at least dims ({dims}) or None, "
                                    f"got {pca_dims!r}")
        self.pca_dims = pca_dims
        self.pca: PCA | None = None

    def _reduce(self, matrix: np.ndarray, fit: bool) -> np.ndarray:
        if fit:
            self.pca = None
            if self.pca_dims is not None and matrix.shape[1] > self.pca_dims:
                self.pca = PCA(dims=2, seed=self.seed)
                self.pca.dims = self.pca_dims  # any width: used internally, not as a map
                self.pca.fit_matrix(matrix)
        return matrix if self.pca is None else np.ascontiguousarray(self.pca._transform(matrix))

    def _reduction_note(self) -> str | None:
        return None if self.pca is None else f"{self.n_input_dims}→{self.pca_dims}"


class TSNE(_Reduced):
    """t-SNE through openTSNE (Poličar, Stražar & Zupan 2024): FFT-accelerated and multi-threaded.

    perplexity: effective number of neighbours (30); needs more than 3 × perplexity points.
    exaggeration: attraction multiplier after the early phase (None = 1; 2-4 shows coarser
    clusters on large data). early_exaggeration (12) for `early_exaggeration_iter` (250)
    iterations, then `n_iter` (500) more. learning_rate "auto" = n / early exaggeration, as
    openTSNE (Belkina et al. 2019). initialization "pca" (openTSNE's rescaled PCA, stable from
    run to run) or "random". gradient: "fft", "bh" (Barnes-Hut) or "auto": FFT for 1-2 dims
    from 10,000 points, else Barnes-Hut; 3-D is always Barnes-Hut. workers: threads; None
    ("auto") uses one thread below 10,000 points, where threads cost more than they save
    (openTSNE's OpenMP threads spin while they wait), and all cores from 10,000 points. The
    same seed and workers give the same map.

    `transform(new)` embeds new points into the fitted map with openTSNE's `transform` (each
    new point starts at the median of its neighbours in the map and is optimised against the
    fixed reference points), after the same normalisation and PCA as the fitted data.
    """

    method = "tsne"

    def __init__(self, dims: int = 2, perplexity: float = 30.0, exaggeration: float | None = None,
                 early_exaggeration: float = 12.0, early_exaggeration_iter: int = 250, n_iter: int = 500,
                 learning_rate="auto", initialization: str = "pca", gradient: str = "auto",
                 pca_dims: int | None = 50, workers: int | None = None, seed: int | None = 0):
        super().__init__(dims, seed, pca_dims)
        if not perplexity or perplexity <= 0:
            raise InvalidInputError(f"perplexity must be positive, got {perplexity!r}")
        if gradient not in ("auto", "fft", "bh"):
            raise InvalidInputError(f"unknown t-SNE gradient {gradient!r}; choose auto, fft or bh")
        if gradient == "fft" and self.dims > 2:
            raise InvalidInputError("openTSNE's FFT-accelerated gradient works for 1-2 dims only; "
                                    "a 3-D t-SNE uses Barnes-Hut (gradient='bh' or 'auto')")
        if initialization not in ("pca", "random", "spectral"):
            raise InvalidInputError(f"unknown t-SNE initialization {initialization!r}; choose pca, random or spectral")
        self.perplexity = float(perplexity)
        self.exaggeration = exaggeration
        self.early_exaggeration = early_exaggeration
        self.early_exaggeration_iter = int(early_exaggeration_iter)
        self.n_iter = int(n_iter)
        self.learning_rate = learning_rate
        self.initialization = initialization
        self.gradient = gradient
        self.workers = workers
        self.embedding = None  # openTSNE's TSNEEmbedding once fitted
        self.gradient_used: str | None = None

    @property
    def min_points(self) -> int:
        return int(np.floor(3 * self.perplexity)) + 1

    @staticmethod
    def choose_gradient(n: int, dims: int) -> str:
        """`gradient="auto"`: "fft" for 1-2 dims from 10,000 points, else "bh" (always for 3-D)."""
        return "fft" if dims <= 2 and n >= FFT_MIN_POINTS else "bh"

    @staticmethod
    def auto_workers(n: int) -> int:
        """Threads for `workers=None`: 1 below 10,000 points, all cores from there."""
        return 1 if n < FFT_MIN_POINTS else default_workers()

    def fit(self, data) -> "TSNE":
        n = len(data)
        if n < self.min_points:
            suggestion = max(1.0, (n - 1) / 3)
            raise InvalidInputError(
                f"t-SNE with perplexity {self.perplexity:g} needs more than 3 × perplexity = "
                f"{3 * self.perplexity:g} points, got {n}; lower the perplexity "
                f"(perplexity={suggestion:.3g} or less fits) or use method='pca'")
        return super().fit(data)

    def _fit(self, matrix: np.ndarray) -> np.ndarray:
        TSNEClass = _import("openTSNE", "openTSNE").TSNE
        reduced = self._reduce(matrix, fit=True)
        n = len(reduced)
        gradient = self.choose_gradient(n, self.dims) if self.gradient == "auto" else self.gradient
        self.gradient_used = gradient
        if self.dims == 3 and n >= 50_000:
            logger.warning("3-D t-SNE of %d points uses Barnes-Hut (openTSNE's FFT gradient is 1-2 "
                           "dims only); expect it to take several times longer than 2-D", n)
        model = TSNEClass(
            n_components=self.dims, perplexity=self.perplexity, exaggeration=self.exaggeration,
            early_exaggeration=self.early_exaggeration, early_exaggeration_iter=self.early_exaggeration_iter,
            n_iter=self.n_iter, learning_rate=self.learning_rate, initialization=self.initialization,
            negative_gradient_method=gradient, n_jobs=self.workers or self.auto_workers(n),
            random_state=self.seed, verbose=False)
        with _quiet_openTSNE():
            self.embedding = model.fit(reduced)
        return np.asarray(self.embedding)

    def _transform(self, matrix: np.ndarray) -> np.ndarray:
        reduced = self._reduce(matrix, fit=False)
        with _quiet_openTSNE():
            return np.asarray(self.embedding.transform(reduced))

    def parameters(self) -> dict:
        return {"perplexity": f"{self.perplexity:g}",
                "exaggeration": f"{self.exaggeration:g}" if self.exaggeration else "1",
                "iterations": f"{self.early_exaggeration_iter}+{self.n_iter}",
                "gradient": {"fft": "FFT", "bh": "Barnes-Hut"}.get(self.gradient_used, self.gradient),
                "PCA": self._reduction_note(), "seed": self.seed}


class UMAP(_Reduced):
    """UMAP through umap-learn (McInnes, Healy & Melville 2018).

    n_neighbors (15) sets how local the structure kept is and must be below the number of
    points; min_dist (0.1) how tightly points may pack. With a seed umap-learn runs on one
    thread and gives the same map each time; `seed=None` lets it use `workers` threads.
    umap-learn compiles its Numba kernels on first use in every new process, which takes tens
    of seconds before the first map (later maps in the same process are fast).
    """

    method = "umap"

    def __init__(self, dims: int = 2, n_neighbors: int = 15, min_dist: float = 0.1,
                 pca_dims: int | None = 50, workers: int | None = None, seed: int | None = 0):
        super().__init__(dims, seed, pca_dims)
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral) or n_neighbors < 2:
            raise InvalidInputError(f"n_neighbors must be an integer of at least 2, got {n_neighbors!r}")
        self.n_neighbors = int(n_neighbors)
        self.min_dist = float(min_dist)
        self.workers = workers
        self.model = None

    @property
    def min_points(self) -> int:
        return self.n_neighbors + 1

    def fit(self, data) -> "UMAP":
        n = len(data)
        if n <= self.n_neighbors:
            raise InvalidInputError(f"UMAP with n_neighbors {self.n_neighbors} needs more than "
                                    f"{self.n_neighbors} points, got {n}; lower n_neighbors or use method='pca'")
        return super().fit(data)

    def _fit(self, matrix: np.ndarray) -> np.ndarray:
        umap = _import("umap", "umap-learn")
        reduced = self._reduce(matrix, fit=True)
        self.model = umap.UMAP(n_components=self.dims, n_neighbors=self.n_neighbors, min_dist=self.min_dist,
                               metric="euclidean", random_state=self.seed,
                               n_jobs=1 if self.seed is not None else (self.workers or default_workers()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.fit_transform(reduced)

    def _transform(self, matrix: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.transform(self._reduce(matrix, fit=False))

    def parameters(self) -> dict:
        return {"n_neighbors": self.n_neighbors, "min_dist": f"{self.min_dist:g}",
                "PCA": self._reduction_note(), "seed": self.seed}


class _quiet_openTSNE:
    """openTSNE logs a warning per call for things we already chose on purpose; keep them quiet."""

    def __enter__(self):
        self.log = logging.getLogger("openTSNE")
        self.level = self.log.level
        self.log.setLevel(max(self.level, logging.ERROR))

    def __exit__(self, *exc):
        self.log.setLevel(self.level)


def _import(module: str, distribution: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(distribution, "viz") from None


ESTIMATORS = {"pca": PCA, "tsne": TSNE, "umap": UMAP}


def projection(method: str = "tsne", dims: int = 2, seed: int | None = 0, **params) -> Projection:
    """An unfitted estimator for `method` ("pca", "tsne" or "umap") with its settings.

    Unknown settings are refused with the list of those the method takes.
    """
    cls = ESTIMATORS[check_method(method)]
    import inspect

    allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "dims", "seed")]
    unknown = [p for p in params if p not in allowed]
    if unknown:
        raise InvalidInputError(f"{METHOD_NAMES[check_method(method)]} has no setting {unknown[0]!r} "
                                f"(settings: {', '.join(allowed)})")
    return cls(dims=dims, seed=seed, **params)


def fit_projection(emb, method: str = "tsne", dims: int = 2, seed: int | None = 0, *,
                   keys: Iterable | None = None, top_n: int | None = None,
                   where: Mapping[str, object] | None = None, **params) -> Projection:
    """Select (`keys`, `where`, `top_n`; see `select`) and fit; returns the fitted estimator."""
    estimator = projection(method, dims, seed, **params)
    return estimator.fit(select(emb, keys=keys, top_n=top_n, where=where))


def project(emb, method: str = "tsne", dims: int = 2, seed: int | None = 0, *,
            keys: Iterable | None = None, top_n: int | None = None,
            where: Mapping[str, object] | None = None, **params) -> np.ndarray:
    """Coordinates of `emb` (or of the selected part) in `dims` (2 or 3) dimensions, (n, dims) float32.

    method: "pca", "tsne" (default) or "umap"; `params` go to the estimator (`PCA`, `TSNE`,
    `UMAP`: e.g. perplexity=50, exaggeration=2, n_neighbors=30, solver="randomized").
    Selection: `keys`, then `where` ({column: value, values or predicate}), then `top_n` (the
    first n rows: the most frequent words of a trained vocabulary). The same seed (and, for
    t-SNE, the same `workers`) gives the same coordinates.
    """
    return fit_projection(emb, method, dims, seed, keys=keys, top_n=top_n, where=where, **params).coords
