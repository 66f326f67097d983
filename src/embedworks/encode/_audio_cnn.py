"""The small 2-D CNN over log-mel spectrograms that `learn.audio.AudioEmbedding` trains.

waveform → log-mel (dB, `_audio_features.log_mel`) → BatchNorm per mel band → blocks of two
3 × 3 convolutions (BatchNorm, ReLU) each followed by 2 × 2 average pooling → channels and the
remaining frequency bands stacked (a mean over frequency would forget where in the spectrum a
pattern sits, i.e. pitch) → mean and max over the clip's own frames (padding excluded) → linear
layer → the `dim`-d embedding. Training adds a projection head (ReLU, linear, unit length) whose output the
contrastive loss sees; the embedding is taken before the head, as in SimCLR and SupCon, where
the pre-head representation transfers better than the projection.

Each clip occupies samples [start, stop) of a fixed-length canvas; frames outside it are set to
zero after every block, so what surrounds a clip (zeros, noise, other padding) never reaches its
vector.
"""

from __future__ import annotations

import torch
from torch import nn

from ._audio_features import MelSettings, log_mel, mel_filterbank


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class AudioCNN(nn.Module):
    """Log-mel CNN: `embed(waveforms, spans)` → (batch, dim); `forward` adds the projection head."""

    def __init__(self, mel: MelSettings, channels: tuple[int, ...] = (32, 64, 128, 128), dim: int = 128):
        super().__init__()
        self.mel = mel
        self.channels = tuple(channels)
        self.dim = dim
        self.register_buffer("filterbank", torch.from_numpy(
            mel_filterbank(mel.sample_rate, mel.n_fft, mel.n_mels, mel.fmin, mel.fmax)), persistent=False)
        self.register_buffer("window", torch.hann_window(mel.n_fft, periodic=True), persistent=False)
        self.input_norm = nn.BatchNorm1d(mel.n_mels)
        widths = (1, *self.channels)
        self.blocks = nn.ModuleList(_block(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.pool = nn.AvgPool2d(2, ceil_mode=True)
        bands = mel.n_mels
        for _ in self.channels:
            bands = -(-bands // 2)
        self.embedding = nn.Linear(2 * self.channels[-1] * bands, dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(dim, dim))

    def spectrogram(self, waveforms: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """(batch, 1, n_mels, frames) normalised log-mel, zero outside each clip."""
        x = log_mel(waveforms, self.mel, self.filterbank, self.window)
        x = self.input_norm(x) * frame_mask[:, None, :]
        return x[:, None]

    def frame_mask(self, spans: torch.Tensor, frames: int) -> torch.Tensor:
        """(batch, frames) float mask of the frames whose centre lies in [start, stop) of each span."""
        hop = self.mel.hop_length
        first = torch.div(spans[:, 0] + hop - 1, hop, rounding_mode="floor")
        last = torch.div(spans[:, 1] - 1, hop, rounding_mode="floor")
        last = torch.maximum(last, first)  # a clip shorter than a hop keeps one frame
        t = torch.arange(frames, device=spans.device)[None, :]
        return ((t >= first[:, None]) & (t <= last[:, None])).float()

    def embed(self, waveforms: torch.Tensor, spans: torch.Tensor, augment=None) -> torch.Tensor:
        """(batch, dim) embeddings of (batch, samples) waveforms whose clips lie at (batch, 2) `spans`.

        `augment(spectrogram)` may change the normalised spectrogram (training only).
        """
        mask = self.frame_mask(spans, self.mel.frames(waveforms.shape[1]))
        x = self.spectrogram(waveforms, mask)
        if augment is not None:
            x = augment(x) * mask[:, None, None, :]
        for block in self.blocks:
            x = self.pool(block(x))
            mask = torch.nn.functional.max_pool1d(mask[:, None], 2, ceil_mode=True)[:, 0]
            x = x * mask[:, None, None, :]
        x = x.flatten(1, 2)  # (batch, channels × bands, frames): where in frequency stays known
        counts = mask.sum(dim=1, keepdim=True).clamp(min=1.0)
        mean = x.sum(dim=2) / counts
        peak = x.masked_fill(mask[:, None, :] == 0, float("-inf")).amax(dim=2)
        return self.embedding(torch.cat([mean, peak], dim=1))

    def forward(self, waveforms: torch.Tensor, spans: torch.Tensor, augment=None) -> torch.Tensor:
        """(batch, dim) unit-length projections, what the contrastive loss compares."""
        return nn.functional.normalize(self.head(self.embed(waveforms, spans, augment)), dim=1)
