"""`embedworks encode images|audio`: pretrained and trained encoders over media files."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from . import OUT_HELP, app, err, friendly_errors, out

encode_app = typer.Typer(help="Encode your files with pretrained models.", no_args_is_help=True)
app.add_typer(encode_app, name="encode")


@encode_app.command("images")
@friendly_errors
def encode_images(
        inputs: list[Path] = typer.Argument(..., help="A folder (searched recursively; top-level sub-folders "
                                                      "become the 'label' column) or image files."),
        output: Path = typer.Option(..., "--output", "-o", help=OUT_HELP),
        model: str = typer.Option("efficientnet-lite0", "--model", "-m",
                                  help="efficientnet-lite0, or the path of a Lite0 state dict."),
        batch_size: int = typer.Option(64, "--batch-size", help="Images encoded at once."),
        normalize: bool = typer.Option(False, "--normalize", help="Scale the vectors to unit length."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:n]."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Encode images into 1280-d vectors (EfficientNet-Lite0) and save them; unreadable files are skipped."""
    import time

    from ..encode.image import ImageEncoder
    from ..errors import InvalidInputError

    if len(inputs) > 1 and any(path.is_dir() for path in inputs):
        raise InvalidInputError("give one folder, or image files (not both)")
    source = inputs[0] if len(inputs) == 1 and inputs[0].is_dir() else [str(path) for path in inputs]
    encoder = ImageEncoder.from_pretrained(model, device=device, normalize=normalize)
    started = time.perf_counter()
    quiet_logger = logging.getLogger("embedworks.encode.image")
    level = quiet_logger.level
    quiet_logger.setLevel(logging.ERROR)  # the skipped files are reported below, in one line
    try:
        emb = encoder.encode(source, batch_size=batch_size, progress=False if quiet else None)
    finally:
        quiet_logger.setLevel(level)
    seconds = time.perf_counter() - started
    if not len(emb):
        raise InvalidInputError(f"none of the {len(encoder.last_skipped)} inputs could be read as an image")
    written = emb.save(output)
    skipped = encoder.last_skipped
    if skipped:
        shown = ", ".join(str(key) for key in skipped[:3]) + (", …" if len(skipped) > 3 else "")
        err.print(f"skipped {len(skipped):,} unreadable file{'s' if len(skipped) != 1 else ''}: {shown}",
                  highlight=False, markup=False, soft_wrap=True)
    out.print(f"{len(emb):,} images × {emb.dim} dims in {seconds:.1f} s → {written}", highlight=False)
