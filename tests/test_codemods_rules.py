"""Every shipped rule: cases that must match, cases that must not, the fixed-output snapshot,
and the two-pass idempotency check, in every grammar of the rule's language family."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from canary.codemods.engine import compile_migration, parse_errors, scan
from canary.codemods.fix import fix_code
from canary.codemods.languages import family
from canary.codemods.migration import shipped

CASES_DIR = Path(__file__).resolve().parent.parent / "codemods" / "migrations" / "cases"


def _load_cases():
    out = {}
    for path in sorted(CASES_DIR.glob("*.cases.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        out[doc["migration"]] = doc["rules"]
    return out


CASES = _load_cases()
MIGRATIONS = {m.id: m for m in shipped()}


def _params(kind):
    for mid, rules in CASES.items():
        mig = MIGRATIONS[mid]
        by_id = {r.id: r for r in mig.rules}
        for rid, spec in rules.items():
            rule = by_id[rid]
            default_langs = spec.get("languages") or list(family(rule.language))
            for n, case in enumerate(spec.get(kind) or []):
                case = case if isinstance(case, dict) else {"code": case}
                for lang in case.get("languages") or default_langs:
                    yield pytest.param(mid, rid, lang, case, id=f"{rid}-{kind}{n}-{lang}")


@pytest.fixture(scope="module")
def compiled():
    return {mid: compile_migration(m) for mid, m in MIGRATIONS.items()}


def test_every_shipped_rule_has_cases():
    for mid, mig in MIGRATIONS.items():
        assert mid in CASES, f"no cases file for shipped migration {mid}"
        for rule in mig.rules:
            spec = CASES[mid].get(rule.id)
            assert spec, f"{mid}: rule {rule.id} has no cases"
            assert spec.get("match"), f"{rule.id}: no must-match case"
            assert spec.get("no_match"), f"{rule.id}: no must-not-match case"
            if rule.fix is not None:
                assert all("fixed" in c for c in spec["match"]), f"{rule.id}: a match case has no fixed snapshot"


@pytest.mark.parametrize("mid,rid,lang,case", list(_params("match")))
def test_rule_matches_and_fix_snapshot(compiled, mid, rid, lang, case):
    rules = compiled[mid][lang]
    code = case["code"]
    assert parse_errors(code, lang) == 0, "the case itself must be valid code"
    hits = [m for m in scan(code, lang, rules) if m.rule.id == rid]
    assert hits, f"{rid} did not match in {lang}"
    fixed, edits, _left = fix_code(code, lang, rules)
    assert fixed == case["fixed"]
    assert parse_errors(fixed, lang) == 0
    # Two-pass idempotency: fixing the fixed output changes nothing and nothing is reported.
    again, edits2, _ = fix_code(fixed, lang, rules)
    assert again == fixed and edits2 == 0
    assert [m for m in scan(fixed, lang, rules) if m.rule.id == rid] == []


@pytest.mark.parametrize("mid,rid,lang,case", list(_params("no_match")))
def test_rule_does_not_match(compiled, mid, rid, lang, case):
    code = case["code"]
    assert parse_errors(code, lang) == 0, "the case itself must be valid code (else give it `languages:`)"
    hits = [m for m in scan(code, lang, compiled[mid].get(lang, [])) if m.rule.id == rid]
    assert hits == []


def test_typed_rules_are_pruned_for_javascript_but_reads_are_not(compiled):
    js = {c.rule.id for c in compiled["elizaos-server-id"]["javascript"]}
    tsx = {c.rule.id for c in compiled["elizaos-server-id"]["tsx"]}
    assert "elizaos-serverid-member-read" in js and "elizaos-serverid-call-shorthand" in js
    assert "elizaos-serverid-typed-key" not in js  # `as World` cannot occur in JavaScript
    assert "elizaos-serverid-typed-key" in tsx  # but `as World` can in TSX: only <World>x was pruned
