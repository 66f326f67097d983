"""`embedworks …`: the command line. Each command is a thin shell over the Python API.

Bad input ends with exit code 1 and one line on stderr naming what is wrong, never a traceback.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .errors import EmbedworksError

app = typer.Typer(
    name="embedworks",
    help="Turn objects into vectors and put the vectors to work: inspect, convert and query embeddings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

FORMAT_HELP = "native, word2vec, word2vec-binary, glove, fasttext, tsv or npy (default: from the suffix or content)"


def friendly_errors(command):
    """Turn embedworks and file errors into one red line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (EmbedworksError, OSError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            err.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


@app.callback()
def main(quiet: bool = typer.Option(False, "--quiet", "-q", help="Only print results and errors."),
         verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what is being done.")):
    """embedworks: learn, encode, search, evaluate, visualize and serve embeddings."""
    level = logging.WARNING if quiet else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def parse_key(emb, text: str):
    """The key a command-line word names: itself, or the integer it spells for int-keyed sets."""
    if text in emb:
        return text
    if text.lstrip("-").isdigit() and int(text) in emb:
        return int(text)
    return text  # lets the lookup raise UnknownKeyError with suggestions


def _load(path: Path, format: Optional[str] = None, limit: Optional[int] = None):
    from . import load

    return load(path, format=format, limit=limit)


def print_neighbours(title: str, pairs, metric: str) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("key")
    table.add_column("distance" if metric == "euclidean" else metric, justify="right")
    for rank, (key, score) in enumerate(pairs, 1):
        table.add_row(str(rank), str(key), f"{score:.4f}")
    out.print(table)


@app.command()
@friendly_errors
def info(file: Path = typer.Argument(..., help="Embeddings file or native directory."),
         format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """Show how many keys, the dimension, metric, metadata columns and a few keys."""
    emb = _load(file, format)
    norms = emb.norms()
    table = Table(show_header=False, title=str(file), title_justify="left")
    table.add_row("keys", f"{len(emb):,}")
    table.add_row("dim", str(emb.dim))
    table.add_row("metric", emb.metric)
    table.add_row("metadata", ", ".join(emb.metadata) or "none")
    if len(emb):
        table.add_row("vector norm", f"mean {norms.mean():.4g}, min {norms.min():.4g}, max {norms.max():.4g}")
        table.add_row("first keys", ", ".join(map(str, emb.keys[:8])))
    out.print(table)


@app.command()
@friendly_errors
def convert(source: Path = typer.Argument(..., help="File to read."),
            target: Path = typer.Argument(..., help="File to write (format from its suffix unless --to)."),
            to: Optional[str] = typer.Option(None, "--to", help=FORMAT_HELP),
            from_: Optional[str] = typer.Option(None, "--from", help=FORMAT_HELP),
            limit: Optional[int] = typer.Option(None, "--limit", help="Convert only the first N rows.")):
    """Convert embeddings between formats (e.g. word2vec binary → native, native → TensorBoard TSV)."""
    emb = _load(source, from_, limit)
    written = emb.save(target, format=to)
    out.print(f"wrote {len(emb):,} × {emb.dim} to {written}")


@app.command()
@friendly_errors
def similar(file: Path = typer.Argument(..., help="Embeddings file."),
            key: str = typer.Argument(..., help="Key whose neighbours to list."),
            k: int = typer.Option(10, "-k", "--top", help="How many neighbours."),
            metric: Optional[str] = typer.Option(None, "--metric", "-m", help="cosine, dot or euclidean (default: the file's)."),
            format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """List the k nearest neighbours of KEY."""
    emb = _load(file, format)
    metric = metric or emb.metric
    print_neighbours(f"nearest to {key!r}", emb.most_similar(parse_key(emb, key), k=k, metric=metric), metric)


@app.command()
@friendly_errors
def analogy(file: Path = typer.Argument(..., help="Embeddings file."),
            a: str = typer.Argument(..., help="A, as in: A is to B as C is to ?"),
            b: str = typer.Argument(..., help="B"),
            c: str = typer.Argument(..., help="C"),
            k: int = typer.Option(5, "-k", "--top", help="How many answers."),
            method: str = typer.Option("3cosadd", "--method", help="3cosadd or 3cosmul."),
            format: Optional[str] = typer.Option(None, "--format", "-f", help=FORMAT_HELP)):
    """Answer "A is to B as C is to ?" (B − A + C)."""
    emb = _load(file, format)
    keys = [parse_key(emb, x) for x in (a, b, c)]
    answers = emb.analogy(positive=[keys[1], keys[2]], negative=[keys[0]], k=k, method=method)
    print_neighbours(f"{a} : {b} :: {c} : ?", answers, "cosine" if method == "3cosadd" else method)


@app.command()
@friendly_errors
def demo(output: Path = typer.Option(Path("demo-output"), "--output", "-o", help="Folder for what the demo writes."),
         workers: int = typer.Option(2, "--workers", help="Training threads.")):
    """Run the tour on bundled data: learn word vectors, query them, save them."""
    from .demo import run

    run(output, workers=workers, console=out)
