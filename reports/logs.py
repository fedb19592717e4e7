"""Reading cell logs and picking the lines a reader needs first."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A full log embedded in a page is capped: a runaway test can write gigabytes, and
# the page must still open. The cut is stated on the page.
MAX_LOG_CHARS = 1_000_000

# Lines that look like a failure in the logs of node, python and their test runners:
# exception names and markers (case-sensitive), and failure words (any case).
_ERRORISH = re.compile(r"\b\w*(Error|Exception)\b|\bERR!|Traceback|\bpanic\b|[✗✘×]|\btimed out\b")
_ERRORWORD = re.compile(r"\b(error|errors|fail|failed|failure|failing|cannot|not found|no such file)\b", re.IGNORECASE)
# Noise that matches the pattern without meaning a failure ("0 failed", "errors: 0").
_BENIGN = re.compile(
    r"\b0 (failed|failures|errors?)\b|\b(failed|errors?)[:=] ?0\b|--no-fail|ignore-errors", re.IGNORECASE
)

# canary.matrix.proc frames each command: `$ [phase] argv`, `    (cwd ..., timeout Ns)`, the output,
# then `!! timed out ...` and `-> exit N in Ts`; the harness adds `# ...` notes between commands.
_HARNESS = ("$ [", "    (cwd ", "-> exit ", "# ")
_EXIT = re.compile(r"^-> exit (\S+)")


def _failing_section(lines: list[str]) -> range:
    """The lines of the first command that failed, when the log has canary.matrix.proc framing; else all."""
    starts = [i for i, line in enumerate(lines) if line.startswith("$ [")]
    if not starts:
        return range(len(lines))
    bounds = starts + [len(lines)]
    for a, b in zip(bounds, bounds[1:]):
        for line in lines[a:b]:
            m = _EXIT.match(line)
            if line.startswith("!! timed out") or (m and m.group(1) != "0"):
                return range(a, b)
    return range(len(lines))


# Colour and cursor codes (npm, vitest and bun colour their output): shown raw they are noise,
# and ESC is not even allowed in XML.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


@dataclass
class LogLine:
    number: int  # 1-based line number in the log
    text: str


@dataclass
class LogText:
    path: str  # relative to the run directory
    text: str
    exists: bool
    truncated: bool = False


def read_log(run_path: Path, rel: str) -> LogText:
    if not rel:
        return LogText(path="", text="", exists=False)
    path = (run_path / rel).resolve()
    if not path.is_relative_to(run_path.resolve()):
        # A cell result names its log; results merged from CI artifacts are not trusted to
        # point only inside the run directory.
        return LogText(path=rel, text="", exists=False)
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(MAX_LOG_CHARS + 1)
    except (FileNotFoundError, IsADirectoryError):
        return LogText(path=rel, text="", exists=False)
    truncated = len(text) > MAX_LOG_CHARS
    return LogText(path=rel, text=strip_ansi(text[:MAX_LOG_CHARS]), exists=True, truncated=truncated)


def first_failing_lines(text: str, limit: int = 12, tail: int = 15) -> tuple[str, list[LogLine]]:
    """The first lines that look like errors (kind "errors"), else the tail (kind "tail").

    Both are taken from the output of the first command that failed when the log shows
    which one did (canary.matrix.proc framing), without the harness's own framing lines.
    """
    lines = text.splitlines()
    framed = any(line.startswith("$ [") for line in lines)
    section = [i for i in _failing_section(lines) if not (framed and lines[i].startswith(_HARNESS))]
    hits = [
        LogLine(i + 1, lines[i])
        for i in section
        if (_ERRORISH.search(lines[i]) or _ERRORWORD.search(lines[i])) and not _BENIGN.search(lines[i])
    ]
    if hits:
        return "errors", hits[:limit]
    if not section:
        return "none", []
    return "tail", [LogLine(i + 1, lines[i]) for i in section[-tail:]]
