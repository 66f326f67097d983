"""The PyTorch side of `TextEncoder`: transformer + pooling + dense layers as one module.

Imported only when an encoder is made (it imports torch and transformers at the top).
"""

from __future__ import annotations

import contextlib
import inspect

import numpy as np
import torch
from torch import nn

from ..errors import FormatError, MissingExtraError

_ACTIVATIONS = {"Tanh": nn.Tanh, "Identity": nn.Identity, "ReLU": nn.ReLU, "GELU": nn.GELU,
                "Sigmoid": nn.Sigmoid}


class SentenceModule(nn.Module):
    """input_ids, attention_mask[, token_type_ids] (right-padded) → pooled sentence vectors.

    `export_mask=True` hands the transformer a ready 4-D additive mask built the way
    Transformers 4.x built it (unsqueeze, expand, 1 − mask, masked_fill with the dtype's
    minimum): traced into ONNX, it is the pattern ONNX Runtime's optimizer fuses into its
    Attention operator, and it keeps Transformers 5's mask code (which turns shapes into
    Python ints) out of the trace.
    """

    def __init__(self, transformer: nn.Module, pooling: tuple[str, ...], dense: list[nn.Module],
                 export_mask: bool = False):
        super().__init__()
        self.transformer = transformer
        self.pooling = tuple(pooling)
        self.dense = nn.ModuleList(dense)
        self.export_mask = export_mask
        parameters = inspect.signature(transformer.forward).parameters
        self.token_types = "token_type_ids" in parameters

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        mask = attention_mask
        if self.export_mask:
            batch, length = input_ids.shape
            expanded = attention_mask.unsqueeze(1).unsqueeze(2).expand(batch, 1, length, length)
            inverted = 1.0 - expanded.to(torch.float32)
            mask = inverted.masked_fill(inverted.to(torch.bool), torch.finfo(torch.float32).min)
        inputs = {"input_ids": input_ids, "attention_mask": mask}
        if self.token_types and token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        output = self.transformer(**inputs)
        hidden = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]
        vector = pool(hidden, attention_mask, self.pooling)
        for layer in self.dense:
            vector = layer(vector)
        return vector


def pool(hidden, attention_mask, modes: tuple[str, ...]):
    """sentence-transformers' pooling of right-padded token vectors, modes concatenated in order."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    out = []
    summed = counts = None
    for mode in modes:
        if mode == "cls":
            out.append(hidden[:, 0])
        elif mode == "max":
            out.append(hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values)
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            if summed is None:
                summed = (hidden * mask).sum(dim=1)
                counts = torch.clamp(mask.sum(dim=1), min=1e-9)
            out.append(summed / (counts if mode == "mean" else torch.sqrt(counts)))
        elif mode == "weightedmean":
            positions = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype)
            weights = mask * positions.view(1, -1, 1)
            out.append((hidden * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9))
        elif mode == "lasttoken":
            last = (attention_mask.sum(dim=1) - 1).clamp(min=0)
            index = last.view(-1, 1, 1).expand(-1, 1, hidden.shape[-1])
            out.append(torch.gather(hidden * mask, 1, index).squeeze(1))
    return out[0] if len(out) == 1 else torch.cat(out, dim=1)


class _Dense(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.linear = nn.Linear(config["in_features"], config["out_features"], bias=config["bias"])
        self.activation = _ACTIVATIONS[config["activation"]]()

    def forward(self, x):
        return self.activation(self.linear(x))


def _dense_layer(config: dict) -> _Dense:
    layer = _Dense(config)
    folder = config["path"]
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        state = load_file(str(folder / "model.safetensors"))
    else:
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    try:
        layer.load_state_dict(state)
    except RuntimeError as exc:
        raise FormatError(f"Dense weights do not fit its config: {exc}", folder) from None
    return layer


@contextlib.contextmanager
def _quiet_transformers():
    """Keep Transformers' loading bar and load report off the user's terminal."""
    from transformers.utils import logging as hf_logging

    bar, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


def build_module(spec, attn_implementation: str | None = None, export_mask: bool = False) -> SentenceModule:
    """The model folder's transformer, pooling and dense layers as one eval-mode module (CPU, float32)."""
    try:
        from transformers import AutoModel
    except ImportError:
        raise MissingExtraError("transformers", "text") from None
    options = {"local_files_only": True}
    if attn_implementation:
        options["attn_implementation"] = attn_implementation
    with _quiet_transformers():
        try:
            transformer = AutoModel.from_pretrained(str(spec.transformer_path), **options)
        except (OSError, ValueError, KeyError) as exc:
            raise FormatError(f"cannot load the model: {exc}", spec.transformer_path) from None
    dense = [_dense_layer(config) for config in spec.dense]
    module = SentenceModule(transformer, spec.pooling, dense, export_mask=export_mask)
    return module.float().eval()


class TorchRunner:
    """Runs the PyTorch module under inference_mode; `using(threads)` sets torch's CPU threads
    for the duration of one `encode` call."""

    name = "torch"

    def __init__(self, spec, device: str = "cpu"):
        self.device = torch.device(device)
        self.module = build_module(spec).to(self.device)

    @contextlib.contextmanager
    def using(self, threads: int | None):
        if threads is None or self.device.type != "cpu" or threads == torch.get_num_threads():
            yield
            return
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray, token_type_ids: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            def tensor(a):
                return torch.from_numpy(a).to(self.device, non_blocking=True)

            out = self.module(tensor(input_ids), tensor(attention_mask), tensor(token_type_ids))
            return out.float().cpu().numpy()
