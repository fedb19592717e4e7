"""One process at a time on a run directory: the run itself, or one `--resume` of it.

Two resumes of one run at once would both run the missing cells and overwrite
each other's results. The holder keeps an flock on `<run>/.lock` for as long as
it works on the run and writes its pid and role into it; the kernel drops the
lock when the holder dies, however it dies, so a killed run never blocks the
next `--resume`, and `is_held` tells whether a run's owner is still alive.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from canary.kernel.errors import UserError

__all__ = ["LOCK_FILE", "hold", "is_held"]

LOCK_FILE = ".lock"


def _holder(path: Path) -> tuple[str, str]:
    try:
        pid, _, role = path.read_text(encoding="utf-8").strip().partition(" ")
    except OSError:
        return "?", ""
    return pid or "?", role


@contextlib.contextmanager
def hold(run_path: Path, role: str) -> Iterator[None]:
    """Hold the run's lock while the block runs; a UserError (exit 2) when another process has it."""
    path = Path(run_path) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, other = _holder(path)
            doing = "resumed" if other == "resume" else "run"
            raise UserError(
                f"run {Path(run_path).name} is being {doing} by pid {pid}",
                hint="wait for it to finish, or stop that process first",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {role}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the flock


def is_held(run_path: Path) -> bool:
    """Whether a live process works on this run now."""
    path = Path(run_path) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
