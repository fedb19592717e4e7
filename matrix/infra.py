"""The one line that says why a set-up command failed, worded from its failure kind.

A release manager needs "dependency not in registry: foo@^2" or "no space left on device", not
"exit 1". The kind is decided once, by canary.matrix.failures when the command fails, and recorded
on the attempt; this module only words it. The patterns below never classify: each extracts a
detail the words of a kind name (which package is missing, which network error, the git error).
"""

from __future__ import annotations

import re

from canary.matrix.failures import SIGKILLED, FailureKind

__all__ = ["explain", "kind_words", "missing_package", "network_error"]

# Which package a missing-dependency failure names: npm's notarget and 404 lines, pip's two.
_MISSING = [
    re.compile(r"npm error notarget No matching version found for (?P<what>\S+?)\.?$", re.I),
    re.compile(r"npm error 404 +'?(?P<what>[^' ]+)'? is not in this registry", re.I),
    re.compile(r"No matching distribution found for (?P<what>\S+)", re.I),
    re.compile(r"Could not find a version that satisfies the requirement (?P<what>\S+)", re.I),
]
# npm's `404 Not Found - GET <registry>/<name>` (a scoped name is url-encoded).
_NPM_GET = re.compile(r"404 Not Found - GET \S+/((?:@|%40)[^/\s]+(?:/|%2[fF])[^/\s]+|[^/@\s]+)")
_NETWORK = re.compile(
    r"\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|ENETUNREACH|EHOSTUNREACH"
    r"|Temporary failure in name resolution|Could not resolve host|NewConnectionError)\b"
)
_CONFLICT = re.compile(r"ResolutionImpossible|conflicting dependencies", re.I)
_GIT_FATAL = re.compile(r"fatal: (?P<what>.*)", re.I)


def missing_package(lines: list[str]) -> str:
    """The package (and range) a missing-dependency failure names, "" when its output names none."""
    for pattern in _MISSING:
        for line in reversed(lines):
            m = pattern.search(line)
            if m and m.group("what").strip():
                return m.group("what").strip().rstrip(".")
    for line in reversed(lines):
        m = _NPM_GET.search(line)
        if m:
            return m.group(1).replace("%2f", "/").replace("%2F", "/").replace("%40", "@")
    return ""


def network_error(lines: list[str]) -> str:
    """The network error a failure's output names (ENOTFOUND, ...), "" when none."""
    m = _NETWORK.search("\n".join(lines))
    return m.group(1) if m else ""


def kind_words(kind: FailureKind | str | None, lines: list[str], exit_code: int | None = None) -> str | None:
    """The words of a failure kind that names its cause (missing dependency, network, disk, memory),
    with the detail its output gives; None for a kind that names no cause of its own."""
    if kind == FailureKind.MISSING_DEPENDENCY:
        return f"dependency not in registry: {missing_package(lines) or 'a package'}"
    if kind == FailureKind.NETWORK:
        code = network_error(lines)
        return "registry unreachable" + (f" ({code})" if code else "")
    if kind == FailureKind.NO_SPACE:
        return "no space left on device"
    if kind == FailureKind.OOM:
        return "out of memory" + (" (killed by SIGKILL)" if exit_code in SIGKILLED else "")
    return None


def explain(phase: str, kind: FailureKind | str | None, lines: list[str], exit_code: int | None) -> str:
    """`<phase>: <why>` for a failed set-up command whose failure kind is `kind`."""
    words = kind_words(kind, lines, exit_code)
    if words:
        return f"{phase}: {words}"
    text = "\n".join(lines)
    if _CONFLICT.search(text):
        return f"{phase}: dependency conflict"
    fatal = next((m for m in map(_GIT_FATAL.search, reversed(lines)) if m and m.group("what").strip()), None)
    if fatal:
        return f"{phase}: git: {fatal.group('what').strip().rstrip('.')}"
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    return f"{phase} failed (exit {exit_code})" + (f": {last[:200]}" if last else "")
