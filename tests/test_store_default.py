"""One store default (issue 14 item 7): every command that reads runs finds them where `canary run`
writes them, $CANARY_HOME/runs; `report` and `promote` used to look in ./.canary/runs only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git

from tests.conftest import canary


def _home_with(run, where: Path) -> Path:
    """A CANARY_HOME holding only the demo run (the shared demo home gains runs from other tests)."""
    home = where / "home"
    shutil.copytree(run.path, home / "runs" / run.run_id)
    return home


def test_report_reads_the_runs_of_canary_home(demo_run, tmp_path):
    out = tmp_path / "report"
    home = _home_with(demo_run["run"], tmp_path)
    proc = canary("report", "--format", "json", "--out", str(out), cwd=tmp_path, env={"CANARY_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "report.json").read_text())["run_id"] == demo_run["run"].run_id


def test_promote_reads_the_runs_of_canary_home(demo_run, tmp_path):
    home = _home_with(demo_run["run"], tmp_path / "store")
    repo = git.Repo.init(tmp_path)
    repo.git.execute(
        ["git", "-c", "user.name=a", "-c", "user.email=a@example.org", "commit", "--allow-empty", "-m", "core"]
    )
    proc = canary("promote", "v2.0.0", "--json", "--repo", str(tmp_path), cwd=tmp_path, env={"CANARY_HOME": str(home)})
    decision = json.loads(proc.stdout)
    assert decision["run_id"] == demo_run["run"].run_id, proc.stderr
    assert not any("no runs in" in c["message"] for c in decision["checks"])
