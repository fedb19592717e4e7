"""Failure kinds: what went wrong in a cell, named once, recorded on the attempt when it happens.

The executor knows which command failed and how (timed out, exit code, its output) at the moment it
fails; it records a FailureKind and the command's index on the Attempt (cell-result schema:
`attempts[].failure`, `attempts[].failed_command`). Verdicts and reports read that record. Results
written before the field existed are classified from their log by `failure_of`, the one fallback.

One table (PATTERNS) names the causes found in a command's output: resources (memory, disk), a
dependency the registry does not have, the network. It is used when the failure is recorded and by
the fallback, so both give the same answer.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "FailureKind",
    "INFRASTRUCTURE",
    "PATTERNS",
    "INSTALL_PHASES",
    "SIGKILLED",
    "output_kind",
    "command_kind",
    "infrastructure",
    "failure_of",
    "last_command_output",
]


class FailureKind(StrEnum):
    """Why an attempt did not pass (docs/verdicts.md "Failure kinds")."""

    TEST_FAILED = "test-failed"  # a test command exited non-zero: the connector's business
    TIMEOUT = "timeout"  # a test command ran out of time while printing: may be the connector's
    TIMEOUT_NO_OUTPUT = "timeout-no-output"  # ... and printed nothing: a hang of the machine, not a test
    TEST_SETUP = "test-setup"  # the test harness could not start (matrix `infra_exit_codes`)
    MATERIALIZE = "materialize"  # the core or the connector could not be fetched or built (clone, download)
    INSTALL = "install"  # an install, setup or check command failed (none of the causes below)
    MISSING_DEPENDENCY = "missing-dependency"  # a dependency the registry does not have
    NETWORK = "network"  # the registry or the network could not be reached
    CORE_MISMATCH = "core-mismatch"  # the environment loads another core than the one under test
    OOM = "oom"  # out of memory (or killed by SIGKILL, which only the OOM killer sends)
    NO_SPACE = "no-space"  # no space left on the device, or a disk quota
    ENVIRONMENT = "environment"  # another error of the machine (permissions, a missing file)


# Not the connector's fault: a cell failing with one of these is `error`, never `fail`.
INFRASTRUCTURE = frozenset(FailureKind) - {FailureKind.TEST_FAILED, FailureKind.TIMEOUT}

INSTALL_PHASES = ("materialize", "install", "force-core", "check", "setup")
SIGKILLED = (-9, 137)  # Popen's -9, or a shell's 128 + 9

# (pattern, kind, phases it counts in: None = any). Resource exhaustion counts anywhere (a test dies
# of it too); a 404 or an unreachable host printed by a test is the test's business.
PATTERNS: list[tuple[re.Pattern[str], FailureKind, tuple[str, ...] | None]] = [
    (
        re.compile(r"\b(?:No space left on device|ENOSPC|Disk quota exceeded|EDQUOT)\b", re.I),
        FailureKind.NO_SPACE,
        None,
    ),
    (
        re.compile(
            r"\b(?:out of memory|MemoryError|ENOMEM|Cannot allocate memory|heap limit|OOM[- ]?kill(?:ed|er)?)\b", re.I
        ),
        FailureKind.OOM,
        None,
    ),
    # Before the missing dependency: pip, when it cannot reach its index, ends with the same "No matching
    # distribution found" as for a package the index lacks; the connection errors above it say why.
    (
        re.compile(
            r"\b(?:ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|EHOSTUNREACH"
            r"|Temporary failure in name resolution|Could not resolve host|NewConnectionError"
            r"|Failed to establish a new connection|Max retries exceeded)\b"
        ),
        FailureKind.NETWORK,
        INSTALL_PHASES,
    ),
    (
        re.compile(
            r"\bE404\b|\bETARGET\b|No matching version found|No matching distribution found"
            r"|Could not find a version that satisfies|404 Not Found|is not in (?:this|the npm) registry",
            re.I,
        ),
        FailureKind.MISSING_DEPENDENCY,
        INSTALL_PHASES,
    ),
]


# npm names its final error in one line; warnings above it (a retried fetch's ECONNRESET) are not the cause.
NPM_ERROR_CODE = re.compile(r"^npm (?:error|ERR!) code \S+", re.M)


def output_kind(phase: str | None, text: str) -> FailureKind | None:
    """The cause a command's output names (PATTERNS), or None. npm's own `npm error code X` line is
    read first, since it is what npm failed of."""
    final = NPM_ERROR_CODE.findall(text)
    if final:
        found = _table_kind(phase, final[-1])
        if found is not None:
            return found
    return _table_kind(phase, text)


def _table_kind(phase: str | None, text: str) -> FailureKind | None:
    for pattern, kind, phases in PATTERNS:
        if (phases is None or phase is None or phase in phases) and pattern.search(text):
            return kind
    return None


def command_kind(
    phase: str, exit_code: int | None, timed_out: bool, output: str, printed: bool = True, infra_exit: bool = False
) -> FailureKind:
    """The kind of one failed command, from what the executor sees when it fails."""
    if timed_out:
        if phase != "test":
            return FailureKind.INSTALL
        return FailureKind.TIMEOUT if printed else FailureKind.TIMEOUT_NO_OUTPUT
    found = output_kind(phase, output)
    if found:
        return found
    if exit_code in SIGKILLED:
        return FailureKind.OOM  # nobody but the kernel's OOM killer sends SIGKILL to a command we did not time out
    if phase == "test":
        return FailureKind.TEST_SETUP if infra_exit else FailureKind.TEST_FAILED
    return FailureKind.MATERIALIZE if phase == "materialize" else FailureKind.INSTALL


def infrastructure(kind: str | None) -> bool:
    """Whether a failure kind is the machine's or the registry's, not the connector's."""
    return kind in INFRASTRUCTURE


def failure_of(attempt: object, status: str, reason: str, tail: str | None) -> FailureKind | None:
    """The failure kind of an attempt: the one it recorded, else (results written before the field
    existed) classified from its commands, reason and log tail with the same table. None for a pass or
    a skip. This is the one place that reads a log to name a failure."""
    recorded = getattr(attempt, "failure", None)
    if recorded:
        return FailureKind(recorded)
    if status not in ("fail", "timeout"):
        return None
    commands = list(getattr(attempt, "commands", None) or ())
    failed = next((c for c in commands if c.timed_out or c.exit_code not in (0, None)), None)
    # No command recorded at all: the cell failed before its tests, while setting up.
    phase = failed.phase if failed else (None if commands else "install")
    text = "\n".join(t for t in (reason, getattr(attempt, "reason", ""), tail or "") if t)
    found = output_kind(phase, text)
    if found in (FailureKind.OOM, FailureKind.NO_SPACE):
        return found
    if failed and not failed.timed_out and failed.exit_code in SIGKILLED:
        return FailureKind.OOM
    if phase == "materialize":
        return FailureKind.MATERIALIZE
    if found is not None and phase in INSTALL_PHASES:
        return found
    if status == "timeout":
        silent = tail is not None and not last_command_output(tail).strip()
        return FailureKind.TIMEOUT_NO_OUTPUT if silent or re.search(r"no output", reason, re.I) else FailureKind.TIMEOUT
    return FailureKind.TEST_FAILED


def last_command_output(tail: str) -> str:
    """What the last command printed, without the harness's own lines (canary.matrix.proc writes
    `$ [phase] argv`, `    (cwd ...)`, `!! timed out ...`, `-> exit ...` around it)."""
    lines = tail.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("$ [")]
    if starts:
        lines = lines[starts[-1] + 1 :]
    harness = ("    (cwd ", "!! timed out", "-> exit ")
    return "\n".join(line for line in lines if not line.startswith(harness))
