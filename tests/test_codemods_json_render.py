"""`canary lint --format json` is written from a template for speed: byte-identical to json.dumps(indent=2)."""

from __future__ import annotations

import json

from canary.codemods.formats import render_json
from canary.codemods.lint import Finding, Fix, LintReport


def _finding(i: int, fix: Fix | None, **kw) -> Finding:
    base = dict(
        file=f"src/a{i}.ts",
        line=i,
        column=2,
        end_line=i + 1,
        end_column=9,
        rule=f"rule-{i}",
        message='`x` "quoted" \\ é ü \u2028 tab\t',
        severity="error",
        symbol=None,
        text="room.serverId\n  .x",
        source_line="  const a = room.serverId;",
        fix=fix,
    )
    base.update(kw)
    return Finding(**base)


def test_json_report_is_what_json_dumps_writes():
    report = LintReport(migration={"id": "m", "version": "1.0.0", "core": ">=1"}, files_scanned=3, lines_scanned=40)
    report.findings = [
        _finding(1, None),
        _finding(2, Fix("a.messageServerId", "  const a = a.messageServerId;"), symbol="World.serverId"),
        _finding(
            3,
            Fix("stringToUuid(x)", "x", [{"name": "stringToUuid", "from": "@elizaos/core"}]),
            note="a note\nwith a newline",
            origin="sourcemap",
            severity="hint",
        ),
    ]
    report.errors = [{"file": "b.yaml", "message": "unreadable: \u00ff"}]
    report.skipped = [{"file": "c.ts", "reason": "symlink"}]
    assert render_json(report) == json.dumps(report.to_dict(), indent=2) + "\n"
    empty = LintReport(migration={"id": "m", "version": "1", "core": ">=1"})
    assert render_json(empty) == json.dumps(empty.to_dict(), indent=2) + "\n"
