"""No process started by a cell outlives it.

A test runner's children can leave the command's process group (`setsid`, a
double-forked daemon) and then nothing that kills the group finds them. So
every command of a cell carries a token in its environment
(CANARY_CELL_TOKEN=<run id>/<cell id>), which every descendant inherits
whatever session or group it moves to; when a command ends, every process
whose /proc/<pid>/environ holds the token is a leftover and is killed.
Measured on Linux; a process that empties its own environment escapes (the
documented limit, see docs/reliability.md).

While a cell runs, `<run>/running/<cell id>` names its token. A canary killed
with SIGKILL cannot clean up: the next `run` or `--resume` on that store finds
those files in runs whose lock is free (runlock) and kills what they name.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from canary.kernel import mounts, runlock

__all__ = ["TOKEN_VAR", "RUNNING_DIR", "token_for", "tagged", "kill_tagged", "mark_running", "reap_left_behind"]

TOKEN_VAR = "CANARY_CELL_TOKEN"
RUNNING_DIR = "running"


def token_for(run_id: str, cell_id: str) -> str:
    """The token that marks a cell of a run as running (written by mark_running, matched by the reaper)."""
    return f"{run_id}/{cell_id}"


def tagged(token: str) -> list[int]:
    """Live processes (not this one) whose environment carries the token."""
    needle = f"\0{TOKEN_VAR}={token}\0".encode()
    me = os.getpid()
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                if needle in b"\0" + fh.read():
                    out.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return out


def kill_tagged(token: str, rounds: int = 20) -> int:
    """SIGKILL every process carrying the token until none is left (a forking tree races us);
    returns how many were killed."""
    killed: set[int] = set()
    for _ in range(rounds):
        pids = [p for p in tagged(token) if p not in killed or runlock.pid_alive(p)]
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)  # freeze first: a stopped process cannot fork again
            except ProcessLookupError:
                continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except ProcessLookupError:
                continue
        time.sleep(0.02)
    return len(killed)


def mark_running(run_path: Path, cell_id: str, token: str) -> Path:
    """Record that `cell_id` of the run is running, so a later run can reap what it leaves behind."""
    path = Path(run_path) / RUNNING_DIR / cell_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n", encoding="utf-8")
    return path


def reap_left_behind(store_root: Path, own_run: Path | None = None) -> int:
    """Kill what cells of dead canary processes left running; returns the number killed.

    A run whose lock is held belongs to a live canary (its cells are running now) and is left
    alone; `own_run` is the run this process holds, so its marks are from a dead predecessor."""
    killed = 0
    root = Path(store_root)
    if not root.is_dir():
        return 0
    for run_dir in root.iterdir():
        running = run_dir / RUNNING_DIR
        if not running.is_dir():
            continue
        if run_dir != own_run and runlock.is_held(run_dir):
            continue
        for mark in running.iterdir():
            try:
                token = mark.read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if token:
                killed += kill_tagged(token)
            # The cell's overlay view (npm templates), mounted while it ran: <home>/work/<run id>/<cell id>.
            mounts.unmount_under(root.parent / "work" / run_dir.name / mark.name)
            mark.unlink(missing_ok=True)
    return killed
