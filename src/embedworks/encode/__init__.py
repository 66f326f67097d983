"""Pretrained and fitted encoders: media in, vectors out.

`TextEncoder` (pretrained sentence encoders, ``encode/text.py``), `ImageEncoder`
(EfficientNet-Lite0, ``encode/image.py``), `AudioEncoder` (MFCCs, wav2vec 2.0 / HuBERT folders,
trained CNNs, ``encode/audio.py``) and `LSA` (TF-IDF + SVD, ``encode/lsa.py``).
Attributes load on first use, so ``import embedworks.encode`` imports no torch, Pillow,
transformers or scikit-learn.
"""

from __future__ import annotations

from .._lazy import lazy_attributes

_LAZY = {"TextEncoder": ".text", "LSA": ".lsa", "ImageEncoder": ".image", "AudioEncoder": ".audio"}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
