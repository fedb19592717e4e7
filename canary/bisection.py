"""Bisection for the app: canary.matrix.bisect's searches, then the compat diff of each answer's
step (`<run>/compat/<last_good>..<first_bad>.json`, with `compat: {diff: true}`), and the lines to
show. Shared by `canary bisect` and the run's `bisect` step (settings.bisect)."""

from __future__ import annotations

from canary.kernel.home import Home
from canary.matrix import bisect
from canary.matrix.model import CoreSpec, Matrix
from canary.matrix.plan import resolve_core_versions
from canary.matrix.store import RunDir

__all__ = ["bisect_and_diff"]


def bisect_and_diff(
    matrix: Matrix,
    run: RunDir,
    cells: list[str],
    home: Home | None = None,
    *,
    use_cache: bool = True,
    progress: str = "auto",
) -> tuple[list[bisect.Search], list[str]]:
    """The searches for `cells` (written to `<run>/bisect.json`) and the lines that say them."""
    searches = bisect.bisect_cells(matrix, run, cells, home, use_cache=use_cache, progress=progress)
    lines = []
    for s in searches:
        answer = s.first_bad if s.conclusive else f"{s.first_bad} (not conclusive)"
        lines.append(
            f"first bad for {s.connector}@{s.ref}: {answer}, last good {s.last_good} "
            f"({len(s.probes)} probe(s) of at most {s.max_probes})"
        )
        lines += [f"  probe {p.label}: {p.verdict}: {p.note}" for p in s.probes if p.note and p.verdict != "bad"]
        if matrix.compat.get("diff") and s.first_bad:
            from canary.compat_steps import write_step_diff

            path = write_step_diff(matrix, _spec(matrix, s, s.last_good), _spec(matrix, s, s.first_bad), run.path)
            if path:
                lines.append(f"  breaking changes of {s.last_good} -> {s.first_bad}: {path}")
    lines.append(f"bisect: {run.path / bisect.FILE}")
    return searches, lines


def _spec(matrix: Matrix, search: bisect.Search, label: str) -> CoreSpec:
    """The core of a label of the search: a matrix core, a published version, or a commit."""
    specs, _ = resolve_core_versions(matrix)
    known = next((s for s in specs if s.label == label), None)
    if known is not None:
        return known
    if search.ecosystem == "git":  # a commit between two cores of one repository (`git:<sha12>`)
        repo = next(s for s in specs if s.kind == "git")
        return CoreSpec(label=label, kind="git", url=repo.url, ref=label.removeprefix("git:"), subdir=repo.subdir)
    return CoreSpec(label=label, kind="registry", version=label)
