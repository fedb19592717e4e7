"""nox sessions: one per matrix cell (generated from matrix.yaml), plus tests and report.

    nox -l                         list every session
    nox -t required                the required cells
    nox -t discord                 one connector's cells (tags: tier, connector, core-<version>, role)
    nox -s "<cell id>"             one cell alone (the line `canary plan` prints)
    CANARY_MATRIX=path/to/matrix.yaml nox -l    another matrix file

A cell session runs `canary run --cells <id>` so that a cell run by nox and a
cell run by `canary run` are the same code path.
"""

from __future__ import annotations

import os
import sys

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests"]

MATRIX_FILE = os.environ.get("CANARY_MATRIX", "matrix.yaml")


def _cells():
    try:
        from matrix import config
        from matrix.plan import plan

        matrix = config.load(MATRIX_FILE)
        return plan(matrix)
    except Exception as exc:  # a broken matrix must not hide the other sessions (tests, report)
        print(f"noxfile: no cell sessions: {exc}", file=sys.stderr)
        return []


def _make_cell_session(cell):
    def session(s: nox.Session) -> None:
        s.run(sys.executable, "-m", "matrix", "run", "-c", MATRIX_FILE, "--cells", cell.id, "--exit-by-status",
              "--progress", "plain", *s.posargs, external=True)

    session.__doc__ = f"{cell.package} {cell.ref} x {cell.core.label} ({cell.tier}, {cell.role})"
    return nox.session(name=cell.session, tags=list(cell.tags), python=False)(session)


for _cell in _cells():
    globals()[f"cell_{_cell.id}"] = _make_cell_session(_cell)


@nox.session(python=False)
def tests(s: nox.Session) -> None:
    """The test suite (add -- -m 'not registry' to skip tests that need the npm registry)."""
    s.run(sys.executable, "-m", "pytest", *s.posargs, external=True)


@nox.session(python=False)
def report(s: nox.Session) -> None:
    """Render the latest run's reports (HTML, Markdown, JUnit, JSON)."""
    s.run(sys.executable, "-m", "matrix", "report", *s.posargs, external=True)
