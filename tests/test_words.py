"""The words of the interface (status, verdict, decision, severity, exit codes) are enums, each
defined once; the documents list exactly those words; the code uses the enum, not string literals."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from canary.compat.rules import SEVERITIES, Severity
from canary.kernel.exitcodes import ExitCode
from canary.matrix.results import STATUSES, Status
from canary.matrix.verdicts import VERDICTS, Decision, VerdictKind

ROOT = Path(__file__).resolve().parent.parent


def _table_words(doc: str, after: str) -> list[str]:
    """The back-quoted first cells of the first Markdown table after the line starting with `after`."""
    lines = (ROOT / doc).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(after))
    words, seen_table = [], False
    for line in lines[start + 1 :]:
        m = re.match(r"\| `([a-z]+)` \|", line)
        if m:
            words.append(m.group(1))
            seen_table = True
        elif seen_table and not line.startswith("|"):
            break
    return words


def test_the_documented_verdicts_and_decisions_are_the_enums():
    assert _table_words("docs/verdicts.md", "## Verdicts") == [v.value for v in VerdictKind] == list(VERDICTS)
    assert set(_table_words("docs/verdicts.md", "### One decision for every output")) == {d.value for d in Decision}


def test_the_readme_exit_code_table_is_the_enum():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Verdicts and exit codes") :]
    codes = [int(m) for m in re.findall(r"(?m)^\| (\d) \|", table)]
    assert codes == sorted({int(c) for c in ExitCode if c < 100})
    assert ExitCode.REGRESSED == ExitCode.REFUSED == ExitCode.FINDINGS == 1 and ExitCode.INTERNAL == 4


def test_status_and_severity_words():
    assert STATUSES == ("pass", "fail", "error", "timeout", "skipped") and all(isinstance(s, Status) for s in STATUSES)
    assert SEVERITIES == ("ERR", "WARN", "INFO") and Severity("WARN") is Severity.WARN


def _literals(path: Path, words: set[str]) -> list[str]:
    """String constants equal to one of `words`, outside the enum classes and outside dict keys."""
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "StrEnum" for b in node.bases):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Dict):
            skip.update(id(k) for k in node.keys if k is not None)
        # `cell.expectation == "flaky"`: the matrix's expectation words (skip, flaky, expect_fail) are not verdicts
        if isinstance(node, ast.Compare) and getattr(node.left, "attr", "") == "expectation":
            skip.update(id(c) for c in node.comparators)
    return [
        f"{path.relative_to(ROOT)}:{n.lineno} {n.value!r}"
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in words and id(n) not in skip
    ]


def test_the_verdict_engine_uses_the_enums():
    """matrix/verdicts.py judged with 46 string literals of these words before the enums."""
    words = {v.value for v in VerdictKind} | {s.value for s in Status} | {d.value for d in Decision}
    assert _literals(ROOT / "matrix" / "verdicts.py", words) == []
    assert _literals(ROOT / "canary" / "pipeline.py", words) == []


def test_severity_words_are_written_once_in_compat():
    words = {s.value for s in Severity}
    found = [
        hit for f in ("rules.py", "diff.py", "render.py", "report.py") for hit in _literals(ROOT / "compat" / f, words)
    ]
    assert found == []
