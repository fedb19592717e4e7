"""`canary bisect CELL`: the first bad core version or commit of a regressed cell (docs/bisect.md).

Exit codes: 0 the search named a first bad version (conclusive), 3 not conclusive (error probes
left only skipped versions, or the probe budget was spent), 2 bad input (unknown cell, a cell
that did not regress, a run that does not exist).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from canary.kernel.errors import UserError
from canary.kernel.redact import redact
from canary.matrix.store import DEFAULT_STORE, open_run

__all__ = ["register"]


def register(sub) -> None:
    p = sub.add_parser("bisect", help="find the first bad core version or commit of a regressed cell")
    p.add_argument("cell", metavar="CELL", help="a regressed candidate cell id of the run")
    p.add_argument("--run", help="run id or run directory (default: the latest run)")
    p.add_argument("--store", help=f"results store (default $CANARY_HOME/runs, else {DEFAULT_STORE})")
    p.add_argument("-c", "--config", help="matrix file (default: the run's own matrix file)")
    p.add_argument("--no-cache", action="store_true", help="run every probe cell even when a cached result exists")
    p.add_argument("--progress", choices=("auto", "rich", "plain", "none"), default="auto")
    p.add_argument(
        "--json", action="store_true", help="print the searches as JSON (schema: matrix/schemas/bisect.schema.json)"
    )
    p.set_defaults(handler=cmd_bisect)


def cmd_bisect(args) -> int:
    from canary.bisection import bisect_and_diff
    from canary.kernel.home import Home
    from canary.matrix import bisect, config

    home = Home.default()
    run = open_run(args.run, args.store or home.runs)
    record = run.read_run()
    matrix_file = args.config or record.matrix_path or record.matrix_file
    if not matrix_file or not Path(matrix_file).is_file():
        raise UserError(f"the run's matrix file {matrix_file or '(none recorded)'} is not here", hint="pass -c FILE")
    matrix = config.load(matrix_file)
    searches, lines = bisect_and_diff(
        matrix, run, [args.cell], home, use_cache=not args.no_cache, progress=args.progress
    )
    if args.json:
        print(json.dumps(bisect.BisectDocument(searches).to_dict(), indent=2))
    else:
        for line in lines:
            print(redact(line))
    if not all(s.conclusive for s in searches):
        print("canary: bisection not conclusive (see its note in bisect.json)", file=sys.stderr)
        return 3
    return 0
