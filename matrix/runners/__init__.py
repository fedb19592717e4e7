"""Runners: set up a cell's environment, run its commands there, report what it loaded.

A runner is chosen per connector by two keys, where (`local` or `docker`, the
connector's `runner` else `settings.runner`) and the core's ecosystem (`pypi`,
`npm`); `select` is the one registry, and a pair it does not know is a
UserError, never a silent fallback to another ecosystem.

Every runner fits `Runner`:
- `prepare(cx)` installs the connector, forces the core under test, and verifies
  inside the environment which core version the connector resolves. It fills
  `cx.core_record.resolved`, sets `cx.runner_env` and `cx.variables` for the test
  commands (and `cx.executor` when commands must run elsewhere than here), and
  raises InfrastructureError when setup fails or CoreMismatch when the
  environment loads another core.
- `identity(cx)` is what, besides the cell's inputs, decides its outcome (the
  docker image's digest): part of the result cache key and of the result.
- `reap(store_root, own_run)` removes what cells of dead canary processes left
  behind outside the process table (containers); returns how many objects.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from canary.kernel.errors import UserError

if TYPE_CHECKING:  # the context imports the model, which must not import the runners at run time
    from canary.matrix.context import CellContext
    from canary.matrix.model import Connector, Matrix

__all__ = ["RUNNERS", "WHERE", "Runner", "select", "for_connector", "describe", "reap_left_behind"]

# (where, ecosystem) -> module; each module has NAME and prepare(cx), docker's also identity/reap.
RUNNERS = {
    ("local", "pypi"): "canary.matrix.runners.python",
    ("local", "npm"): "canary.matrix.runners.node",
    ("docker", "pypi"): "canary.matrix.runners.docker",
    ("docker", "npm"): "canary.matrix.runners.docker",
}
WHERE = ("local", "docker")


class Runner(Protocol):
    """How a cell's environment is prepared and where its commands run (see the module docstring)."""

    NAME: str  # recorded in every cell result (`runner`)

    def prepare(self, cx: CellContext) -> None: ...

    def identity(self, cx: CellContext) -> dict[str, object]: ...

    def reap(self, store_root: Path, own_run: Path | None, required: bool = False) -> int: ...


class _Local:
    """A local runner module (python.py, node.py) seen through the protocol: commands run here,
    nothing to add to the cache key, nothing outside the process table to reap."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.NAME: str = module.NAME

    def prepare(self, cx: CellContext) -> None:
        self.module.prepare(cx)

    def identity(self, cx: CellContext) -> dict[str, object]:
        return {}

    def reap(self, store_root: Path, own_run: Path | None, required: bool = False) -> int:
        return 0


_selected: dict[tuple[str, str], Runner] = {}


def select(where: str, ecosystem: str) -> Runner:
    """The runner for (where, ecosystem); a pair no runner serves is a UserError, never a fallback."""
    key = (where or "local", ecosystem)
    if key not in RUNNERS:
        known = ", ".join(f"{w}/{e}" for w, e in RUNNERS)
        raise UserError(f"no runner for runner={key[0]!r} and ecosystem={key[1]!r}", hint=f"known: {known}")
    if key not in _selected:
        module = importlib.import_module(RUNNERS[key])
        runner: Runner = module.runner_for(ecosystem) if where == "docker" else _Local(module)
        _selected[key] = runner
    return _selected[key]


def for_connector(matrix: Matrix, connector: Connector) -> Runner:
    """The runner of a connector's cells: its own `runner`, else `settings.runner`."""
    return select(matrix.runner_of(connector), matrix.core.ecosystem)


def describe(matrix: Matrix, connector: Connector) -> str:
    """Where a connector's cells run, for plans: `local`, or `docker <image>`."""
    where = matrix.runner_of(connector)
    select(where, matrix.core.ecosystem)  # a pair no runner serves is an error in the plan already
    if where != "docker":
        return where
    from canary.matrix.runners.docker import DEFAULT_IMAGES

    eco = matrix.core.ecosystem
    image: str = connector.image or matrix.settings.docker.images.get(eco) or DEFAULT_IMAGES.get(eco, "?")
    return f"docker {image}"


def reap_left_behind(matrix: Matrix, store_root: Path, own_run: Path | None) -> int:
    """Let each runner the matrix uses remove what dead runs left outside the process table.

    A runner every connector needs must be usable: when it is not (the docker engine is
    unreachable), its reap raises a UserError (one line, exit 2) before any cell runs."""
    wanted = {matrix.runner_of(c) for c in matrix.connectors}
    return sum(
        select(w, matrix.core.ecosystem).reap(store_root, own_run, required=wanted == {w})
        for w in sorted(wanted)
        if w != "local"
    )
