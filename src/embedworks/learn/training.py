"""What every trainer shares: parameter checks, worker count, BLAS thread limits, progress bar."""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

from ..errors import InvalidInputError


def check_int(name: str, value, minimum: int) -> int:
    """`value` as an int, or an `InvalidInputError` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(name: str, value, minimum: float = 0.0, strict: bool = False) -> float:
    """`value` as a finite float >= `minimum` (> when `strict`), or an error naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise InvalidInputError(f"{name} must be {'>' if strict else '>='} {minimum}, got {value}")
    return float(value)


def default_workers() -> int:
    """The number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class limit_blas_threads:
    """Limit BLAS to one thread while training threads run (threadpoolctl when installed),
    so Numba workers and BLAS do not oversubscribe the cores."""

    def __enter__(self):
        self._ctx = None
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self
        self._ctx = threadpool_limits(limits=1)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
        return False


class ProgressBar:
    """A rich progress bar (done, rate in `unit`/s, ETA) on a terminal; does nothing otherwise.

    `progress=None` shows it when stderr is a terminal, True always, False never. Threads may
    call `advance(n)`; a supervising loop may call `update(done)` instead.
    """

    def __init__(self, progress: bool | None, total: float, description: str, unit: str):
        self.enabled = progress is True or (progress is None and sys.stderr.isatty())
        self.total, self.description, self.unit = total, description, unit
        self._progress = None
        self._done = 0.0
        self._lock = threading.Lock()

    def __enter__(self):
        self._start = time.perf_counter()
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                      console=Console(stderr=True), transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, rate="")
        return self

    def update(self, done: float) -> None:
        """Set the amount of work done so far."""
        self._done = done
        if self._progress is not None:
            elapsed = time.perf_counter() - self._start
            rate = f"{done / elapsed:,.0f} {self.unit}/s" if elapsed > 0 else ""
            self._progress.update(self._task, completed=done, rate=rate)

    def advance(self, n: float) -> None:
        """Add `n` to the work done (thread-safe)."""
        with self._lock:
            self.update(self._done + n)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False
