"""What a run produced: one CellResult per cell and one RunRecord per run.

Both serialize to JSON documents whose schemas ship in matrix/schemas/
(cell-result.schema.json, run.schema.json). Field names are an interface:
add fields, never rename or drop them without bumping `schema`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum

__all__ = [
    "CELL_SCHEMA",
    "RUN_SCHEMA",
    "Status",
    "STATUSES",
    "CommandRecord",
    "Attempt",
    "CoreRecord",
    "ConnectorRecord",
    "CellResult",
    "PlannedCell",
    "RunRecord",
]

CELL_SCHEMA = "canary/cell-result/v1"
RUN_SCHEMA = "canary/run/v1"


class Status(StrEnum):
    """The status of a cell or an attempt, as the cell result records it (README: "Status of a cell")."""

    PASS = "pass"  # every test command exited 0
    FAIL = "fail"  # a test command failed
    ERROR = "error"  # could not set up (clone, install, core mismatch) or the machine failed
    TIMEOUT = "timeout"  # a command ran out of time
    SKIPPED = "skipped"  # not run (matrix `skip`)


STATUSES = tuple(Status)


@dataclass
class CommandRecord:
    """One command a cell ran: its phase, argv, exit code, duration and whether it timed out."""

    phase: str  # materialize | install | force-core | check | setup | test
    argv: list[str]
    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    cwd: str = ""


@dataclass
class Attempt:
    """One attempt at a cell: its status and why."""

    number: int
    status: Status
    reason: str = ""  # why error/timeout/skipped; first failing line for fail
    duration_s: float = 0.0
    log: str = ""  # path relative to the run directory
    commands: list[CommandRecord] = field(default_factory=list)
    junit: str | None = None  # path relative to the run directory
    started_at: str = ""
    # Recorded when the attempt fails (canary.matrix.failures.FailureKind), with the index in
    # `commands` of the command that failed (None: none ran, e.g. a clone that could not start).
    failure: str | None = None
    failed_command: int | None = None


@dataclass
class CoreRecord:
    """The identity of the core a cell ran against (what was installed, its digest)."""

    name: str
    label: str
    kind: str
    requested: str | None = None  # exact version asked for, when known
    resolved: str | None = None  # the version the connector really loads
    digest: str | None = None  # sha256 of the core artifact
    commit: str | None = None
    # The tree the artifact was built from: clean (exactly `commit`), dirty (uncommitted
    # changes, `diff_digest` says which) or untracked (not in git at all). None: a registry artifact.
    tree: str | None = None
    diff_digest: str | None = None


@dataclass
class ConnectorRecord:
    """The identity of the connector a cell tested (source, ref, commit)."""

    name: str
    package: str
    source: str
    ref: str
    commit: str | None = None
    digest: str | None = None
    version: str | None = None
    declared_core_range: str | None = None


@dataclass
class CellResult:
    """The result document of one cell (cells/<id>.json): attempts, commands, identities."""

    run_id: str
    cell_id: str
    tier: str
    role: str
    core: CoreRecord
    connector: ConnectorRecord
    status: Status
    reason: str = ""
    unsupported: bool = False  # core outside the connector's declared range
    expectation: str | None = None
    tags: list[str] = field(default_factory=list)
    env_keys: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    runner: str = ""
    sandbox: dict = field(default_factory=dict)  # docker: image, image_id, network per phase, limits
    tool_version: str = ""
    cache_key: str | None = None
    cached_from: str | None = None  # run id the result was reused from
    processes_killed: int = 0  # processes its commands left running, killed when each ended
    nox: str = ""
    schema: str = CELL_SCHEMA

    @property
    def log(self) -> str:
        return self.attempts[0].log if self.attempts else ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CellResult:
        data = dict(data)
        data["core"] = CoreRecord(**_known(CoreRecord, data["core"]))
        data["connector"] = ConnectorRecord(**_known(ConnectorRecord, data["connector"]))
        attempts = []
        for a in data.get("attempts", []):
            a = _known(Attempt, a)
            a["commands"] = [CommandRecord(**_known(CommandRecord, c)) for c in a.get("commands", [])]
            attempts.append(Attempt(**a))
        data["attempts"] = attempts
        return cls(**_known(cls, data))


@dataclass
class PlannedCell:
    """A cell as planned in run.json (id, tier, role, refs, its nox command)."""

    id: str
    tier: str
    role: str
    connector: str
    ref: str
    core: str
    nox: str = ""


@dataclass
class RunRecord:
    """The record of one run (run.json): the matrix, the planned cells, when, with what."""

    run_id: str
    matrix_file: str
    matrix_digest: str
    started_at: str
    cells: list[PlannedCell]
    finished_at: str | None = None
    state: str = "running"  # running | complete | interrupted
    argv: list[str] = field(default_factory=list)
    tool_version: str = ""
    core_name: str = ""
    ecosystem: str = ""
    baseline: str | None = None
    candidates: list[str] = field(default_factory=list)
    exit_code: int | None = None
    # A run that planned only some cells of its matrix (`--cells`): never evidence for a release.
    partial: bool = False
    selection: list[str] = field(default_factory=list)  # the --cells patterns of a partial run
    planned_total: int | None = None  # cells the whole matrix plans
    kind: str = "release"  # release | repro (one cell reproduced alone, e.g. by nox): never "the latest run"
    matrix_path: str = ""  # absolute path of the matrix file
    waivers_digest: str | None = None  # sha256 of the waivers.yaml beside the matrix file (None: none there)
    schema: str = RUN_SCHEMA

    @property
    def complete_release(self) -> bool:
        """A run that may stand for its matrix: the whole matrix, not a reproduction."""
        return not self.partial and self.kind == "release"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        data = dict(data)
        data["cells"] = [PlannedCell(**_known(PlannedCell, c)) for c in data.get("cells", [])]
        return cls(**_known(cls, data))


def _known(cls, data: dict) -> dict:
    """Keep only the keys a dataclass knows: newer writers may add fields."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
