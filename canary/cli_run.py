"""`canary plan` and `canary run`."""

from __future__ import annotations

import json
import sys

from canary.kernel.exitcodes import ExitCode
from canary.kernel.home import Home
from canary.kernel.redact import redact
from canary.matrix import config, runners, sources
from canary.matrix.plan import plan, plan_document
from canary.pipeline import RunRequest, run_pipeline


def register(sub) -> None:
    p = sub.add_parser("plan", help="list the cells of the matrix and the nox line that runs each alone")
    p.add_argument(
        "-c", "--config", "--matrix", help=f"matrix file (default: ${config.ENV_MATRIX} or {config.DEFAULT_MATRIX})"
    )
    p.add_argument(
        "--json", action="store_true", help="print the plan as JSON (schema: matrix/schemas/plan.schema.json)"
    )
    p.add_argument("--no-check-refs", action="store_true", help="do not verify that git refs exist (offline listing)")
    p.set_defaults(handler=cmd_plan)

    r = sub.add_parser("run", help="run the matrix (or some cells) and write results into the store")
    r.add_argument(
        "-c", "--config", "--matrix", help=f"matrix file (default: ${config.ENV_MATRIX} or {config.DEFAULT_MATRIX})"
    )
    r.add_argument("--store", help="results store directory (default: .canary/runs)")
    r.add_argument("--cells", nargs="+", metavar="ID", help="only these cells (ids, fnmatch patterns or tags)")
    r.add_argument("-j", "--jobs", type=int, default=None, help="cells run in parallel (default: settings.jobs or 1)")
    r.add_argument("--retries", type=int, default=None, help="extra attempts for a regressed candidate cell")
    r.add_argument("--no-cache", action="store_true", help="run every cell even when an identical one has a result")
    r.add_argument("--resume", metavar="RUN_ID", help="complete an interrupted run without re-running finished cells")
    r.add_argument(
        "--aa-check",
        action="store_true",
        default=None,
        help="run every baseline cell twice to find cells that are flaky on their own",
    )
    r.add_argument(
        "--exit-by-status",
        action="store_true",
        help="exit by the cells' own statuses (1 fail/timeout, 3 error), not by verdicts: "
        "for reproducing one cell without its baseline (the nox cell sessions use it)",
    )
    r.add_argument("--keep-work", action="store_true", help="keep each cell's environment under .canary/work")
    r.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto")
    r.add_argument(
        "--report",
        default="html,md,junit,json",
        help="report formats written after the run (comma list; 'none' for none)",
    )
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
        print(redact(json.dumps(plan_document(matrix, cells).to_dict(), indent=2)))
        return ExitCode.OK
    width = max((len(c.id) for c in cells), default=10)
    print(f"{len(cells)} cells from {matrix.file} ({matrix.core.name}, {matrix.core.ecosystem})")
    for c in cells:
        extra = f" [{c.expectation}]" if c.expectation else ""
        where = runners.describe(matrix, matrix.connector(c.connector))
        extra += f" (runner {where})" if where != "local" else ""
        print(redact(f"  {c.id:<{width}}  {c.tier:<8} {c.role:<9} {c.package} {c.ref} x core {c.core.label}{extra}"))
        print(redact(f"  {'':<{width}}  {c.nox_command(matrix.file)}"))
    return ExitCode.OK


def cmd_run(args) -> int:
    request = RunRequest(
        config=args.config,
        store=args.store,
        cells=list(args.cells or ()),
        jobs=args.jobs,
        retries=args.retries,
        use_cache=not args.no_cache,
        resume=args.resume,
        aa_check=args.aa_check,
        exit_by_status=args.exit_by_status,
        keep_work=args.keep_work,
        progress=args.progress,
        report=args.report,
        argv=sys.argv[1:],
    )
    # Lines are printed as each step ends (the decision before the slower diff and report).
    state = run_pipeline(request, announce=lambda lines: [print(redact(line)) for line in lines])
    if state.reaped:
        print(
            f"canary: note: killed {state.reaped} process(es) left running by a killed run on this store",
            file=sys.stderr,
        )
    return state.exit_code
