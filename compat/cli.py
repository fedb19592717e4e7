"""`canary diff OLD NEW`: breaking changes between two versions of a core.

Exit codes: 0 nothing at or above --fail-on, 1 breaking changes found, 2 usage or input error.
Heavy modules (ast-grep, griffe, sqlglot) are imported only on the path that needs them.
"""

from __future__ import annotations

import argparse
import sys

from canary.kernel.exitcodes import ExitCode


def register(sub) -> None:
    p = sub.add_parser(
        "diff",
        help="breaking changes between two core versions (TypeScript, Python, SQL)",
        description="Compare the public contract of OLD and NEW. Each side: npm:<pkg>@<version>, "
        "pypi:<pkg>==<version>, git:<url-or-path>@<ref>[:<subdir>], or a directory.",
        epilog="exit codes: 0 nothing at or above --fail-on, 1 breaking changes, 2 usage or input error. "
        "Rules and formats: docs/compat.md",
    )
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--lang", choices=("ts", "py", "sql"), help="language (default: detected from NEW)")
    p.add_argument(
        "--format",
        choices=("text", "json", "markdown", "sarif", "github"),
        default="text",
        type=lambda v: "markdown" if v == "md" else v,
    )  # `md`, as `canary report` spells it
    p.add_argument(
        "--fail-on",
        choices=("ERR", "WARN"),
        default="ERR",
        type=str.upper,
        help="lowest severity that makes the exit code 1 (default ERR)",
    )
    p.add_argument("--config", metavar="FILE", help="YAML: severity overrides, declared renames, ignores")
    p.add_argument("--baseline", metavar="FILE", help="YAML/JSON of accepted breaks (rule, symbol, reason, expires)")
    p.add_argument("--output", "-o", "--out", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument(
        "--emit-migration", metavar="FILE", help="also write codemod migration rules generated from the diff"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from canary.compat.baseline import load_baseline
    from canary.compat.config import load_config
    from canary.compat.render import FORMATS
    from canary.compat.report import build
    from canary.compat.sources import resolve_sides

    config = load_config(args.config)
    baseline = load_baseline(args.baseline)
    old, new, language = resolve_sides(args.old, args.new, args.lang)
    diff = build(old, new, language, config, baseline)
    doc = diff.to_dict()
    text = FORMATS[args.format](doc)
    if args.output:
        from canary.kernel.atomic import write_text_atomic

        write_text_atomic(args.output, text)
    else:
        sys.stdout.write(text)
    if args.emit_migration:
        try:
            from canary.codemods.generate import emit_migration
        except ImportError as exc:
            from canary.kernel.errors import UserError

            raise UserError("--emit-migration needs the codemods package", hint=str(exc)) from exc
        emit_migration(doc, args.emit_migration)
    return ExitCode.FINDINGS if diff.blocking(args.fail_on) else ExitCode.OK
