"""A trainable audio encoder: a small log-mel CNN learned from your clips by contrastive learning.

    model = AudioEmbedding(dim=128, epochs=30).fit("recordings/", labels="folder")
    model.encoder.encode("new_clips/")      # an AudioEncoder over the trained network
    model.save("digits-model/")             # AudioEncoder.load("digits-model/") reads it too

With labels (a list with one label per clip, or ``"folder"`` for the top-level sub-folder names
of a folder), the loss is supervised contrastive (SupCon, Khosla et al. 2020): in each batch,
clips of one class pull together and away from the rest. Batches hold groups of
`clips_per_class` clips of one class, so every clip has positives. Each clip is seen once per
step, in one augmented view. Without labels (``labels=None``) the loss is NT-Xent (SimCLR, Chen et
al. 2020) between two augmented views of every clip, the other clips of the batch as negatives.

Augmentations, drawn per view: a random crop of clips longer than `duration` and a random place
for shorter ones in the `duration`-second canvas (time shift), a gain of ±`gain_db` dB, white
noise at a signal-to-noise ratio drawn between `snr_db` bounds, and SpecAugment (one frequency
mask of up to n_mels / 8 bands and two time masks of up to a tenth of the frames each).

The network is `encode._audio_cnn.AudioCNN`; the embedding is its `dim`-d layer before the
projection head (see there). Training is seeded: with the same `seed`, `workers` and device, the
loss history and weights are identical on CPU.

A saved model is a folder without pickle: ``audio_model.json`` (format, version, front end,
architecture, training settings, loss history), ``weights.safetensors`` and ``embeddings.emb``
(the training clips' vectors, native format).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError
from ..files import atomic_directory
from .training import ProgressBar, check_float, check_int, default_workers

logger = logging.getLogger(__name__)


def _import_torch():
    from ..encode.audio import _import_torch as import_torch

    return import_torch()


def contrastive_loss(z, labels, temperature: float):
    """SupCon loss of unit-length projections `z` (n, d) with integer `labels` (n,): for every
    anchor with at least one positive (another row with its label), the mean over positives of
    −log softmax similarity, the softmax taken over all other rows. NT-Xent when each label marks
    the two views of one clip."""
    import torch

    n = len(z)
    similarity = (z @ z.T) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positive.sum(dim=1)
    anchors = counts > 0
    per_anchor = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[anchors] / counts[anchors]
    return -per_anchor.mean()


def _class_batches(codes: np.ndarray, batch_size: int, group: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches made of shuffled groups of `group` same-class clips."""
    groups = []
    for cls in np.unique(codes):
        rows = rng.permutation(np.flatnonzero(codes == cls))
        groups += [rows[i:i + group] for i in range(0, len(rows), group)]
    order = rng.permutation(len(groups))
    batches, current, size = [], [], 0
    for g in order:
        current.append(groups[g])
        size += len(groups[g])
        if size >= batch_size:
            batches.append(np.concatenate(current))
            current, size = [], 0
    if size >= 2:
        batches.append(np.concatenate(current))
    return batches


def _random_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    return [b for b in batches if len(b) >= 2]


class AudioEmbedding:
    """Learn a clip encoder from audio files: `fit(clips, labels)` → `encoder`, `embeddings`.

    `dim`: embedding size. `epochs`, `batch_size`, `lr` (AdamW, linear warm-up over the first
    epoch then cosine decay to 0), `weight_decay`. `sample_rate` and `duration` (seconds): every
    clip is resampled to the rate and cropped or placed in a canvas that long. `n_mels`, `n_fft`,
    `hop_length`: the log-mel front end. `channels`: the CNN's block widths. `temperature` of the
    contrastive softmax. `clips_per_class`: the group size of supervised batches. Augmentation:
    `gain_db`, `snr_db` (low, high), `spec_augment`. `seed`, `device` (``"auto"``: CUDA when
    available), `workers` (CPU threads for torch and file reading; default all cores), `progress`.
    """

    def __init__(self, dim: int = 128, epochs: int = 30, batch_size: int = 64, lr: float = 2e-3,
                 weight_decay: float = 1e-4, sample_rate: int = 16000, duration: float = 1.0, n_mels: int = 64,
                 n_fft: int = 400, hop_length: int = 160, channels: Sequence[int] = (32, 64, 128, 128),
                 temperature: float = 0.1, clips_per_class: int = 4, gain_db: float = 6.0,
                 snr_db: tuple[float, float] = (10.0, 40.0), spec_augment: bool = True, seed: int = 0,
                 device: str = "auto", workers: int | None = None, progress: bool | None = None):
        from ..encode._audio_features import MelSettings

        self.dim = check_int("dim", dim, 1)
        self.epochs = check_int("epochs", epochs, 1)
        self.batch_size = check_int("batch_size", batch_size, 2)
        self.lr = check_float("lr", lr, strict=True)
        self.weight_decay = check_float("weight_decay", weight_decay)
        self.duration = check_float("duration", duration, strict=True)
        self.mel = MelSettings(sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        self.channels = tuple(check_int("channels", c, 1) for c in channels)
        if not self.channels:
            raise InvalidInputError("channels must name at least one block width")
        self.temperature = check_float("temperature", temperature, strict=True)
        self.clips_per_class = check_int("clips_per_class", clips_per_class, 2)
        self.gain_db = check_float("gain_db", gain_db)
        low, high = (check_float("snr_db", v) for v in snr_db)
        if low > high:
            raise InvalidInputError(f"snr_db must be (low, high) with low <= high, got {snr_db}")
        self.snr_db = (low, high)
        self.spec_augment = bool(spec_augment)
        self.seed = check_int("seed", seed, 0)
        self.device = device
        self.workers = check_int("workers", workers, 1) if workers is not None else default_workers()
        self.progress = progress
        self.loss_history: list[float] = []
        self.last_skipped: list = []
        self.last_skipped_reasons: list[str] = []
        self.train_seconds = 0.0
        self.supervised: bool | None = None
        self._network = None
        self._path: str | None = None
        self._embeddings = None

    @property
    def sample_rate(self) -> int:
        return self.mel.sample_rate

    @property
    def samples(self) -> int:
        """The canvas length in samples."""
        return max(1, round(self.duration * self.sample_rate))

    def __repr__(self) -> str:
        state = "fitted" if self._network is not None else "not fitted"
        return f"AudioEmbedding(dim={self.dim}, sample_rate={self.sample_rate}, duration={self.duration}, {state})"

    # ------------------------------------------------------------------------------ data
    def _read(self, clips, labels):
        """(items kept, waveforms, labels kept or None); unreadable files skipped and reported."""
        from concurrent.futures import ThreadPoolExecutor

        from ..encode._media import is_folder, report_skipped
        from ..encode.audio import collect_clips, logger as audio_logger, read_clip

        items = collect_clips(clips)
        if isinstance(labels, str):
            if labels != "folder":
                raise InvalidInputError(f'labels must be a list, "folder" or None, got {labels!r}')
            if not is_folder(clips) or any(item.label is None for item in items):
                raise InvalidInputError('labels="folder" needs a folder whose clips all sit in sub-folders')
            labels = [item.label for item in items]
        elif labels is not None:
            labels = list(labels)
            if len(labels) != len(items):
                raise InvalidInputError(f"{len(items)} clips but {len(labels)} labels")
            if any(label is None for label in labels):
                raise InvalidInputError(f"label {[label is None for label in labels].index(True)} is None")
        with ThreadPoolExecutor(self.workers) as pool:
            read = list(pool.map(lambda item: read_clip(item, self.sample_rate), items))
        kept = [i for i, (wave, _) in enumerate(read) if wave is not None]
        skipped = [items[i].key for i, (wave, _) in enumerate(read) if wave is None]
        reasons = [reason for wave, reason in read if wave is None]
        self.last_skipped, self.last_skipped_reasons = skipped, reasons
        report_skipped(audio_logger, clips, skipped, reasons, len(items), len(kept), "audio")
        if len(kept) < 2:
            raise InvalidInputError(f"training needs at least 2 readable clips, got {len(kept)}")
        waves = [read[i][0] for i in kept]
        kept_labels = None if labels is None else [labels[i] for i in kept]
        return [items[i] for i in kept], waves, kept_labels

    def _views(self, waves: list[np.ndarray], rng: np.random.Generator):
        """(canvas (n, samples) float32, spans (n, 2) int64): randomly cropped or placed, with gain and noise."""
        n = self.samples
        canvas = np.zeros((len(waves), n), dtype=np.float32)
        spans = np.zeros((len(waves), 2), dtype=np.int64)
        for i, wave in enumerate(waves):
            if len(wave) > n:
                start = int(rng.integers(0, len(wave) - n + 1))
                wave, offset = wave[start:start + n], 0
            else:
                offset = int(rng.integers(0, n - len(wave) + 1))
            clip = wave * np.float32(10.0 ** (rng.uniform(-self.gain_db, self.gain_db) / 20.0))
            rms = float(np.sqrt(np.mean(np.square(clip, dtype=np.float64)))) or 1e-4
            noise_rms = rms * 10.0 ** (-rng.uniform(*self.snr_db) / 20.0)
            canvas[i] = rng.standard_normal(n, dtype=np.float32) * np.float32(noise_rms)
            canvas[i, offset:offset + len(clip)] += clip
            spans[i] = (offset, offset + len(clip))
        return canvas, spans

    def _batch(self, waves: list[np.ndarray], codes: np.ndarray | None, rng: np.random.Generator):
        """(canvas, spans, labels) of one step: a view per clip labelled by class, or without
        classes two views per clip labelled by clip (NT-Xent)."""
        if codes is not None:
            return (*self._views(waves, rng), codes)
        first, second = self._views(waves, rng), self._views(waves, rng)
        return (np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]]),
                np.tile(np.arange(len(waves)), 2))

    def _spec_augment(self, rng: np.random.Generator):
        """A function that zeroes one random band and two random time stretches per spectrogram."""
        import torch

        def augment(x):
            batch, _, bands, frames = x.shape
            keep = np.ones((batch, bands, frames), dtype=np.float32)
            for i in range(batch):
                width = int(rng.integers(0, max(1, bands // 8) + 1))
                start = int(rng.integers(0, bands - width + 1))
                keep[i, start:start + width, :] = 0
                for _ in range(2):
                    width = int(rng.integers(0, max(1, frames // 10) + 1))
                    start = int(rng.integers(0, frames - width + 1))
                    keep[i, :, start:start + width] = 0
            return x * torch.from_numpy(keep).to(x.device)[:, None]

        return augment

    # ------------------------------------------------------------------------------ training
    def fit(self, clips, labels=None) -> "AudioEmbedding":
        """Train on `clips` (a folder, files, or in-memory clips as for `AudioEncoder.encode`).

        `labels`: one per clip, ``"folder"`` (the top-level sub-folder names), or None for
        self-supervised training. Returns self; `encoder`, `embeddings` and `loss_history` follow.
        """
        torch = _import_torch()
        from ..encode._audio_cnn import AudioCNN
        from ..encode.text import _resolve_device

        device = _resolve_device(self.device)
        items, waves, labels = self._read(clips, labels)
        supervised = labels is not None
        if supervised:
            classes, codes = np.unique(np.asarray([repr(v) for v in labels]), return_inverse=True)
            if len(classes) < 2:
                raise InvalidInputError("supervised training needs at least 2 classes; pass labels=None "
                                        "for self-supervised training")
        rng = np.random.default_rng(self.seed)
        threads = torch.get_num_threads()
        torch.set_num_threads(self.workers)
        try:
            torch.manual_seed(self.seed)
            network = AudioCNN(self.mel, self.channels, self.dim).to(device)
            optimizer = torch.optim.AdamW(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            augment = self._spec_augment(rng) if self.spec_augment else None
            history = []
            started = time.perf_counter()
            steps_per_epoch = None
            step = 0
            with ProgressBar(self.progress, total=self.epochs * len(waves), description="training",
                             unit="clips") as bar:
                for epoch in range(self.epochs):
                    batches = (_class_batches(codes, self.batch_size, self.clips_per_class, rng) if supervised
                               else _random_batches(len(waves), self.batch_size, rng))
                    steps_per_epoch = steps_per_epoch or len(batches)
                    total_steps = steps_per_epoch * self.epochs
                    network.train()
                    losses = []
                    for batch in batches:
                        canvas, spans, batch_labels = self._batch([waves[i] for i in batch],
                                                                  codes[batch] if supervised else None, rng)
                        for group in optimizer.param_groups:
                            group["lr"] = self._learning_rate(step, steps_per_epoch, total_steps)
                        z = network(torch.from_numpy(canvas).to(device), torch.from_numpy(spans).to(device), augment)
                        loss = contrastive_loss(z, torch.from_numpy(batch_labels).to(device), self.temperature)
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        losses.append(float(loss.detach()))
                        step += 1
                        bar.advance(len(batch))
                    history.append(float(np.mean(losses)))
                    logger.info("epoch %d/%d: loss %.4f", epoch + 1, self.epochs, history[-1])
            self._recalibrate(network, waves)
            self.train_seconds = time.perf_counter() - started
        finally:
            torch.set_num_threads(threads)
        self.loss_history = history
        self.supervised = supervised
        self._network = network.eval()
        self._path = None
        self._embeddings = self._encode_training(items, waves, labels)
        return self

    def _recalibrate(self, network, waves: list[np.ndarray]) -> None:
        """Set every BatchNorm's statistics to their exact averages over the training clips, laid
        out as the encoder lays them (no augmentation), under the final weights: running averages
        collected during training lag behind the weights and the augmentations."""
        import torch

        from ..encode.audio import _Trained

        layers = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        momenta = [layer.momentum for layer in layers]
        for layer in layers:
            layer.reset_running_stats()
            layer.momentum = None  # cumulative average over the batches below
        network.train()
        runner = _Trained(network, self._config(), None, str(next(network.parameters()).device))
        with torch.no_grad():
            for start in range(0, len(waves), self.batch_size):
                runner.run(waves[start:start + self.batch_size], train_mode=True)
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        network.eval()

    def _learning_rate(self, step: int, warmup: int, total: int) -> float:
        if step < warmup:
            return self.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    def _encode_training(self, items, waves, labels):
        from ..space import Embeddings

        encoder = self.encoder
        vectors = np.concatenate([encoder._backend.run(waves[i:i + 64]) for i in range(0, len(waves), 64)])
        metadata = None
        if labels is not None:
            metadata = {"label": labels}
        elif any(item.label is not None for item in items):
            metadata = {"label": [item.label for item in items]}
        return Embeddings([item.key for item in items], vectors, metadata, metric="cosine",
                          encoder=encoder.encoder_spec)

    # ------------------------------------------------------------------------------ results
    def _check_fitted(self):
        if self._network is None:
            raise InvalidInputError("the AudioEmbedding is not fitted yet; call fit(clips) first")

    @property
    def encoder(self):
        """An `AudioEncoder` over the trained network (its spec names the saved folder, once saved)."""
        from ..encode.audio import AudioEncoder, _Trained

        self._check_fitted()
        device = str(next(self._network.parameters()).device)
        return AudioEncoder(_Trained(self._network, self._config(), self._path, device))

    @property
    def embeddings(self):
        """The training clips' embeddings, keyed as `AudioEncoder.encode` keys them, with a
        ``label`` column when there were labels (or sub-folders)."""
        self._check_fitted()
        return self._embeddings

    def _config(self) -> dict:
        from ..encode.audio import TRAINED_FORMAT, TRAINED_VERSION

        return {"format": TRAINED_FORMAT, "version": TRAINED_VERSION, "mel": self.mel.to_dict(),
                "channels": list(self.channels), "dim": self.dim, "duration": self.duration,
                "training": {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                             "weight_decay": self.weight_decay, "temperature": self.temperature,
                             "clips_per_class": self.clips_per_class, "gain_db": self.gain_db,
                             "snr_db": list(self.snr_db), "spec_augment": self.spec_augment, "seed": self.seed,
                             "workers": self.workers, "supervised": self.supervised,
                             "train_seconds": self.train_seconds},
                "loss_history": self.loss_history}

    # ------------------------------------------------------------------------------ files
    def save(self, path) -> Path:
        """Write the model to the folder `path` (replacing a saved audio model or an empty folder)."""
        from safetensors.torch import save_file

        from ..encode.audio import TRAINED_MARKER, WEIGHTS_FILE

        self._check_fitted()
        path = Path(path)
        state = {name: tensor.detach().cpu().contiguous() for name, tensor in self._network.state_dict().items()}
        previous = self._path, self._embeddings.encoder
        self._path = str(path.resolve())  # the saved vectors name the folder they can be remade from
        self._embeddings.encoder = self.encoder.encoder_spec
        try:
            with atomic_directory(path, marker=TRAINED_MARKER) as temp:
                save_file(state, str(temp / WEIGHTS_FILE))
                self._embeddings.save(temp / "embeddings.emb")
                (temp / TRAINED_MARKER).write_text(json.dumps(self._config(), indent=2) + "\n", encoding="utf-8")
        except BaseException:
            self._path, self._embeddings.encoder = previous
            raise
        return path

    @classmethod
    def load(cls, path, device: str = "auto") -> "AudioEmbedding":
        """A model written by `save`; its encoder gives the same vectors."""
        from .. import load as load_embeddings
        from ..encode.audio import AudioEncoder

        path = Path(path).expanduser()
        encoder = AudioEncoder.load(path, device=device)
        config = encoder._backend.config
        training = config.get("training", {})
        mel = config["mel"]
        model = cls(dim=config["dim"], duration=config["duration"], channels=config["channels"],
                    sample_rate=mel["sample_rate"], n_mels=mel["n_mels"], n_fft=mel["n_fft"],
                    hop_length=mel["hop_length"], device=device,
                    **{k: (tuple(v) if k == "snr_db" else v) for k, v in training.items()
                       if k not in ("supervised", "train_seconds", "workers")})
        model.loss_history = [float(v) for v in config.get("loss_history", [])]
        model.supervised = training.get("supervised")
        model.train_seconds = float(training.get("train_seconds", 0.0))
        model._network = encoder._backend.network
        model._path = str(path.resolve())
        if (path / "embeddings.emb").exists():
            model._embeddings = load_embeddings(path / "embeddings.emb")
        return model
