"""`embedworks collection create|add|search|info|delete`: persistent collections from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from . import app, friendly_errors, out, print_neighbours

collection_app = typer.Typer(help="Persistent, searchable collections of vectors (see docs/collections.md).",
                             no_args_is_help=True)
app.add_typer(collection_app, name="collection")

PATH_HELP = "Collection directory."
ADD_BATCH = 50_000


def _value(text: str):
    """A command-line value as JSON when it reads as JSON (numbers, true, null), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _where(conditions: list[str]) -> dict | None:
    """--where col=value options as a filter: repeated columns are alternatives, columns combine."""
    from ..errors import InvalidInputError

    found: dict[str, list] = {}
    for condition in conditions:
        name, sep, value = condition.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--where wants COLUMN=VALUE, got {condition!r}")
        found.setdefault(name, []).append(_value(value))
    return found or None


def _key(col, text: str):
    """The stored key a command-line word names (int keys are given as digits)."""
    if text not in col and text.lstrip("-").isdigit() and int(text) in col:
        return int(text)
    return text


def _params(options: list[str]) -> dict:
    from ..errors import InvalidInputError

    params = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--param wants NAME=VALUE, got {option!r}")
        params[name] = _value(value)
    return params


@collection_app.command("create")
@friendly_errors
def create(path: Path = typer.Argument(..., help="Directory to create (absent or empty)."),
           dim: Optional[int] = typer.Option(None, "--dim", help="Vector size (default: the encoder's)."),
           metric: str = typer.Option("cosine", "--metric", "-m", help="cosine, dot or euclidean."),
           index: str = typer.Option("auto", "--index",
                                     help="auto (exact below 50,000 vectors, HNSW above), exact, hnsw or ivfpq."),
           param: list[str] = typer.Option([], "--param", "-p",
                                           help="Index parameter NAME=VALUE (hnsw: M, ef_construction, ef_search; "
                                                "ivfpq: nlist, m, nbits, nprobe, refine); repeatable."),
           encoder: Optional[str] = typer.Option(None, "--encoder", "-e",
                                                 help="minilm, efficientnet-lite0, or a model / saved LSA folder: "
                                                      "lets `add` take texts or files and `search` a query."),
           name: Optional[str] = typer.Option(None, "--name", help="Name (default: the directory's).")):
    """Create an empty collection."""
    from ..store import Collection

    with Collection.create(path, dim=dim, metric=metric, index={"kind": index, **_params(param)},
                           encoder=encoder, name=name) as col:
        out.print(f"created collection {col.name!r}: {col.dim} dims, {col.metric}, index {index} → {path}",
                  highlight=False)


@collection_app.command("add")
@friendly_errors
def add(path: Path = typer.Argument(..., help=PATH_HELP),
        inputs: list[str] = typer.Argument(..., help="An embeddings file (any format `embedworks info` reads; "
                                                     "its keys, vectors and metadata are upserted), or texts / "
                                                     "files to encode with the collection's encoder."),
        key: list[str] = typer.Option([], "--key", help="Keys for the texts or files, one each, in order "
                                                        "(default: the text or path itself)."),
        format: Optional[str] = typer.Option(None, "--format", "-f", help="Format of the embeddings file.")):
    """Insert or replace vectors: from an embeddings file, or encoded from texts or files."""
    from .. import load
    from ..errors import InvalidInputError
    from ..store import Collection

    with Collection.open(path) as col:
        if len(inputs) == 1 and not key and Path(inputs[0]).exists() and _is_embeddings(Path(inputs[0]), format):
            emb = load(inputs[0], format=format)
            for start in range(0, len(emb), ADD_BATCH):
                rows = slice(start, start + ADD_BATCH)
                metadata = {name: values[rows] for name, values in emb.metadata.items()} or None
                col.upsert(emb.keys[rows], emb.vectors[rows], metadata=metadata)
            count = len(emb)
        else:
            if key and len(key) != len(inputs):
                raise InvalidInputError(f"{len(key)} --key options for {len(inputs)} inputs; give one each")
            count = col.upsert(key or inputs, items=inputs)
        out.print(f"{count:,} upserted; {col.name!r} holds {len(col):,}", highlight=False)


def _is_embeddings(path: Path, format: Optional[str]) -> bool:
    """True when `path` reads as embeddings (an image or audio file does not)."""
    from ..errors import FormatError
    from ..formats import detect_format

    if format is not None:
        return True
    try:
        detect_format(path)
    except (FormatError, UnicodeDecodeError):
        return False
    return True


@collection_app.command("search")
@friendly_errors
def search(path: Path = typer.Argument(..., help=PATH_HELP),
           query: Optional[str] = typer.Argument(None, help="Query text (encoded with the collection's encoder)."),
           key: Optional[str] = typer.Option(None, "--key", help="Find the neighbours of this stored key."),
           file: Optional[Path] = typer.Option(None, "--file", help="Query with a file (an image, a sound)."),
           k: int = typer.Option(10, "-k", "--top", help="How many results."),
           where: list[str] = typer.Option([], "--where", "-w",
                                           help="Only keys whose metadata COLUMN=VALUE; repeat a column for "
                                                "alternatives, give several columns to require all."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON list of [key, score].")):
    """The K nearest keys to a text, a stored key or a file."""
    from ..store import Collection

    with Collection.open(path, readonly=True) as col:
        hits = col.search(query, key=None if key is None else _key(col, key), file=file, k=k, filter=_where(where))
        if as_json:
            out.print(json.dumps(hits, ensure_ascii=False), highlight=False, soft_wrap=True, markup=False)
        else:
            what = query if query is not None else key if key is not None else str(file)
            print_neighbours(f"nearest to {what!r} in {col.name!r}", hits, col.metric)


@collection_app.command("info")
@friendly_errors
def info(path: Path = typer.Argument(..., help=PATH_HELP),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")):
    """Show size, metric, index, encoder and files of a collection."""
    from ..store import Collection

    with Collection.open(path, readonly=True) as col:
        summary = col.info()
    if as_json:
        out.print(json.dumps(summary), highlight=False, soft_wrap=True, markup=False)
        return
    table = Table(show_header=False, title=summary["name"], title_justify="left")
    index = summary["index"]
    params = ", ".join(f"{name}={value}" for name, value in index["params"].items())
    rows = [("vectors", f"{summary['count']:,}"), ("dim", str(summary["dim"])), ("metric", summary["metric"]),
            ("index", f"{index['kind']} (in use: {index['active']}{'; ' + params if params else ''})"),
            ("encoder", json.dumps(summary["encoder"]) if summary["encoder"] else "none"),
            ("metadata", ", ".join(summary["metadata_columns"]) or "none"),
            ("log", f"{summary['log_records']:,} records, {summary['log_bytes']:,} bytes since snapshot "
                    f"{summary['generation']}"), ("path", summary["path"])]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


@collection_app.command("delete")
@friendly_errors
def delete(path: Path = typer.Argument(..., help=PATH_HELP),
           keys: list[str] = typer.Argument(..., help="Keys to remove (all must exist).")):
    """Remove keys from a collection."""
    from ..store import Collection

    with Collection.open(path) as col:
        count = col.delete([_key(col, key) for key in keys])
        out.print(f"{count:,} deleted; {col.name!r} holds {len(col):,}", highlight=False)
