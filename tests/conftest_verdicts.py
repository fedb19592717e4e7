"""Helpers for the verdicts and fan-out tests: real run directories written through the store.

Cells here are results on disk exactly as the executor writes them (run.json, cells/*.json,
logs/, JUnit files), so classify() and merge() read the same files they read in production.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from canary.matrix.results import (
    Attempt,
    CellResult,
    CommandRecord,
    ConnectorRecord,
    CoreRecord,
    PlannedCell,
    RunRecord,
)
from canary.matrix.store import RunDir, Store

BASE, CAND = "1.6.4", "1.7.0"


def cid(connector: str, core: str, ref: str = "1.0.0") -> str:
    from canary.matrix.model import cell_id

    return cell_id(connector, ref, core)


@dataclass
class Spec:
    """One cell to write: its attempts' statuses (and optional logs, JUnit XML, commands)."""

    connector: str
    core: str
    statuses: list[str]  # one per attempt; the last is the cell status unless `status` says otherwise
    status: str | None = None
    reason: str = ""
    tier: str = "required"
    ref: str = "1.0.0"
    logs: list[str] | None = None  # log text per attempt
    junit: list[str] | None = None  # JUnit XML per attempt
    commands: list[list[CommandRecord]] | None = None
    unsupported: bool = False
    expectation: str | None = None
    attempt_reasons: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return cid(self.connector, self.core, self.ref)

    @property
    def role(self) -> str:
        return "baseline" if self.core == BASE else "candidate"

    def planned(self) -> PlannedCell:
        return PlannedCell(
            id=self.id, tier=self.tier, role=self.role, connector=self.connector, ref=self.ref, core=self.core
        )


def write_result(run: RunDir, spec: Spec) -> CellResult:
    attempts = []
    for i, status in enumerate(spec.statuses, 1):
        log = ""
        if spec.logs is not None:
            log_path = run.log_file(spec.id, i)
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(spec.logs[i - 1])
            log = str(log_path.relative_to(run.path))
        junit = None
        if spec.junit is not None and spec.junit[i - 1] is not None:
            jpath = run.path / "junit" / f"{spec.id}.attempt{i}.xml"
            jpath.parent.mkdir(parents=True, exist_ok=True)
            jpath.write_text(spec.junit[i - 1])
            junit = str(jpath.relative_to(run.path))
        attempts.append(
            Attempt(
                number=i,
                status=status,
                log=log,
                junit=junit,
                reason=spec.attempt_reasons[i - 1] if spec.attempt_reasons else spec.reason,
                commands=spec.commands[i - 1] if spec.commands else [],
            )
        )
    result = CellResult(
        run_id=run.run_id,
        cell_id=spec.id,
        tier=spec.tier,
        role=spec.role,
        core=CoreRecord(
            name="@elizaos/core", label=spec.core, kind="registry", requested=spec.core, resolved=spec.core
        ),
        connector=ConnectorRecord(
            name=spec.connector, package=f"@elizaos/{spec.connector}", source="npm", ref=spec.ref
        ),
        status=spec.status or spec.statuses[-1],
        reason=spec.reason,
        attempts=attempts,
        unsupported=spec.unsupported,
        expectation=spec.expectation,
        started_at="2026-11-21T08:00:00+00:00",
        finished_at="2026-11-21T08:01:00+00:00",
    )
    run.write_cell(result)
    return result


def make_run(root: Path, specs: list[Spec], planned_only: list[Spec] = ()) -> RunDir:
    """A run whose plan holds every spec (and planned_only: planned cells with no result)."""
    run = Store(root).new_run()
    cells = [s.planned() for s in list(specs) + list(planned_only)]
    run.write_run(
        RunRecord(
            run_id=run.run_id,
            matrix_file="",
            matrix_digest="",
            started_at="2026-11-21T08:00:00+00:00",
            cells=cells,
            state="complete",
            baseline=BASE,
            candidates=[CAND],
        )
    )
    for spec in specs:
        write_result(run, spec)
    return run


def junit_xml(cases: dict[str, str], suite: str = "discord") -> str:
    """A JUnit document: {"classname::name": "pass" | "fail" | "error" | "skipped"}."""
    body = []
    for tid, status in cases.items():
        classname, name = tid.split("::")
        inner = {
            "pass": "",
            "fail": "<failure message='boom'>trace</failure>",
            "error": "<error message='err'/>",
            "skipped": "<skipped/>",
        }[status]
        body.append(f"<testcase classname='{classname}' name='{name}'>{inner}</testcase>")
    return f"<?xml version='1.0'?><testsuites><testsuite name='{suite}'>{''.join(body)}</testsuite></testsuites>"
