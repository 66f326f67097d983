"""The audio front end: Slaney mel filterbank, log-mel spectrogram and pooled MFCCs.

Conventions follow librosa's defaults, so the numbers can be checked against it:

* `mel_filterbank` is ``librosa.filters.mel(htk=False, norm="slaney")``: triangles on the Slaney
  mel scale (linear below 1 kHz, logarithmic above), each scaled to unit area (2 / bandwidth).
* `log_mel` is ``librosa.power_to_db(librosa.feature.melspectrogram(center=True,
  pad_mode="constant", window="hann", win_length=n_fft, power=2), ref=1, amin=1e-10, top_db)``:
  a periodic Hann window of `n_fft` samples, frames every `hop_length` samples centred on
  sample ``t · hop_length`` (zero padding at the ends), power spectrum, mel weights, decibels
  floored at ``max − top_db`` per clip.
* `mfcc` is ``librosa.feature.mfcc`` of that (a type-II orthonormal DCT over the mel bands),
  and `deltas` is ``librosa.feature.delta`` (Savitzky–Golay, width 9, ``mode="interp"``),
  narrowed to the clip's frame count for clips shorter than 9 frames.

torch is imported by `log_mel` only (it runs ``torch.stft``).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InvalidInputError
from ..learn.training import check_float, check_int

_F_SP = 200.0 / 3  # Slaney: 66.67 Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    high = hz >= _MIN_LOG_HZ
    return np.where(high, _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mel)


def mel_to_hz(mel) -> np.ndarray:
    """The inverse of `hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    high = mel >= _MIN_LOG_MEL
    return np.where(high, _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL)),
                    _F_SP * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """The (n_mels, n_fft // 2 + 1) float32 weights that map a power spectrum to mel bands."""
    fmax = sample_rate / 2 if fmax is None else fmax
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


@dataclass(frozen=True)
class MelSettings:
    """How waveforms become log-mel spectrograms (see the module docstring)."""

    sample_rate: int = 16000
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float | None = 80.0

    def __post_init__(self):
        check_int("sample_rate", self.sample_rate, 1)
        check_int("n_fft", self.n_fft, 2)
        check_int("hop_length", self.hop_length, 1)
        check_int("n_mels", self.n_mels, 1)
        fmin = check_float("fmin", self.fmin)
        fmax = self.sample_rate / 2 if self.fmax is None else check_float("fmax", self.fmax, strict=True)
        if not fmin < fmax <= self.sample_rate / 2:
            raise InvalidInputError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, fmax={fmax}, "
                                    f"sample_rate={self.sample_rate}")
        if self.top_db is not None:
            check_float("top_db", self.top_db, strict=True)

    def to_dict(self) -> dict:
        return asdict(self)

    def frames(self, n_samples: int) -> int:
        """Frames in the spectrogram of `n_samples` samples (centred frames)."""
        return 1 + n_samples // self.hop_length


def log_mel(waveforms, settings: MelSettings, filterbank=None, window=None):
    """(batch, n_mels, frames) float32 decibels of (batch, samples) float32 `waveforms` (a tensor).

    `filterbank` and `window` are torch tensors on the waveforms' device, made when not given.
    """
    import torch

    if filterbank is None:
        filterbank = torch.from_numpy(mel_filterbank(settings.sample_rate, settings.n_fft, settings.n_mels,
                                                     settings.fmin, settings.fmax)).to(waveforms.device)
    if window is None:
        window = torch.hann_window(settings.n_fft, periodic=True, device=waveforms.device)
    spectrum = torch.stft(waveforms, settings.n_fft, settings.hop_length, window=window, center=True,
                          pad_mode="constant", return_complex=True)
    power = spectrum.real.square() + spectrum.imag.square()
    db = 10.0 * torch.log10(torch.clamp(filterbank @ power, min=1e-10))
    if settings.top_db is not None:
        db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - settings.top_db)
    return db


def mfcc(log_mel_db: np.ndarray, n_mfcc: int) -> np.ndarray:
    """(n_mfcc, frames): the orthonormal type-II DCT of a (n_mels, frames) log-mel in dB."""
    from scipy.fft import dct

    return dct(np.asarray(log_mel_db, dtype=np.float64), type=2, norm="ortho", axis=0)[:n_mfcc]


@functools.lru_cache(maxsize=512)
def _delta_operator(frames: int, order: int, width: int) -> np.ndarray:
    """The (frames, frames) matrix of the Savitzky–Golay derivative filter (it is linear, so
    filtering the identity gives it; one matrix product then replaces a filter call per clip)."""
    from scipy.signal import savgol_filter

    return savgol_filter(np.eye(frames), width, polyorder=order, deriv=order, axis=0, mode="interp")


def deltas(features: np.ndarray, order: int = 1, width: int = 9) -> np.ndarray:
    """Savitzky–Golay time derivatives of (n, frames) `features` (zeros for under three frames)."""
    frames = features.shape[1]
    width = min(width, frames if frames % 2 else frames - 1)
    if width < 3 or width <= order:
        return np.zeros_like(features)
    return features @ _delta_operator(frames, order, width).T


def pooled_mfcc(log_mel_db: np.ndarray, n_mfcc: int) -> np.ndarray:
    """The 6 · n_mfcc clip vector: the mean and the standard deviation over time of the MFCCs,
    then of their deltas, then of their delta-deltas."""
    coefficients = mfcc(log_mel_db, n_mfcc)
    parts = [coefficients, deltas(coefficients, 1), deltas(coefficients, 2)]
    return np.concatenate([np.concatenate([p.mean(axis=1), p.std(axis=1)]) for p in parts]).astype(np.float32)
