"""Small helpers shared by the command-line tools: progress bars, devices, seeding, SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import threading
from typing import TYPE_CHECKING, Iterator

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from vivid.core.errors import VividError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


class _Bar:
    def __init__(self, progress: Progress | None, task_id: int | None) -> None:
        self._progress, self._task = progress, task_id

    def advance(self, n: float = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def set_total(self, total: float | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total)


class _RateColumn(TextColumn):
    """Items per second, from rich's own speed estimate."""

    def __init__(self, unit: str) -> None:
        super().__init__("")
        self.unit = unit

    def render(self, task):  # noqa: D102 - rich column protocol
        from rich.text import Text

        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} {self.unit}/s" if speed else f"- {self.unit}/s", style="cyan")


@contextlib.contextmanager
def progress(total: float | None, description: str, *, quiet: bool = False, unit: str = "it") -> Iterator[_Bar]:
    """A progress bar with count, rate and ETA on stderr; ``quiet`` turns it off.

    Example::

        with progress(len(frames), "interpolating", unit="frame") as bar:
            for f in frames:
                ...
                bar.advance()
    """
    if quiet:
        yield _Bar(None, None)
        return
    from rich.console import Console

    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if total is not None else TaskProgressColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=False) as prog:
        task_id = prog.add_task(description, total=total)
        yield _Bar(prog, task_id)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is a user error."""
    import torch  # here, not at the top: the entry point imports this module before any work

    device = device.lower()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise VividError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
        return torch.device(device)
    if device == "cpu":
        return torch.device("cpu")
    raise VividError(f"unknown device {device!r}; use auto, cpu or cuda")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, job schedulers) raised as an interrupt, so that the same
    clean-up runs as for Ctrl-C: ``finally`` blocks remove temporary files."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``); the previous
    handler comes back on leaving. Signals reach the main thread only, so elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
