"""One import name (issue 14): canary installs only `canary`, so the PyPI packages `matrix` and
`reports` (real, unrelated projects) can sit beside it. A plain (non-editable) install into a
fresh virtualenv, those two installed in the same pip call, then the demo run end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.registry, pytest.mark.slow]


def test_pypi_matrix_and_reports_beside_canary_break_nothing(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    build_dir = tmp_path / "src"  # a copy, so that pip's build/ never lands in the checkout
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(build_dir)], check=True)
    for rel in subprocess.run(
        ["git", "ls-files", "-m", "-o", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split():  # uncommitted edits count too
        src = ROOT / rel
        if src.is_file():
            (build_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (build_dir / rel).write_bytes(src.read_bytes())
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", str(build_dir), "matrix", "reports"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    site = subprocess.run(
        [
            str(py),
            "-c",
            "import matrix, reports, canary.matrix, canary.reports; "
            "print(matrix.__file__); print(canary.matrix.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert site.returncode == 0, site.stderr
    theirs, ours = site.stdout.split()
    assert Path(theirs).parent != Path(ours).parent  # both present, neither overwrote the other

    env = {**os.environ, "CANARY_HOME": str(tmp_path / "home")}
    canary = venv / "bin" / "canary"
    made = subprocess.run(
        [str(canary), "demo", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    matrix_file = made.stdout.strip()
    run = subprocess.run(
        [str(canary), "run", "-c", matrix_file, "-j", "2", "--progress", "none", "--report", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert run.returncode == 1, run.stdout + run.stderr  # the demo's designed regression, judged
    assert "alpha@main on core 2.0.0" in run.stdout
    report = next((tmp_path / "home" / "runs").glob("*/report/report.json"))
    assert json.loads(report.read_text())["schema"] == "canary/report/v1"
