"""`embedworks encode images|audio` and `embedworks train audio`: encoders over media files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from . import OUT_HELP, app, err, friendly_errors, out, train_app

encode_app = typer.Typer(help="Encode your files with pretrained models.", no_args_is_help=True)
app.add_typer(encode_app, name="encode")


@encode_app.command("images")
@friendly_errors
def encode_images(
        inputs: list[Path] = typer.Argument(..., help="A folder (searched recursively; top-level sub-folders "
                                                      "become the 'label' column) or image files."),
        output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
        model: str = typer.Option("efficientnet-lite0", "--model", "-m",
                                  help="efficientnet-lite0, the path of a Lite0 state dict, or of a torch.export / "
                                       "TorchScript archive (e.g. a saved torchvision or timm network)."),
        preprocessing: Optional[str] = typer.Option(None, "--preprocessing",
                                                    help="lite0 or imagenet (default: lite0 for Lite0 weights, "
                                                         "imagenet for saved programs)."),
        batch_size: int = typer.Option(64, "--batch-size", help="Images encoded at once."),
        normalize: bool = typer.Option(False, "--normalize", help="Scale the vectors to unit length."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:n]."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Encode images into vectors (EfficientNet-Lite0's 1280-d, or a saved program's) and save them;
    unreadable files are skipped."""
    from ..encode.image import ImageEncoder

    source = _source(inputs)
    encoder = ImageEncoder.from_pretrained(model, device=device, normalize=normalize, preprocessing=preprocessing)
    _encode_and_save(encoder, source, output, batch_size, quiet, "images")


def _source(inputs: list[Path]):
    """One folder as a path, else the files as a list of strings."""
    from ..errors import InvalidInputError

    if len(inputs) > 1 and any(path.is_dir() for path in inputs):
        raise InvalidInputError("give one folder, or files (not both)")
    return inputs[0] if len(inputs) == 1 and inputs[0].is_dir() else [str(path) for path in inputs]


def _encode_and_save(encoder, source, output: Path, batch_size: int, quiet: bool, what: str) -> None:
    """Encode, save, and report the vectors written and the files skipped (in one line)."""
    import time

    from ..errors import InvalidInputError

    started = time.perf_counter()
    quiet_logger = logging.getLogger(type(encoder).__module__)
    level = quiet_logger.level
    quiet_logger.setLevel(logging.ERROR)  # the skipped files are reported below, in one line
    try:
        emb = encoder.encode(source, batch_size=batch_size, progress=False if quiet else None)
    finally:
        quiet_logger.setLevel(level)
    seconds = time.perf_counter() - started
    if not len(emb):
        raise InvalidInputError(f"none of the {len(encoder.last_skipped)} inputs could be read as {what}")
    written = emb.save(output)
    skipped = encoder.last_skipped
    if skipped:
        shown = ", ".join(str(key) for key in skipped[:3]) + (", …" if len(skipped) > 3 else "")
        err.print(f"skipped {len(skipped):,} unreadable file{'s' if len(skipped) != 1 else ''}: {shown}",
                  highlight=False, markup=False, soft_wrap=True)
    unit = "images" if what == "images" else "clips"
    out.print(f"{len(emb):,} {unit} × {emb.dim} dims in {seconds:.1f} s → {written}", highlight=False)


@encode_app.command("audio")
@friendly_errors
def encode_audio(
        inputs: list[Path] = typer.Argument(..., help="A folder (searched recursively for .wav, .flac and "
                                                      ".ogg; top-level sub-folders become the 'label' column) "
                                                      "or audio files."),
        output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
        model: str = typer.Option("mfcc", "--model", "-m",
                                  help="mfcc, a folder saved by 'embedworks train audio', or a local Hugging Face "
                                       "wav2vec 2.0 / HuBERT folder."),
        duration: Optional[float] = typer.Option(None, "--duration",
                                                 help="Keep the middle N seconds of longer clips (default: whole "
                                                      "clips; a trained model's own)."),
        batch_size: int = typer.Option(32, "--batch-size", help="Clips encoded at once."),
        normalize: bool = typer.Option(False, "--normalize", help="Scale the vectors to unit length."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:n] (pretrained and trained models)."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Encode audio clips (MFCC baseline, a trained CNN, or wav2vec 2.0 / HuBERT) and save the vectors;
    unreadable files are skipped."""
    from ..encode.audio import AudioEncoder

    options = {"duration": duration, "normalize": normalize}
    if model.lower() != "mfcc":
        options["device"] = device
    encoder = AudioEncoder.from_model(model, **options)
    _encode_and_save(encoder, _source(inputs), output, batch_size, quiet, "audio")


@train_app.command("audio")
@friendly_errors
def train_audio(
        folder: Path = typer.Argument(..., help="A folder of .wav, .flac or .ogg clips; with sub-folders, "
                                                "their names are the labels."),
        output: Path = typer.Option(..., "--output", "-o", help="Where to save the model (a directory)."),
        embeddings: Optional[Path] = typer.Option(None, "--embeddings", "-e",
                                                  help="Also write the training clips' vectors here."),
        self_supervised: bool = typer.Option(False, "--self-supervised",
                                             help="Ignore sub-folders: learn from two augmented views per clip."),
        dim: int = typer.Option(128, help="Vector size."),
        epochs: int = typer.Option(30, help="Passes over the clips."),
        batch_size: int = typer.Option(64, "--batch-size", help="Clips per step."),
        lr: float = typer.Option(2e-3, help="Peak learning rate (AdamW)."),
        sample_rate: int = typer.Option(16000, "--sample-rate", help="Clips are resampled to this rate (Hz)."),
        duration: float = typer.Option(1.0, help="Seconds per training view; longer clips are cropped."),
        n_mels: int = typer.Option(64, "--n-mels", help="Mel bands of the log-mel front end."),
        hop_length: int = typer.Option(160, "--hop-length", help="Samples between spectrogram frames."),
        channels: str = typer.Option("32,64,128,128", "--channels",
                                     help="Widths of the CNN's blocks, comma-separated (fewer or narrower for "
                                          "few clips)."),
        seed: int = typer.Option(0, help="Random seed."),
        workers: Optional[int] = typer.Option(None, help="CPU threads (default: all cores)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:n]."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Train a CNN audio encoder on FOLDER (supervised contrastive by sub-folder, or self-supervised)."""
    from ..errors import InvalidInputError
    from ..learn.audio import AudioEmbedding

    if not folder.is_dir():
        raise InvalidInputError(f"{folder}: not a folder")
    try:
        widths = [int(part) for part in channels.split(",")]
    except ValueError:
        raise InvalidInputError(f"--channels must be integers separated by commas, got {channels!r}") from None
    model = AudioEmbedding(dim=dim, epochs=epochs, batch_size=batch_size, lr=lr, sample_rate=sample_rate,
                           duration=duration, n_mels=n_mels, hop_length=hop_length, channels=widths, seed=seed,
                           workers=workers, device=device, progress=False if quiet else None)
    if not self_supervised and not any(path.is_dir() and not path.name.startswith(".") for path in folder.iterdir()):
        raise InvalidInputError(f"{folder} has no sub-folders to take labels from; "
                                "add --self-supervised to learn without labels")
    model.fit(folder, labels=None if self_supervised else "folder")
    model.save(output)
    emb = model.embeddings
    out.print(f"{len(emb):,} clips, {'self-supervised' if self_supervised else 'supervised'}, "
              f"loss {model.loss_history[0]:.3f} → {model.loss_history[-1]:.3f} in {model.train_seconds:.1f} s "
              f"→ {output}", highlight=False)
    if embeddings is not None:
        written = emb.save(embeddings)
        out.print(f"{len(emb):,} vectors × {emb.dim} → {written}", highlight=False)
