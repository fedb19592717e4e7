"""Verdicts: each candidate cell compared with the same connector ref on the baseline core.

The crater model: a red cell alone says little, red-on-candidate after
green-on-baseline is a regression. Only unwaived regressions in required cells
block a promotion; errors and missing results make a run inconclusive.
docs/verdicts.md describes every rule below; the JSON form is
matrix/schemas/verdicts.schema.json.

Verdict values (stable, part of the JSON interface):
  ok          passed (on the candidate; or a baseline cell that passed)
  regressed   baseline passed, candidate failed or timed out (with output)
  fixed       baseline failed, candidate passed
  broken      failed on both (or a baseline cell that failed)
  flaky       failed, then passed on a retry (or baseline unstable in an A/A check)
  error       infrastructure: clone, download, install of a missing dependency, out of
              memory, no disk space, a timeout with no output, a missing result
  skipped     not run (citgm-style skip, or no baseline to compare with)
  unsupported core outside the connector's declared range: reported, never blocks
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path

from canary.kernel.exitcodes import ExitCode
from canary.matrix import junit, waivers as _waivers
from canary.matrix.failures import SIGKILLED, FailureKind, failure_of, infrastructure, last_command_output
from canary.matrix.model import Waiver
from canary.matrix.results import Attempt, CellResult, PlannedCell, RunRecord, Status
from canary.kernel.errors import UserError
from canary.matrix.store import RunDir, read_json

__all__ = [
    "VerdictKind",
    "Decision",
    "VERDICTS",
    "EXIT_OK",
    "EXIT_REGRESSED",
    "EXIT_INCONCLUSIVE",
    "MISSING_REASON",
    "SCHEMA",
    "CellExplanation",
    "Verdict",
    "Summary",
    "read_summary",
    "last_command_output",
    "infrastructure_reason",
    "effective_status",
    "classify_cell",
    "waiver_report",
    "classify",
    "summarize",
    "decide",
]


class VerdictKind(StrEnum):
    """The verdict of a cell (docs/verdicts.md): a candidate compared with its baseline cell."""

    OK = "ok"  # passes (and its baseline passes, or there is nothing to compare with)
    REGRESSED = "regressed"  # fails where its baseline passes
    FIXED = "fixed"  # passes where its baseline fails
    BROKEN = "broken"  # fails on the baseline too (or is expected to fail on this core)
    FLAKY = "flaky"  # attempts disagree, or marked flaky in the matrix
    ERROR = "error"  # infrastructure: could not set up, the machine failed, no result
    SKIPPED = "skipped"  # not run, or nothing to compare with
    UNSUPPORTED = "unsupported"  # the core is outside the connector's declared range


class Decision(StrEnum):
    """What a run decides as a whole (verdicts.json `decision`)."""

    GREEN = "green"
    REGRESSED = "regressed"
    INCONCLUSIVE = "inconclusive"
    PARTIAL = "partial"


VERDICTS = tuple(VerdictKind)

SCHEMA = "canary/verdicts/v1"

EXIT_OK, EXIT_REGRESSED, EXIT_INCONCLUSIVE = ExitCode.OK, ExitCode.REGRESSED, ExitCode.INCONCLUSIVE

MISSING_REASON = "missing: no result for a planned cell"

_LOG_TAIL_LINES = 40
_FAILED = (Status.FAIL, Status.TIMEOUT)
# A baseline cell's verdict is its own status: a pass is ok, a failure broken (error and skipped stay).
_BASELINE_VERDICT: dict[str, VerdictKind] = {Status.PASS: VerdictKind.OK, Status.FAIL: VerdictKind.BROKEN}


@dataclass
class CellExplanation:
    """What the explanation (canary.reports.explain `Explanation.for_cell`) adds to a verdict once a
    run is explained: its root-cause group, first bad core, probable causes and fixes. The causes
    and fixes stay dicts here: their classes live in canary.reports, which canary.matrix may not import."""

    group: str | None = None
    first_bad: str | None = None
    probable_causes: list[dict] = field(default_factory=list)
    fixes: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CellExplanation:
        return cls(
            group=data.get("group"),
            first_bad=data.get("first_bad"),
            probable_causes=list(data.get("probable_causes") or []),
            fixes=list(data.get("fixes") or []),
        )


_EXPLANATION_KEYS = ("group", "first_bad", "probable_causes", "fixes")


@dataclass
class Verdict:
    """The verdict of one candidate cell against its baseline (ok, regressed, fixed, broken, ...)."""

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
    inconclusive: bool = False  # an unwaived error or missing result in a required cell
    newly_failing_tests: list[str] = field(default_factory=list)
    # Core outside the connector's declared range. `judged` keeps the comparison with the
    # baseline, so an unsupported cell that failed where its baseline passed is never silent.
    outside_range: bool = False
    judged: str | None = None
    # Written only when the run was explained, so files of unexplained runs keep their bytes.
    explanation: CellExplanation | None = None

    @property
    def regressed_outside_range(self) -> bool:
        return self.outside_range and self.judged == VerdictKind.REGRESSED

    @property
    def label(self) -> str:
        """The verdict as every output shows it."""
        if self.regressed_outside_range:
            return "regressed (outside declared range)"
        return self.verdict

    def to_dict(self) -> dict:
        data = asdict(self)
        explained = data.pop("explanation")
        return data | {"label": self.label} | (explained or {})

    @classmethod
    def from_dict(cls, data: dict) -> Verdict:
        """A verdict of verdicts.json; `label` is derived from the fields, so it is not read."""
        own = {f.name: data[f.name] for f in fields(cls) if f.name != "explanation" and f.name in data}
        own["newly_failing_tests"] = list(own.get("newly_failing_tests") or [])
        explained = any(k in data for k in _EXPLANATION_KEYS)
        return cls(**own, explanation=CellExplanation.from_dict(data) if explained else None)


@dataclass
class Summary:
    """The verdicts of a run, their counts, the decision and the exit code."""

    run_id: str
    baseline: str | None
    candidates: list[str]
    verdicts: list[Verdict]
    exit_code: int
    decision: str  # green | regressed | inconclusive | partial (see decide())
    expired_waivers: list[dict] = field(default_factory=list)
    removable_waivers: list[dict] = field(default_factory=list)
    promotable: bool = False
    sentence: str = ""  # the first line of every output
    reasons: list[str] = field(default_factory=list)  # why not promotable, one line each
    warnings: list[str] = field(default_factory=list)  # shown, not blocking
    partial: bool = False
    selection: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.blocking]

    @property
    def inconclusive(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.inconclusive]

    def counts(self) -> dict[str, int]:
        c = Counter(v.verdict for v in self.verdicts)
        return {name: c.get(name, 0) for name in VERDICTS}

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "baseline": self.baseline,
            "candidates": self.candidates,
            "decision": self.decision,
            "exit_code": self.exit_code,
            "promotable": self.promotable,
            "sentence": self.sentence,
            "reasons": self.reasons,
            "warnings": self.warnings,
            "partial": self.partial,
            "selection": self.selection,
            "counts": self.counts(),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "expired_waivers": self.expired_waivers,
            "removable_waivers": self.removable_waivers,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Summary:
        """verdicts.json (or `canary verdicts --json`) read back; `counts` is derived, so it is not read."""
        own = {f.name: data[f.name] for f in fields(cls) if f.name != "verdicts" and f.name in data}
        return cls(**own, verdicts=[Verdict.from_dict(v) for v in data.get("verdicts") or []])


def read_summary(path: Path) -> Summary:
    """`<run>/verdicts.json` (or a saved `canary verdicts --json`); another document is an error naming the file."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"not a verdicts document (schema {SCHEMA})", file=str(path), key="schema")
    try:
        return Summary.from_dict(data)
    except (TypeError, KeyError) as exc:
        raise UserError(f"malformed verdicts document: {exc}", file=str(path)) from None


# ---------------------------------------------------------------- reading a cell's evidence


def _log_tail(run_path: Path | None, attempt: Attempt | None) -> str | None:
    """The last lines of an attempt's log; "" for an empty log; None when unknown."""
    if run_path is None or attempt is None or not attempt.log:
        return None
    path = run_path / attempt.log
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return "" if not path.exists() else None
    return "\n".join(data.splitlines()[-_LOG_TAIL_LINES:])


# What a verdict says of an infrastructure failure, by kind (the cell's own reason follows in parentheses).
_KIND_TEXT = {
    FailureKind.OOM: "out of memory",
    FailureKind.NO_SPACE: "no space left on device",
    FailureKind.MISSING_DEPENDENCY: "missing dependency",
    FailureKind.NETWORK: "registry or network unreachable",
    FailureKind.TIMEOUT_NO_OUTPUT: "timeout with no output",
    FailureKind.MATERIALIZE: "materialize failed",
    FailureKind.CORE_MISMATCH: "core mismatch",
    FailureKind.TEST_SETUP: "the test harness could not start",
}


def infrastructure_reason(result: CellResult, run_path: Path | None = None) -> str | None:
    """Why a failed or timed-out cell is really an infrastructure `error`, or None.

    Infrastructure: out of memory, no disk space, an install step that could not download a
    dependency, a failed materialize (clone, download), a timeout with no output. Read from the
    failure kind the attempt recorded (canary.matrix.failures); older results are classified there.
    """
    if result.status not in _FAILED:
        return None
    last = result.attempts[-1] if result.attempts else None
    tail = None if last is not None and last.failure else _log_tail(run_path, last)
    kind = failure_of(last, result.status, result.reason, tail)
    if kind is None or not infrastructure(kind):
        return None
    text = _KIND_TEXT.get(kind, str(kind))
    failed = last.commands[last.failed_command] if last and last.failed_command is not None else None
    failed = failed or next((c for c in (last.commands if last else ()) if c.exit_code not in (0, None)), None)
    if kind == FailureKind.OOM and failed is not None and failed.exit_code in SIGKILLED:
        text = "killed by SIGKILL (out of memory?)"
    return f"infrastructure: {text}"


def effective_status(result: CellResult, run_path: Path | None = None) -> tuple[str, str]:
    """The status a verdict is built from: pass | fail | error | skipped, and why."""
    if result.status in (Status.SKIPPED, Status.ERROR, Status.PASS):
        return result.status, result.reason
    infra = infrastructure_reason(result, run_path)
    if infra:
        return Status.ERROR, infra + (f" ({result.reason})" if result.reason and result.reason not in infra else "")
    return Status.FAIL, result.reason or ("timed out" if result.status == Status.TIMEOUT else "")


def _unstable(result: CellResult) -> tuple[int, int] | None:
    """(first failing attempt, first passing attempt) when attempts disagree, else None."""
    failing = [a.number for a in result.attempts if a.status in _FAILED]
    passing = [a.number for a in result.attempts if a.status == Status.PASS]
    if failing and passing:
        return failing[0], passing[0]
    return None


def _junit_runs(result: CellResult | None, run_path: Path | None) -> list[dict[str, str]]:
    if result is None or run_path is None:
        return []
    runs = []
    for a in result.attempts:
        if a.junit:
            cases = junit.load(run_path / a.junit)
            if cases is not None:
                runs.append(cases)
    return runs


# ---------------------------------------------------------------- judging


def _baseline_verdict(v: Verdict, result: CellResult, run_path: Path | None) -> None:
    status, reason = effective_status(result, run_path)
    unstable = _unstable(result) if status in (Status.PASS, Status.FAIL) else None
    if unstable:
        v.verdict = VerdictKind.FLAKY
        v.reason = f"A/A check: attempt {unstable[0]} failed, attempt {unstable[1]} passed"
    else:
        v.verdict = _BASELINE_VERDICT.get(status) or VerdictKind(status)
        v.reason = reason


def _candidate_verdict(
    v: Verdict, result: CellResult, base: CellResult | None, run_path: Path | None, baseline_planned: bool
) -> None:
    status, reason = effective_status(result, run_path)
    if status in (Status.SKIPPED, Status.ERROR):
        v.verdict, v.reason = status, reason
        return
    unstable = _unstable(result)
    if unstable:
        v.verdict = VerdictKind.FLAKY
        v.reason = f"failed on attempt {unstable[0]}, passed on attempt {unstable[1]}"
        return
    passed = status == Status.PASS
    base_status = effective_status(base, run_path)[0] if base is not None else None
    if base is None and not baseline_planned:
        # The matrix has no baseline cell for this connector ref (excluded, or a run of some
        # cells only): nothing to compare with, which is not an infrastructure problem.
        v.verdict = VerdictKind.OK if passed else VerdictKind.SKIPPED
        v.reason = "no baseline cell planned for this connector ref" + (f"; {reason}" if reason and not passed else "")
        return
    if base is None or base_status == Status.ERROR:
        # The baseline was planned but has no usable result: a pass is still a pass, a
        # failure is inconclusive, never a silent green and never a regression.
        if passed:
            v.verdict, v.reason = VerdictKind.OK, "no usable baseline result to compare with"
        else:
            v.verdict = VerdictKind.ERROR
            v.reason = "no usable baseline result to compare with" + (f"; {reason}" if reason else "")
        return
    if base_status == Status.SKIPPED:
        v.verdict = VerdictKind.OK if passed else VerdictKind.SKIPPED
        v.reason = "baseline skipped: nothing to compare with" + (f"; {reason}" if reason and not passed else "")
        return
    base_unstable = _unstable(base)
    if base_unstable and not passed:
        v.verdict = VerdictKind.FLAKY
        v.reason = f"baseline {base.cell_id} unstable in the A/A check" + (f"; {reason}" if reason else "")
        return
    base_passed = base_status == Status.PASS
    if passed:
        v.verdict = VerdictKind.OK if base_passed else VerdictKind.FIXED
        return
    v.verdict = VerdictKind.REGRESSED if base_passed else VerdictKind.BROKEN
    v.reason = reason
    if v.verdict == VerdictKind.REGRESSED and result.expectation == "flaky":
        v.verdict, v.reason = VerdictKind.FLAKY, "marked flaky in the matrix" + (f"; {reason}" if reason else "")
    elif v.verdict == VerdictKind.REGRESSED and result.expectation == "expect_fail":
        v.verdict, v.reason = VerdictKind.BROKEN, "expected to fail on this core" + (f"; {reason}" if reason else "")


def _waiver_for(cell_id: str, waivers: tuple[Waiver, ...], today: _dt.date) -> Waiver | None:
    for w in waivers:
        if _waivers.matches(w, cell_id) and not _waivers.is_expired(w, today):
            return w
    return None


def classify_cell(
    planned: PlannedCell,
    result: CellResult | None,
    base: CellResult | None,
    *,
    run_path: Path | str | None = None,
    waivers: tuple[Waiver, ...] | list[Waiver] = (),
    today: _dt.date | str | None = None,
    baseline_planned: bool = True,
) -> Verdict:
    """One planned cell's verdict. run_path (the run directory) lets it read logs and JUnit;
    baseline_planned=False says the plan holds no baseline cell for this connector ref."""
    run_path = Path(run_path) if run_path is not None else None
    v = Verdict(
        cell_id=planned.id,
        connector=planned.connector,
        ref=planned.ref,
        core=planned.core,
        tier=planned.tier,
        role=planned.role,
        verdict=VerdictKind.ERROR,
        status=None,
    )
    if result is None:
        v.reason = MISSING_REASON
    else:
        v.status = result.status
        v.attempts = len(result.attempts)
        if base is not None and planned.role != "baseline":
            v.baseline_cell, v.baseline_status = base.cell_id, base.status
        if planned.role == "baseline":
            _baseline_verdict(v, result, run_path)
        else:
            _candidate_verdict(v, result, base, run_path, baseline_planned or base is not None)
            v.newly_failing_tests = junit.newly_failing(_junit_runs(base, run_path), _junit_runs(result, run_path))
        if result.unsupported and v.verdict not in (VerdictKind.ERROR, VerdictKind.SKIPPED):
            v.outside_range, v.judged = True, v.verdict
            v.reason = f"{v.verdict}: core outside the connector's declared range" + (
                f"; {v.reason}" if v.reason else ""
            )
            v.verdict = VerdictKind.UNSUPPORTED
    # A waiver covers a regression or an infrastructure error; a missing result is never
    # waived, because it means the run itself lost a cell.
    waiver = _waiver_for(v.cell_id, tuple(waivers), _waivers.parse_date(today) or _dt.date.today())
    if waiver is not None and v.verdict in (VerdictKind.REGRESSED, VerdictKind.ERROR) and v.reason != MISSING_REASON:
        v.waived, v.waiver = True, _waivers.waiver_dict(waiver)
    v.blocking = v.tier == "required" and v.verdict == VerdictKind.REGRESSED and not v.waived
    v.inconclusive = v.tier == "required" and v.verdict == VerdictKind.ERROR and not v.waived
    return v


def waiver_report(
    verdicts: list[Verdict], waivers: tuple[Waiver, ...] | list[Waiver], today: _dt.date | str | None = None
) -> tuple[list[dict], list[dict]]:
    """(expired waivers, waivers that can be removed), each a waiver dict plus the cells it matches.

    Removable: not expired, matches at least one cell, and every matched cell that was
    judged now passes (ok or fixed).
    """
    today = _waivers.parse_date(today) or _dt.date.today()
    expired, removable = [], []
    for w in waivers:
        cells = [v for v in verdicts if _waivers.matches(w, v.cell_id)]
        entry = _waivers.waiver_dict(w) | {"cells": [v.cell_id for v in cells]}
        if _waivers.is_expired(w, today):
            expired.append(entry)
            continue
        judged = [v for v in cells if v.verdict not in (VerdictKind.SKIPPED, VerdictKind.UNSUPPORTED)]
        if judged and all(v.verdict in (VerdictKind.OK, VerdictKind.FIXED) for v in judged):
            removable.append(entry | {"note": "waiver can be removed: every matched cell passes"})
    return expired, removable


def classify(
    run: RunDir,
    record: RunRecord | None = None,
    results: dict[str, CellResult] | None = None,
    *,
    waivers: tuple[Waiver, ...] | list[Waiver] = (),
    today: _dt.date | str | None = None,
) -> Summary:
    """The verdict of each candidate cell of a run, compared with its baseline cell."""
    record = record or run.read_run()
    results = results if results is not None else run.read_cells()
    waivers = tuple(waivers)
    baseline_by_ref, planned_refs = {}, set()
    for planned in record.cells:
        if planned.role == "baseline":
            planned_refs.add((planned.connector, planned.ref))
            if planned.id in results:
                baseline_by_ref[(planned.connector, planned.ref)] = results[planned.id]
    # Bisection probes (role `bisect`, canary.matrix.bisect) are evidence for bisect.json, not
    # cells of the matrix: they never count in the decision.
    verdicts = [
        classify_cell(
            p,
            results.get(p.id),
            baseline_by_ref.get((p.connector, p.ref)),
            run_path=run.path,
            waivers=waivers,
            today=today,
            baseline_planned=(p.connector, p.ref) in planned_refs,
        )
        for p in record.cells
        if p.role != "bisect"
    ]
    expired, removable = waiver_report(verdicts, waivers, today)
    return summarize(record, verdicts, expired_waivers=expired, removable_waivers=removable)


def summarize(record: RunRecord, verdicts: list[Verdict], **extra) -> Summary:
    """The summary of a run's verdicts: counts, decision and exit code."""
    summary = Summary(
        run_id=record.run_id,
        baseline=record.baseline,
        candidates=list(record.candidates),
        verdicts=verdicts,
        exit_code=EXIT_OK,
        decision=Decision.GREEN,
        **extra,
    )
    decide(summary, record)
    return summary


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(verdicts: list[Verdict], limit: int = 5) -> str:
    names = [f"{v.connector}@{v.ref} on core {v.core}" for v in verdicts[:limit]]
    if len(verdicts) > limit:
        names.append(f"{len(verdicts) - limit} more")
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def decide(summary: Summary, record: RunRecord) -> Summary:
    """The one decision every output renders (`run`, `verdicts`, report.*, JUnit, badges, `promote`).

    green        promotable: every required candidate cell judged, none regressed
    regressed    an unwaived regression in a required cell (exit 1)
    inconclusive an error or a missing result in a required cell (exit 3)
    partial      a run of some cells only (`--cells`): no regression among them (exit 0),
                 but it proves nothing about the others, so it is never promotable
    """
    verdicts = summary.verdicts
    cands = record.candidates or sorted({v.core for v in verdicts if v.role == "candidate"})
    what = ("core " + ", ".join(cands)) if cands else "the candidate"
    what = what[0].upper() + what[1:]
    base = f" against the baseline {record.baseline}" if record.baseline else ""
    blocking, bad = summary.blocking, summary.inconclusive
    outside = [v for v in verdicts if v.regressed_outside_range]
    summary.warnings = [f"{v.cell_id}: regressed (outside declared range): {v.reason}" for v in outside]
    summary.partial, summary.selection = bool(record.partial), list(record.selection)
    reasons: list[str] = []
    if record.partial:
        total = f" of {record.planned_total}" if record.planned_total else ""
        ran = [c for c in record.cells if c.role != "bisect"]
        reasons.append(f"partial run: {len(ran)}{total} cells (--cells {' '.join(record.selection)})")
    if record.kind == "repro":
        reasons.append("a reproduction run of single cells, not a run of the matrix")
    reasons += [f"{v.cell_id}: regressed: {v.reason}" for v in blocking]
    reasons += [f"{v.cell_id}: {v.verdict}: {v.reason}" for v in bad]
    if blocking:
        summary.decision, summary.exit_code = Decision.REGRESSED, EXIT_REGRESSED
        sentence = (
            f"{what} cannot be promoted: {_plural(len(blocking), 'required cell')} regressed{base}: {_names(blocking)}."
        )
    elif bad:
        summary.decision, summary.exit_code = Decision.INCONCLUSIVE, EXIT_INCONCLUSIVE
        sentence = (
            f"{what} cannot be promoted yet: the run is inconclusive because "
            f"{_plural(len(bad), 'required cell')} had an infrastructure error or no result: {_names(bad)}."
        )
    elif record.partial or record.kind == "repro":
        summary.decision, summary.exit_code = Decision.PARTIAL, EXIT_OK
        sentence = (
            f"Partial run: {reasons[0].removeprefix('partial run: ')}; no required cell regressed among "
            f"them, but {what.lower()} "
            "cannot be promoted from a partial run: run the whole matrix."
        )
    else:
        summary.decision, summary.exit_code = Decision.GREEN, EXIT_OK
        required = [v for v in verdicts if v.tier == "required" and v.role == "candidate"]
        waived = [v for v in verdicts if v.waived and v.verdict == VerdictKind.REGRESSED]
        note = f" ({_plural(len(waived), 'waived regression')})" if waived else ""
        if record.state not in ("complete", "", "running"):
            note += f"; note the run is {record.state}"
        sentence = (
            f"{what} can be promoted: none of the {len(required)} required candidate "
            f"cell{'s' if len(required) != 1 else ''} regressed{base}{note}."
        )
    if record.partial and not sentence.startswith("Partial run"):
        sentence = f"Partial run ({reasons[0]}). {sentence}"
    if outside:
        sentence += f" {_plural(len(outside), 'cell')} regressed outside the declared range: {_names(outside)}."
    summary.promotable = summary.decision == Decision.GREEN
    summary.sentence, summary.reasons = sentence, reasons
    return summary
