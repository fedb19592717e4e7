"""Subcommands `ci-matrix`, `merge` and `verdicts`: fan cells out to CI jobs, gather, judge.

Exit codes of `merge` and `verdicts` (docs/verdicts.md): 0 no unwaived regression in a
required cell, 1 a regression, 3 inconclusive (errors or missing results in required cells),
2 bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from canary import __version__
from canary.matrix import fanout, verdicts, waivers as waivers_mod
from canary.kernel.errors import UserError
from canary.kernel.exitcodes import ExitCode
from canary.matrix.plan import PlanDocument, PlanEntry, load_plan, plan_document
from canary.matrix.store import DEFAULT_STORE, RunDir, open_run

if TYPE_CHECKING:
    from canary.matrix.model import Cell


TODAY_HELP = "judge waiver expiry as of this ISO date (default: today)"


def register(sub) -> None:
    p = sub.add_parser("ci-matrix", help="print a GitHub Actions strategy.matrix (JSON) of the planned cells")
    p.add_argument("-c", "--config", "--matrix", help="matrix file (default: $CANARY_MATRIX or matrix.yaml)")
    p.add_argument("--plan", help="a plan written by `canary plan --json`, instead of planning the matrix")
    p.add_argument("--cells", nargs="+", metavar="PATTERN", help="only cells whose id or tag matches")
    p.add_argument(
        "--max-jobs",
        type=int,
        default=fanout.DEFAULT_MAX_JOBS,
        help="at most this many jobs; more cells are split into shards (default 256)",
    )
    p.set_defaults(handler=cmd_ci_matrix)

    p = sub.add_parser("merge", help="gather per-job run directories into one run and judge it")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run directories, or directories holding them")
    p.add_argument("--out", "--output", "-o", help="the merged run directory to create (default: a new run in --store)")
    p.add_argument(
        "--store", help=f"results store for the merged run (default $CANARY_HOME/runs, else {DEFAULT_STORE})"
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "-c", "--config", "--matrix", help="matrix file whose planned cells every job should have reported"
    )
    src.add_argument("--plan", help="a plan written by `canary plan --json`")
    p.add_argument(
        "--diff",
        metavar="FILE",
        help="a compat diff (canary/compat-diff/v1) to keep with the merged run; default: computed "
        "once here when the matrix has `compat: {diff: true}`, else one a job wrote",
    )
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    p.add_argument("--today", help=TODAY_HELP)
    p.set_defaults(handler=cmd_merge)

    p = sub.add_parser("verdicts", help="judge a run against its baseline (exit 0 green, 1 regressed, 3 inconclusive)")
    p.add_argument("run", nargs="?", help="run id or run directory (default: the latest run)")
    p.add_argument("--store", help=f"results store (default $CANARY_HOME/runs, else {DEFAULT_STORE})")
    p.add_argument("-c", "--config", "--matrix", help="matrix file for waivers (default: the run's own matrix file)")
    p.add_argument("--waivers", action="append", default=[], metavar="FILE", help="an extra waivers.yaml")
    p.add_argument("--json", action="store_true", help="print JSON (schema: matrix/schemas/verdicts.schema.json)")
    p.add_argument("--today", help=TODAY_HELP)
    p.set_defaults(handler=cmd_verdicts)


# ---------------------------------------------------------------- helpers


def _load_matrix(config: str | None):
    from canary.matrix import config as config_mod  # the matrix loader; imported late to keep `--help` cheap

    return config_mod.load(config)


def _plan(config: str | None, plan_file: str | None) -> PlanDocument:
    if plan_file:
        return load_plan(plan_file)
    from canary.matrix.plan import plan as plan_cells

    matrix = _load_matrix(config)
    return plan_document(matrix, plan_cells(matrix))


def _today(value: str | None):
    if value is None:
        return None
    try:
        return waivers_mod.parse_date(value)
    except ValueError:
        raise UserError(f"not an ISO date: {value!r}", key="--today", hint="write YYYY-MM-DD") from None


def format_table(summary: verdicts.Summary) -> str:
    rows = [("VERDICT", "CELL", "TIER", "BASELINE", "REASON")]
    for v in summary.verdicts:
        verdict = v.label + (" (waived)" if v.waived else "") + (" *" if v.blocking else "")
        reason = v.reason
        if v.newly_failing_tests:
            reason += ("; " if reason else "") + "newly failing: " + ", ".join(v.newly_failing_tests[:5])
            if len(v.newly_failing_tests) > 5:
                reason += f" (+{len(v.newly_failing_tests) - 5})"
        rows.append((verdict, v.cell_id, v.tier, v.baseline_status or "-", reason.splitlines()[0] if reason else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(4)) + "  " + r[4] for r in rows]
    lines = [summary.sentence, ""] + [ln.rstrip() for ln in lines]
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts().items() if n)
    lines.append("")
    lines.append(f"{summary.decision} (exit {summary.exit_code}): {counts or 'no cells'}")
    lines += [f"warning: {w}" for w in summary.warnings]
    for w in summary.expired_waivers:
        lines.append(
            f"expired waiver: {w['cell']} (expired {w['expires']}; {w['issue'] or w['reason']}) no longer applies"
        )
    for w in summary.removable_waivers:
        lines.append(f"waiver can be removed: {w['cell']} ({w['issue'] or w['reason']}): every matched cell passes")
    return "\n".join(lines)


def _emit(summary: verdicts.Summary, as_json: bool, run: RunDir | None = None) -> None:
    """The verdicts; with the run, each regressed cell's group, first bad core, probable causes and
    fixes (canary.reports.explain), as `canary run` writes them into verdicts.json."""
    explanation = None
    if run is not None:
        from canary.reports.explain import explain

        explanation = explain(run, summary)
    if as_json:
        if explanation is not None:
            for v in summary.verdicts:
                v.explanation = verdicts.CellExplanation.from_dict(explanation.for_cell(v.cell_id))
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(format_table(summary))
        if explanation is not None and explanation.groups:
            from canary.reports.text import explanation_lines

            print("\n".join(explanation_lines(explanation)))


# ---------------------------------------------------------------- handlers


def cmd_ci_matrix(args) -> int:
    cells: list[Cell] | list[PlanEntry]
    if args.plan:
        cells = load_plan(args.plan).cells
        if args.cells:
            cells = _select_planned(cells, args.cells)
    else:
        from canary.matrix.plan import plan as plan_cells, select

        cells = select(plan_cells(_load_matrix(args.config)), args.cells)
    print(fanout.dumps_matrix(fanout.ci_matrix(cells, args.max_jobs)))
    return ExitCode.OK


def _select_planned(cells, patterns):
    import fnmatch

    chosen = [c for c in cells if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)]
    if not chosen:
        raise UserError(f"no planned cell matches {', '.join(map(repr, patterns))}", key="--cells")
    return chosen


def cmd_merge(args) -> int:
    if not args.plan and not args.config and not Path(_default_matrix()).is_file():
        raise UserError("merge needs the planned cells: pass -c matrix.yaml or --plan plan.json")
    plan = _plan(args.config, args.plan)
    waivers = waivers_mod.for_matrix(args.config or plan.matrix or None)
    today = _today(args.today)
    out = fanout.output_run(args.out, args.store or _default_store())
    result = fanout.merge(args.dirs, plan, out, argv=sys.argv[1:], tool_version=__version__)
    if not result.sources:
        fanout.warn(f"no run directories found under {', '.join(args.dirs)}")
    for cid in result.missing:
        fanout.warn(f"missing: no job reported planned cell {cid}")
    for cid in result.unplanned:
        fanout.warn(f"ignored: {cid} is not a planned cell")
    for cid in result.duplicates:
        fanout.warn(f"two results for {cid}: kept the one that finished last")
    for text in result.corrupt:
        fanout.warn(f"unreadable cell result, counted as missing: {text}")
    _merge_diff(args.diff, args.config or plan.matrix or None, plan, out)
    summary = verdicts.classify(out, waivers=waivers, today=today)
    record = out.read_run()
    record.exit_code = summary.exit_code
    out.write_run(record)
    _merge_step_diffs(args.config or plan.matrix or None, plan, out, summary, record)
    print(
        f"merged {len(result.found)}/{len(plan.cells)} planned cells from {len(result.sources)} "
        f"job run(s) into {out.path}",
        file=sys.stderr,
    )
    _emit(summary, args.json, out)
    return summary.exit_code


def _merge_diff(diff_file: str | None, matrix_file: str | None, plan: PlanDocument, out: RunDir) -> None:
    """The merged run's compat-diff.json: --diff FILE, else computed once here (the shard jobs
    leave it out), else whatever a job wrote. Advisory like in `canary run`: never fails the merge."""
    from canary.compat.document import CompatDiff
    from canary.kernel.atomic import write_json_atomic
    from canary.matrix.store import read_json

    if diff_file:
        given = read_json(Path(diff_file))
        CompatDiff.from_dict(given, file=diff_file)  # a bad one fails here, naming the key; kept as given
        write_json_atomic(out.path / fanout.DIFF_FILE, given)
        return
    if not matrix_file or not Path(matrix_file).is_file():
        return
    matrix = _load_matrix(matrix_file)
    if plan.matrix_digest and plan.matrix_digest != matrix.digest:
        fanout.warn(f"{matrix_file} changed since the plan was made: no compat diff computed")
        return
    if matrix.compat.get("diff"):
        from canary.pipeline import compat_diff
        from canary.matrix.progress import step

        with step("compat diff: baseline -> newest candidate"):
            compat_diff(matrix, plan.candidates, out.path)


def _merge_step_diffs(matrix_file: str | None, plan: PlanDocument, out: RunDir, summary, record) -> None:
    """The compat diff of each step where a regression first appears (as `canary run` writes them),
    computed once for the gathered jobs. Advisory: never fails the merge."""
    if not matrix_file or not Path(matrix_file).is_file():
        return
    matrix = _load_matrix(matrix_file)
    if not matrix.compat.get("diff") or (plan.matrix_digest and plan.matrix_digest != matrix.digest):
        return
    from canary.kernel.home import Home
    from canary.compat_steps import step_diffs
    from canary.pipeline import regression_pairs

    pairs = regression_pairs(matrix, summary, record, out.path)
    if pairs:
        step_diffs(matrix, pairs, out.path, Home.default())


def _default_store() -> Path:
    from canary.kernel.home import Home  # the same store `canary run` writes to

    return Home.default().runs


def _default_matrix() -> str:
    from canary.matrix.config import default_path

    return default_path()


def cmd_verdicts(args) -> int:
    run: RunDir = open_run(args.run, args.store or _default_store())
    record = run.read_run()
    matrix_file = args.config or record.matrix_path or record.matrix_file or None
    if matrix_file and not args.config and not Path(matrix_file).is_file():
        # The run may come from another machine (a CI artifact): its matrix path need not exist here.
        print(f"canary: note: matrix file {matrix_file} not found; only --waivers apply", file=sys.stderr)
    waivers = waivers_mod.for_matrix(matrix_file, args.waivers, required=bool(args.config))
    summary = verdicts.classify(run, record, waivers=waivers, today=_today(args.today))
    _emit(summary, args.json, run)
    return summary.exit_code
