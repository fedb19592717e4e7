"""The combined search (one ast-grep search per file for all rules) finds exactly what running the
rules one by one finds: same rules, same nodes, same fixes, on generated and hand-written
migrations and on real-ish code, including the hard cases (a node two rules match, constraints that
split one pattern three ways, metavariable names shared by rules and utils, transforms)."""

from __future__ import annotations

from pathlib import Path

import yaml

from canary.codemods.engine import combine, compile_migration, scan
from canary.codemods.languages import EXTENSIONS
from canary.codemods.migration import load_migration, parse_migration

CASES = Path(__file__).resolve().parent.parent / "codemods" / "migrations" / "cases"

# Rules chosen to trip a naive combination: r1/r2/r9 match the same nodes; r3/r4 are one pattern
# split by constraints whose util binds $A (a name r2 binds too); r8 needs its two $A equal; r10's
# util shares $F with the rule body; r7 has a transform (so it runs on its own).
HARD = """id: hard
version: "1.0.0"
core: ">=2"
rules:
  - id: r1-read
    language: typescript
    message: read
    rule: {pattern: $X.serverId, not: {matches: in-test}}
    utils: &u
      in-test: {inside: {kind: call_expression, has: {field: function, regex: ^test$}, stopBy: end}}
      uuidish: {any: [{pattern: $A.id}, {pattern: uuid($$$)}, {kind: string}]}
    fix: $X.messageServerId
  - id: r2-read-identifier
    language: typescript
    message: read of a plain name
    rule: {pattern: $A.serverId}
    constraints: {A: {kind: identifier}}
    fix: $A.messageServerId
  - id: r3-write-uuid
    language: typescript
    message: write uuid
    rule: {pattern: $X.serverId = $V}
    constraints: {V: {matches: uuidish}}
    utils: *u
    fix: $X.messageServerId = $V
  - id: r4-write-other
    language: typescript
    message: write other
    rule: {pattern: $X.serverId = $V}
    constraints: {V: {not: {matches: uuidish}}}
    utils: *u
    fix: $X.messageServerId = uuid($V)
  - id: r5-call
    language: typescript
    message: call
    rule: {pattern: "connect($$$ARGS)"}
    fix: attach($$$ARGS)
  - id: r6-shorthand
    language: typescript
    message: shorthand
    rule: {kind: shorthand_property_identifier, regex: ^serverId$, inside: {kind: object, stopBy: end}}
  - id: r7-transform
    language: typescript
    message: transform
    rule: {pattern: $F.serverId}
    transform: {G: {substring: {source: $F, startChar: 1}}}
    fix: $G.messageServerId
  - id: r8-same
    language: typescript
    message: same operands
    rule: {pattern: $A === $A}
  - id: r9-member
    language: typescript
    message: any member
    rule: {kind: member_expression, has: {field: property, regex: ^serverId$}}
  - id: r10-recursive
    language: typescript
    message: recursive function
    rule:
      kind: function_declaration
      has: {field: name, pattern: $F}
      matches: calls-itself
    utils:
      calls-itself: {has: {pattern: $F($$$), stopBy: end}}
  - id: py-attr
    language: python
    message: python attribute
    rule: {pattern: $X.server_id}
    fix: $X.message_server_id
  - id: py-kw
    language: python
    message: python keyword
    rule: {kind: keyword_argument, has: {field: name, regex: ^server_id$}}
"""

CODE_TS = """import { uuid } from './ids';
export function f(room: any, world: any, a: any) {
  const x = room.serverId;
  const y = a.b.serverId;
  const z = room.serverId.serverId;
  room.serverId = world.id;
  room.serverId = 'abc';
  a.b.serverId = uuid(room.serverId);
  world.serverId = x === x ? x : y;
  connect(room, { serverId, other: 1 }, ...rest);
  connect();
  test(() => room.serverId);
  if (a.serverId === a.serverId) { return x; }
  return { serverId, data: { serverId: room.serverId } };
}
function walk(n: number): number { return n ? walk(n - 1) : 0; }
function flat(n: number): number { return n; }
"""
CODE_PY = """def f(room, world):
    x = room.server_id
    connect(server_id=room.server_id, other=world.server_id.server_id)
    return x.server_id
"""


def _found(text: str, language: str, rules, combined: bool) -> list[tuple]:
    return [
        (m.rule.id, m.start, m.end, m.line, m.column, m.text, m.replacement)
        for m in scan(text, language, rules, combined=combined)
    ]


def _same(migration, texts: list[tuple[str, str]]) -> int:
    """Assert combined == one by one for every text in every language of its family; returns findings."""
    compiled = compile_migration(migration)
    total = 0
    for text, language in texts:
        rules = compiled.get(language, [])
        one_by_one = _found(text, language, rules, combined=False)
        assert _found(text, language, rules, combined=True) == one_by_one, (language, text[:200])
        total += len(one_by_one)
    return total


def _family(text: str) -> list[tuple[str, str]]:
    return [(text, lang) for lang in ("typescript", "tsx", "javascript")]


def test_hard_rules_are_combined_and_find_what_they_find_one_by_one():
    mig = parse_migration(HARD, "hard.yaml")
    rules = compile_migration(mig)["typescript"]
    together, alone = combine(rules)
    assert together is not None and [r.rule.id for r in alone] == ["r7-transform"]
    found = _found(CODE_TS, "typescript", rules, combined=True)
    assert found == _found(CODE_TS, "typescript", rules, combined=False)
    ids = {f[0] for f in found}
    assert ids == {
        "r1-read",
        "r2-read-identifier",
        "r3-write-uuid",
        "r4-write-other",
        "r5-call",
        "r6-shorthand",
        "r7-transform",
        "r8-same",
        "r9-member",
        "r10-recursive",
    }
    # one node, several rules: `room.serverId` is r1, r2, r7 and r9 at once
    at = {}
    for f in found:
        at.setdefault((f[1], f[2]), set()).add(f[0])
    assert any({"r1-read", "r2-read-identifier", "r7-transform", "r9-member"} <= s for s in at.values())
    # the constraint split: each write is exactly one of r3/r4
    writes = [s & {"r3-write-uuid", "r4-write-other"} for s in at.values() if s & {"r3-write-uuid", "r4-write-other"}]
    assert len(writes) == 4 and all(len(w) == 1 for w in writes)
    assert _same(mig, _family(CODE_TS) + [(CODE_PY, "python")]) > len(found)


def test_a_generated_many_rule_migration_combined_equals_one_by_one():
    doc = {
        "id": "many",
        "version": "1.0.0",
        "core": ">=2",
        "renames": [
            {
                "id": f"m{i}",
                "language": "typescript",
                "kind": "member",
                "old": f"field{i}",
                "new": f"renamed{i}",
                **({"types": ["World", "Room"]} if i % 3 == 0 else {}),
            }
            for i in range(40)
        ]
        + [
            {
                "id": f"k{i}",
                "language": "typescript",
                "kind": "key",
                "old": f"field{i}",
                "new": f"key{i}",
                "callees": ["ensureConnection"],
            }
            for i in range(0, 40, 5)
        ],
    }
    mig = parse_migration(yaml.safe_dump(doc, sort_keys=False), "many.yaml")
    lines = ["import type { World, Room } from '@x/core';", "export function f(w: World, r: any) {"]
    for i in range(0, 44, 3):
        lines += [
            f"  const a{i} = w.field{i} ?? r?.field{i + 1};",
            f"  r.field{i} = w.field1{i % 10};",
            f"  runtime.ensureConnection({{ field{i}: 1, field{i + 5}: w.field{i} }});",
            f"  const o{i} = {{ field{i}: 2 }} as World;",
        ]
    text = "\n".join(lines + ["}"]) + "\n"
    assert _same(mig, _family(text)) > 40


def _case_codes() -> list[str]:
    codes = []
    for path in sorted(CASES.glob("*.cases.yaml")):
        for spec in (yaml.safe_load(path.read_text())["rules"] or {}).values():
            codes += [c["code"] if isinstance(c, dict) else c for c in spec.get("match") or []]
            codes += [c["code"] if isinstance(c, dict) else c for c in spec.get("no_match") or []]
    return codes


def test_shipped_migration_on_every_case_and_a_real_ish_tree(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    try:
        from bench_lint import generate  # the bench's generated connector tree
    finally:
        sys.path.pop(0)
    generate(tmp_path, 40, mixed=True)
    texts = [(p.read_text(), EXTENSIONS[p.suffix]) for p in sorted(tmp_path.rglob("*.ts"))]
    codes = _case_codes()
    assert len(codes) > 50
    mig = load_migration("elizaos-server-id")
    n = _same(mig, [t for code in codes for t in _family(code)] + texts)
    assert n > 100


def test_lint_findings_are_the_same_with_the_combined_search(tmp_path, monkeypatch):
    """Whole `lint_paths` reports, combined vs one by one (through scan's `combined` switch)."""
    from canary.codemods import engine, lint

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.ts").write_text(CODE_TS)
    (src / "b.tsx").write_text(CODE_TS.replace("any", "unknown"))
    (src / "c.js").write_text("room.serverId = 'x';\nconst v = room.serverId;\n")
    mig = parse_migration(HARD, "hard.yaml")
    combined = lint.lint_paths([str(src)], mig).to_dict()
    monkeypatch.setattr(lint, "scan", lambda text, language, rules: engine.scan(text, language, rules, combined=False))
    one_by_one = lint.lint_paths([str(src)], mig).to_dict()
    assert combined == one_by_one and len(combined["findings"]) > 20


def test_a_finding_as_json_has_every_field(tmp_path):
    from dataclasses import asdict

    from canary.codemods.lint import lint_paths

    (tmp_path / "a.ts").write_text(CODE_TS)
    findings = lint_paths([str(tmp_path)], parse_migration(HARD, "hard.yaml")).findings
    assert any(f.fix is None for f in findings) and any(f.fix and f.fix.imports == [] for f in findings)
    assert [f.to_dict() for f in findings] == [asdict(f) for f in findings]


def test_rules_that_differ_only_in_constraints_share_one_search_branch():
    """The shipped migration splits `$X.serverId = $V` and the object keys three ways by their value:
    each such trio is one branch of the combined search (one marker), its three constraint checks and
    fixes kept apart; before, every rule was a branch of its own (13 instead of 7)."""
    rules = compile_migration(load_migration("elizaos-server-id"))["typescript"]
    together, alone = combine(rules)
    assert together is not None and not alone
    searches = {r.body_key() for r in rules}
    branch_utils = [name for name in together.config["utils"] if name.startswith("canary-rule-")]
    assert len(branch_utils) == len(searches) < len(rules)
    assert len({b.marker for _, b in together.branches}) == len(searches)
    assert [c.rule.id for c, _ in together.branches] == [r.rule.id for r in rules]


def test_constraints_are_split_into_shared_leaves_when_exact():
    """The shipped migration's three constraints on one value (`not any[uuid, maybe-undefined]`,
    `maybe-undefined and not uuid`, `uuid`) search for two leaves, the uuid util once instead of a
    renamed copy per constraint; before, each constraint was searched whole."""
    rules = compile_migration(load_migration("elizaos-server-id"))["typescript"]
    together, _ = combine(rules)
    assert together is not None
    checks = {id(c): c for per_rule in together.checks for _, c in per_rule}.values()
    leaves = {leaf.marker: leaf.rule for c in checks for leaf in c.leaves}
    assert len(checks) == 3 and len(leaves) == 2
    assert sorted(str(r) for r in leaves.values())[0].startswith("{'matches': 'maybe-undefined")


SHARED = """id: shared
version: "1.0.0"
core: ">=2"
rules:
  - id: same-object
    language: typescript
    message: a value read from the object it is written to
    rule: {pattern: $X.serverId = $V}
    constraints: {V: {all: [{pattern: $A.id}, {not: {has: {pattern: $A, stopBy: end}}}]}}
    fix: $X.messageServerId = $V
  - id: any-member
    language: typescript
    message: a member value
    rule: {pattern: $X.serverId = $V}
    constraints: {V: {kind: member_expression, not: {regex: ^room}}}
    fix: $X.messageServerId = String($V)
"""


def test_constraint_leaves_that_share_a_metavariable_are_not_split():
    # `$A` ties the two leaves of same-object's constraint together: split, `a.id` with a `has $A`
    # that binds anything would never pass; kept whole it is what ast-grep checks.
    mig = parse_migration(SHARED, "shared.yaml")
    rules = compile_migration(mig)["typescript"]
    together, _ = combine(rules)
    assert together is not None
    whole = [c for per_rule in together.checks for _, c in per_rule if len(c.leaves) == 1]
    assert whole and "all" in whole[0].leaves[0].rule
    code = "room.serverId = room.id;\nroom.serverId = other.id;\nw.serverId = x.y.id;\nw.serverId = room.name;\n"
    assert _same(mig, _family(code)) >= 4
