"""The exit codes of every canary command: one enum, documented in README.md ("Verdicts and exit codes").

They are interface (CI reads them), so their values never change. 1 means "regressed" (or a refusal,
or findings) and nothing else: a crash is INTERNAL, never 1.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """What a canary command's exit status means."""

    OK = 0  # green: no unwaived regression; promoted; no finding at or above --fail-on
    REGRESSED = 1  # a required cell regressed
    REFUSED = 1  # promote: refused (the same code as REGRESSED: "no")
    FINDINGS = 1  # diff, lint: breaking changes or findings at or above --fail-on
    USAGE = 2  # usage or input error (bad matrix.yaml, unknown ref): one line, no traceback
    INCONCLUSIVE = 3  # errors or missing results in required cells; an environment error (disk, permissions)
    INTERNAL = 4  # an unexpected exception: one line on stderr, the traceback in a crash log
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
    BROKEN_PIPE = 141  # the reader of our output went away (128 + SIGPIPE)
