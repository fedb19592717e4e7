"""Verdicts: each candidate cell compared with the same connector ref on the baseline core.

The crater model: a red cell alone says little, red-on-candidate after
green-on-baseline is a regression. Only unwaived regressions in required cells
block a promotion; errors and missing results make a run inconclusive.

Verdict values (stable, part of the JSON interface):
  ok          passed (on the candidate; or a baseline cell that passed)
  regressed   baseline passed, candidate failed or timed out
  fixed       baseline failed, candidate passed
  broken      failed on both (or a baseline cell that failed)
  flaky       failed, then passed on a retry (or baseline unstable in an A/A check)
  error       infrastructure: clone, download, install, out of disk, missing result
  skipped     not run (citgm-style skip, or no baseline to compare with)
  unsupported core outside the connector's declared range: reported, never blocks
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .results import CellResult, PlannedCell, RunRecord
from .store import RunDir

VERDICTS = ("ok", "regressed", "fixed", "broken", "flaky", "error", "skipped", "unsupported")

EXIT_OK, EXIT_REGRESSED, EXIT_INCONCLUSIVE = 0, 1, 3


@dataclass
class Verdict:
    cell_id: str
    connector: str
    ref: str
    core: str
    tier: str
    role: str
    verdict: str
    status: str | None  # the cell's own status (None when missing)
    reason: str = ""
    baseline_cell: str | None = None
    baseline_status: str | None = None
    attempts: int = 0
    waived: bool = False
    waiver: dict | None = None
    blocking: bool = False  # an unwaived regression in a required cell
    inconclusive: bool = False  # an error or missing result in a required cell
    newly_failing_tests: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Summary:
    run_id: str
    baseline: str | None
    candidates: list[str]
    verdicts: list[Verdict]
    exit_code: int
    decision: str  # green | regressed | inconclusive
    expired_waivers: list[dict] = field(default_factory=list)
    removable_waivers: list[dict] = field(default_factory=list)

    @property
    def blocking(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.blocking]

    @property
    def inconclusive(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.inconclusive]

    def to_dict(self) -> dict:
        return {
            "schema": "canary/verdicts/v1",
            "run_id": self.run_id,
            "baseline": self.baseline,
            "candidates": self.candidates,
            "decision": self.decision,
            "exit_code": self.exit_code,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "expired_waivers": self.expired_waivers,
            "removable_waivers": self.removable_waivers,
        }


def _own_verdict(result: CellResult) -> tuple[str, str]:
    if result.status == "skipped":
        return "skipped", result.reason
    if result.status == "error":
        return "error", result.reason
    if result.status == "pass":
        return "ok", ""
    return "broken", result.reason


def classify_cell(planned: PlannedCell, result: CellResult | None, base: CellResult | None) -> Verdict:
    v = Verdict(
        cell_id=planned.id, connector=planned.connector, ref=planned.ref, core=planned.core,
        tier=planned.tier, role=planned.role, verdict="error", status=None,
    )
    if result is None:
        v.reason = "missing: no result for a planned cell"
    else:
        v.status = result.status
        v.attempts = len(result.attempts)
        if base is not None:
            v.baseline_cell, v.baseline_status = base.cell_id, base.status
        if planned.role == "baseline" or result.status in ("skipped", "error"):
            v.verdict, v.reason = _own_verdict(result)
        elif base is None or base.status in ("error", "skipped"):
            v.verdict = "skipped" if result.status != "pass" else "ok"
            v.reason = "no usable baseline result to compare with"
        else:
            passed = result.status == "pass"
            base_passed = base.status == "pass"
            retried_pass = not passed and any(a.status == "pass" for a in result.attempts[1:])
            if retried_pass:
                v.verdict, v.reason = "flaky", f"passed on attempt {next(a.number for a in result.attempts if a.status == 'pass')}"
            elif passed:
                v.verdict = "ok" if base_passed else "fixed"
            else:
                v.verdict = "regressed" if base_passed else "broken"
                v.reason = result.reason
        if result.unsupported and v.verdict not in ("error", "skipped"):
            v.reason = f"{v.verdict}: core outside the connector's declared range" + (f"; {v.reason}" if v.reason else "")
            v.verdict = "unsupported"
    v.blocking = v.tier == "required" and v.verdict == "regressed" and not v.waived
    v.inconclusive = v.tier == "required" and v.verdict == "error"
    return v


def classify(run: RunDir, record: RunRecord | None = None, results: dict[str, CellResult] | None = None) -> Summary:
    record = record or run.read_run()
    results = results if results is not None else run.read_cells()
    baseline_by_ref = {}
    for planned in record.cells:
        if planned.role == "baseline" and planned.id in results:
            baseline_by_ref[(planned.connector, planned.ref)] = results[planned.id]
    verdicts = [
        classify_cell(p, results.get(p.id), baseline_by_ref.get((p.connector, p.ref)))
        for p in record.cells
    ]
    return summarize(record, verdicts)


def summarize(record: RunRecord, verdicts: list[Verdict], **extra) -> Summary:
    if any(v.blocking for v in verdicts):
        decision, code = "regressed", EXIT_REGRESSED
    elif any(v.inconclusive for v in verdicts):
        decision, code = "inconclusive", EXIT_INCONCLUSIVE
    else:
        decision, code = "green", EXIT_OK
    return Summary(
        run_id=record.run_id, baseline=record.baseline, candidates=list(record.candidates),
        verdicts=verdicts, exit_code=code, decision=decision, **extra,
    )
