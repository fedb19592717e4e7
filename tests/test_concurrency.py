"""Everything at once on one store: two runs, a report re-rendered under a reader, two resumes of a
killed run. Nothing may be lost, no reader may see a partial file, and the two resumes must not
both work on the run (one finishes it, the other is refused with exit 2 or finds nothing to do)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from canary.matrix.store import Store

CELLS = ("--cells", "alpha*", "beta@main*")  # 6 cells: fast, regressing and green ones


def _popen(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "canary", *args],
        env={**os.environ, "CANARY_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _complete(run_dir: Path, expected: set[str]) -> list[str]:
    problems = []
    record = json.loads((run_dir / "run.json").read_text())
    if record["state"] != "complete":
        problems.append(f"{run_dir.name}: state {record['state']}")
    names = {p.name for p in (run_dir / "cells").iterdir()}
    problems += [f"{run_dir.name}: stray {n}" for n in names if n.startswith(".") or not n.endswith(".json")]
    got = {n[:-5] for n in names if n.endswith(".json") and not n.startswith(".")}
    problems += [f"{run_dir.name}: no result for {c}" for c in sorted(expected - got)]
    for n in got:
        json.loads((run_dir / "cells" / f"{n}.json").read_text())
    return problems


def test_two_runs_a_report_and_two_resumes_on_one_store(demo, tmp_path):
    home = tmp_path / "h"
    store = home / "runs"
    matrix = str(demo.matrix)
    run_args = ("run", "-c", matrix, *CELLS, "--no-cache", "--report", "none", "--progress", "plain")

    # A finished run whose report is re-rendered over and over while a reader reads it.
    first = subprocess.run(
        [sys.executable, "-m", "canary", *run_args],
        env={**os.environ, "CANARY_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    assert first.returncode == 1, first.stderr
    reported = Store(store).latest()
    expected = set(reported.read_cells())
    assert len(expected) == 6
    stop = threading.Event()
    torn: list[str] = []
    reads = [0]

    def reader() -> None:
        path = reported.path / "report" / "report.json"
        while not stop.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                continue
            reads[0] += 1
            try:
                json.loads(text)
            except ValueError:
                torn.append(text[:80])

    def renderer() -> None:
        while not stop.is_set():
            subprocess.run(
                [sys.executable, "-m", "canary", "report", str(reported.path), "--format", "json,md,html"],
                env={**os.environ, "CANARY_HOME": str(home)},
                capture_output=True,
            )

    threads = [threading.Thread(target=reader), threading.Thread(target=renderer)]
    for t in threads:
        t.start()
    try:
        # Two runs at once; the first is killed once it has results, then resumed twice at once.
        a = _popen(home, *run_args)
        b = _popen(home, *run_args)
        deadline = time.monotonic() + 300
        victim = None
        while time.monotonic() < deadline and victim is None:
            for run in Store(store).runs():
                if run.run_id != reported.run_id and len(list(run.cells_dir.glob("*.json"))) >= 2:
                    victim = run
                    break
            time.sleep(0.05)
        assert victim is not None, "no run produced results in time"
        lock_holder = int((victim.path / ".lock").read_text().split()[0])
        killed = a if lock_holder == a.pid else b
        survivor = b if killed is a else a
        os.killpg(killed.pid, signal.SIGKILL)
        killed.communicate()
        resume_args = (
            "run",
            "-c",
            matrix,
            "--resume",
            victim.run_id,
            "--no-cache",
            "--report",
            "none",
            "--progress",
            "plain",
        )
        r1, r2 = _popen(home, *resume_args), _popen(home, *resume_args)
        outs = [p.communicate(timeout=600) for p in (r1, r2)]
        survivor_out = survivor.communicate(timeout=600)
    finally:
        stop.set()
        for t in threads:
            t.join()

    codes = sorted([r1.returncode, r2.returncode])
    # One resume finishes the run (exit 1: alpha@main regressed). The other either was refused while
    # the first held the run (exit 2, naming its pid) or came after it and found nothing left to run.
    assert codes in ([1, 2], [1, 1]), outs
    if codes == [1, 2]:
        refused = outs[[r1.returncode, r2.returncode].index(2)][1]
        assert "is being resumed by pid" in refused, refused
    assert survivor.returncode == 1, survivor_out[1]
    problems = []
    for run in Store(store).runs():
        problems += _complete(run.path, expected)
    assert problems == []
    assert torn == [] and reads[0] > 0, f"{len(torn)} torn reads of {reads[0]}"
    statuses = {cid: r.status for cid, r in victim.read_cells().items()}
    assert statuses == {cid: r.status for cid, r in reported.read_cells().items()}
