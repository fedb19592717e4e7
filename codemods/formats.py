"""Renderings of a LintReport: text, json (lint.schema.json), sarif (2.1.0) and github annotations."""

from __future__ import annotations

import json

from canary.codemods.lint import LintReport
from canary.kernel import sarif as sarif_doc
from canary.kernel.ghactions import escape as gh_escape

SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}
GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice", "hint": "notice"}


def render_text(report: LintReport, migration_ref: str) -> str:
    lines = []
    for f in report.findings:
        lines.append(f"{f.file}:{f.line}:{f.column}: {f.severity}[{f.rule}] {f.message}")
        if f.fix is not None:
            lines.append(f"    - {f.source_line.strip()}")
            lines.append(f"    + {f.fix.preview.strip()}  ({f.fix.verification})")
            for imp in f.fix.imports:
                lines.append(f"    + import {{ {imp['name']} }} from '{imp['from']}'")
    for e in report.errors:
        lines.append(f"{e['file']}: error: {e['message']}")
    for sk in report.skipped:
        lines.append(f"{sk['file']}: skipped: {sk['reason']}")
    counts = report.counts()
    fixable = sum(1 for f in report.findings if f.fix is not None)
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no findings"
    lines.append(
        f"{len(report.findings)} finding(s) in {report.files_scanned} file(s) "
        f"({summary}; {fixable} fixable with `canary fix --migration {migration_ref} --write`; "
        f"fixes unverified until `canary fix --verify` runs the fixed connector)"
    )
    return "\n".join(lines) + "\n"


def render_json(report: LintReport) -> str:
    """The report as `json.dumps(report.to_dict(), indent=2)` writes it, byte for byte, without its
    cost: with an indent, json encodes in pure Python (~2 s for 20 000 findings); each finding is
    written here from a template, its strings by json's C string encoder."""
    doc = report.to_dict()
    findings, doc["findings"] = doc["findings"], []  # the key keeps its place
    head = json.dumps(doc, indent=2)
    if not findings:
        return head + "\n"
    marker = '\n  "findings": []'
    at = head.index(marker)
    body = ",\n".join(_finding_json(f) for f in findings)
    return head[:at] + '\n  "findings": [\n' + body + "\n  ]" + head[at + len(marker) :] + "\n"


_str = json.encoder.encode_basestring_ascii  # what json.dumps uses with its default ensure_ascii
_EMPTY = {list: "[]", dict: "{}"}


def _scalar(value) -> str:
    if isinstance(value, str):
        return _str(value)
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, int):
        return json.dumps(value)
    return int.__repr__(value)


def _finding_json(f: dict) -> str:
    """One finding (a to_dict) at the depth the report holds it (4 spaces), as json.dumps(indent=2)."""
    lines = []
    for key, value in f.items():
        if key == "fix" and value is not None:
            fix = []
            for fkey, fvalue in value.items():
                if isinstance(fvalue, (list, dict)):
                    text = json.dumps(fvalue, indent=2).replace("\n", "\n        ") if fvalue else _EMPTY[type(fvalue)]
                else:
                    text = _scalar(fvalue)
                fix.append(f"        {_str(fkey)}: {text}")
            lines.append('      "fix": {\n' + ",\n".join(fix) + "\n      }")
        elif isinstance(value, (list, dict)):
            lines.append(
                f"      {_str(key)}: "
                + (json.dumps(value, indent=2).replace("\n", "\n      ") if value else _EMPTY[type(value)])
            )
        else:
            lines.append(f"      {_str(key)}: {_scalar(value)}")
    return "    {\n" + ",\n".join(lines) + "\n    }"


def render_sarif(report: LintReport, rules: list, base: str | None = ".") -> str:
    """SARIF through the shared builder (canary/kernel/sarif.py): paths relative to the repository root.

    base: the directory the finding paths are relative to (the working directory by default)."""
    by_id = {r.id: r for r in rules}
    used = sorted({f.rule for f in report.findings} | set(by_id))
    driver_rules = []
    for rid in used:
        r = by_id.get(rid)
        entry = {"id": rid}
        if r is not None:
            entry["shortDescription"] = {"text": r.message or rid}
            if getattr(r, "note", ""):
                entry["fullDescription"] = {"text": r.note}
            entry["defaultConfiguration"] = {"level": SARIF_LEVEL.get(r.severity, "warning")}
        driver_rules.append(entry)
    results = []
    for f in report.findings:
        uri = sarif_doc.repo_uri(f.file, base)
        region = {"startLine": f.line, "startColumn": f.column, "endLine": f.end_line, "endColumn": f.end_column}
        res = {
            "ruleId": f.rule,
            "level": SARIF_LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "locations": [sarif_doc.location(uri, region)],
        }
        if f.fix is not None:
            res["fixes"] = [
                {
                    "description": {
                        "text": f"replace with {f.fix.replacement}"
                        + "".join(f"; import {imp['name']} from {imp['from']}" for imp in f.fix.imports)
                        + f" ({f.fix.verification})"
                    },
                    "properties": {"verification": f.fix.verification},
                    "artifactChanges": [
                        {
                            "artifactLocation": {"uri": uri, "uriBaseId": sarif_doc.SRCROOT},
                            "replacements": [
                                {
                                    "deletedRegion": region,
                                    "insertedContent": {"text": f.fix.replacement},
                                }
                            ],
                        }
                    ],
                }
            ]
        results.append(res)
    return sarif_doc.dumps(
        sarif_doc.document("canary-codemods", driver_rules, results, properties={"migration": report.migration})
    )


def render_github(report: LintReport) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    lines = []
    for f in report.findings:
        msg = f.message + (f" (fix, {f.fix.verification}: {f.fix.preview.strip()})" if f.fix else "")
        lines.append(
            f"::{GITHUB_LEVEL.get(f.severity, 'warning')} file={gh_escape(f.file, True)},line={f.line},"
            f"col={f.column},endLine={f.end_line},endColumn={f.end_column},"
            f"title={gh_escape(f.rule, True)}::{gh_escape(msg)}"
        )
    return "\n".join(lines) + ("\n" if lines else "")
