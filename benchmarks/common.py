"""Helpers shared by every benchmark in this folder.

* where the data is (`EMBEDWORKS_DATA`, default `../shared/data` beside the checkout) and where
  derived files are cached (`benchmarks/.cache/`, git-ignored);
* `run_isolated`: run one trainer in a fresh child process (multiprocessing "spawn"), so its
  peak resident memory (`ru_maxrss` of that process alone) is its own and nothing the parent or
  another trainer loaded is counted;
* `Timer`, `peak_rss_mb`, machine and version facts;
* output: one JSON line per result (stdout and, with `--json`, a file) and markdown tables with
  ours / peer ratios, ready for `benchmarks/RESULTS.md`.

Benchmarks run with the bench environment (`.venv-bench`, see `benchmarks/requirements.txt`)
and import nothing heavy at module level: the children import what they measure.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "benchmarks"


# ---------------------------------------------------------------------------------- places
def data_dir() -> Path:
    """The shared datasets: `$EMBEDWORKS_DATA`, else `../shared/data` beside the checkout."""
    return Path(os.environ.get("EMBEDWORKS_DATA", REPO.parent / "shared" / "data")).resolve()


def data_file(*parts: str) -> Path:
    """A file under the data folder; exits with one clear line when it is missing."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        sys.exit(f"benchmark data not found: {path} (set EMBEDWORKS_DATA to the shared data folder)")
    return path


def cache_dir() -> Path:
    """`benchmarks/.cache/` for derived files (built corpora); ignored by git."""
    path = BENCH_DIR / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return path


# ---------------------------------------------------------------------------------- measuring
def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Timer:
    """`with Timer() as t: ...` then `t.seconds` (wall clock, perf_counter)."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = math.nan
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


class ChildError(RuntimeError):
    """A benchmark child process failed; the message holds its traceback."""


def _child(conn, fn, args, kwargs) -> None:
    try:
        result = fn(*args, **kwargs)
        if isinstance(result, dict):
            result.setdefault("peak_rss_mb", peak_rss_mb())
            result["process_max_rss_mb"] = peak_rss_mb()
        conn.send(("ok", result))
    except BaseException:  # noqa: BLE001 - everything goes back to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_isolated(fn: Callable[..., dict], *args, **kwargs) -> dict:
    """Run `fn(*args, **kwargs)` in a fresh spawned process and return its result dict.

    `fn` must be importable (defined at module level). It should record `peak_rss_mb` itself
    (call `peak_rss_mb()` right after training, before evaluating); otherwise the child's peak
    at exit is used. `process_max_rss_mb` is always the child's peak at exit. A failure in the
    child raises `ChildError` with the child's traceback.
    """
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, fn, args, kwargs))
    process.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        process.join()
        raise ChildError(f"{getattr(fn, '__name__', fn)} died with exit code {process.exitcode} "
                         f"(killed for memory?)") from None
    process.join()
    if status != "ok":
        raise ChildError(payload)
    return payload


def limit_blas_threads(n: int = 1) -> None:
    """Set BLAS/OpenMP thread counts for children started after this call (NOTES.md: Numba-parallel
    kernels that call BLAS want one BLAS thread; so does implicit)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(n)


# ---------------------------------------------------------------------------------- facts
def machine() -> dict:
    """CPU model, core count, Python and OS, for the record."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": usable, "python": platform.python_version(),
            "os": f"{platform.system()} {platform.release()}"}


def versions(*modules: str) -> dict:
    """Installed versions of the given distributions (None when missing)."""
    from importlib import metadata

    out = {}
    for name in modules:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def command_line() -> str:
    """The command that produced the results, for RESULTS.md."""
    exe = Path(sys.executable)
    try:
        exe = exe.relative_to(REPO)
    except ValueError:
        pass
    script = Path(sys.argv[0])
    try:
        script = script.resolve().relative_to(REPO)
    except ValueError:
        pass
    return " ".join([str(exe), str(script), *sys.argv[1:]])


# ---------------------------------------------------------------------------------- output
def _json_default(value):
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(record: dict, path: str | os.PathLike | None = None) -> str:
    """Print one JSON line (NaN as null) and append it to `path` when given."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    line = json.dumps(clean, default=_json_default, sort_keys=False)
    print(line, flush=True)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    return line


def ratio(ours, peer) -> float:
    """ours / peer, NaN when either is missing or the peer is zero."""
    try:
        return ours / peer if peer else math.nan
    except TypeError:
        return math.nan


def fmt(value, spec: str = ".3f", suffix: str = "") -> str:
    """A table cell: `—` for missing or NaN values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:{spec}}{suffix}"


def markdown_row(cells: Sequence) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    """A GitHub markdown table; `align` is one character per column ('l', 'r', 'c')."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = [markdown_row(header), markdown_row(marks[a] for a in align)]
    lines += [markdown_row(r) for r in rows]
    return "\n".join(lines)
