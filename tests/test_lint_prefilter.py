"""The literal prefilter (canary.codemods.prefilter) skips a rule for a file only when the rule cannot
match there: lint finds the same with and without it on real trees (the bench's connector tree, the
shipped migration's cases, a generated many-rule migration, the hard hand-written rules), and a
clause is derived only from syntax Python and ast-grep's Rust regex read alike."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest
import yaml

from canary.codemods import engine
from canary.codemods.engine import compile_migration
from canary.codemods.languages import EXTENSIONS, family
from canary.codemods.migration import load_migration, parse_migration
from canary.codemods.prefilter import regex_clauses, required_clauses

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "codemods" / "migrations" / "cases"
ENSURE = r"(^|[.?\s])(ensureConnection|ensureConnections|ensureWorldExists|ensureRoomExists|createRoom)$"


def _generate(root: Path, files: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_lint import generate  # the bench's generated connector tree
    finally:
        sys.path.pop(0)
    generate(root, files, mixed=True)


def _findings(texts: list[tuple[str, str]], compiled: dict, prefilter: bool) -> list[tuple]:
    out = []
    for i, (text, language) in enumerate(texts):
        for m in engine.scan(text, language, compiled.get(language, []), prefilter=prefilter):
            out.append((i, m.start, m.end, m.rule.id, m.replacement))
    return out


def _skipped(texts: list[tuple[str, str]], compiled: dict) -> int:
    """How many (file, rule) pairs the prefilter skips: the comparison means something only if > 0."""
    from canary.codemods.prefilter import satisfied

    return sum(1 for text, language in texts for r in compiled.get(language, []) if not satisfied(r.words, text, {}))


def _case_texts() -> list[tuple[str, str]]:
    texts = []
    for path in sorted(CASES.glob("*.cases.yaml")):
        for spec in (yaml.safe_load(path.read_text())["rules"] or {}).values():
            for key in ("match", "no_match"):
                for case in spec.get(key) or []:
                    code = case["code"] if isinstance(case, dict) else case
                    texts += [(code, lang) for lang in ("typescript", "tsx", "javascript")]
    return texts


def _many_rules():
    doc = {
        "id": "many",
        "version": "1.0.0",
        "core": ">=2",
        "renames": [
            {"id": f"m{i}", "language": "typescript", "kind": "member", "old": f"field{i}", "new": f"renamed{i}"}
            for i in range(60)
        ]
        + [
            {
                "id": f"k{i}",
                "language": "typescript",
                "kind": "key",
                "old": f"field{i}",
                "new": f"key{i}",
                "callees": ["ensureConnection", "createRoom"],
            }
            for i in range(0, 60, 4)
        ],
    }
    return parse_migration(yaml.safe_dump(doc, sort_keys=False), "many.yaml")


def _many_rule_texts() -> list[tuple[str, str]]:
    texts = []
    for n in range(12):
        lines = ["export function f(w: any, r: any) {"]
        for i in range(n, 60, 7):
            lines += [
                f"  const a{i} = w.field{i} ?? r?.field{i + 1};",
                f"  runtime.{'ensureConnection' if i % 2 else 'createRoom'}({{ field{i}: 1, other: w.field{i} }});",
                f"  log({{ field{i}: 2 }});",
            ]
        texts.append(("\n".join(lines + ["}"]) + "\n", "typescript"))
    return texts


def _tree_texts(tmp_path: Path) -> list[tuple[str, str]]:
    _generate(tmp_path, 60)
    return [(p.read_text(), EXTENSIONS[p.suffix]) for p in sorted(tmp_path.rglob("*.ts"))]


@pytest.mark.parametrize("which", ["shipped on the bench tree", "shipped on its cases", "generated 75 rules"])
def test_lint_finds_the_same_with_and_without_the_prefilter(tmp_path, which):
    if which == "generated 75 rules":
        compiled, texts = compile_migration(_many_rules()), _many_rule_texts()
    else:
        compiled = compile_migration(load_migration("elizaos-server-id"))
        texts = _tree_texts(tmp_path) if which == "shipped on the bench tree" else _case_texts()
    with_prefilter = _findings(texts, compiled, prefilter=True)
    assert with_prefilter == _findings(texts, compiled, prefilter=False)
    assert len(with_prefilter) > 30 and _skipped(texts, compiled) > 30


def test_the_comparison_fails_when_a_clause_drops_a_finding(tmp_path):
    """The comparison above has teeth: one wrong clause (a word the files lack) loses findings."""
    compiled = compile_migration(load_migration("elizaos-server-id"))
    texts = _tree_texts(tmp_path)
    reference = _findings(texts, compiled, prefilter=False)
    rule = compiled["typescript"][0]
    rule.words = (*rule.words, frozenset({"noSuchWordAnywhere"}))
    assert _findings(texts, compiled, prefilter=True) != reference


def test_clauses_of_rules():
    assert required_clauses({"pattern": "$X.serverId"}, {}) == (frozenset({"serverId"}),)
    assert required_clauses({"kind": "property_identifier", "regex": "^(World|Room)$"}, {}) == (
        frozenset({"World", "Room"}),
    )
    # A branch without a literal word means any file may match; `not` and `kind` require nothing.
    assert required_clauses({"any": [{"pattern": "$X.serverId"}, {"kind": "identifier"}]}, {}) == ()
    assert required_clauses({"not": {"pattern": "$X.serverId"}}, {}) == ()
    # A pattern object: only its selected part has to match, so its context's words are not required.
    assert required_clauses({"pattern": {"context": "({serverId: $V})", "selector": "pair"}}, {}) == ()
    # all / relations / utils: every constrained part is required (a conjunction of clauses).
    assert required_clauses(
        {"pattern": "$X.serverId", "inside": {"matches": "u", "stopBy": {"pattern": "stopHere"}}},
        {"u": {"kind": "call_expression", "has": {"regex": ENSURE}}},
    ) == (
        frozenset({"serverId"}),
        frozenset({"ensureConnection", "ensureConnections", "ensureWorldExists", "ensureRoomExists", "createRoom"}),
    )


@pytest.mark.parametrize(
    "regex,clauses",
    [
        ("server.*Id", [{"server"}, {"Id"}]),
        (r"^get(Room|World)s?$", [{"getRoom", "getWorld"}]),
        (r"(a|)b", [{"ab", "b"}]),
        (r"\.serverId\b", [{".serverId"}]),
        ("x+y?z", [{"z"}]),
        (r"(?:[.]|::)room", [{".room", "::room"}]),
        # Read differently (or not at all) by one of the two dialects: no clause.
        (r"(?i)serverId", []),
        (r"(?i:server)Id", []),  # any `(?` but `(?:` is refused
        (r"[[:alpha:]]serverId", []),
        (r"[a-z&&[^x]]serverId", []),
        (r"\<serverId", []),
        (r"\b{start}serverId", []),
        (r"serverId{2}", []),
        (r"\x{41}serverId", []),
        (r"[\b]serverId", []),
        (r"(?P<n>server)Id", []),
    ],
)
def test_regex_clauses(regex, clauses):
    assert [set(c) for c in regex_clauses(regex)] == clauses


@pytest.mark.parametrize("regex", [ENSURE, r"^(World|Room)$", "server.*Id", r"(a|)b(c|d)+e", r"^get(Room|World)s?$"])
def test_every_match_of_a_regex_satisfies_its_clauses(regex):
    clauses = regex_clauses(regex)
    assert clauses
    rng = random.Random(regex)
    parts = sorted({w for c in clauses for w in c} | {"a", "b", "c", "d", "e", ".", " ", "\n", "s", "x"})
    matched = 0
    for _ in range(20000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(1, 6)))
        m = re.search(regex, text)
        if m:
            matched += 1
            assert all(any(w in m.group(0) for w in c) for c in clauses), (regex, text)
    assert matched > 50


def test_the_shipped_migration_prefilters_every_typescript_rule():
    compiled = compile_migration(load_migration("elizaos-server-id"))
    assert all(r.words for lang in family("typescript") for r in compiled.get(lang, []))
