"""`canary plan` and `canary run`."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from . import config, sources, waivers
from .errors import UserError
from .execute import RunOptions, execute
from .home import Home
from .plan import plan, select
from .progress import step
from .redact import redact
from .store import Store, open_run


def register(sub) -> None:
    p = sub.add_parser("plan", help="list the cells of the matrix and the nox line that runs each alone")
    p.add_argument("-c", "--config", help=f"matrix file (default: ${config.ENV_MATRIX} or {config.DEFAULT_MATRIX})")
    p.add_argument("--json", action="store_true", help="print the plan as JSON (schema: matrix/schemas/plan.schema.json)")
    p.add_argument("--no-check-refs", action="store_true", help="do not verify that git refs exist (offline listing)")
    p.set_defaults(handler=cmd_plan)

    r = sub.add_parser("run", help="run the matrix (or some cells) and write results into the store")
    r.add_argument("-c", "--config", help=f"matrix file (default: ${config.ENV_MATRIX} or {config.DEFAULT_MATRIX})")
    r.add_argument("--store", help="results store directory (default: .canary/runs)")
    r.add_argument("--cells", nargs="+", metavar="ID", help="only these cells (ids, fnmatch patterns or tags)")
    r.add_argument("-j", "--jobs", type=int, default=None, help="cells run in parallel (default: settings.jobs or 1)")
    r.add_argument("--retries", type=int, default=None, help="extra attempts for a regressed candidate cell")
    r.add_argument("--no-cache", action="store_true", help="run every cell even when an identical one has a result")
    r.add_argument("--resume", metavar="RUN_ID", help="complete an interrupted run without re-running finished cells")
    r.add_argument("--aa-check", action="store_true", default=None,
                   help="run every baseline cell twice to find cells that are flaky on their own")
    r.add_argument("--exit-by-status", action="store_true",
                   help="exit by the cells' own statuses (1 fail/timeout, 3 error), not by verdicts: "
                        "for reproducing one cell without its baseline (the nox cell sessions use it)")
    r.add_argument("--keep-work", action="store_true", help="keep each cell's environment under .canary/work")
    r.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto")
    r.add_argument("--report", default="html,md,junit,json",
                   help="report formats written after the run (comma list; 'none' for none)")
    r.set_defaults(handler=cmd_run)


def _load(args):
    matrix = config.load(args.config)
    cells = plan(matrix)
    return matrix, cells


def cmd_plan(args) -> int:
    matrix, cells = _load(args)
    if not args.no_check_refs:
        sources.check_refs(matrix, Home.default())
    if args.json:
        doc = {
            "schema": "canary/plan/v1", "matrix": matrix.file, "core": matrix.core.name,
            "ecosystem": matrix.core.ecosystem, "matrix_digest": matrix.digest,
            "cells": [c.to_dict(matrix.file) for c in cells],
        }
        print(redact(json.dumps(doc, indent=2)))
        return 0
    width = max((len(c.id) for c in cells), default=10)
    print(f"{len(cells)} cells from {matrix.file} ({matrix.core.name}, {matrix.core.ecosystem})")
    for c in cells:
        extra = f" [{c.expectation}]" if c.expectation else ""
        print(redact(f"  {c.id:<{width}}  {c.tier:<8} {c.role:<9} {c.package} {c.ref} x core {c.core.label}{extra}"))
        print(redact(f"  {'':<{width}}  {c.nox_command(matrix.file)}"))
    return 0


def cmd_run(args) -> int:
    matrix, cells = _load(args)
    home = Home.default()
    store = Store(args.store) if args.store else Store(home.runs)
    resume = open_run(args.resume, store.root) if args.resume else None
    if resume is None:
        sources.check_refs(matrix, home)
    planned = cells
    planned_total = len(cells)
    cells = select(cells, args.cells)
    unjudged = candidates_without_baseline(planned, cells)
    options = RunOptions(
        selection=list(args.cells or ()), planned_total=planned_total,
        kind="repro" if args.exit_by_status else "release",
        jobs=args.jobs or matrix.settings.jobs, retries=args.retries, use_cache=not args.no_cache,
        keep_work=args.keep_work, progress=args.progress, argv=sys.argv[1:],
        aa_check=matrix.settings.aa_check if args.aa_check is None else args.aa_check,
    )
    if options.jobs < 1:
        raise UserError("--jobs must be at least 1")
    outcome = execute(matrix, cells, options, store=store, resume=resume, home=home)
    summary = outcome.summary
    counts: dict[str, int] = {}
    for v in summary.verdicts:
        counts[v.verdict] = counts.get(v.verdict, 0) + 1
    unjudged_ids = {c.id for c in unjudged}
    results = outcome.run.read_cells()
    if args.exit_by_status or unjudged:
        statuses: dict[str, int] = {}
        for r in results.values():
            statuses[r.status] = statuses.get(r.status, 0) + 1
        line = f"run {outcome.run.run_id}: cells: {', '.join(f'{n} {k}' for k, n in sorted(statuses.items()))}"
        if unjudged:
            # A CI shard: a candidate compared with no baseline would read "green" here while it
            # failed; its verdict belongs to `canary merge`, which sees every job's cells.
            judged: dict[str, int] = {}
            for v in summary.verdicts:
                if v.cell_id not in unjudged_ids:
                    judged[v.verdict] = judged.get(v.verdict, 0) + 1
            line += (f"; not judged here: {len(unjudged)} candidate cell(s) whose baseline is not in this run "
                     "(`canary merge` judges the whole matrix)")
            if judged:
                line += f"; judged: {', '.join(f'{n} {k}' for k, n in sorted(judged.items()))}"
        print(line)
    else:
        print(summary.sentence)
        print(f"run {outcome.run.run_id}: {summary.decision} ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})")
    for v in summary.blocking:
        print(redact(f"  regressed (required): {v.cell_id}: {v.reason}"))
    for v in summary.inconclusive:
        print(redact(f"  error (required): {v.cell_id}: {v.reason}"))
    for w in summary.warnings:
        print(redact(f"  warning: {w}"))
    if outcome.reaped:
        print(f"canary: note: killed {outcome.reaped} process(es) left running by a killed run on this store",
              file=sys.stderr)
    print(f"results: {outcome.run.path}")
    # A run of some cells (a CI shard) leaves the diff to `canary merge`: computed once, not per job.
    step_mode = "quiet" if args.progress == "none" else args.progress
    if matrix.compat.get("diff") and not args.cells:
        with step("compat diff: baseline -> newest candidate", step_mode):
            diff_file = _compat_diff(matrix, outcome)
        if diff_file:
            print(f"breaking changes: {diff_file}")
    if args.report and args.report != "none":
        with step(f"report: {args.report}", step_mode):
            report_dir = _report(outcome.run.path, args.report,
                                 waivers.combine(matrix.waivers, waivers.load_beside(matrix.file)))
        if report_dir:
            print(f"report: {report_dir}")
    if args.exit_by_status:
        return _status_code({r.status for r in results.values()})
    if unjudged and summary.exit_code == 0:
        # Never exit 0 ("green") for a job whose unjudged cells failed.
        return _status_code({r.status for cid, r in results.items() if cid in unjudged_ids})
    return summary.exit_code


def _status_code(statuses: set[str]) -> int:
    return 3 if "error" in statuses else 1 if statuses & {"fail", "timeout"} else 0


def _report(run_path: Path, formats: str, run_waivers: tuple) -> Path | None:
    from reports import render_all

    written = render_all(run_path, [f.strip() for f in formats.split(",") if f.strip()], run_path / "report",
                         waivers=run_waivers)
    html = written.get("html") if isinstance(written, dict) else None
    return Path(html) if html else run_path / "report"


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def candidates_without_baseline(planned: list, selected: list) -> list:
    """Selected candidate cells whose baseline cell (same connector ref) the plan has but the
    selection left out: their verdict cannot be decided by this run."""
    chosen = {c.id for c in selected}
    baselines = {(c.connector, c.ref): c.id for c in planned if c.role == "baseline"}
    return [c for c in selected if c.role == "candidate"
            and baselines.get((c.connector, c.ref)) not in (None, *chosen)]


def _compat_diff(matrix, outcome) -> Path | None:
    return compat_diff(matrix, outcome.record.candidates, outcome.run.path)


def compat_diff(matrix, candidate_labels: list[str], run_path: Path) -> Path | None:
    """Baseline core against the newest candidate, for the report. Advisory: never fails the run.

    `canary run` calls it for a whole run, `canary merge` once for the gathered CI jobs."""
    import compat

    from .coresides import newest_candidate, side
    from .plan import resolve_core_versions
    from .registry import pip_index_env
    from .store import write_json_atomic

    specs, baseline = resolve_core_versions(matrix)
    candidate = newest_candidate(matrix, candidate_labels, specs)
    if candidate is None:
        return None
    try:
        # The matrix's own index (find-links, no-index) for the sides pip fetches.
        with _environ(pip_index_env(matrix.core.index) if matrix.core.ecosystem == "pypi" else {}):
            doc = compat.compare(side(matrix, baseline), side(matrix, candidate),
                                 language=matrix.compat.get("language"), config_file=matrix.compat.get("config"))
    except (UserError, OSError, RuntimeError, ValueError) as exc:
        print(redact(f"canary: warning: no compat diff of {baseline.label} -> {candidate.label}: {exc}"), file=sys.stderr)
        return None
    path = run_path / "compat-diff.json"
    write_json_atomic(path, doc)
    return path
