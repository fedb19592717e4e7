"""`canary lint`, `canary fix`, `canary migrations` and `canary migration ...`.

Exit codes (see docs/codemods.md):
  lint: 0 no finding at or above --fail-on, 1 findings at or above it, 2 bad input
  fix:  0 nothing to change or all written, 1 diff shown (without --write) or a file rejected,
        2 bad input or a dirty tree without --force;
        with --verify: 1 fails after fix, 3 the fix could not be verified (cell error)
"""

from __future__ import annotations

import json
import os
import sys

from canary.kernel.errors import UserError
from canary.kernel.exitcodes import ExitCode

FORMATS = ("text", "json", "sarif", "github")
FAIL_ON = ("error", "warning", "info", "hint", "never")


def _emit(text: str, output: str | None) -> None:
    if output:
        from canary.kernel.atomic import write_text_atomic

        write_text_atomic(output, text)
    else:
        sys.stdout.write(text)


def cmd_lint(args) -> int:
    from canary.codemods.compiled import load_compiled
    from canary.codemods.formats import render_github, render_json, render_sarif, render_text
    from canary.codemods.lint import lint_paths

    mig, compiled = load_compiled(args.migration)
    report = lint_paths(args.paths, mig, exclude=args.exclude, jobs=args.jobs, compiled=compiled)
    if args.format == "json":
        out = render_json(report)
    elif args.format == "sarif":
        out = render_sarif(report, list(mig.rules) + list(mig.config))
    elif args.format == "github":
        out = render_github(report)
    else:
        out = render_text(report, args.migration)
    _emit(out, args.output)
    return ExitCode.FINDINGS if report.at_or_above(args.fail_on) else ExitCode.OK


def cmd_fix(args) -> int:
    from canary.codemods.fix import plan_fixes, require_clean, write_fixes
    from canary.codemods.verify import FAILS, UNVERIFIED, VERIFIED, Verification

    verification: Verification | None = None
    if args.verify:
        from canary.codemods.verify import verify_fix

        if not args.matrix or not args.connector:
            raise UserError(
                "--verify needs --matrix FILE and --connector NAME (the cell to run the fixed connector in)"
            )
        if len(args.paths) != 1:
            raise UserError("--verify takes exactly one connector PATH (a source tree, package directory or tarball)")
        verification = verify_fix(
            args.paths[0], args.migration, args.matrix, args.connector, args.core, keep=args.keep_verify
        )
        print(f"canary: {verification.sentence()}", file=sys.stderr)
        if verification.status != VERIFIED:
            if args.format == "json":
                _emit(json.dumps(_fix_doc(None, verification), indent=2) + "\n", None)
            return ExitCode.FINDINGS if verification.status == FAILS else ExitCode.INCONCLUSIVE
        from canary.codemods.verify import _is_published
        from pathlib import Path

        if _is_published(Path(args.paths[0])):
            if args.format == "json":
                _emit(json.dumps(_fix_doc(None, verification), indent=2) + "\n", None)
            return ExitCode.OK  # a published package is verified, not rewritten in place
    result = plan_fixes(args.paths, args.migration, exclude=args.exclude)
    for rej in result.rejected:
        print(f"canary: {rej['file']}: {rej['reason']}", file=sys.stderr)
    for sk in result.skipped:
        print(f"canary: {sk['file']}: skipped: {sk['reason']}", file=sys.stderr)
    if verification is None and result.changes:
        print(
            f"canary: these fixes are {UNVERIFIED}: `--verify --matrix FILE --connector NAME` runs the fixed "
            "connector's cell",
            file=sys.stderr,
        )
    if not args.write:
        if args.format == "json":
            _emit(json.dumps(_fix_doc(result, verification), indent=2) + "\n", None)
        else:
            sys.stdout.write(result.diff())
        if result.remaining:
            print(f"canary: {result.remaining} finding(s) have no automatic fix; see `canary lint`", file=sys.stderr)
        return ExitCode.FINDINGS if result.changes or result.rejected else ExitCode.OK
    if result.changes and not args.force:
        require_clean(args.paths)
    refused = write_fixes(result)
    for rej in refused:
        print(f"canary: {rej['file']}: {rej['reason']}", file=sys.stderr)
    written = [c for c in result.changes if c.file not in {r["file"] for r in refused}]
    edits = sum(c.edits for c in written)
    label = "verified" if verification is not None else UNVERIFIED
    print(f"canary: fixed {edits} place(s) in {len(written)} file(s) ({label})", file=sys.stderr)
    if args.format == "json":
        _emit(json.dumps(_fix_doc(result, verification), indent=2) + "\n", None)
    if result.remaining:
        print(f"canary: {result.remaining} finding(s) have no automatic fix; see `canary lint`", file=sys.stderr)
    return ExitCode.FINDINGS if result.rejected or refused else ExitCode.OK


def _fix_doc(result, verification) -> dict:
    """`canary fix --format json` (codemods/schemas/fix.schema.json)."""
    doc = {
        "schema_version": 1,
        "verification": verification.to_dict() if verification is not None else {"status": "unverified"},
    }
    if result is not None:
        doc.update(
            {
                "changes": [{"file": c.file, "edits": c.edits} for c in result.changes],
                "diff": result.diff(),
                "rejected": result.rejected,
                "skipped": result.skipped,
                "remaining": result.remaining,
            }
        )
    return doc


def cmd_migrations(args) -> int:
    from canary.codemods.migration import shipped

    migs = shipped()
    if args.format == "json":
        sys.stdout.write(json.dumps([m.summary() for m in migs], indent=2) + "\n")
        return ExitCode.OK
    for m in migs:
        print(f"{m.id}  {m.version}  core {m.core}  {len(m.rules) + len(m.config)} rule(s)  {m.title}")
    return ExitCode.OK


def cmd_from_diff(args) -> int:
    from canary.matrix.store import read_json

    from canary.codemods.generate import emit_migration

    diff = read_json(__import__("pathlib").Path(args.diff))
    try:
        emit_migration(diff, args.output, migration_id=args.id, core=args.core)
    except UserError as exc:
        exc.file = exc.file if exc.file not in (None, "<generated>") else args.diff
        raise
    print(f"canary: wrote {args.output}", file=sys.stderr)
    return ExitCode.OK


def cmd_show(args) -> int:
    from canary.codemods.migration import dump_migration, load_migration

    sys.stdout.write(dump_migration(load_migration(args.migration)))
    return ExitCode.OK


def cmd_export_sg(args) -> int:
    from canary.codemods.migration import load_migration
    from canary.codemods.sgexport import export_sg_rules

    _emit(export_sg_rules(load_migration(args.migration)), args.output)
    return ExitCode.OK


def cmd_extract_sources(args) -> int:
    import tempfile

    from canary.codemods.sources import extract_sourcemap_sources, unpack_tarball

    pkg = args.package
    with tempfile.TemporaryDirectory(prefix="canary-pkg-") as tmp:
        if os.path.isfile(pkg):
            pkg = unpack_tarball(pkg, tmp)
        elif not os.path.isdir(pkg):
            raise UserError("no such package directory or tarball", file=args.package)
        written = extract_sourcemap_sources(pkg, args.output)
    if not written:
        raise UserError("no sources found in dist/**/*.map sourcesContent", file=args.package)
    print(f"canary: wrote {len(written)} source file(s) under {args.output}", file=sys.stderr)
    return ExitCode.OK


def register(sub) -> None:
    p = sub.add_parser(
        "lint",
        help="report code that uses what a migration renames or removes",
        description="Lint TypeScript/JavaScript/Python files, directories, or an npm package "
        "directory/.tgz (through its source maps) with a migration.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--migration", "-m", required=True, metavar="ID|FILE", help="shipped migration id or file")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="warning",
        help="exit 1 when a finding has this severity or higher (default: warning)",
    )
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip matching files")
    p.add_argument("--output", "-o", "--out", metavar="FILE", help="write the report here instead of stdout")
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=0,
        metavar="N",
        help="worker processes for large trees (default 0: one per CPU; 1: no workers)",
    )
    p.set_defaults(handler=cmd_lint)

    p = sub.add_parser("fix", help="apply a migration's fixes (unified diff; --write applies)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--migration", "-m", required=True, metavar="ID|FILE")
    p.add_argument("--write", action="store_true", help="rewrite the files instead of printing a diff")
    p.add_argument("--force", action="store_true", help="write even if the files have uncommitted changes")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    p.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: a unified diff; json: changes, diff and the verification (fix.schema.json)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="apply the fix to a scratch copy and run the connector's cell on the candidate core",
    )
    p.add_argument("--matrix", "-c", metavar="FILE", help="with --verify: the matrix whose cell runs the connector")
    p.add_argument("--connector", metavar="NAME", help="with --verify: the connector's name in the matrix")
    p.add_argument("--core", metavar="VERSION", help="with --verify: the core (default: the newest candidate)")
    p.add_argument("--keep-verify", metavar="DIR", help="with --verify: keep the scratch copy and run here")
    p.set_defaults(handler=cmd_fix)

    p = sub.add_parser("migrations", help="list the migrations that ship with canary")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(handler=cmd_migrations)

    p = sub.add_parser("migration", help="create, show or export migrations")
    msub = p.add_subparsers(dest="migration_command", metavar="ACTION")
    msub.required = True
    q = msub.add_parser("from-diff", help="write a migration from a compat diff JSON")
    q.add_argument("diff", metavar="DIFF.json")
    q.add_argument("--output", "-o", "--out", required=True, metavar="FILE")
    q.add_argument("--id", help="migration id (default: from the package and versions)")
    q.add_argument("--core", help="core version range (default: >=NEW)")
    q.set_defaults(handler=cmd_from_diff)
    q = msub.add_parser("show", help="print a migration as YAML")
    q.add_argument("migration", metavar="ID|FILE")
    q.set_defaults(handler=cmd_show)
    q = msub.add_parser("export-sg", help="write the rules as ast-grep YAML for `sg scan --rule`")
    q.add_argument("migration", metavar="ID|FILE")
    q.add_argument("--output", "-o", "--out", metavar="FILE")
    q.set_defaults(handler=cmd_export_sg)
    q = msub.add_parser("extract-sources", help="write a published package's sources from its source maps")
    q.add_argument("package", metavar="PACKAGE_DIR|TGZ")
    q.add_argument("--output", "-o", "--out", required=True, metavar="DIR")
    q.set_defaults(handler=cmd_extract_sources)
