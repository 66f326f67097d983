"""`embedworks train entity`: entity embeddings of a table's categorical columns."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import friendly_errors, out, train_app


def _columns(values: Optional[list[str]]) -> Optional[list[str]]:
    """Column names given comma-separated, repeated, or both."""
    if not values:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@train_app.command("entity")
@friendly_errors
def train_entity(
        table: Path = typer.Argument(..., help="CSV/TSV (any separator, plain or .gz) or Parquet file."),
        target: str = typer.Option(..., "--target", "-t", help="Column to predict."),
        output: Path = typer.Option(..., "--output", "-o",
                                    help="Directory to write: the model, and <column>.emb per categorical column."),
        categorical: Optional[list[str]] = typer.Option(None, "--categorical", "-c",
                                                        help="Categorical columns (comma-separated or repeated; "
                                                             "default: inferred)."),
        numeric: Optional[list[str]] = typer.Option(None, "--numeric", "-n",
                                                    help="Numeric columns (default: inferred)."),
        task: str = typer.Option("binary", "--task", help="binary, multiclass or regression."),
        epochs: int = typer.Option(20, "--epochs", help="Passes over the rows (early stopping may end sooner)."),
        batch_size: int = typer.Option(256, "--batch-size", help="Rows per step."),
        lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
        dims: str = typer.Option("auto", "--dims",
                                 help="Embedding size per column: auto (min(50, ⌈rows/2⌉)) or a number."),
        min_count: int = typer.Option(1, "--min-count", help="Rarer categories share the <unknown> row."),
        class_weight: Optional[str] = typer.Option(None, "--class-weight", help="balanced: weight rare classes up."),
        validation: float = typer.Option(0.1, "--validation", help="Fraction held out for early stopping (0: none)."),
        seed: int = typer.Option(0, "--seed", help="Random seed."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda[:n]."),
        sep: Optional[str] = typer.Option(None, "--sep", help="CSV field separator (default: sniffed)."),
        names: Optional[list[str]] = typer.Option(None, "--names", help="Column names for a file without a header."),
        comment: Optional[str] = typer.Option(None, "--comment", help="Skip CSV lines starting with this."),
        quiet: bool = typer.Option(False, "--quiet", help="No progress bar.")):
    """Learn embeddings of categorical columns by predicting TARGET, then save them and the model."""
    import time

    from ..data import Table
    from ..errors import InvalidInputError
    from ..learn import EntityEmbedding
    from ..learn.entity import embedding_files

    if class_weight not in (None, "balanced"):
        raise InvalidInputError(f"--class-weight must be balanced, got {class_weight!r}")
    options = {} if table.suffix.lower() in (".parquet", ".pq") else {
        "sep": sep, "names": _columns(names), "comment": comment}
    data = Table.read(table, **options)
    model = EntityEmbedding(target=target, task=task, categorical=_columns(categorical), numeric=_columns(numeric),
                            dims=int(dims) if dims.isdigit() else dims, epochs=epochs, batch_size=batch_size,
                            lr=lr, min_count=min_count, class_weight=class_weight, validation=validation,
                            seed=seed, device=device, progress=False if quiet else None)
    started = time.perf_counter()
    model.fit(data)
    seconds = time.perf_counter() - started
    model.save(output)
    last = model.history[model.best_epoch - 1]
    loss = f"validation loss {last['val_loss']:.4f}" if "val_loss" in last else f"loss {last['loss']:.4f}"
    out.print(f"{len(data):,} rows, best epoch {model.best_epoch} of {len(model.history)} ({loss}), "
              f"{seconds:.1f} s → {output}", highlight=False)
    files = embedding_files(list(model.embeddings))
    for column, emb in model.embeddings.items():
        out.print(f"  {output / files[column]}: {len(emb):,} categories × {emb.dim}", highlight=False)
