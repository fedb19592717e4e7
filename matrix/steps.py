"""Step attribution: which step between two consecutive cores broke a connector ref.

Candidates are ordered by version (the ecosystem's rules), or as the matrix lists them when they
are not versions (git refs are listed in commit order). A regression of a connector ref is put on
the first step where it appears: the last core it passed on -> the first core it regressed on.
The compat diff of that step (`<run>/compat/<old>..<new>.json`) is what explains it.

When `canary bisect` has searched between the two (`<run>/bisect.json`, schema canary/bisect/v1),
its first bad version is the finer answer and takes precedence over the matrix's own step.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from canary.matrix.verdicts import Verdict

if TYPE_CHECKING:
    from canary.matrix.bisect import Search
from canary.matrix.versions import sort_versions

__all__ = [
    "STEP_DIFF_DIR",
    "Step",
    "is_regression",
    "order_cores",
    "sort_if_versions",
    "attribute",
    "step_pairs",
    "step_diff_name",
    "step_diff_path",
    "BisectAnswer",
    "read_bisect",
    "refine",
    "attribute_run",
]

STEP_DIFF_DIR = "compat"
_PASSED = ("ok", "fixed", "flaky")


@dataclass
class Step:
    """One connector ref's regression put on the step last good -> first bad."""

    connector: str
    ref: str
    last_good: str | None  # None: it never passed before the first bad core (the baseline is judged as good)
    first_bad: str
    cells: list[str] = field(default_factory=list)  # the regressed cells of this connector ref
    source: str = "matrix"  # matrix | bisect
    bisect_note: str = ""

    @property
    def key(self) -> str:
        return f"{self.connector}@{self.ref}"

    @property
    def pair(self) -> tuple[str, str] | None:
        return (self.last_good, self.first_bad) if self.last_good else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Step:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def is_regression(v: Verdict) -> bool:
    """A cell a step explains: regressed (waived or not), or regressed outside the declared range."""
    return v.role == "candidate" and (v.verdict == "regressed" or v.regressed_outside_range)


def order_cores(ecosystem: str, baseline: str | None, candidates: list[str]) -> list[str]:
    """The baseline, then the candidates oldest first; labels that are not versions keep their order."""
    labels = [c for c in dict.fromkeys(candidates) if c != baseline]
    return ([baseline] if baseline else []) + (sort_if_versions(ecosystem, labels) or labels)


_VERSION = re.compile(r"^v?\d+(?:\.\d+)*(?:[-.+]?[0-9A-Za-z.+-]*)?$")


def sort_if_versions(ecosystem: str, labels: list[str]) -> list[str] | None:
    """Oldest first when every label is a version of the ecosystem; None otherwise (git refs, paths)."""
    if ecosystem not in ("npm", "pypi") or not all(_VERSION.match(x) for x in labels):
        return None
    return sort_versions(ecosystem, labels)


def attribute(verdicts: list[Verdict], order: list[str]) -> list[Step]:
    """One Step per connector ref with a regression, on the first core (in `order`) it regressed on."""
    by_ref: dict[tuple[str, str], dict[str, Verdict]] = {}
    for v in verdicts:
        by_ref.setdefault((v.connector, v.ref), {})[v.core] = v
    rank = {label: i for i, label in enumerate(order)}
    steps = []
    for (connector, ref), cells in by_ref.items():
        bad = sorted((v for v in cells.values() if is_regression(v)), key=lambda v: rank.get(v.core, len(rank)))
        if not bad:
            continue
        first = bad[0]
        last_good = None
        for label in order[: rank.get(first.core, len(order))]:
            earlier = cells.get(label)
            if earlier is not None and earlier.verdict in _PASSED:
                last_good = label
        steps.append(Step(connector, ref, last_good, first.core, [v.cell_id for v in bad]))
    return steps


def step_pairs(steps: list[Step]) -> list[tuple[str, str]]:
    """The distinct steps (old, new) that need a compat diff, in order of first appearance."""
    return list(dict.fromkeys(s.pair for s in steps if s.pair))


def _label_part(label: str) -> str:
    return quote(label, safe="@+-._=~")


def step_diff_name(old: str, new: str) -> str:
    """`<old>..<new>.json`; a label that is not file-safe (`git:main`, `feature/x`) is %-quoted."""
    return f"{_label_part(old)}..{_label_part(new)}.json"


def step_diff_path(run_path: Path, old: str, new: str) -> Path:
    """Where the compat diff of a step lives in a run: `<run>/compat/<old>..<new>.json`."""
    return Path(run_path) / STEP_DIFF_DIR / step_diff_name(old, new)


@dataclass
class BisectAnswer:
    """What bisect.json says about one connector ref: the narrowed step, and whether it is conclusive."""

    connector: str
    ref: str
    last_good: str
    first_bad: str | None
    conclusive: bool
    note: str = ""
    probes: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> BisectAnswer:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    @classmethod
    def from_search(cls, s: Search) -> BisectAnswer:
        """The answer of one search of bisect.json (canary.matrix.bisect owns the document)."""
        return cls(s.connector, s.ref, s.last_good, s.first_bad, s.conclusive, s.note, len(s.probes))


def read_bisect(run_path: Path) -> dict[tuple[str, str], BisectAnswer]:
    """The searches of `<run>/bisect.json` by (connector, ref); {} when there is none or it is unreadable
    (bisection is advisory: the matrix's own step still explains the regression)."""
    # Here, not at the top: canary.matrix.bisect drives cells (execute, sources), which the readers
    # of steps (reports, `canary verdicts`) need not load unless a run was bisected.
    from canary.matrix.bisect import FILE, BisectDocument

    path = Path(run_path) / FILE
    try:
        doc = BisectDocument.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {(s.connector, s.ref): BisectAnswer.from_search(s) for s in doc.searches if s.connector and s.last_good}


def refine(steps: list[Step], bisect: dict[tuple[str, str], BisectAnswer]) -> list[Step]:
    """Steps with bisection's first bad version where it found one (its step is the narrower one)."""
    out = []
    for s in steps:
        b = bisect.get((s.connector, s.ref))
        if b is not None and b.first_bad:
            s = Step(
                s.connector,
                s.ref,
                b.last_good,
                str(b.first_bad),
                list(s.cells),
                "bisect",
                b.note or f"bisection: {b.probes} probe(s)",
            )
        out.append(s)
    return out


def attribute_run(
    verdicts: list[Verdict], ecosystem: str, baseline: str | None, candidates: list[str], run_path: Path | None = None
) -> list[Step]:
    """attribute + refine: the steps the explanation uses for one run."""
    steps = attribute(verdicts, order_cores(ecosystem, baseline, candidates))
    return refine(steps, read_bisect(run_path)) if run_path is not None else steps
