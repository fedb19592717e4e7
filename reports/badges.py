"""One SVG badge per connector (and per connector ref).

The connector's badge (`<connector>.svg`) is what a user of its newest release gets: the newest ref's
result on the newest candidate core of that major.minor, "<core> <candidate>: [<ref>] compatible";
an older ref that regressed never paints the connector red when its newest ref passes.
A ref's badge (`<connector>@<ref>.svg`, when the connector has several refs) is over all its candidate
cells on cores of that major.minor, "<core> <major.minor>: compatible|regressed|untested":
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
from canary.matrix.steps import sort_if_versions

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
DECISION_STATUS = {
    "green": "promotable",
    "regressed": "regressed",
    "inconclusive": "inconclusive",
    "partial": "partial",
}


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
        of_mm = [c for c in report.candidates if major_minor(c) == mm]
        newest_core = (sort_if_versions(report.record.ecosystem, of_mm) or of_mm)[-1]
        for name in connectors:
            rows = [r for r in report.rows if r.connector == name]
            mine = [
                c
                for r in rows
                for c in r.cells.values()
                if c.planned.role == "candidate" and major_minor(c.planned.core) == mm
            ]
            newest = newest_ref(report, name)
            on_newest = [c for c in mine if c.planned.ref == newest and c.planned.core == newest_core]
            out.append(
                Badge(
                    name,
                    newest if len(rows) > 1 else None,
                    newest_core,
                    status_of(on_newest),
                    f"{slug(name)}{suffix}.svg",
                )
            )
            if len(rows) > 1:
                for r in rows:
                    cells = [c for c in mine if c.planned.ref == r.ref]
                    out.append(Badge(name, r.ref, mm, status_of(cells), f"{slug(name)}@{slug(r.ref)}{suffix}.svg"))
    return out


def newest_ref(report: Report, connector: str) -> str:
    """The connector's newest ref: the highest version, else the last one the matrix lists."""
    refs = list(dict.fromkeys(p.ref for p in report.record.cells if p.connector == connector))
    ordered = sort_if_versions(report.record.ecosystem, refs) or refs
    return ordered[-1]


def text(b: Badge, label: str) -> tuple[str, str]:
    """(left, right) of a badge: the connector's names the ref it speaks for."""
    is_connector_badge = b.file.split("--core-")[0].removesuffix(".svg") == slug(b.connector)
    if is_connector_badge and b.ref:
        return f"{label} {b.core}", f"{b.ref} {b.status}"
    return f"{label} {b.core}", b.status


def write(report: Report, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    decision = out_dir / DECISION_FILE
    decision.write_text(
        badge(f"{report.badge_label} promotion", DECISION_STATUS[report.summary.decision]), encoding="utf-8"
    )
    paths.append(decision)
    for b in plan(report):
        path = out_dir / b.file
        write_text_atomic(path, redact(badge(*text(b, report.badge_label))))
        paths.append(path)
    return paths
