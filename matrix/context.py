"""What one cell's execution carries: its inputs, its directory, its log, its records.

Sources and runners receive a CellContext and use `cx.run(...)` for every
command, so that every command is logged, timed, recorded and time-limited in
one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from collections.abc import Callable

from canary.kernel.errors import InfrastructureError
from canary.kernel.home import Home
from canary.matrix.failures import FailureKind, command_kind
from canary.matrix.infra import explain
from canary.matrix.model import Cell, Connector, Matrix
from canary.matrix.proc import Outcome, run_command
from canary.matrix.results import CommandRecord, ConnectorRecord, CoreRecord


def scenarios_dir() -> Path:
    """The smoke scenarios: $CANARY_SCENARIOS, the project's own `scenarios/` (source checkout or
    editable install), or `scenarios/` in the current directory (a plain `pip install .` in CI)."""
    if os.environ.get("CANARY_SCENARIOS"):
        return Path(os.environ["CANARY_SCENARIOS"]).resolve()
    beside = Path(__file__).resolve().parent.parent / "scenarios"
    return beside if beside.is_dir() else Path.cwd() / "scenarios"


@dataclass
class CoreArtifact:
    """A core version made concrete: a file to install, its version and digest."""

    path: Path
    version: str
    digest: str
    commit: str | None = None
    tree: str | None = None  # clean | dirty | untracked (canary.kernel.treestate); None: a registry artifact
    diff_digest: str | None = None


@dataclass
class Checkout:
    """A connector ref made concrete: a directory (sources) and/or an artifact."""

    path: Path  # directory with the connector's files (the test commands' cwd)
    commit: str | None = None
    digest: str | None = None
    artifact: Path | None = None  # a wheel/sdist/tarball when the source is a registry
    version: str | None = None


@dataclass
class CellContext:
    cell: Cell
    matrix: Matrix
    connector: Connector
    home: Home
    run_id: str
    cell_dir: Path
    log: IO[str]
    env: dict[str, str]
    secrets: list[str]
    core_record: CoreRecord
    connector_record: ConnectorRecord
    commands: list[CommandRecord] = field(default_factory=list)
    checkout: Checkout | None = None
    core_artifact: CoreArtifact | None = None
    unsupported: bool = False
    runner_env: dict[str, str] = field(default_factory=dict)  # added by the runner (venv PATH, ...)
    variables: dict[str, str] = field(default_factory=dict)  # {python}, {checkout}, ... for argv templates
    process_token: str = ""  # tags every process of the cell (canary.kernel.reaper)
    processes_killed: int = 0  # left running by a command and killed when it ended
    # Runs one command (run_command's signature); a runner that runs commands elsewhere (a
    # container) sets its own in prepare(). Commands before that (git, packing) run here.
    executor: Callable[..., Outcome] = run_command
    run_path: Path | None = None  # the run directory (labels of a runner's containers name it)
    sandbox: dict = field(default_factory=dict)  # what isolated the cell (docker: image, network, limits)

    @property
    def checked_out(self) -> Checkout:
        """The connector's checkout, for the steps after the source identified it (install, test, exposure)."""
        if self.checkout is None:
            raise RuntimeError(f"{self.cell.id}: the connector is not checked out yet")
        return self.checkout

    @property
    def core_under_test(self) -> CoreArtifact:
        """The core's artifact, for the steps after the source materialized it (install, verification)."""
        if self.core_artifact is None:
            raise RuntimeError(f"{self.cell.id}: the core is not materialized yet")
        return self.core_artifact

    def note(self, text: str) -> None:
        self.log.write(f"# {text}\n")
        self.log.flush()

    def run(
        self,
        phase: str,
        argv: list[str],
        *,
        cwd: Path | str | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        infra: bool = False,
    ) -> Outcome:
        """Run one command. infra=True: a failure is an infrastructure error (setup), not a test failure."""
        # The matrix's `env:` values take the same templates as argv ({python}, {cell_dir}, ...).
        own = {k: self.expand(str(v)) for k, v in self.connector.env.items()}
        full_env = {**self.env, **own, **self.runner_env, **(env or {})}
        outcome = self.executor(
            phase,
            [self.expand(a) for a in argv],
            cwd=str(cwd or self.cell_dir),
            env=full_env,
            timeout=timeout or (self.connector.timeout if phase == "test" else self.connector.install_timeout),
            log=self.log,
            secrets=self.secrets,
            token=self.process_token,
        )
        self.processes_killed += outcome.leftovers_killed
        self.commands.append(outcome.record)
        if infra and not outcome.ok:
            # The kind is decided here, once, while the command and its output are at hand; the
            # reason only words it (the executor records the kind on the attempt).
            kind = command_kind(phase, outcome.record.exit_code, outcome.record.timed_out, "\n".join(outcome.tail))
            raise InfrastructureError(infra_reason(phase, outcome, kind), "\n".join(outcome.tail[-20:]), kind=kind)
        return outcome

    def expand(self, arg: str) -> str:
        if "{" not in arg:
            return arg
        values = {
            "cell_dir": str(self.cell_dir),
            "scenarios": str(scenarios_dir()),
            "core_version": self.core_artifact.version if self.core_artifact else "",
            "core_name": self.matrix.core.name,
            "connector": self.connector.name,
            "package": self.connector.package,
            "ref": self.cell.ref,
            **({"checkout": str(self.checkout.path)} if self.checkout else {}),
            **self.variables,
        }
        try:
            return arg.format_map(values)
        except (KeyError, ValueError, IndexError):
            return arg  # not a template (a literal brace in a command): leave as written


def infra_reason(phase: str, outcome: Outcome, kind: FailureKind) -> str:
    """One line that says why setup failed: the words of its failure kind, with the detail its output gives."""
    if outcome.record.timed_out:
        return f"{phase} timed out after {outcome.record.duration_s:.0f}s"
    return explain(phase, kind, outcome.tail, outcome.record.exit_code)
