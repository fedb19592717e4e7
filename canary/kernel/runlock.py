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
import time
from collections.abc import Iterator
from pathlib import Path

from canary.kernel.errors import UserError

__all__ = ["LOCK_FILE", "hold", "is_held", "pid_alive"]

LOCK_FILE = ".lock"


def _holder(path: Path) -> tuple[str, str]:
    try:
        pid, _, role = path.read_text(encoding="utf-8").strip().partition(" ")
    except OSError:
        return "", ""
    return pid, role


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie counts as dead: it has ended)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().split(b") ", 1)[1][:1] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _alive(pid: str) -> bool:
    return pid.isdigit() and pid_alive(int(pid))


# The holder writes its record just after it takes the lock, so a refused process can read an empty
# record (or a killed holder's stale one) for a moment; it waits this long for a live one.
_RECORD_WAIT_S = 5.0


def _refuse_or_take(fd: int, path: Path, run_name: str) -> None:
    """Return once this process holds the lock; a UserError naming the holder while another has it."""
    deadline = time.monotonic() + _RECORD_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        pid, role = _holder(path)
        if (pid and _alive(pid)) or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if pid and _alive(pid):
        doing = "resumed" if role == "resume" else "run"
        what = f"is being {doing} by pid {pid}"
    else:
        what = "is being used by another process"
    raise UserError(
        f"run {run_name} {what}",
        hint="wait for it to finish, or stop that process first",
    )


@contextlib.contextmanager
def hold(run_path: Path, role: str) -> Iterator[None]:
    """Hold the run's lock while the block runs; a UserError (exit 2) when another process has it."""
    path = Path(run_path) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _refuse_or_take(fd, path, Path(run_path).name)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
        try:
            yield
        finally:
            # An empty record while nobody holds the lock: a later refusal never names a finished holder.
            os.ftruncate(fd, 0)
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
