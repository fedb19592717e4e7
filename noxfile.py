"""nox sessions: one per matrix cell (generated from matrix.yaml), plus tests and report.

    nox -l                         list every session
    nox -t required                the required cells
    nox -t discord                 one connector's cells (tags: tier, connector with and without
                                   its `plugin-` prefix, core-<version>, role)
    nox -s "<cell id>"             one cell alone, run again (add `-- --cache` to accept a cached result)
    CANARY_MATRIX=path/to/matrix.yaml nox -l    another matrix file

The sessions come from `canary plan --json` and a cell session runs `canary run --cells <id>`,
so a cell run by nox and a cell run by `canary run` are the same code path. nox may be installed
anywhere (pipx, another virtualenv): canary is found as this project's own `.venv/bin/canary`,
else importable by nox's Python, else `canary` on PATH ($CANARY_BIN overrides all three).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests"]

HERE = Path(__file__).resolve().parent
MATRIX_FILE = os.environ.get("CANARY_MATRIX", "matrix.yaml")


def _canary() -> list[str]:
    """How to call canary from nox's Python, which need not be the project's."""
    if os.environ.get("CANARY_BIN"):
        return [os.environ["CANARY_BIN"]]
    own = HERE / ".venv" / "bin" / "canary"
    if own.is_file():
        return [str(own)]
    try:
        import canary.cli  # noqa: F401  (nox runs inside the project's environment)

        return [sys.executable, "-m", "canary"]
    except ImportError:
        pass
    found = shutil.which("canary")
    if found:
        return [found]
    raise RuntimeError("canary is not installed: pip install -e . in this project, or set CANARY_BIN")


def _cells() -> list[dict]:
    try:
        proc = subprocess.run(
            [*_canary(), "plan", "--json", "--no-check-refs", "-c", MATRIX_FILE],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr.strip() or f"canary plan exited {proc.returncode}")
        return json.loads(proc.stdout)["cells"]
    except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
        # A broken matrix must not hide the other sessions (tests, report), but it says why.
        print(f"noxfile: no cell sessions: {exc}", file=sys.stderr)
        return []


def tags_of(cell: dict) -> list[str]:
    """The cell's tags, plus the connector's short name: `nox -t discord` for `plugin-discord`."""
    tags = list(cell.get("tags", []))
    connector = cell.get("connector", "")
    for prefix in ("plugin-", "connector-"):
        if connector.startswith(prefix) and connector[len(prefix) :] not in tags:
            tags.append(connector[len(prefix) :])
    return tags


def cell_argv(cell_id: str, posargs: list[str]) -> list[str]:
    """`canary run` of one cell. A repro runs the cell again unless `--cache` is asked for:
    a cached answer in 0.0 s reproduces nothing."""
    extra = [a for a in posargs if a != "--cache"]
    cache = [] if "--cache" in posargs else ["--no-cache"]
    return [
        *_canary(),
        "run",
        "-c",
        MATRIX_FILE,
        "--cells",
        cell_id,
        "--exit-by-status",
        "--progress",
        "plain",
        *cache,
        *extra,
    ]


def _make_cell_session(cell: dict):
    def session(s: nox.Session) -> None:
        s.run(*cell_argv(cell["id"], list(s.posargs)), external=True)

    core = cell.get("core") or {}
    session.__doc__ = (
        f"{cell.get('package', cell.get('connector'))} {cell.get('ref')} x "
        f"{core.get('label', core) if isinstance(core, dict) else core} "
        f"({cell.get('tier')}, {cell.get('role')})"
    )
    return nox.session(name=cell["id"], tags=tags_of(cell), python=False)(session)


for _cell in _cells():
    globals()[f"cell_{_cell['id']}"] = _make_cell_session(_cell)


@nox.session(python=False)
def tests(s: nox.Session) -> None:
    """The test suite (add -- -m 'not registry' to skip tests that need the npm registry)."""
    python = HERE / ".venv" / "bin" / "python"
    s.run(str(python) if python.is_file() else sys.executable, "-m", "pytest", *s.posargs, external=True)


@nox.session(python=False)
def lint(s: nox.Session) -> None:
    """The project's own checks: ruff check and mypy (.ci/lint, the same script CI runs)."""
    s.run("bash", str(HERE / ".ci" / "lint"), external=True)


@nox.session(python=False)
def report(s: nox.Session) -> None:
    """Render the latest run's reports (HTML, Markdown, JUnit, JSON)."""
    s.run(*_canary(), "report", *s.posargs, external=True)
