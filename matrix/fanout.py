"""Beyond one machine: split planned cells into CI jobs, then gather the jobs' results into one run.

`ci_matrix` turns cells into a GitHub Actions `strategy.matrix` ({"include": [...]}), one entry
per cell, or contiguous shards of cells when there are more cells than jobs allowed. `merge`
copies the per-job run directories into one run directory whose run.json lists every planned
cell, so a cell no job reported stays visible as `error: missing` instead of vanishing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from canary.kernel.atomic import write_json_atomic
from canary.kernel.errors import UserError
from canary.matrix.exposure import EXPOSURE_FILE, Exposure, load_exposure
from canary.matrix.model import Cell
from canary.matrix.plan import PlanDocument, PlanEntry
from canary.matrix.results import CellResult, RunRecord
from canary.matrix.store import RunDir, Store, now_iso, read_json

__all__ = [
    "DEFAULT_MAX_JOBS",
    "artifact_name",
    "shards",
    "ci_matrix",
    "MergeResult",
    "find_run_dirs",
    "merge",
    "DIFF_FILE",
    "output_run",
    "warn",
    "dumps_matrix",
]

DEFAULT_MAX_JOBS = 256  # GitHub Actions' limit of jobs per matrix
# Artifact names may not hold " : < > | * ? \r \n \ / ; keep a stricter set, also safe in paths and shells.
_NOT_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME = 90


def artifact_name(text: str) -> str:
    """A name safe for an artifact, a file and a shell word; long names keep a digest suffix."""
    name = _NOT_SAFE.sub("_", text).strip("_.") or "cell"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        name = f"{name[: _MAX_NAME - 11]}-{digest}"
    return name


def shards(ids: list[str], max_jobs: int) -> list[list[str]]:
    """Contiguous, balanced groups: at most max_jobs of them, sizes differing by at most one."""
    if max_jobs < 1:
        raise UserError(f"--max-jobs must be at least 1, not {max_jobs}", key="--max-jobs")
    n = min(len(ids), max_jobs)
    if n == 0:
        return []
    size, extra = divmod(len(ids), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        out.append(ids[start:end])
        start = end
    return out


def ci_matrix(cells: list[Cell] | list[PlanEntry] | list[str], max_jobs: int = DEFAULT_MAX_JOBS) -> dict:
    """GitHub Actions strategy.matrix: {"include": [{"name": ..., "cells": "id1 id2"}, ...]}.

    Cell ids are shell-safe (model.slug), so `cells` can go straight onto a command line.
    """
    ids = [c if isinstance(c, str) else c.id for c in cells]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise UserError(f"duplicate cell ids in the plan: {', '.join(dup)}")
    groups = shards(ids, max_jobs)
    include = []
    if len(groups) == len(ids):
        names: set[str] = set()
        for cid in ids:
            name = artifact_name(cid)
            if name in names:  # two ids that differ only in characters the name replaced
                name = artifact_name(f"{name}-{hashlib.sha256(cid.encode()).hexdigest()[:8]}")
            names.add(name)
            include.append({"name": name, "cells": cid})
    else:
        width = len(str(len(groups)))
        for i, group in enumerate(groups, 1):
            include.append({"name": f"shard-{i:0{width}d}-of-{len(groups)}", "cells": " ".join(group)})
    return {"include": include}


# ---------------------------------------------------------------- planned cells
# The plan is canary.matrix.plan's PlanDocument: `canary plan --json` writes it, `--plan` reads it.


# ---------------------------------------------------------------- merge


@dataclass
class MergeResult:
    """What a merge of fanned-out runs produced: the merged run, the cells found and those missing."""

    run: RunDir
    found: list[str]
    missing: list[str]
    unplanned: list[str]
    duplicates: list[str]
    corrupt: list[str]
    sources: list[Path]


def find_run_dirs(roots: list[Path | str]) -> list[Path]:
    """Run directories under the given paths: a dir with run.json or cells/, searched at any depth
    (download-artifact puts each job's store under its own folder)."""
    found: list[Path] = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise UserError("not a directory", file=str(root))
        if (root / "run.json").is_file() or (root / "cells").is_dir():
            found.append(root)
            continue
        for p in sorted(root.rglob("*")):
            is_run = p.is_dir() and ((p / "run.json").is_file() or (p / "cells").is_dir())
            if is_run and not any(parent in found for parent in p.parents):
                found.append(p)
    return found


def _cell_files(run_dir: Path, result: CellResult) -> list[Path]:
    """Files a cell result refers to (logs, JUnit), relative to its run dir, plus its other logs."""
    rel = {a.log for a in result.attempts if a.log} | {a.junit for a in result.attempts if a.junit}
    logs = run_dir / "logs"
    if logs.is_dir():
        # RunDir.log_file names: <id>.log, <id>.attempt<n>.log (a plain `<id>.*` would also
        # catch a longer id such as <id>.1).
        names = [f"{result.cell_id}.log", f"{result.cell_id}.attempt*.log"]
        rel |= {str(p.relative_to(run_dir)) for n in names for p in logs.glob(n)}
    out = []
    for r in sorted(rel):
        p = (run_dir / r).resolve()
        # Paths come from job outputs: never copy anything outside the job's run dir.
        if p.is_file() and run_dir.resolve() in p.parents:
            out.append(Path(r))
    return out


def merge(
    sources: list[Path | str], plan: PlanDocument, out: RunDir, argv: list[str] | None = None, tool_version: str = ""
) -> MergeResult:
    """Merge the cell results of fanned-out CI jobs into one run directory, following the plan."""
    planned_ids = {c.id for c in plan.cells}
    chosen: dict[str, tuple[CellResult, Path]] = {}
    unplanned, duplicates, corrupt = [], [], []
    run_dirs = [d for d in find_run_dirs(sources) if d.resolve() != out.path.resolve()]
    for run_dir in run_dirs:
        for path in sorted((run_dir / "cells").glob("*.json")):
            try:
                result = CellResult.from_dict(read_json(path))
            except (UserError, KeyError, TypeError, AttributeError) as exc:
                corrupt.append(f"{path}: {exc}")
                continue
            if result.cell_id not in planned_ids:
                unplanned.append(result.cell_id)
                continue
            if result.cell_id in chosen:
                duplicates.append(result.cell_id)
                # The later finished result wins: a re-run job supersedes the first one.
                if result.finished_at <= chosen[result.cell_id][0].finished_at:
                    continue
            chosen[result.cell_id] = (result, run_dir)
    out.cells_dir.mkdir(parents=True, exist_ok=True)
    out.logs_dir.mkdir(parents=True, exist_ok=True)
    for result, run_dir in chosen.values():
        for rel in _cell_files(run_dir, result):
            dest = out.path / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_dir / rel, dest)
        result.run_id = out.run_id
        out.write_cell(result)
    _merge_exposure(run_dirs, out, corrupt)
    _carry_diff(run_dirs, out, corrupt)
    missing = [c.id for c in plan.cells if c.id not in chosen]
    record = RunRecord(
        run_id=out.run_id,
        matrix_file=plan.matrix,
        matrix_digest=plan.matrix_digest,
        started_at=min((r.started_at for r, _ in chosen.values() if r.started_at), default=now_iso()),
        finished_at=now_iso(),
        cells=plan.planned_cells(),
        state="complete",
        argv=list(argv or []),
        tool_version=tool_version,
        core_name=plan.core,
        ecosystem=plan.ecosystem,
        baseline=plan.baseline,
        candidates=list(plan.candidates),
    )
    out.write_run(record)
    return MergeResult(
        run=out,
        found=sorted(chosen),
        missing=missing,
        unplanned=sorted(set(unplanned)),
        duplicates=sorted(set(duplicates)),
        corrupt=corrupt,
        sources=run_dirs,
    )


def _merge_exposure(run_dirs: list[Path], out: RunDir, problems: list[str]) -> None:
    """Union of the jobs' exposure.json (static exposure per connector ref, written by the executor)."""
    merged: Exposure | None = None
    for run_dir in run_dirs:
        try:
            doc = load_exposure(run_dir)
        except UserError as exc:
            problems.append(str(exc))
            continue
        if doc is not None:
            merged = doc if merged is None else merged.merged(doc)
    if merged is not None:
        write_json_atomic(out.path / EXPOSURE_FILE, merged.to_dict())


def _carry_diff(run_dirs: list[Path], out: RunDir, problems: list[str]) -> None:
    """A compat-diff.json one job wrote (a job that ran the whole matrix): the first readable one.
    `canary merge` replaces it with the diff it computes itself when the matrix asks for one."""
    for run_dir in run_dirs:
        path = run_dir / DIFF_FILE
        if not path.is_file():
            continue
        try:
            doc = read_json(path)
        except UserError as exc:
            problems.append(f"{path}: {exc}")
            continue
        write_json_atomic(out.path / DIFF_FILE, doc)
        return


DIFF_FILE = "compat-diff.json"


def output_run(out: Path | str | None, store: Path | str | None) -> RunDir:
    """The run directory merge writes: --out DIR (new or empty), else a new run in the store."""
    if out is not None:
        path = Path(out)
        if path.exists() and any(path.iterdir()):
            raise UserError("output directory exists and is not empty", file=str(path), key="--out")
        path.mkdir(parents=True, exist_ok=True)
        return RunDir(path)
    return Store(store).new_run() if store else Store().new_run()


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    print(f"canary: warning: {message}", file=sys.stderr)


def dumps_matrix(matrix: dict) -> str:
    # One line: it goes into $GITHUB_OUTPUT as `matrix=<json>`.
    """A GitHub Actions matrix as one line of JSON (it goes into $GITHUB_OUTPUT)."""
    return json.dumps(matrix, separators=(",", ":"))
