"""What a promotion decides and does, as plain data (serialized by `canary promote --json`).

The JSON form is described by canary/promote/schemas/promotion.schema.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from canary.kernel.exitcodes import ExitCode

SCHEMA = "canary/promotion/v1"

# Check outcomes, worst last. A refusal (exit 1) outranks an inconclusive check (exit 3).
PASS, SKIP, INCONCLUSIVE, REFUSE = "pass", "skip", "inconclusive", "refuse"
EXIT_PROMOTED, EXIT_REFUSED, EXIT_INCONCLUSIVE = ExitCode.OK, ExitCode.REFUSED, ExitCode.INCONCLUSIVE


@dataclass
class Check:
    name: str
    outcome: str  # pass | skip | inconclusive | refuse
    message: str
    details: list[str] = field(default_factory=list)  # one line per cell, commit or waiver involved
    cells: list[str] = field(default_factory=list)  # the cell ids involved


@dataclass
class Action:
    name: str  # evidence | sign | pyproject | changelog | tag | npm
    description: str
    state: str = "planned"  # planned | done | no-op | failed
    argv: list[str] = field(default_factory=list)  # for commands: exactly what runs
    path: str | None = None  # for files: what is written
    note: str = ""
    payload: bytes | str | None = field(default=None, repr=False, compare=False)  # bytes/text to write; not in the JSON


@dataclass
class Promotion:
    prerelease_tag: str
    release_tag: str | None
    version: str | None
    commit: str | None
    run_id: str | None
    dry_run: bool
    checks: list[Check] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    decision: str = "refused"  # promotable | promoted | refused | inconclusive | failed
    exit_code: int = EXIT_REFUSED
    evidence_path: str | None = None
    evidence_digest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"schema": SCHEMA, **asdict(self)}
        for action in data["actions"]:
            action.pop("payload", None)
        return data


def decide(checks: list[Check]) -> tuple[str, int]:
    outcomes = {c.outcome for c in checks}
    if REFUSE in outcomes:
        return "refused", EXIT_REFUSED
    if INCONCLUSIVE in outcomes:
        return "inconclusive", EXIT_INCONCLUSIVE
    return "promotable", EXIT_PROMOTED


def rel(path: Path, base: Path) -> str:
    """A path relative to base when it lies inside it (for messages and the tag), else absolute."""
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())
