"""Output formats for a diff document: text, json, markdown, sarif (2.1.0), github annotations."""

from __future__ import annotations

import json

from canary.compat.rules import RULES, SEVERITIES, Severity
from canary.kernel import sarif as sarif_doc
from canary.kernel.ghactions import escape as gh_escape

__all__ = ["text", "markdown", "sarif", "github", "json_doc", "FORMATS"]

_TITLES: dict[str, str] = {
    Severity.ERR: "Breaking (ERR)",
    Severity.WARN: "Warnings (WARN)",
    Severity.INFO: "Notes (INFO)",
}
_SARIF_LEVEL: dict[str, str] = {Severity.ERR: "error", Severity.WARN: "warning", Severity.INFO: "note"}
_GH_LEVEL: dict[str, str] = {Severity.ERR: "error", Severity.WARN: "warning", Severity.INFO: "notice"}


def _side(s: dict) -> str:
    return f"{s['spec']}" + (f" ({s['version']})" if s.get("version") and s["version"] not in s["spec"] else "")


def _semver_line(doc: dict) -> str:
    sv = doc["semver"]
    if sv["step"] is None:
        return f"semver: a {sv['required']} step is required (versions unknown)"
    ok = "enough" if sv["sufficient"] else "NOT enough"
    return f"semver: {sv['old']} -> {sv['new']} is a {sv['step']} step; {sv['required']} required: {ok}"


def _loc(c: dict) -> str:
    loc = c.get("location") or {}
    return f"{loc.get('file', '')}:{loc.get('line', '')}" if loc.get("file") else ""


def text(doc: dict) -> str:
    """A compat diff document as plain text for a terminal."""
    out = [f"compat {doc['language']}: {_side(doc['old'])} -> {_side(doc['new'])}"]
    s = doc["summary"]
    out.append(
        f"{s[Severity.ERR]} ERR, {s[Severity.WARN]} WARN, {s[Severity.INFO]} INFO"
        + (f", {s['accepted']} accepted" if s["accepted"] else "")
    )
    out.append(_semver_line(doc))
    for sev in SEVERITIES:
        group = [c for c in doc["changes"] if c["severity"] == sev and not c["accepted"]]
        if not group:
            continue
        out.append("")
        out.append(f"{_TITLES[sev]}:")
        for c in group:
            out.append(f"  {c['rule']} {c['name']:<30} {c['symbol']}")
            out.append(f"      {c['message']}  [{_loc(c)}]")
    accepted = [c for c in doc["changes"] if c["accepted"]]
    if accepted:
        out.append("")
        out.append("Accepted (baseline):")
        for c in accepted:
            out.append(f"  {c['rule']} {c['symbol']}: {c['accepted']['reason']}")
    for note in doc.get("baseline_notes", []):
        out.append(f"baseline: {note['message']}")
    return "\n".join(out) + "\n"


def _md_escape(s: str | None) -> str:
    """For text inside a code span: shown as written, so only the table's pipes need escaping."""
    return (s or "").replace("|", "\\|").replace("\n", " ")


def _md_text(s: str | None) -> str:
    """For prose in a table cell: GitHub reads `<unknown>` in `Promise<unknown>` as an HTML tag and
    drops it, so `&`, `<`, `>` become entities (pipes and newlines as in `_md_escape`)."""
    return _md_escape((s or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def markdown(doc: dict) -> str:
    """A compat diff document as Markdown (a PR comment)."""
    s = doc["summary"]
    out = [f"### Breaking-change check: `{doc['old']['spec']}` → `{doc['new']['spec']}`", ""]
    out.append(
        f"**{s[Severity.ERR]} breaking**, {s[Severity.WARN]} warnings, {s[Severity.INFO]} notes"
        + (f", {s['accepted']} accepted" if s["accepted"] else "")
        + ".  "
    )
    out.append(_semver_line(doc).replace("semver:", "**semver:**"))
    for sev in SEVERITIES:
        group = [c for c in doc["changes"] if c["severity"] == sev and not c["accepted"]]
        if not group:
            continue
        out += [
            "",
            f"#### {_TITLES[sev]}",
            "",
            "| rule | symbol | change | renamed to | where |",
            "|---|---|---|---|---|",
        ]
        for c in group:
            out.append(
                f"| {c['rule']} `{c['name']}` | `{_md_escape(c['symbol'])}` | {_md_text(c['message'])} | "
                f"{'`' + c['renamed_to'] + '`' if c['renamed_to'] else ''} | {_md_text(_loc(c))} |"
            )
    accepted = [c for c in doc["changes"] if c["accepted"]]
    if accepted:
        out += ["", "<details><summary>Accepted breaks</summary>", ""]
        out += [f"- {c['rule']} `{c['symbol']}`: {_md_text(c['accepted']['reason'])}" for c in accepted]
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def sarif(doc: dict) -> str:
    """A compat diff document as SARIF 2.1.0 (code scanning)."""
    used = sorted({c["rule"] for c in doc["changes"]})
    index = {rid: i for i, rid in enumerate(used)}
    rules = []
    for rid in used:
        r = RULES[rid]
        rules.append(
            {
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.detects.split(": ")[0][:200]},
                "fullDescription": {"text": r.detects},
                "help": {
                    "text": f"{r.detects}\nExample: {r.example}\nMigration: {r.migration}",
                    "markdown": f"{r.detects}\n\n**Example:** {r.example}\n\n**Migration:** {r.migration}",
                },
                "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
                "properties": {"affects": list(r.affects), "semver": r.semver},
            }
        )
    # Locations are in the new side's sources; a local directory is in the user's repository.
    new = doc.get("new") or {}
    base = new.get("path") if new.get("kind") == "path" else None
    results = []
    for c in doc["changes"]:
        loc = c.get("location") or {}
        result = {
            "ruleId": c["rule"],
            "ruleIndex": index[c["rule"]],
            "level": _SARIF_LEVEL[c["severity"]],
            "message": {"text": f"{c['symbol']}: {c['message']}"},
            "partialFingerprints": {"symbol": f"{c['rule']}:{c['symbol']}"},
            "properties": {
                k: c[k] for k in ("symbol", "container", "member", "renamed_to", "old", "new", "kind", "affects")
            },
        }
        if loc.get("file"):
            result["locations"] = [
                sarif_doc.location(
                    sarif_doc.repo_uri(loc["file"], base), {"startLine": max(int(loc.get("line") or 1), 1)}
                )
            ]
        if c["accepted"]:
            result["suppressions"] = [{"kind": "external", "justification": c["accepted"]["reason"]}]
        results.append(result)
    return sarif_doc.dumps(sarif_doc.document("canary-compat", rules, results, information_uri="docs/compat.md"))


def github(doc: dict) -> str:
    # GitHub places an annotation by its path from the repository root, as SARIF does.
    """A compat diff document as GitHub workflow annotations (::error file=...)."""
    new = doc.get("new") or {}
    base = new.get("path") if new.get("kind") == "path" else None
    out = []
    for c in doc["changes"]:
        if c["accepted"]:
            continue
        loc = c.get("location") or {}
        props = [f"title={gh_escape(c['rule'] + ' ' + c['name'], True)}"]
        if loc.get("file"):
            props.insert(0, f"line={loc.get('line') or 1}")
            props.insert(0, f"file={gh_escape(sarif_doc.repo_uri(loc['file'], base), True)}")
        out.append(f"::{_GH_LEVEL[c['severity']]} {','.join(props)}::{gh_escape(c['symbol'] + ': ' + c['message'])}")
    return "\n".join(out) + ("\n" if out else "")


def json_doc(doc: dict) -> str:
    """A compat diff document as JSON text."""
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


FORMATS = {"text": text, "json": json_doc, "markdown": markdown, "sarif": sarif, "github": github}
