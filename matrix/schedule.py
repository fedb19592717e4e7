"""The order cells start in: baseline cells first (candidates need them), then, within each group,
the longest cells first, by their durations in the previous runs of the same matrix file.

With a pool of workers, starting the long cells first lets the short ones fill the gaps at the
end, so the workers finish together instead of one of them running the longest cell alone.
A cell no earlier run timed starts first: it may be the longest, and a cold cell usually is.
"""

from __future__ import annotations

from pathlib import Path

from canary.matrix.model import Cell
from canary.matrix.store import RunDir, Store

LOOK_BACK = 5  # runs of the same matrix to take durations from, newest first


def previous_durations(store_root: Path, matrix_path: str, exclude: str = "") -> dict[str, float]:
    """cell id -> seconds its attempts took in the newest earlier run of `matrix_path` that ran it.
    A result served from the cache brings the attempts of the run that really ran it."""
    found: dict[str, float] = {}
    seen = 0
    for run in reversed(Store(store_root).runs()):
        if run.run_id == exclude:
            continue
        try:
            record = run.read_run()
        except Exception:  # a damaged run says nothing about durations
            continue
        if (record.matrix_path or record.matrix_file) != matrix_path:
            continue
        for cell_id, result in _cells(run).items():
            if cell_id not in found and result.status not in ("skipped",):
                found[cell_id] = sum(a.duration_s for a in result.attempts) or result.duration_s
        seen += 1
        if seen >= LOOK_BACK:
            break
    return found


def _cells(run: RunDir) -> dict:
    try:
        return run.read_cells(strict=False)
    except Exception:
        return {}


def longest_first(cells: list[Cell], durations: dict[str, float]) -> list[Cell]:
    """Baseline cells, then the others; each group longest first, untimed cells before timed ones,
    ties in planned order (the sort is stable)."""

    def key(cell: Cell) -> float:
        return -durations.get(cell.id, float("inf"))

    baseline = [c for c in cells if c.role == "baseline"]
    others = [c for c in cells if c.role != "baseline"]
    return sorted(baseline, key=key) + sorted(others, key=key)
