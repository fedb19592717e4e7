"""One view of a run that every renderer reads: verdicts, grid, logs, changes, exposure, history.

Renderers never open run files themselves; they format this model, so the HTML page,
the Markdown comment, the JUnit file and the JSON document always agree.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from canary.matrix.results import CellResult, PlannedCell, RunRecord
from canary.matrix.store import RunDir
from canary.matrix.verdicts import Summary, Verdict, classify

from canary.reports import history as _history
from canary.reports.explain import Explanation, exposure_by_change, explain
from canary.matrix.exposure import ConnectorExposure, Exposure, load_exposure
from canary.compat.document import CompatDiff, load_diff
from canary.reports.logs import LogLine, LogText, first_failing_lines, read_log
from canary.reports.style import Look, look

REPORT_SCHEMA = "canary/report/v1"


@dataclass
class AttemptView:
    number: int
    status: str
    reason: str
    duration_s: float
    started_at: str
    commands: list  # CommandRecord
    log: LogText


@dataclass
class CellView:
    planned: PlannedCell
    verdict: Verdict
    result: CellResult | None
    attempts: list[AttemptView]
    failing_kind: str  # errors | tail | none
    failing_lines: list[LogLine]
    history: _history.CellHistory

    @property
    def id(self) -> str:
        return self.planned.id

    @property
    def look(self) -> Look:
        return look(self.verdict.verdict)

    @property
    def page(self) -> str:
        """Link to the cell page, relative to the report's index."""
        return "cells/" + quote(self.planned.id, safe="@+-._") + ".html"  # same as html.cell_file

    @property
    def row_key(self) -> str:
        return f"{self.planned.connector}@{self.planned.ref}"

    @property
    def title(self) -> str:
        return f"{self.row_key} on core {self.planned.core}"

    @property
    def nox(self) -> str:
        return (self.result.nox if self.result and self.result.nox else "") or self.planned.nox

    @property
    def resolved_core(self) -> str | None:
        return self.result.core.resolved if self.result else None

    @property
    def connector_identity(self) -> str | None:
        """The connector commit, else the artifact digest, else the version: what was tested."""
        if not self.result:
            return None
        c = self.result.connector
        return c.commit or c.digest or c.version

    @property
    def duration_s(self) -> float:
        return self.result.duration_s if self.result else 0.0


@dataclass
class Row:
    connector: str
    ref: str
    tier: str
    cells: dict[str, CellView]  # core label -> cell

    @property
    def key(self) -> str:
        return f"{self.connector}@{self.ref}"


@dataclass
class ChangeView:
    rule: str
    severity: str
    symbol: str
    message: str
    renamed_to: str | None
    exposure: dict[str, int]  # "<connector>@<ref>" -> places touching the symbol


@dataclass
class StepChanges:
    """The changes of one compat diff, split for reading: those that explain something first."""

    label: str  # "1.6.4 -> 1.6.5"
    file: str
    key: list[ChangeView]  # exposed, or a probable cause of a group
    rest: list[ChangeView]  # folded

    @property
    def total(self) -> int:
        return len(self.key) + len(self.rest)


@dataclass
class Report:
    run: RunDir
    record: RunRecord
    summary: Summary
    cells: list[CellView]
    columns: list[str]  # core labels: baseline first, then candidates, then the rest
    rows: list[Row]  # required rows first
    headline: str
    diff: CompatDiff | None
    changes: list[ChangeView]
    exposure: Exposure | None
    history: _history.History
    generated_at: str
    core_name: str
    badge_label: str
    counts: dict[str, int] = field(default_factory=dict)
    explanation: Explanation | None = None
    step_changes: list[StepChanges] = field(default_factory=list)

    @property
    def blocking(self) -> list[CellView]:
        return [c for c in self.cells if c.verdict.blocking]

    @property
    def inconclusive(self) -> list[CellView]:
        return [c for c in self.cells if c.verdict.inconclusive]

    @property
    def candidates(self) -> list[str]:
        if self.record.candidates:
            return list(self.record.candidates)
        return _unique(p.core for p in self.record.cells if p.role == "candidate")

    @property
    def baseline(self) -> str | None:
        return self.record.baseline or next((p.core for p in self.record.cells if p.role == "baseline"), None)

    def cell(self, cell_id: str) -> CellView:
        return next(c for c in self.cells if c.id == cell_id)

    def exposure_for(self, row_key: str, package: str | None = None) -> ConnectorExposure | None:
        if not self.exposure:
            return None
        found = self.exposure.connectors.get(row_key)
        if found is None and package:
            found = self.exposure.connectors.get(f"{package}@{row_key.split('@', 1)[-1]}")
        return found


def _unique(items) -> list:
    seen: dict = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def headline(report: Report) -> str:
    """The first sentence of every report: the run's decision (canary.matrix.verdicts.decide), as `canary
    run`, `canary verdicts` and `canary promote` say it."""
    return report.summary.sentence


def _columns(record: RunRecord) -> list[str]:
    base = [p.core for p in record.cells if p.role == "baseline"]
    cand = list(record.candidates) + [p.core for p in record.cells if p.role == "candidate"]
    return _unique(base + cand + [p.core for p in record.cells if p.role != "bisect"])


def _attempts(run: RunDir, result: CellResult | None) -> list[AttemptView]:
    if result is None:
        return []
    out = []
    for a in result.attempts:
        rel = a.log or (str(run.log_file(result.cell_id, a.number).relative_to(run.path)))
        out.append(
            AttemptView(a.number, a.status, a.reason, a.duration_s, a.started_at, a.commands, read_log(run.path, rel))
        )
    return out


def _failing(attempts: list[AttemptView], verdict: str) -> tuple[str, list[LogLine]]:
    """First failing lines of the first attempt that did not pass (the last attempt when all passed)."""
    if not attempts:
        return "none", []
    pick = next((a for a in attempts if a.status != "pass"), attempts[-1])
    if verdict in ("ok", "fixed") and pick.status == "pass":
        return "none", []
    return first_failing_lines(pick.log.text)


def run_waivers(record: RunRecord, extra: list | tuple = ()) -> tuple:
    """The waivers `canary verdicts` applies to this run: its matrix file's, the waivers.yaml
    beside it, and extra waivers.yaml files, so the report and the gate agree."""
    from canary.matrix.waivers import for_matrix  # the one loader the verdicts command uses

    recorded = record.matrix_path or record.matrix_file  # absolute since issue 11; older runs: as typed
    matrix_file = recorded if recorded and Path(recorded).is_file() else None
    return for_matrix(matrix_file, list(extra))


def build(
    run: RunDir,
    diff: CompatDiff | None = None,
    badge_label: str | None = None,
    history_depth: int = _history.DEFAULT_DEPTH,
    waivers: tuple | None = None,
) -> Report:
    record = run.read_run()
    results = run.read_cells()
    if waivers is None:
        waivers = run_waivers(record)
    summary = classify(run, record=record, results=results, waivers=tuple(waivers))
    hist = _history.collect(run, depth=history_depth, current=(summary, results))
    by_id = {v.cell_id: v for v in summary.verdicts}
    cells = []
    for planned in record.cells:
        if planned.id not in by_id:  # a bisection probe (role `bisect`): shown through bisect.json
            continue
        result = results.get(planned.id)
        verdict = by_id[planned.id]
        attempts = _attempts(run, result)
        kind, lines = _failing(attempts, verdict.verdict)
        cells.append(CellView(planned, verdict, result, attempts, kind, lines, hist.of(planned.id)))
    rows_by_key: dict[tuple, Row] = {}
    for c in cells:
        key = (c.planned.connector, c.planned.ref)
        row = rows_by_key.setdefault(key, Row(c.planned.connector, c.planned.ref, c.planned.tier, {}))
        row.cells[c.planned.core] = c
        if c.planned.tier == "required":  # a row is required when any of its cells is
            row.tier = "required"
    rows = sorted(rows_by_key.values(), key=lambda r: (r.tier != "required", r.connector, r.ref))
    exposure = load_exposure(run)
    core_name = record.core_name or next((r.core.name for r in results.values()), "") or "core"
    counts: dict[str, int] = {}
    for v in summary.verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    report = Report(
        run=run,
        record=record,
        summary=summary,
        cells=cells,
        columns=_columns(record),
        rows=rows,
        headline="",
        diff=diff,
        changes=[],
        exposure=exposure,
        history=hist,
        generated_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        core_name=core_name,
        badge_label=badge_label or core_name,
        counts=counts,
    )
    report.changes = _changes(report, report.diff)
    report.explanation = explain(run, summary, record, results)
    report.step_changes = _step_changes(report)
    report.headline = headline(report)
    return report


def _changes(report: Report, diff: CompatDiff | None) -> list[ChangeView]:
    if diff is None:
        return []
    packages = {}
    for c in report.cells:
        if c.result:
            packages[c.row_key] = f"{c.result.connector.package}@{c.planned.ref}"
    refs = {row.key: packages.get(row.key, row.key) for row in report.rows}
    out = []
    for ch, counts in zip(diff.changes, exposure_by_change(diff, report.exposure, refs, keep_zero=True)):
        out.append(ChangeView(ch.rule, ch.severity, ch.symbol, ch.message, ch.renamed_to, counts))
    return out


def _step_changes(report: Report) -> list[StepChanges]:
    """One table per diff an explanation used (the step where a regression appeared), else the run's
    own diff; changes that are exposed or a probable cause first, the rest folded."""
    causes = {(c.rule, c.symbol) for g in (report.explanation.groups if report.explanation else []) for c in g.causes}
    files = list(
        dict.fromkeys(f for g in (report.explanation.groups if report.explanation else []) for f in g.diff_files)
    )
    out = []
    for f in files or ([report.diff.file or ""] if report.diff else []):
        diff = report.diff if report.diff and (report.diff.file or "") == f else _load(f)
        if diff is None:
            continue
        views = report.changes if diff is report.diff else _changes(report, diff)
        key = [v for v in views if any(v.exposure.values()) or (v.rule, v.symbol) in causes]
        rest = [v for v in views if v not in key]
        out.append(StepChanges(f"{diff.old_label or '?'} -> {diff.new_label or '?'}", f, key, rest))
    return out


def _load(path: str) -> CompatDiff | None:
    from canary.kernel.errors import UserError

    try:
        return load_diff(path)
    except (UserError, OSError):
        return None


def major_minor(version: str) -> str:
    """`1.7.2` -> `1.7`; labels that are not versions (`git:main`) are kept whole."""
    parts = version.split(".")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        return f"{parts[0]}.{parts[1]}"
    return version
