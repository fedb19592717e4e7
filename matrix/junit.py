"""JUnit XML: test case ids with their status, to name the tests a candidate core broke.

Test runners disagree on details (pytest, vitest, jest-junit, bun): testcases may sit in
<testsuites>/<testsuite> at any depth, `classname` may be missing (then the suite name or the
`file` attribute stands in). A test case id is `classname::name`.

Statuses: pass, fail (a <failure>), error (an <error>), skipped (<skipped>).
The XML comes from untrusted connectors: ElementTree does not resolve external entities, and
the expat it uses (>= 2.4.1) refuses entity-expansion bombs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

_RANK = {"pass": 0, "skipped": 1, "fail": 2, "error": 3}
FAILING = ("fail", "error")


def _case_status(case: ET.Element) -> str:
    tags = {child.tag.split("}")[-1] for child in case}
    if "error" in tags:
        return "error"
    if "failure" in tags:
        return "fail"
    if "skipped" in tags:
        return "skipped"
    return "pass"


def parse(text: str | bytes) -> dict[str, str]:
    """Test case id -> status. A repeated id keeps its worst status. Raises ET.ParseError."""
    root = ET.fromstring(text)
    out: dict[str, str] = {}

    def walk(node: ET.Element, suite: str) -> None:
        for child in node:
            tag = child.tag.split("}")[-1]
            if tag == "testsuite" or tag == "testsuites":
                walk(child, child.get("name") or suite)
            elif tag == "testcase":
                classname = child.get("classname") or child.get("file") or suite
                name = child.get("name", "")
                tid = f"{classname}::{name}" if classname else name
                status = _case_status(child)
                if _RANK[status] >= _RANK.get(out.get(tid, "pass"), 0):
                    out[tid] = status

    wrapper = ET.Element("wrapper")
    wrapper.append(root)
    walk(wrapper, "")
    return out


def load(path: Path | str) -> dict[str, str] | None:
    """Test cases of a JUnit file, or None when it is missing or not XML (never fatal for a verdict)."""
    try:
        return parse(Path(path).read_bytes())
    except (OSError, ET.ParseError):
        return None


def newly_failing(baseline_runs: list[dict[str, str]], candidate_runs: list[dict[str, str]]) -> list[str]:
    """Tests failing in every candidate report and passing in every baseline report.

    Requiring every report (attempts, A/A runs) keeps flaky tests out of the list.
    """
    if not baseline_runs or not candidate_runs:
        return []
    failing = set.intersection(*({t for t, s in run.items() if s in FAILING} for run in candidate_runs))
    passing = set.intersection(*({t for t, s in run.items() if s == "pass"} for run in baseline_runs))
    return sorted(failing & passing)
