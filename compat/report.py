"""Assemble the `canary/compat-diff/v1` document from two sides (the public entry point)."""

from __future__ import annotations

from canary.compat.baseline import apply_baseline
from canary.compat.config import Config
from canary.compat.diff import diff_contracts
from canary.compat.rules import RULES, SEVERITIES, Severity
from canary.compat.semver import verdict

SCHEMA = "canary/compat-diff/v1"


def extract(path, language: str, config: Config):
    if language == "ts":
        from canary.compat.ts_extract import extract as ts

        return ts(path)
    if language == "py":
        from canary.compat.py_extract import extract as py

        return py(path)
    if language == "sql":
        from canary.compat.sql_extract import extract as sql

        return sql(path, config.sql_dialect)
    raise ValueError(language)


def build(old_side, new_side, language: str, config: Config | None = None, baseline=None) -> dict:
    config = config or Config()
    old_c = extract(old_side.path, language, config)
    new_c = extract(new_side.path, language, config)
    changes = diff_contracts(old_c, new_c, config)
    notes = apply_baseline(changes, baseline or [])
    dicts = [c.as_dict() for c in changes]
    summary: dict[str, int] = {s: sum(1 for c in dicts if c["severity"] == s and not c["accepted"]) for s in SEVERITIES}
    summary["accepted"] = sum(1 for c in dicts if c["accepted"])
    summary["total"] = len(dicts)
    rule_semver = {r.id: r.semver for r in RULES.values()}
    return {
        "schema": SCHEMA,
        "language": language,
        "old": old_side.as_dict(),
        "new": new_side.as_dict(),
        "changes": dicts,
        "summary": summary,
        "semver": verdict(old_side.version, new_side.version, dicts, rule_semver),
        "baseline_notes": notes,
        "counts": {"old_declarations": len(old_c.decls), "new_declarations": len(new_c.decls)},
    }


def blocking(doc: dict, fail_on: str) -> list[dict]:
    levels = (Severity.ERR,) if fail_on == Severity.ERR else (Severity.ERR, Severity.WARN)
    return [c for c in doc["changes"] if c["severity"] in levels and not c["accepted"]]
