"""report.json: the whole report as data (schema reports/schemas/report.schema.json, `canary/report/v1`)."""

from __future__ import annotations

from pathlib import Path

from canary.kernel.atomic import write_json_atomic
from canary.kernel.redact import redact_data
from canary.reports import badges
from canary.reports.model import REPORT_SCHEMA, CellView, Report

SCHEMA_FILE = Path(__file__).parent / "schemas" / "report.schema.json"


def _cell(c: CellView, report: Report) -> dict:
    v = c.verdict
    explained = (
        report.explanation.for_cell(c.id)
        if report.explanation
        else {"group": None, "first_bad": None, "probable_causes": [], "fixes": []}
    )
    r = c.result
    return {
        "id": c.id,
        "connector": c.planned.connector,
        "ref": c.planned.ref,
        "core": c.planned.core,
        "tier": c.planned.tier,
        "role": c.planned.role,
        "verdict": v.verdict,
        "label": v.label,
        "status": v.status,
        "reason": v.reason,
        "blocking": v.blocking,
        "inconclusive": v.inconclusive,
        "waived": v.waived,
        "baseline_cell": v.baseline_cell,
        "baseline_status": v.baseline_status,
        "newly_failing_tests": list(getattr(v, "newly_failing_tests", []) or []),
        **explained,
        "requested_core": r.core.requested if r else None,
        "resolved_core": r.core.resolved if r else None,
        "connector_commit": r.connector.commit if r else None,
        "connector_digest": r.connector.digest if r else None,
        "connector_version": r.connector.version if r else None,
        "duration_s": c.duration_s,
        "attempts": [
            {
                "number": a.number,
                "status": a.status,
                "reason": a.reason,
                "duration_s": a.duration_s,
                "log": a.log.path or None,
            }
            for a in c.attempts
        ],
        "failing_kind": c.failing_kind,
        "failing_lines": [{"line": fl.number, "text": fl.text} for fl in c.failing_lines],
        "nox": c.nox,
        "page": c.page,
        "history": {
            "verdicts": [{"run_id": p.run_id, "verdict": p.verdict, "flaked": p.flaked} for p in c.history.points],
            "flake_rate": round(c.history.flake_rate, 4),
        },
    }


def to_dict(report: Report) -> dict:
    s = report.summary
    exposure = None
    if report.exposure:
        exposure = {
            k: {"findings": e.findings, "by_rule": e.by_rule, "by_symbol": e.by_symbol}
            for k, e in report.exposure.connectors.items()
        }
    return {
        "schema": REPORT_SCHEMA,
        "run_id": report.record.run_id,
        "generated_at": report.generated_at,
        "state": report.record.state,
        "matrix_file": report.record.matrix_file,
        "core_name": report.core_name,
        "baseline": report.baseline,
        "candidates": report.candidates,
        "decision": s.decision,
        "exit_code": s.exit_code,
        "promotable": s.promotable,
        "partial": s.partial,
        "reasons": s.reasons,
        "warnings": s.warnings,
        "headline": report.headline,
        "counts": dict(sorted(report.counts.items())),
        "columns": report.columns,
        "cells": [_cell(c, report) for c in report.cells],
        "groups": [g.to_dict() for g in report.explanation.groups] if report.explanation else [],
        "step_changes": [
            {
                "step": sc.label,
                "file": sc.file,
                "total": sc.total,
                "explaining": [f"{ch.rule} {ch.symbol}" for ch in sc.key],
            }
            for sc in report.step_changes
        ],
        "changes": [
            {
                "rule": ch.rule,
                "severity": ch.severity,
                "symbol": ch.symbol,
                "message": ch.message,
                "renamed_to": ch.renamed_to,
                "exposure": ch.exposure,
            }
            for ch in report.changes
        ],
        "diff_file": report.diff.file if report.diff else None,
        "exposure": exposure,
        "badges": [
            {"connector": b.connector, "ref": b.ref, "core": b.core, "status": b.status, "file": f"badges/{b.file}"}
            for b in badges.plan(report)
        ],
        "history_runs": report.history.run_ids,
        "expired_waivers": list(getattr(s, "expired_waivers", []) or []),
        "removable_waivers": list(getattr(s, "removable_waivers", []) or []),
    }


def write(report: Report, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    write_json_atomic(path, redact_data(to_dict(report)), ensure_ascii=False)
    return path
