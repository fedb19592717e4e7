"""One process per run: a second `--resume` of a run (or a resume of a run still going) exits 2 naming the pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from canary.matrix.store import Store
from tests.conftest import canary

SLOW_TEST = '    test: [["{python}", -c, "import time; time.sleep(20)"]]'


def _slow_matrix(demo, tmp_path: Path) -> Path:
    text = demo.matrix.read_text()
    old = '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]'
    assert old in text
    path = tmp_path / "slow.yaml"
    path.write_text(text.replace(old, SLOW_TEST))
    return path


def _popen(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "canary", "run", *args, "--report", "none", "--progress", "plain"],
        env={**os.environ, "CANARY_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_holder(run_dir: Path, pid: int, role: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lock = run_dir / ".lock"
        if lock.exists() and lock.read_text().split() == [str(pid), role]:
            return
        time.sleep(0.1)
    raise AssertionError(f"pid {pid} never took the lock of {run_dir}")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def test_a_second_resume_of_one_run_exits_2_naming_the_pid(demo, tmp_path):
    path, home = _slow_matrix(demo, tmp_path), tmp_path / "h"
    cells = ("--cells", "alpha@main*", "--no-cache")
    first = _popen(home, "-c", str(path), *cells)
    runs = home / "runs"
    deadline = time.monotonic() + 60
    while not list(runs.glob("*/run.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    run = Store(runs).latest()
    _wait_for_holder(run.path, first.pid, "run")

    # While the run itself still works on it, a resume is refused.
    early = canary(
        "run", "-c", str(path), "--resume", run.run_id, *cells, "--report", "none", env={"CANARY_HOME": str(home)}
    )
    assert early.returncode == 2, early.stderr
    assert early.stderr.strip().splitlines() == [
        f"canary: error: run {run.run_id} is being run by pid {first.pid} (wait for it to finish, or stop that process first)"
    ]
    _stop(first)  # a killed run leaves its lock free: the kernel drops it

    resumer = _popen(home, "-c", str(path), "--resume", run.run_id, *cells)
    try:
        _wait_for_holder(run.path, resumer.pid, "resume")
        before = sorted(p.name for p in run.cells_dir.iterdir())
        second = canary(
            "run", "-c", str(path), "--resume", run.run_id, *cells, "--report", "none", env={"CANARY_HOME": str(home)}
        )
        assert second.returncode == 2, second.stdout + second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr
        assert f"run {run.run_id} is being resumed by pid {resumer.pid}" in lines[0]
        # The refused resume wrote nothing: no result, no error cell.
        assert sorted(p.name for p in run.cells_dir.iterdir()) == before
        assert all(r.status != "error" for r in run.read_cells().values())
    finally:
        _stop(resumer)
