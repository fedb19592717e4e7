"""nox as its users run it: installed outside the project (pipx), tags by short name, repro runs.

"Outside the project" is built for real without any index: a fresh virtualenv that holds nox and
its own dependencies only (linked from this environment's site-packages through a .pth file), so
neither canary nor its dependencies (yaml, jsonschema, ...) are importable there, as with pipx.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOXFILE = ROOT / "noxfile.py"


def _closure(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n.lower() in seen:
            continue
        try:
            dist = distribution(n)
        except PackageNotFoundError:
            continue  # a backport this Python does not need (tomli on 3.11)
        seen.add(n.lower())
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(re.match(r"[A-Za-z0-9_.-]+", req).group(0))
    return seen


@pytest.fixture(scope="module")
def pipx_nox(tmp_path_factory):
    """A Python with nox and nothing of this project."""
    root = tmp_path_factory.mktemp("pipx-nox")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "virtualenv", "--quiet", "--no-periodic-update", str(venv)], check=True)
    only = root / "nox-only"
    only.mkdir()
    for name in _closure("nox"):
        dist = distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            src = Path(dist.locate_file(top))
            if src.exists() and not (only / top).exists() and top != "__pycache__":
                (only / top).symlink_to(src)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "nox-only.pth").write_text(str(only) + "\n")
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import nox; import yaml"], capture_output=True, text=True)
    assert "No module named 'yaml'" in probe.stderr, probe.stderr  # nox yes, canary's world no
    return python


MATRIX = """\
core:
  name: '@elizaos/core'
  ecosystem: npm
  versions: ['1.6.4', '1.7.0']
connectors:
  - name: plugin-discord
    package: '@elizaos/plugin-discord'
    npm: {versions: ['1.3.3']}
    test: [[node, -e, '0']]
  - name: plugin-telegram
    package: '@elizaos/plugin-telegram'
    npm: {versions: ['1.0.0']}
    test: [[node, -e, '0']]
"""


def nox(python: Path, *args: str, matrix: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CANARY_BIN")}
    full.update(CANARY_MATRIX=str(matrix), **(env or {}))
    return subprocess.run(
        [str(python), "-m", "nox", "-f", str(NOXFILE), *args], capture_output=True, text=True, env=full, timeout=600
    )


def _selected(listing: str) -> list[str]:
    return [ln[2:].split(" ")[0] for ln in listing.splitlines() if ln.startswith("* ")]


def test_cells_listed_by_a_nox_outside_the_project_and_tags_by_short_name(pipx_nox, tmp_path):
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(MATRIX)
    proc = nox(pipx_nox, "-l", matrix=matrix)
    assert proc.returncode == 0, proc.stderr
    assert "plugin-discord@1.3.3--core-1.7.0" in proc.stdout, proc.stdout + proc.stderr
    proc = nox(pipx_nox, "-l", "-t", "discord", matrix=matrix)
    assert _selected(proc.stdout) == ["plugin-discord@1.3.3--core-1.6.4", "plugin-discord@1.3.3--core-1.7.0"], (
        proc.stdout + proc.stderr
    )
    proc = nox(pipx_nox, "-l", "-t", "plugin-telegram", matrix=matrix)
    assert len(_selected(proc.stdout)) == 2


def test_a_broken_matrix_says_why_and_keeps_the_other_sessions(pipx_nox, tmp_path):
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text("core: [\n")
    proc = nox(pipx_nox, "-l", matrix=matrix)
    assert proc.returncode == 0 and "tests" in proc.stdout
    assert "noxfile: no cell sessions:" in proc.stderr and "matrix.yaml" in proc.stderr


@pytest.mark.slow
def test_a_cell_session_reproduces_the_cell_instead_of_a_cached_answer(pipx_nox, demo, tmp_path):
    env = {"CANARY_HOME": str(tmp_path / "home")}
    cell = "beta@main--core-1.0.0"
    first = nox(pipx_nox, "-s", cell, matrix=demo.matrix, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    again = nox(pipx_nox, "-s", cell, matrix=demo.matrix, env=env)
    assert again.returncode == 0 and "--no-cache" in again.stderr
    assert "(cached)" not in again.stdout + again.stderr and "1 pass" in again.stdout + again.stderr
    cached = nox(pipx_nox, "-s", cell, "--", "--cache", matrix=demo.matrix, env=env)
    assert cached.returncode == 0 and "(cached)" in cached.stdout + cached.stderr, cached.stdout + cached.stderr
