"""Audio encoders: clips → vectors, through MFCCs, a local wav2vec 2.0 / HuBERT folder, or a
CNN trained with `embedworks.learn.AudioEmbedding`.

    AudioEncoder.mfcc()                        # classical baseline, 120-d
    AudioEncoder.from_pretrained("wav2vec2/")  # a local Hugging Face folder (never downloads)
    AudioEncoder.load("model/")                # a trained CNN (AudioEmbedding.save)
    AudioEncoder.from_model("mfcc" | path)     # any of the three, as the CLI's --model

Reading (`load_audio`): soundfile reads wav, flac and ogg; channels are averaged to mono, the
signal is resampled to the encoder's rate with ``scipy.signal.resample_poly`` (the exact
rational factor target / source, a polyphase Kaiser-windowed low-pass), and with a `duration`
clips longer than it keep their centre.

Inputs to `encode` and `encode_array`: a folder (searched recursively for .wav, .flac and .ogg
files, hidden ones left out; keys are the paths relative to the folder, and the top-level
sub-folder's name becomes the ``label`` metadata column), one file path, or a list of file
paths and in-memory clips: ``(waveform, sample_rate)`` pairs, or bare waveforms taken to be at
the encoder's rate. A waveform is a 1-D float array in [-1, 1] (or integer PCM, scaled). A file
that cannot be read as audio (truncated, empty, not audio) is skipped, never fatal:
`last_skipped` lists the skipped files (with `last_skipped_reasons`), and a warning is logged.
A folder without a single readable clip raises `InvalidInputError`.

torch (and transformers for pretrained folders) are imported when an encoder is made, not when
this module is imported.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from pathlib import Path

import numpy as np

from ..errors import FormatError, InvalidInputError, MissingExtraError
from ..files import read_marker
from ..learn.training import check_float, check_int
from ._audio_features import MelSettings, log_mel, pooled_mfcc
from ._media import Item, collect, labelled_embeddings, report_skipped, run_in_batches

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
#: The file a trained CNN directory is recognised by (written by `AudioEmbedding.save`).
TRAINED_MARKER = "audio_model.json"
TRAINED_FORMAT = "embedworks-audio-cnn"
TRAINED_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"


def _import_torch():
    try:
        import torch
    except ImportError:
        raise MissingExtraError("torch", "audio") from None
    return torch


# ------------------------------------------------------------------------------------ reading
def check_sample_rate(value, name: str = "sample_rate") -> int:
    """`value` as a positive int, or an `InvalidInputError` naming `name`."""
    return check_int(name, value, 1)


def resample(waveform: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """`waveform` (1-D) resampled from `source_rate` to `target_rate` Hz (float32)."""
    from scipy.signal import resample_poly

    source_rate, target_rate = check_sample_rate(source_rate), check_sample_rate(target_rate)
    waveform = np.asarray(waveform, dtype=np.float32)
    if source_rate == target_rate:
        return waveform
    g = math.gcd(source_rate, target_rate)
    return resample_poly(waveform, target_rate // g, source_rate // g).astype(np.float32)


def centre_crop(waveform: np.ndarray, samples: int) -> np.ndarray:
    """The middle `samples` samples of `waveform` (all of it when shorter)."""
    start = max(0, (len(waveform) - samples) // 2)
    return waveform[start:start + samples]


def fit_length(waveform: np.ndarray, samples: int) -> np.ndarray:
    """Exactly `samples` samples: the centre of a longer clip, a shorter one padded with zeros at the end."""
    waveform = centre_crop(waveform, samples)
    return np.pad(waveform, (0, samples - len(waveform)))


def _as_mono(data: np.ndarray, where: str) -> np.ndarray:
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.ndim != 1:
        raise InvalidInputError(f"{where}: expected a 1-D waveform, got shape {data.shape}")
    if not len(data):
        raise InvalidInputError(f"{where}: the audio holds no samples")
    if not np.isfinite(data).all():
        raise InvalidInputError(f"{where}: the audio holds NaN or infinite samples")
    return data.astype(np.float32, copy=False)


def read_file(path) -> tuple[np.ndarray, int]:
    """(mono float32 waveform, sample rate) of an audio file as stored; `FormatError` naming the
    file when it is not readable audio or holds no samples."""
    try:
        import soundfile
    except ImportError:
        raise MissingExtraError("soundfile", "audio") from None
    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such file")
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - libsndfile reports every decoding problem its own way
        raise FormatError(f"not readable as audio ({type(exc).__name__}: {exc})", path=path) from None
    try:
        return _as_mono(data, str(path)), int(rate)
    except InvalidInputError as exc:
        raise FormatError(str(exc).split(": ", 1)[1], path=path) from None


def load_audio(path, sample_rate: int = 16000, duration: float | None = None) -> np.ndarray:
    """The mono float32 waveform of an audio file at `sample_rate` Hz; with `duration` (seconds)
    exactly that long (the centre of a longer clip, zeros after a shorter one)."""
    sample_rate = check_sample_rate(sample_rate)
    waveform, rate = read_file(path)
    waveform = resample(waveform, rate, sample_rate)
    if duration is not None:
        waveform = fit_length(waveform, _samples(duration, sample_rate))
    return waveform


def _samples(duration, sample_rate: int) -> int:
    return max(1, round(check_float("duration", duration, strict=True) * sample_rate))


def _convert(value, where: str):
    """An in-memory clip → (mono float32 waveform, rate or None for the encoder's rate)."""
    rate = None
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidInputError(f"{where}: expected a (waveform, sample_rate) pair, got {len(value)} items")
        value, rate = value
        rate = check_sample_rate(rate, f"{where} sample rate")
    if not isinstance(value, np.ndarray):
        raise InvalidInputError(f"{where} must be a path, a waveform array or a (waveform, sample_rate) pair, "
                                f"got {type(value).__name__}")
    if value.ndim != 1:
        raise InvalidInputError(f"{where}: waveforms must be 1-D (mono), got shape {value.shape}")
    if np.issubdtype(value.dtype, np.integer):
        value = value.astype(np.float32) / float(np.iinfo(value.dtype).max + 1)
    elif not np.issubdtype(value.dtype, np.floating):
        raise InvalidInputError(f"{where}: waveforms must be float or integer PCM, got {value.dtype}")
    return _as_mono(value, where), rate


def _is_single(value) -> bool:
    return isinstance(value, np.ndarray) or (
        isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], np.ndarray))


def collect_clips(inputs) -> list[Item]:
    """The clips `inputs` name (see the module docstring), not yet read."""
    return collect(inputs, what="audio", accepted="waveforms or (waveform, sample_rate) pairs",
                   single=_is_single, convert=_convert, suffixes=AUDIO_SUFFIXES)


def read_clip(item: Item, sample_rate: int, max_samples: int | None = None):
    """(waveform at `sample_rate`, centre-cropped to `max_samples`, None) or (None, the reason it
    cannot be read)."""
    try:
        if isinstance(item.source, Path):
            wave, rate = read_file(item.source)
        else:
            wave, rate = item.source
        wave = resample(wave, rate or sample_rate, sample_rate)
    except (FormatError, InvalidInputError) as exc:
        return None, str(exc)
    if max_samples is not None:
        wave = centre_crop(wave, max_samples)
    return wave, None


# ------------------------------------------------------------------------------------ backends
class _Mfcc:
    """MFCCs + deltas + delta-deltas, mean and std pooled (`_audio_features.pooled_mfcc`)."""

    def __init__(self, settings: MelSettings, n_mfcc: int):
        self.settings = settings
        self.n_mfcc = check_int("n_mfcc", n_mfcc, 1)
        if n_mfcc > settings.n_mels:
            raise InvalidInputError(f"n_mfcc ({n_mfcc}) must be <= n_mels ({settings.n_mels})")
        self.sample_rate = settings.sample_rate
        self.dim = 6 * self.n_mfcc
        self.device = "cpu"
        self.model = "mfcc"
        self._unclamped = dataclasses.replace(settings, top_db=None)

    def spec(self) -> dict:
        mel = self.settings.to_dict()
        return {"model": "mfcc", "n_mfcc": self.n_mfcc, **mel}

    def run(self, waves: list[np.ndarray]) -> np.ndarray:
        """One padded batch through the spectrogram (many tiny torch calls are slow on a busy
        CPU), then each clip's own frames: zero padding at the end leaves them unchanged."""
        import torch

        canvas = np.zeros((len(waves), max(len(w) for w in waves)), dtype=np.float32)
        for i, wave in enumerate(waves):
            canvas[i, :len(wave)] = wave
        db = log_mel(torch.from_numpy(canvas), self._unclamped).numpy()
        out = np.empty((len(waves), self.dim), dtype=np.float32)
        top_db = self.settings.top_db
        for i, wave in enumerate(waves):
            clip = db[i, :, :self.settings.frames(len(wave))]
            if top_db is not None:
                clip = np.maximum(clip, clip.max() - top_db)
            out[i] = pooled_mfcc(clip, self.n_mfcc)
        return out


class _Pretrained:
    """A Hugging Face wav2vec 2.0 / HuBERT folder: the last hidden state, mean-pooled over the
    clip's frames. A model whose feature extractor takes no attention mask (wav2vec2-base and
    HuBERT-base were trained on unpadded audio) runs one clip at a time, so padding never
    changes a vector."""

    def __init__(self, folder: Path, device: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
        try:
            from transformers import AutoFeatureExtractor, AutoModel
        except ImportError:
            raise MissingExtraError("transformers", "audio") from None
        from ._text_model import _quiet_transformers

        if not folder.is_dir():
            raise InvalidInputError(f"{folder}: no such model folder (give 'mfcc', a Hugging Face wav2vec 2.0 / "
                                    f"HuBERT folder, or a folder saved by AudioEmbedding)")
        for needed in ("config.json", "preprocessor_config.json"):
            if not (folder / needed).is_file():
                raise FormatError(f"not a Hugging Face audio model folder: no {needed}", path=folder)
        with _quiet_transformers():
            try:
                self.extractor = AutoFeatureExtractor.from_pretrained(str(folder), local_files_only=True)
                model = AutoModel.from_pretrained(str(folder), local_files_only=True)
            except (OSError, ValueError, KeyError) as exc:
                raise FormatError(f"cannot load the model: {exc}", path=folder) from None
        if not hasattr(model, "_get_feat_extract_output_lengths"):
            raise FormatError(f"{type(model).__name__} is not a wav2vec 2.0-style speech model", path=folder)
        self.model = str(folder.resolve())
        self.device = device
        self.network = model.float().eval().to(device)
        self.sample_rate = int(self.extractor.sampling_rate)
        self.dim = int(model.config.hidden_size)
        self.masked = bool(getattr(self.extractor, "return_attention_mask", False))

    def spec(self) -> dict:
        return {"model": self.model}

    def _batch(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        inputs = self.extractor(waves, sampling_rate=self.sample_rate, return_tensors="pt", padding=True,
                                return_attention_mask=True)
        values = inputs["input_values"].to(self.device)
        mask = inputs["attention_mask"].to(self.device)
        hidden = self.network(values, attention_mask=mask if self.masked else None).last_hidden_state
        lengths = self.network._get_feat_extract_output_lengths(mask.sum(dim=1)).clamp(min=1)
        frames = (torch.arange(hidden.shape[1], device=self.device)[None, :] < lengths[:, None]).to(hidden.dtype)
        pooled = (hidden * frames[:, :, None]).sum(dim=1) / frames.sum(dim=1, keepdim=True)
        return pooled.float().cpu().numpy()

    def run(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        minimum = 400  # wav2vec 2.0's feature encoder needs 400 samples (25 ms) for one frame
        waves = [np.pad(w, (0, minimum - len(w))) if len(w) < minimum else w for w in waves]
        with torch.inference_mode():
            if self.masked:
                return self._batch(waves)
            return np.concatenate([self._batch([w]) for w in waves])


class _Trained:
    """A CNN trained by `AudioEmbedding` (in eval mode): clips are centre-cropped to the training
    duration, laid at the start of a canvas that long, and embedded before the projection head.
    `model` is the folder it was saved to (None until saved)."""

    def __init__(self, network, config: dict, model: str | None, device: str):
        self.config = config
        self.network = network.to(device)
        self.model = model
        self.device = device
        self.sample_rate = int(config["mel"]["sample_rate"])
        self.dim = int(config["dim"])
        self.samples = _samples(config["duration"], self.sample_rate)

    @classmethod
    def from_folder(cls, folder: Path, device: str) -> "_Trained":
        from safetensors.torch import load_file

        from ._audio_cnn import AudioCNN

        config = read_trained_config(folder)
        network = AudioCNN(MelSettings(**config["mel"]), tuple(config["channels"]), config["dim"])
        try:
            network.load_state_dict(load_file(folder / WEIGHTS_FILE), strict=True)
        except Exception as exc:  # noqa: BLE001 - a missing, damaged or mismatched weights file
            raise FormatError(f"cannot load the weights ({type(exc).__name__}: {exc})",
                              path=folder / WEIGHTS_FILE) from None
        return cls(network.eval(), config, str(folder.resolve()), device)

    def spec(self) -> dict:
        return {"model": self.model}

    def run(self, waves: list[np.ndarray], train_mode: bool = False) -> np.ndarray:
        """The embeddings of `waves`; `train_mode` leaves the network as it is (BatchNorm
        statistics being collected) instead of inference mode."""
        import torch

        canvas = np.zeros((len(waves), self.samples), dtype=np.float32)
        spans = np.zeros((len(waves), 2), dtype=np.int64)
        for i, wave in enumerate(waves):
            wave = centre_crop(wave, self.samples)
            canvas[i, :len(wave)] = wave
            spans[i] = (0, len(wave))
        with torch.no_grad() if train_mode else torch.inference_mode():
            out = self.network.embed(torch.from_numpy(canvas).to(self.device), torch.from_numpy(spans).to(self.device))
        return out.float().cpu().numpy()


def read_trained_config(folder) -> dict:
    """The JSON config of a trained CNN folder, checked; `FormatError` naming the file otherwise."""
    return read_marker(Path(folder).expanduser(), TRAINED_MARKER, TRAINED_FORMAT, TRAINED_VERSION,
                       "a trained audio model", fields=("mel", "channels", "dim", "duration"))


# ------------------------------------------------------------------------------------ encoder
class AudioEncoder:
    """Audio clips → float32 vectors (MFCC baseline, a local wav2vec 2.0 / HuBERT folder, or a
    trained CNN); make one with `mfcc`, `from_pretrained`, `load` or `from_model`.

    >>> AudioEncoder.mfcc().encode("recordings/")        # doctest: +SKIP
    Embeddings(3000 keys × 120 dims, metric='cosine', metadata=['label'])

    `duration`: seconds; longer clips keep their centre (default: the whole clip, or the training
    duration for a trained CNN). `normalize`: scale vectors to unit length (default False),
    overridable per call. `workers`: threads that read and resample files (default: up to 8).
    """

    def __init__(self, backend, *, duration: float | None = None, normalize: bool = False,
                 workers: int | None = None):
        self._backend = backend
        if duration is None and isinstance(backend, _Trained):
            duration = backend.config["duration"]
        self.duration = None if duration is None else check_float("duration", duration, strict=True)
        self.normalize = bool(normalize)
        self.workers = check_int("workers", workers, 1) if workers is not None else min(8, os.cpu_count() or 1)
        self.last_skipped: list = []
        self.last_skipped_reasons: list[str] = []

    # -------------------------------------------------------------------------- constructors
    @classmethod
    def mfcc(cls, sample_rate: int = 16000, n_mfcc: int = 20, n_mels: int = 40, n_fft: int = 400,
             hop_length: int = 160, fmin: float = 0.0, fmax: float | None = None, top_db: float | None = 80.0,
             **options) -> "AudioEncoder":
        """The MFCC baseline: `n_mfcc` coefficients of an `n_mels`-band log-mel spectrogram
        (`n_fft`-sample Hann frames every `hop_length` samples), with deltas and delta-deltas,
        mean and std pooled → 6 · n_mfcc dims. `options`: `duration`, `normalize`, `workers`."""
        _import_torch()
        settings = MelSettings(sample_rate, n_fft, hop_length, n_mels, fmin, fmax, top_db)
        return cls(_Mfcc(settings, n_mfcc), **options)

    @classmethod
    def from_pretrained(cls, path, *, device: str = "auto", **options) -> "AudioEncoder":
        """A local Hugging Face wav2vec 2.0 / HuBERT folder (config.json, preprocessor_config.json,
        weights), loaded with ``local_files_only``; `options` as for `AudioEncoder`."""
        _import_torch()
        from .text import _resolve_device

        return cls(_Pretrained(Path(path).expanduser(), _resolve_device(device)), **options)

    @classmethod
    def load(cls, path, *, device: str = "auto", **options) -> "AudioEncoder":
        """A CNN saved by `embedworks.learn.AudioEmbedding.save`; `options` as for `AudioEncoder`."""
        _import_torch()
        from .text import _resolve_device

        return cls(_Trained.from_folder(Path(path).expanduser(), _resolve_device(device)), **options)

    @classmethod
    def from_model(cls, model, **options) -> "AudioEncoder":
        """``"mfcc"``, a folder saved by `AudioEmbedding` (it holds audio_model.json) or a Hugging
        Face folder, as the CLI's ``--model`` takes them."""
        if isinstance(model, str) and model.lower() == "mfcc":
            return cls.mfcc(**options)
        if not isinstance(model, (str, os.PathLike)):
            raise InvalidInputError(f"model must be 'mfcc' or a folder path, got {type(model).__name__}")
        if (Path(model).expanduser() / TRAINED_MARKER).is_file():
            return cls.load(model, **options)
        return cls.from_pretrained(model, **options)

    @property
    def encoder_spec(self) -> dict | None:
        """``{"kind": "audio", "model": "mfcc" | absolute folder, ...}``: remakes this encoder
        (None for a trained CNN not saved yet)."""
        if self._backend.model is None:
            return None
        return {"kind": "audio", **self._backend.spec(), "duration": self.duration, "normalize": self.normalize}

    @classmethod
    def from_encoder_spec(cls, spec: dict) -> "AudioEncoder":
        """The encoder an `encoder_spec` describes (on the default device)."""
        options = {k: v for k, v in spec.items() if k not in ("kind", "model")}
        if "model" not in spec:
            raise InvalidInputError(f"an audio encoder spec needs a 'model', got {sorted(spec)}")
        return cls.from_model(spec["model"], **options)

    # -------------------------------------------------------------------------- properties
    @property
    def dim(self) -> int:
        return self._backend.dim

    @property
    def sample_rate(self) -> int:
        """The rate every clip is resampled to before encoding."""
        return self._backend.sample_rate

    @property
    def model(self) -> str:
        """``"mfcc"`` or the model folder's absolute path."""
        return self._backend.model

    @property
    def device(self) -> str:
        return self._backend.device

    def __repr__(self) -> str:
        return f"AudioEncoder(model={self.model!r}, dim={self.dim}, sample_rate={self.sample_rate})"

    # -------------------------------------------------------------------------- running
    def _read(self, item: Item):
        samples = None if self.duration is None else _samples(self.duration, self.sample_rate)
        return read_clip(item, self.sample_rate, samples)

    def _features(self, clips, batch_size, progress, normalize):
        batch_size = check_int("batch_size", batch_size, 1)
        items = collect_clips(clips)
        kept, vectors, skipped, reasons = run_in_batches(items, self._read, self._backend.run, batch_size=batch_size,
                                                         workers=self.workers, progress=progress, unit="clips")
        self.last_skipped, self.last_skipped_reasons = skipped, reasons
        report_skipped(logger, clips, skipped, reasons, len(items), len(kept), "audio")
        if vectors is None:
            vectors = np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if (self.normalize if normalize is None else normalize) and len(vectors):
            np.divide(vectors, np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12), out=vectors)
        return kept, vectors

    def encode(self, clips, batch_size: int = 32, progress: bool | None = None, normalize: bool | None = None):
        """An `Embeddings` (metric cosine) of the readable `clips`, keyed by path (relative to the
        folder for a folder) or list position; a ``label`` column for folders with sub-folders."""
        kept, vectors = self._features(clips, batch_size, progress, normalize)
        spec = self.encoder_spec
        if spec is not None:
            spec["normalize"] = self.normalize if normalize is None else bool(normalize)
        return labelled_embeddings(kept, vectors, spec)

    def encode_array(self, clips, batch_size: int = 32, progress: bool | None = None,
                     normalize: bool | None = None) -> np.ndarray:
        """The (n, dim) float32 vectors of the readable `clips`, in input order."""
        return self._features(clips, batch_size, progress, normalize)[1]
