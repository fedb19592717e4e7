"""`canary`: the command line. It only wires the packages together.

Each package contributes its subcommands through a `register(subparsers)`
function in its own cli module, so packages never edit this file to add one.

Exit codes (stable, see README "Exit codes"):
  0  success / nothing blocking
  1  a blocking finding (regression, breaking change, lint finding, refusal)
  2  usage or input error (bad matrix.yaml, unknown version, missing ref)
  3  inconclusive (infrastructure errors or missing results in required cells)
  4  internal error: an unexpected exception (one line on stderr, the traceback in a log file).
     Never 1: CI reads 1 as "regressed", and a crash is not a verdict.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from canary import __version__
from canary.kernel.errors import UserError
from canary.kernel.exitcodes import ExitCode

# datetime, tempfile, traceback, the atomic writer and redact (typing, urllib) are imported where a
# crash or an error needs them: ~15 ms of CPU a `canary lint` of one file would pay on every run.

# Modules that define register(subparsers); each handler returns an exit code.
COMMAND_MODULES = (
    "canary.cli_run",  # plan, run
    "canary.cli_fanout",  # ci-matrix, merge, verdicts
    "canary.matrix.cli_npm",  # import-registry (elizaOS generated-registry.json)
    "canary.promote.cli",  # promote
    "canary.compat.cli",  # diff
    "canary.codemods.cli",  # lint, fix, migrations, migration
    "canary.reports.cli",  # report
    "canary.cli_demo",  # demo
    "canary.cli_bisect",  # bisect
)

# Which module owns which command, so that `canary diff` imports only compat (startup time is
# part of every CI step); `canary --help` and unknown commands import them all.
OWNER = {
    "plan": "canary.cli_run",
    "run": "canary.cli_run",
    "ci-matrix": "canary.cli_fanout",
    "merge": "canary.cli_fanout",
    "verdicts": "canary.cli_fanout",
    "import-registry": "canary.matrix.cli_npm",
    "promote": "canary.promote.cli",
    "diff": "canary.compat.cli",
    "lint": "canary.codemods.cli",
    "fix": "canary.codemods.cli",
    "migrations": "canary.codemods.cli",
    "migration": "canary.codemods.cli",
    "report": "canary.reports.cli",
    "demo": "canary.cli_demo",
    "bisect": "canary.cli_bisect",
}


def _columns() -> int:
    """The terminal width as shutil.get_terminal_size reports it (COLUMNS, else the terminal, else 80)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    stdout = sys.__stdout__
    if columns <= 0 and stdout is not None:
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter with the same width, found without shutil: argparse builds a formatter
    for every add_argument (to check the metavar), and the stock one imports shutil (bz2, lzma:
    ~3 ms of a one-file `canary lint`) to ask for the width."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None):
        super().__init__(prog, indent_increment, max_help_position, _columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose formatter needs no shutil; subparsers are made of the same class."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="canary",
        description="Release compatibility matrix and canary tool.",
    )
    parser.add_argument("--version", action="version", version=f"canary {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    command = next((a for a in (argv or []) if not a.startswith("-")), None)
    if command in OWNER:
        modules: tuple[str, ...] = (OWNER[command],)
    elif command is None and "--version" in (argv or []) and not {"-h", "--help"} & set(argv or []):
        modules = ()  # `canary --version` prints and exits before a command is needed (was ~0.3 s of imports)
    else:
        modules = COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub)
    from canary.cli_examples import add_examples

    add_examples(sub)
    return parser


EXIT_INTERNAL = ExitCode.INTERNAL


def crash_log(exc: BaseException) -> Path:
    """Write the traceback of an unexpected error to `<CANARY_HOME>/logs/` (a temporary
    directory when that is not writable) and return the file."""
    import datetime as _dt
    import tempfile
    import traceback

    from canary.kernel.atomic import write_text_atomic
    from canary.kernel.home import Home
    from canary.kernel.redact import redact

    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    text = "".join(traceback.format_exception(exc))
    for base in (Home.default().root / "logs", Path(tempfile.gettempdir())):
        try:
            base.mkdir(parents=True, exist_ok=True)
            path = base / f"canary-crash-{stamp}-{os.getpid()}.log"
            # A traceback can quote a url with credentials or a token-bearing argv: redacted too.
            write_text_atomic(path, redact(f"canary {__version__}\nargv: {sys.argv!r}\n\n{text}"))
            return path
        except OSError:
            continue
    return Path(os.devnull)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as exc:  # the one catch-all at the CLI boundary: exit 4, never 1
        from canary.kernel.redact import redact

        where = crash_log(exc)
        line = str(exc).splitlines()[0] if str(exc) else ""
        print(
            redact(f"canary: internal error: {type(exc).__name__}: {line[:300]} (traceback: {where})"), file=sys.stderr
        )
        return EXIT_INTERNAL


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
    except UserError as exc:
        from canary.kernel.redact import redact

        print(redact(f"canary: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`canary plan | head`): not an error worth a message.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (stays open until exit: later writes go nowhere)
        return ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:
        print("canary: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except OSError as exc:
        # A full disk or a permission problem is the environment's, not a bug: say which file.
        from canary.kernel.redact import redact

        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(redact(f"canary: error: {where}{exc.strerror or exc}"), file=sys.stderr)
        return ExitCode.INCONCLUSIVE
    return int(code or ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
