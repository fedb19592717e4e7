"""`canary report`: render a run as HTML, Markdown, JUnit XML, JSON and SVG badges.

Exit codes: 0 rendered (whatever the run's verdict: use `canary verdicts` or the
run's own exit code to gate), 2 bad input (unknown run, corrupt JSON, bad --diff or
--format). The report's decision is in report.json (`decision`, `exit_code`).
"""

from __future__ import annotations

import os
from pathlib import Path

from canary.kernel.exitcodes import ExitCode
from canary.kernel.home import Home
from canary.matrix.store import DEFAULT_STORE, open_run


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="render a run's report (html, md, junit, json, badges)",
        description="Render a run's report. Default run: the latest in the store; default output: <run>/report/.",
    )
    p.add_argument("run", nargs="?", help="run id in the store or a run directory (default: the latest run)")
    p.add_argument("--store", help=f"results store (default: $CANARY_HOME/runs, else {DEFAULT_STORE})")
    p.add_argument(
        "--format",
        default="html,md,junit,json,badges",
        help="comma-separated: html, md, junit, json, badges, or all (default: %(default)s)",
    )
    p.add_argument("--out", "--output", "-o", help="output directory (default: <run>/report/)")
    p.add_argument("--diff", help="compat diff JSON (canary/compat-diff/v1) whose breaking changes to show")
    p.add_argument("--badge-label", help="left text of the badges (default: the core's name), e.g. 'elizaOS core'")
    p.add_argument("--history", type=int, default=None, metavar="N", help="runs of history to show (default: 20)")
    p.add_argument(
        "--waivers",
        action="append",
        default=[],
        metavar="FILE",
        help="an extra waivers.yaml (the run's matrix file's waivers always apply)",
    )
    p.add_argument(
        "--github-summary",
        action="store_true",
        help="also append the Markdown summary to $GITHUB_STEP_SUMMARY when it is set",
    )
    p.set_defaults(handler=run_report)


def run_report(args) -> int:
    from canary.reports import parse_formats, render_all

    formats = parse_formats(args.format)
    if args.github_summary and "md" not in formats:
        formats.append("md")
    run = open_run(args.run, args.store or Home.default().runs)  # the store `canary run` writes to
    waivers = None
    if args.waivers:
        from canary.reports.model import run_waivers

        waivers = run_waivers(run.read_run(), args.waivers)
    written = render_all(
        run,
        formats,
        args.out,
        diff=args.diff,
        badge_label=args.badge_label,
        history_depth=args.history,
        waivers=waivers,
    )
    for fmt, path in written.items():
        print(f"{fmt}: {path}")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.github_summary and summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(Path(written["md"]).read_text(encoding="utf-8") + "\n")
        print(f"md: appended to {summary_file}")
    return ExitCode.OK
