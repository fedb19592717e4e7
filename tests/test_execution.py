"""Execution at scale: result cache, resume after SIGKILL, two runs on one store, parallel cells."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema

from canary.matrix.exposure import Exposure, exposure_schema
from canary.matrix.store import Store
from tests.conftest import canary

ALPHA = "alpha*"


def _popen_run(matrix: Path, home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "canary", "run", "-c", str(matrix), "--report", "none", "--progress", "plain", *args],
        env={**os.environ, "CANARY_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_warm_rerun_is_served_from_the_cache(demo, demo_run):
    """The shared demo run filled the cache; the same matrix again runs nothing."""
    home = demo_run["home"]
    proc = canary(
        "run", "-c", str(demo.matrix), "--report", "none", "--progress", "plain", env={"CANARY_HOME": str(home)}
    )
    assert proc.returncode == 1, proc.stderr  # same verdicts: alpha@main regressed
    latest = Store(home / "runs").latest()
    first = demo_run["run"].read_cells()
    second = latest.read_cells()
    assert latest.run_id != demo_run["run"].run_id and len(second) == 12
    for cell_id, r in second.items():
        if r.status in ("pass", "fail"):
            assert r.cached_from == demo_run["run"].run_id, cell_id
            assert r.status == first[cell_id].status
            assert r.run_id == latest.run_id
            assert (latest.path / r.log).is_file()
    assert "(cached)" in proc.stderr
    verdicts = json.loads((latest.path / "verdicts.json").read_text())
    assert [v["verdict"] for v in verdicts["verdicts"]] == [
        v["verdict"] for v in json.loads((demo_run["run"].path / "verdicts.json").read_text())["verdicts"]
    ]


def test_no_cache_runs_again(demo, demo_run):
    home = demo_run["home"]
    proc = canary(
        "run",
        "-c",
        str(demo.matrix),
        "--cells",
        "beta@main--core-1.0.0",
        "--no-cache",
        "--report",
        "none",
        env={"CANARY_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    r = Store(home / "runs").latest().read_cell("beta@main--core-1.0.0")
    assert r.status == "pass" and r.cached_from is None and any(c.phase == "install" for c in r.attempts[0].commands)


def test_sigkill_then_resume_gives_exactly_one_complete_result_per_cell(demo, tmp_path):
    home = tmp_path / "h"
    proc = _popen_run(demo.matrix, home, "--cells", ALPHA, "gamma*", "--no-cache")
    runs = home / "runs"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = list(runs.glob("*/cells/*.json"))
        if len(done) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run = Store(runs).latest()
    before = {p.name: p.stat().st_mtime_ns for p in run.cells_dir.glob("*.json")}
    assert 2 <= len(before) < 8, before
    assert json.loads(run.run_file.read_text())["state"] == "running"
    resumed = canary(
        "run",
        "-c",
        str(demo.matrix),
        "--resume",
        run.run_id,
        "--no-cache",
        "--report",
        "none",
        "--progress",
        "plain",
        env={"CANARY_HOME": str(home)},
    )
    assert resumed.returncode == 1, resumed.stderr  # alpha@main regressed
    results = run.read_cells()
    assert len(results) == 8
    for name, mtime in before.items():  # finished cells were not run again
        assert (run.cells_dir / name).stat().st_mtime_ns == mtime
    for path in run.cells_dir.iterdir():
        assert path.suffix == ".json" and not path.name.startswith("."), path  # no partial or temporary file
        json.loads(path.read_text())
    assert json.loads(run.run_file.read_text())["state"] == "complete"
    ran_again = [line for line in resumed.stderr.splitlines() if line.startswith("[") and "] start " not in line]
    assert len(ran_again) == 8 - len(before)


def test_two_runs_on_one_store_lose_nothing(demo, tmp_path):
    home = tmp_path / "h"
    a = _popen_run(demo.matrix, home, "--cells", ALPHA, "--no-cache")
    b = _popen_run(demo.matrix, home, "--cells", ALPHA, "--no-cache")
    outs = [p.communicate(timeout=400) for p in (a, b)]
    assert a.returncode == 1 and b.returncode == 1, outs
    runs = Store(home / "runs").runs()
    assert len(runs) == 2 and runs[0].run_id != runs[1].run_id
    for run in runs:
        results = run.read_cells()
        assert sorted(results) == [
            "alpha@main--core-1.0.0",
            "alpha@main--core-2.0.0",
            "alpha@next--core-1.0.0",
            "alpha@next--core-2.0.0",
        ]
        assert results["alpha@main--core-2.0.0"].status == "fail"
        assert all(r.status in ("pass", "fail") for r in results.values()), {k: r.reason for k, r in results.items()}


def test_resume_of_unknown_run_is_a_clear_error(demo, tmp_path):
    proc = canary("run", "-c", str(demo.matrix), "--resume", "nope", env={"CANARY_HOME": str(tmp_path)})
    assert proc.returncode == 2 and "no run 'nope'" in proc.stderr and "Traceback" not in proc.stderr


FLAKY_TEST = (
    "import os, sys; p = os.path.join({cell_dir!r}, 'count'); n = int(open(p).read()) if os.path.exists(p) else 0; "
    "open(p, 'w').write(str(n + 1)); print('attempt', n + 1); "
    "sys.exit(1 if {when} and n == 0 else 0)"
)


def _flaky_matrix(demo, tmp_path, when: str) -> Path:
    code = FLAKY_TEST.format(cell_dir="{cell_dir}", when=when)
    text = demo.matrix.read_text().replace(
        '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]',
        "    test: [['{python}', -c, " + json.dumps(code) + "]]",
        1,
    )
    path = tmp_path / "flaky.yaml"
    path.write_text(text)
    return path


def test_fail_then_pass_on_retry_is_flaky_with_both_attempts(demo, tmp_path):
    path = _flaky_matrix(demo, tmp_path, "'{core_version}' == '2.0.0'")
    home = tmp_path / "h"
    proc = canary(
        "run",
        "-c",
        str(path),
        "--cells",
        "alpha@main*",
        "--report",
        "none",
        "--no-cache",
        env={"CANARY_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # flaky does not block
    run = Store(home / "runs").latest()
    r = run.read_cell("alpha@main--core-2.0.0")
    assert [a.status for a in r.attempts] == ["fail", "pass"]
    assert all((run.path / a.log).is_file() for a in r.attempts)
    verdicts = {v["cell_id"]: v for v in json.loads((run.path / "verdicts.json").read_text())["verdicts"]}
    assert verdicts["alpha@main--core-2.0.0"]["verdict"] == "flaky"
    assert verdicts["alpha@main--core-2.0.0"]["attempts"] == 2


def test_aa_check_runs_baseline_twice(demo, tmp_path):
    path = _flaky_matrix(demo, tmp_path, "'{core_version}' == '1.0.0'")
    home = tmp_path / "h"
    canary(
        "run",
        "-c",
        str(path),
        "--cells",
        "alpha@main--core-1.0.0",
        "--report",
        "none",
        "--no-cache",
        "--aa-check",
        env={"CANARY_HOME": str(home)},
    )
    run = Store(home / "runs").latest()
    r = run.read_cell("alpha@main--core-1.0.0")
    assert [a.status for a in r.attempts] == ["fail", "pass"]
    verdicts = {v["cell_id"]: v for v in json.loads((run.path / "verdicts.json").read_text())["verdicts"]}
    assert verdicts["alpha@main--core-1.0.0"]["verdict"] == "flaky"


MIGRATION = """\
id: demo-server-id
version: "1.0.0"
core: ">=2"
package: democore
title: "democore 2.0: Room.server_id is now Room.message_server_id"
renames:
  - id: demo-server-id-attr
    language: python
    kind: attribute
    old: server_id
    new: message_server_id
"""


def test_static_exposure_counts_places_per_connector_ref(demo, tmp_path):
    """With `exposure: {migration: ...}` each connector ref is linted once, also on a cache hit."""
    migration = tmp_path / "demo-server-id.yaml"
    migration.write_text(MIGRATION)
    path = tmp_path / "m.yaml"
    path.write_text(demo.matrix.read_text() + f"exposure: {{migration: {str(migration)!r}}}\n")
    home = tmp_path / "h"
    for _ in range(2):  # the second run is served from the result cache
        proc = canary(
            "run",
            "-c",
            str(path),
            "--cells",
            "alpha*",
            "gamma@main*",
            "--report",
            "none",
            env={"CANARY_HOME": str(home)},
        )
        run = Store(home / "runs").latest()
        text = (run.path / "exposure.json").read_text()
        doc = json.loads(text)
        # The real document: valid by the schema beside its producer, read back byte for byte.
        jsonschema.Draft202012Validator(exposure_schema()).validate(doc)
        assert json.dumps(Exposure.from_dict(doc).to_dict(), indent=2) + "\n" == text
        counts = {k: v["findings"] for k, v in doc["connectors"].items()}
        # alpha@main and gamma@v1 read room.server_id; alpha@next reads it through getattr strings.
        assert counts == {"alpha@main": 1, "alpha@next": 0, "gamma@main": 0}, (counts, proc.stderr)
        assert doc["connectors"]["alpha@main"]["files"] == ["alpha_connector/__init__.py"]
        # the first places per symbol, for the
        # probable cause of a regression (issue 15)
        assert doc["connectors"]["alpha@main"]["places"] == {"server_id": ["alpha_connector/__init__.py:2"]}
