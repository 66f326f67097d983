"""Pretrained and fitted encoders: media in, vectors out.

`TextEncoder` (pretrained sentence encoders, ``encode/text.py``), `ImageEncoder`
(EfficientNet-Lite0, ``encode/image.py``), `AudioEncoder` (MFCCs, wav2vec 2.0 / HuBERT folders,
trained CNNs, ``encode/audio.py``) and `LSA` (TF-IDF + SVD, ``encode/lsa.py``).
Attributes load on first use, so ``import embedworks.encode`` imports no torch, Pillow,
transformers or scikit-learn.
"""

from __future__ import annotations

import importlib

_LAZY = {"TextEncoder": ".text", "LSA": ".lsa", "ImageEncoder": ".image", "AudioEncoder": ".audio"}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
