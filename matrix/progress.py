"""Progress of a run: a live view on a terminal, plain lines in CI or a pipe.

rich mode: rich's Progress, refreshed every second on its own (the elapsed and remaining times
move even while no cell finishes): one bar for the run (done/total, elapsed, ETA) and one line
per running cell with its own elapsed time. Finished cells scroll above it as plain lines.
plain mode: one line when a cell starts, one when it finishes, one per step after the cells.
Cell ids and notes are printed as text, never read as rich markup (`[x]` stays `[x]`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TaskID

__all__ = ["Progress", "step"]


class Progress:
    """Progress of a run on the terminal (a live line) or as plain lines, as cells finish."""

    def __init__(self, total: int, mode: str = "auto", stream=None) -> None:
        self.total = total
        self.done = 0
        self.running: dict[str, float] = {}
        self.started = time.monotonic()
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        if mode == "auto":
            tty = hasattr(self.stream, "isatty") and self.stream.isatty()
            mode = "rich" if tty and not os.environ.get("CI") else "plain"
        self.mode = mode
        self._live = None
        self._tasks: dict[str, TaskID] = {}
        if mode == "rich":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress as RichProgress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._live = RichProgress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                refresh_per_second=1,
                transient=True,
                auto_refresh=True,
            )
            self._overall = self._live.add_task("cells", total=total)
            self._live.start()

    def _eta(self) -> str:
        if not self.done:
            return "?"
        elapsed = time.monotonic() - self.started
        return f"{elapsed / self.done * (self.total - self.done):.0f}s"

    def start(self, cell_id: str) -> None:
        with self.lock:
            self.running[cell_id] = time.monotonic()
            if self._live:
                # A cell's own line: its elapsed time runs; no total, so no bar and no ETA.
                self._tasks[cell_id] = self._live.add_task(f"  {cell_id}", total=None)
            elif self.mode == "plain":
                print(f"[{self.done}/{self.total}] start    {cell_id}", file=self.stream, flush=True)

    def finish(self, cell_id: str, status: str, seconds: float, note: str = "") -> None:
        with self.lock:
            self.running.pop(cell_id, None)
            self.done += 1
            line = f"[{self.done}/{self.total}] {status:<8} {cell_id} ({seconds:.1f}s){' ' + note if note else ''}"
            if self._live:
                task = self._tasks.pop(cell_id, None)
                if task is not None:
                    self._live.remove_task(task)
                self._live.update(self._overall, completed=self.done)
                self._live.console.print(line, highlight=False, markup=False)
            elif self.mode == "plain":
                print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._live:
            self._live.stop()
            self._live = None


@contextlib.contextmanager
def step(label: str, mode: str = "auto", stream=None):
    """A step after the cells (compat diff, report): a line when it starts and when it ends,
    with its duration (a spinner on a terminal)."""
    stream = stream or sys.stderr
    if mode == "auto":
        tty = hasattr(stream, "isatty") and stream.isatty()
        mode = "rich" if tty and not os.environ.get("CI") else "plain"
    started = time.monotonic()
    if mode == "rich":
        from rich.console import Console
        from rich.text import Text

        console = Console(file=stream)
        with console.status(Text(label), spinner="dots"):
            yield
        console.print(f"{label}: done ({time.monotonic() - started:.1f}s)", highlight=False, markup=False)
        return
    if mode == "plain":
        print(f"{label} ...", file=stream, flush=True)
    try:
        yield
    finally:
        if mode == "plain":
            print(f"{label}: done ({time.monotonic() - started:.1f}s)", file=stream, flush=True)
