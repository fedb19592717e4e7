"""One SVG badge per connector (and per connector ref): "<core> <major.minor>: compatible|regressed|untested".

Status over the connector's candidate cells on cores of that major.minor:
  regressed   any cell regressed or broken (fails on the candidate), also outside the declared range
  compatible  every cell passed (ok, fixed or flaky)
  untested    otherwise: no cell, or errors, skips, unsupported cores
Plus `decision.svg`: "<core> promotion: promotable|regressed|inconclusive|partial", the run's decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from canary.kernel.atomic import write_text_atomic
from canary.kernel.redact import redact
from canary.matrix.model import slug

from canary.reports.charts import badge
from canary.reports.model import CellView, Report, major_minor

PASSING = ("ok", "fixed", "flaky")
FAILING = ("regressed", "broken")


@dataclass
class Badge:
    connector: str
    ref: str | None  # None: the connector across its refs
    core: str  # major.minor
    status: str
    file: str  # relative to the badges directory


DECISION_FILE = "decision.svg"
# The run's decision (canary.matrix.verdicts.decide) as the words of the decision badge.
DECISION_STATUS = {"green": "promotable", "regressed": "regressed", "inconclusive": "inconclusive",
                   "partial": "partial"}


def status_of(cells: list[CellView]) -> str:
    verdicts = [c.verdict.verdict for c in cells]
    if any(v in FAILING for v in verdicts) or any(c.verdict.regressed_outside_range for c in cells):
        return "regressed"
    if verdicts and all(v in PASSING for v in verdicts):
        return "compatible"
    return "untested"


def plan(report: Report) -> list[Badge]:
    minors = []
    for cand in report.candidates:
        mm = major_minor(cand)
        if mm not in minors:
            minors.append(mm)
    if not minors:
        return []
    primary = minors[-1]  # the newest candidate names the plain badge file
    out = []
    connectors = []
    for row in report.rows:
        if row.connector not in connectors:
            connectors.append(row.connector)
    for mm in minors:
        suffix = "" if mm == primary else f"--core-{slug(mm)}"
        for name in connectors:
            rows = [r for r in report.rows if r.connector == name]
            mine = [c for r in rows for c in r.cells.values()
                    if c.planned.role == "candidate" and major_minor(c.planned.core) == mm]
            out.append(Badge(name, None, mm, status_of(mine), f"{slug(name)}{suffix}.svg"))
            if len(rows) > 1:
                for r in rows:
                    cells = [c for c in mine if c.planned.ref == r.ref]
                    out.append(Badge(name, r.ref, mm, status_of(cells), f"{slug(name)}@{slug(r.ref)}{suffix}.svg"))
    return out


def write(report: Report, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    decision = out_dir / DECISION_FILE
    decision.write_text(badge(f"{report.badge_label} promotion", DECISION_STATUS[report.summary.decision]),
                        encoding="utf-8")
    paths.append(decision)
    for b in plan(report):
        path = out_dir / b.file
        write_text_atomic(path, redact(badge(f"{report.badge_label} {b.core}", b.status)))
        paths.append(path)
    return paths
