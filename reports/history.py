"""Each cell's verdicts over the earlier runs of the same store, and its flake rate.

Cells are matched across runs by cell id (core label x connector ref), which is
stable for a given matrix. Runs that cannot be read (corrupt, half written) are
skipped and counted, never fatal: history is context, not the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from canary.kernel.errors import UserError
from canary.matrix.results import CellResult
from canary.matrix.store import RunDir, Store
from canary.matrix.verdicts import classify

DEFAULT_DEPTH = 20


@dataclass
class Point:
    run_id: str
    verdict: str
    flaked: bool  # attempts disagreed within this run


@dataclass
class CellHistory:
    cell_id: str
    points: list[Point] = field(default_factory=list)  # oldest first, the current run last

    @property
    def runs(self) -> int:
        return len(self.points)

    @property
    def flakes(self) -> int:
        return sum(p.flaked for p in self.points)

    @property
    def flake_rate(self) -> float:
        return self.flakes / len(self.points) if self.points else 0.0


@dataclass
class History:
    run_ids: list[str]  # oldest first
    cells: dict[str, CellHistory]
    unreadable: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Cells per verdict in each run: {run_id: {verdict: n}}."""
        out: dict[str, dict[str, int]] = {rid: {} for rid in self.run_ids}
        for h in self.cells.values():
            for p in h.points:
                bucket = out.setdefault(p.run_id, {})
                bucket[p.verdict] = bucket.get(p.verdict, 0) + 1
        return out

    def of(self, cell_id: str) -> CellHistory:
        return self.cells.get(cell_id) or CellHistory(cell_id)


def flaked(result: CellResult | None, verdict: str) -> bool:
    if verdict == "flaky":
        return True
    if result is None or len(result.attempts) < 2:
        return False
    statuses = {a.status for a in result.attempts}
    return "pass" in statuses and len(statuses) > 1


def collect(run: RunDir, depth: int = DEFAULT_DEPTH, current=None) -> History:
    """History of `run`'s store up to and including `run` (at most `depth` runs).

    `current` is `(summary, results)` for `run` when the caller already has them.
    """
    runs = [r for r in Store(run.path.parent).runs() if r.run_id < run.run_id]
    runs = runs[-(depth - 1) :] if depth > 1 else []
    cells: dict[str, CellHistory] = {}
    run_ids: list[str] = []
    unreadable: list[str] = []
    for r in runs + [run]:
        try:
            if r is run and current is not None:
                summary, results = current
            else:
                results = r.read_cells(strict=False)
                summary = classify(r, results=results)
        except (UserError, KeyError, TypeError):
            unreadable.append(r.run_id)
            continue
        run_ids.append(r.run_id)
        for v in summary.verdicts:
            point = Point(r.run_id, v.verdict, flaked(results.get(v.cell_id), v.verdict))
            cells.setdefault(v.cell_id, CellHistory(v.cell_id)).points.append(point)
    return History(run_ids=run_ids, cells=cells, unreadable=unreadable)
