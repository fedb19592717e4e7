"""Progress of a run: a live table on a terminal, plain lines in CI or a pipe."""

from __future__ import annotations

import os
import sys
import threading
import time


class Progress:
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
        if mode == "rich":
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._render(), console=Console(file=self.stream), refresh_per_second=4, transient=True)
            self._live.start()

    def _eta(self) -> str:
        if not self.done:
            return "?"
        elapsed = time.monotonic() - self.started
        return f"{elapsed / self.done * (self.total - self.done):.0f}s"

    def _render(self):
        from rich.table import Table

        elapsed = time.monotonic() - self.started
        table = Table.grid(padding=(0, 1))
        table.add_row(f"[bold]{self.done}/{self.total}[/] cells", f"elapsed {elapsed:.0f}s", f"eta {self._eta()}")
        for cell, since in list(self.running.items())[:8]:
            table.add_row("  running", cell, f"{time.monotonic() - since:.0f}s")
        return table

    def start(self, cell_id: str) -> None:
        with self.lock:
            self.running[cell_id] = time.monotonic()
            if self._live:
                self._live.update(self._render())

    def finish(self, cell_id: str, status: str, seconds: float, note: str = "") -> None:
        with self.lock:
            self.running.pop(cell_id, None)
            self.done += 1
            line = f"[{self.done}/{self.total}] {status:<8} {cell_id} ({seconds:.1f}s){' ' + note if note else ''}"
            if self._live:
                self._live.console.print(line, highlight=False, markup=False)
                self._live.update(self._render())
            elif self.mode == "plain":
                print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._live:
            self._live.stop()
