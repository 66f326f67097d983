"""Encoder specs: which encoder made a set of vectors, written down so it can be made again.

A spec is a small JSON-able dict, ``{"kind": ..., "model": ..., **options}``:

- ``{"kind": "text", "model": "minilm" | "/abs/model/folder"}`` — `TextEncoder`
- ``{"kind": "image", "model": "efficientnet-lite0" | "/abs/state_dict.pt", "normalize": bool}`` — `ImageEncoder`
- ``{"kind": "audio", "model": "mfcc" | "/abs/folder", ...}`` — `AudioEncoder`
- ``{"kind": "lsa", "path": "/abs/lsa/folder"}`` — a saved `LSA`

Every encoder class offers the ``encoder_spec`` property (None when it cannot be remade, e.g. an
unsaved LSA) and the ``from_encoder_spec(spec)`` class method, and every encoder offers
``encode_array(items) -> (n, dim) float32``. `Embeddings.encoder` carries the spec into native
files; collections, ``embedworks similar FILE QUERY.png`` and the HTTP service use `from_spec`
to encode queries the way the stored vectors were encoded.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Mapping

from ..errors import InvalidInputError

#: kind → (module, class) of the encoder that reads such a spec.
KINDS = {"text": (".text", "TextEncoder"), "image": (".image", "ImageEncoder"),
         "audio": (".audio", "AudioEncoder"), "lsa": (".lsa", "LSA")}


def spec_of(encoder) -> dict | None:
    """The spec that remakes `encoder`, or None when it has none (a custom or unsaved encoder)."""
    spec = getattr(encoder, "encoder_spec", None)
    return dict(spec) if isinstance(spec, Mapping) else None


def _encoder_class(kind: str):
    module, name = KINDS[kind]
    return getattr(importlib.import_module(module, __package__), name)


def checked_spec(spec) -> dict:
    """`spec` as a plain dict, or an `InvalidInputError` saying what is wrong with it."""
    if not isinstance(spec, Mapping):
        raise InvalidInputError(f"an encoder spec must be a mapping with a 'kind', got {spec!r}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise InvalidInputError(f"unknown encoder kind {kind!r} (known: {', '.join(KINDS)})")
    return dict(spec)


def from_spec(spec: Mapping):
    """The encoder `spec` describes, loaded once per process and shared (models are large)."""
    spec = checked_spec(spec)
    return _cached(json.dumps(spec, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _cached(spec_json: str):
    spec = json.loads(spec_json)
    return _encoder_class(spec["kind"]).from_encoder_spec(spec)
