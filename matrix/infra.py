"""Naming infrastructure failures from a command's output.

A release manager needs "dependency not in registry: foo@^2" or "no space
left on device", not "exit 1". The patterns are the package managers' own
error texts.
"""

from __future__ import annotations

import re

PATTERNS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"No space left on device|ENOSPC", re.I), "no space left on device"),
    (re.compile(r"MemoryError|Cannot allocate memory|ENOMEM|JavaScript heap out of memory", re.I), "out of memory"),
    (
        re.compile(r"npm error 404 +'?(?P<what>[^' ]+)'? is not in this registry", re.I),
        "dependency not in registry: {what}",
    ),
    (
        re.compile(r"npm error notarget No matching version found for (?P<what>\S+?)\.?$", re.I),
        "no matching version in registry: {what}",
    ),
    (re.compile(r"npm error code E404.*?(?P<what>@?[\w./-]+@\S+)?", re.I), "dependency not in registry"),
    (
        re.compile(
            r"\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|Temporary failure in name resolution|Could not resolve host|NewConnectionError)\b"
        ),
        "registry or network unreachable ({0})",
    ),
    (re.compile(r"No matching distribution found for (?P<what>\S+)", re.I), "no matching distribution: {what}"),
    (
        re.compile(r"Could not find a version that satisfies the requirement (?P<what>\S+)", re.I),
        "no matching distribution: {what}",
    ),
    (re.compile(r"ResolutionImpossible|conflicting dependencies", re.I), "dependency conflict"),
    (re.compile(r"fatal: (?P<what>.*)", re.I), "git: {what}"),
]


def explain(phase: str, lines: list[str], exit_code: int | None) -> str:
    text = "\n".join(lines)
    for pattern, template in PATTERNS:
        for line in reversed(lines) if "{what}" in template else [text]:
            m = pattern.search(line)
            if m:
                groups = {k: (v or "").strip().rstrip(".") for k, v in m.groupdict().items()}
                if "{what}" in template and not groups.get("what"):
                    continue
                return f"{phase}: " + template.format(m.group(1) if m.groups() else "", **groups)
    last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    return f"{phase} failed (exit {exit_code})" + (f": {last[:200]}" if last else "")
