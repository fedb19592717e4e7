"""No process started by a cell outlives it: children of a test that exits 0, setsid daemons, and what a
SIGKILLed canary left running (killed by the next run on the store)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from canary.matrix.proc import run_command
from canary.matrix.store import Store
from tests.conftest import canary

# Leaves two processes behind and exits 0: a background child, and a daemon that double-forks
# into its own session (setsid), out of reach of the command's process group.
LEAVER = """
import os, subprocess, sys, time
pids = sys.argv[1]
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open(pids + '.daemon', 'w').write(str(os.getpid()))
        time.sleep(120)
    os._exit(0)
open(pids + '.child', 'w').write(str(child.pid))
time.sleep(0.5)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] not in "ZX"
    except (OSError, IndexError):
        return False


def _pids(stem: Path) -> list[int]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        files = [Path(f"{stem}.child"), Path(f"{stem}.daemon")]
        if all(f.exists() and f.read_text() for f in files):
            return [int(f.read_text()) for f in files]
        time.sleep(0.05)
    raise AssertionError("the test never started its children")


def test_children_and_setsid_daemons_die_with_the_command(tmp_path):
    stem = tmp_path / "pids"
    out = run_command(
        "test",
        [sys.executable, "-c", LEAVER, str(stem)],
        cwd=str(tmp_path),
        env={"PATH": os.environ["PATH"]},
        timeout=60,
        log=io.StringIO(),
        token=f"t-{os.getpid()}-1",
    )
    assert out.ok
    pids = _pids(stem)
    try:
        assert out.leftovers_killed == 2, out.leftovers_killed
        assert [p for p in pids if _alive(p)] == []
    finally:
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def _matrix_running(demo, tmp_path: Path, code: str, *args: Path) -> Path:
    """The demo matrix with alpha's test replaced by `python -c code args...`."""
    extra = "".join(f", {str(a)!r}" for a in args)
    text = demo.matrix.read_text().replace(
        '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]',
        "    test: [['{python}', -c, " + json.dumps(code) + extra + "]]",
        1,
    )
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def test_a_cell_result_counts_the_processes_killed(demo, tmp_path):
    stem = tmp_path / "pids"
    path, home = _matrix_running(demo, tmp_path, LEAVER, stem), tmp_path / "h"
    proc = canary(
        "run",
        "-c",
        str(path),
        "--cells",
        "alpha@main--core-1.0.0",
        "--report",
        "none",
        "--no-cache",
        env={"CANARY_HOME": str(home)},
    )
    pids = _pids(stem)
    alive = [p for p in pids if _alive(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = Store(home / "runs").latest().read_cell("alpha@main--core-1.0.0")
    assert r.status == "pass" and r.processes_killed == 2, r
    assert alive == []
    assert not any((home / "runs").glob("*/running/*"))  # the running mark is gone with the cell


# Waits (as a running test would) unless the flag file exists; started inside a cell.
SLEEPER = """
import os, subprocess, sys, time
stem, flag = sys.argv[1], sys.argv[2]
if os.path.exists(flag):
    sys.exit(0)
exec(open(stem + '.leaver').read())
time.sleep(120)
"""


def test_the_next_run_kills_what_a_sigkilled_canary_left_running(demo, tmp_path):
    stem, flag = tmp_path / "pids", tmp_path / "flag"
    Path(f"{stem}.leaver").write_text(
        LEAVER.replace("pids = sys.argv[1]", f"pids = {str(stem)!r}").replace("time.sleep(0.5)\n", "")
    )
    path, home = _matrix_running(demo, tmp_path, SLEEPER, stem, flag), tmp_path / "h"
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canary",
            "run",
            "-c",
            str(path),
            "--cells",
            "alpha@main--core-1.0.0",
            "--report",
            "none",
            "--no-cache",
            "--progress",
            "none",
        ],
        env={**os.environ, "CANARY_HOME": str(home)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pids = _pids(stem)
    os.killpg(first.pid, signal.SIGKILL)  # canary and its process group; the cell's commands live on
    first.wait()
    try:
        time.sleep(0.3)
        assert all(_alive(p) for p in pids), "the scenario needs processes that outlive a killed canary"
        flag.touch()
        run = Store(home / "runs").latest()
        resumed = canary(
            "run",
            "-c",
            str(path),
            "--resume",
            run.run_id,
            "--report",
            "none",
            "--no-cache",
            env={"CANARY_HOME": str(home)},
        )
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert [p for p in pids if _alive(p)] == []
        # the test command itself (sleeping) plus its child and its daemon
        assert "killed 3 process(es) left running by a killed run" in resumed.stderr, resumed.stderr
        assert run.read_cell("alpha@main--core-1.0.0").status == "pass"
    finally:
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
