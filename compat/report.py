"""Assemble the `canary/compat-diff/v1` document (canary.compat.document.CompatDiff) from two sides."""

from __future__ import annotations

from canary.compat.baseline import apply_baseline
from canary.compat.config import Config
from canary.compat.diff import diff_contracts
from canary.compat.document import CompatDiff
from canary.compat.rules import RULES, SEVERITIES
from canary.compat.semver import verdict

__all__ = ["build", "extract"]


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


def build(old_side, new_side, language: str, config: Config | None = None, baseline=None) -> CompatDiff:
    config = config or Config()
    old_c = extract(old_side.path, language, config)
    new_c = extract(new_side.path, language, config)
    changes = diff_contracts(old_c, new_c, config)
    notes = apply_baseline(changes, baseline or [])
    dicts = [c.to_dict() for c in changes]
    summary: dict[str, int] = {s: sum(1 for c in changes if c.severity == s and not c.accepted) for s in SEVERITIES}
    summary["accepted"] = sum(1 for c in changes if c.accepted)
    summary["total"] = len(changes)
    rule_semver = {r.id: r.semver for r in RULES.values()}
    return CompatDiff(
        language=language,
        old=old_side.to_document(),
        new=new_side.to_document(),
        changes=changes,
        summary=summary,
        semver=verdict(old_side.version, new_side.version, dicts, rule_semver),
        baseline_notes=notes,
        counts={"old_declarations": len(old_c.decls), "new_declarations": len(new_c.decls)},
    )
