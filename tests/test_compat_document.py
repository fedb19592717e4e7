"""The compat diff document has one owner (issue 14 item 3): `canary.compat.document.CompatDiff`.

A real diff of a small TypeScript core written here (a removed member, a renamed one with an accepted
break and an expired baseline entry) validates against compat/schemas/diff.schema.json, reads back
dict -> object -> dict equal, and is byte for byte what the dict-building writer before the class
wrote (that writer is kept below, frozen, as the reference). A file written by a real
`canary diff --format json` run reads back to the same bytes."""

from __future__ import annotations

import json

import jsonschema
import pytest

from canary import compat
from canary.compat.baseline import apply_baseline, load_baseline
from canary.compat.config import Config
from canary.compat.diff import diff_contracts
from canary.compat.document import CompatDiff, load_diff
from canary.compat.render import json_doc
from canary.compat.report import build, extract
from canary.compat.rules import RULES, SEVERITIES
from canary.compat.semver import verdict
from canary.compat.sources import resolve_sides
from canary.kernel.errors import UserError
from tests.conftest import canary

OLD = {
    "package.json": json.dumps({"name": "@demo/core", "version": "2.3.0", "types": "index.d.ts"}),
    "index.d.ts": (
        "export interface Agent {\n  id: string;\n  roomId: string;\n  legacy?: number;\n}\n"
        "export declare function connect(agent: Agent, serverId: string): void;\n"
        "export declare const VERSION: string;\n"
    ),
}
NEW = {
    "package.json": json.dumps({"name": "@demo/core", "version": "2.4.0", "types": "index.d.ts"}),
    "index.d.ts": (
        "export interface Agent {\n  id: string;\n  channelId: string;\n}\n"
        "export declare function connect(agent: Agent, messageServerId: string, retries: number): void;\n"
    ),
}
BASELINE = (
    "accepted:\n"
    "  - rule: TS001\n    symbol: VERSION\n    reason: nobody reads it\n"
    "  - rule: TS002\n    symbol: Gone.x\n    reason: long gone\n    expires: 2020-01-01\n"
)


def _write(root, files):
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _old_writer(old_side, new_side, language, config, baseline) -> dict:
    """compat.report.build as it was before CompatDiff (the dict it returned), kept as the reference
    for the format: the output files must not change."""
    old_c = extract(old_side.path, language, config)
    new_c = extract(new_side.path, language, config)
    changes = diff_contracts(old_c, new_c, config)
    notes = apply_baseline(changes, baseline or [])
    dicts = [c.to_dict() for c in changes]
    summary = {s: sum(1 for c in dicts if c["severity"] == s and not c["accepted"]) for s in SEVERITIES}
    summary["accepted"] = sum(1 for c in dicts if c["accepted"])
    summary["total"] = len(dicts)
    rule_semver = {r.id: r.semver for r in RULES.values()}
    side = lambda s: {  # noqa: E731
        "spec": s.spec,
        "kind": s.kind,
        "name": s.name,
        "version": s.version,
        "commit": s.commit,
        "path": str(s.path),
    }
    return {
        "schema": "canary/compat-diff/v1",
        "language": language,
        "old": side(old_side),
        "new": side(new_side),
        "changes": dicts,
        "summary": summary,
        "semver": verdict(old_side.version, new_side.version, dicts, rule_semver),
        "baseline_notes": notes,
        "counts": {"old_declarations": len(old_c.decls), "new_declarations": len(new_c.decls)},
    }


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    base = tmp_path_factory.mktemp("doc")
    old, new = _write(base / "old", OLD), _write(base / "new", NEW)
    (base / "baseline.yaml").write_text(BASELINE)
    return old, new, base / "baseline.yaml"


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))


def test_a_real_diff_validates_reads_back_and_is_what_the_old_writer_wrote(sides):
    old, new, baseline_file = sides
    old_side, new_side, language = resolve_sides(str(old), str(new), None)
    diff = build(old_side, new_side, language, Config(), load_baseline(str(baseline_file)))
    doc = diff.to_dict()
    # the fixture exercises what the document carries: breaks, an accepted one, a baseline note
    assert {c["severity"] for c in doc["changes"]} >= {"ERR"}
    assert any(c["accepted"] for c in doc["changes"]) and doc["baseline_notes"]
    assert doc["semver"]["old"] == "2.3.0" and doc["semver"]["sufficient"] is False
    jsonschema.validate(doc, json.loads(compat.SCHEMA_FILE.read_text()))
    # the format is an interface: the same bytes as the writer before the class
    reference = _old_writer(old_side, new_side, language, Config(), load_baseline(str(baseline_file)))
    assert json_doc(doc) == json_doc(reference)
    # dict -> object -> dict, and object -> dict -> object
    again = CompatDiff.from_dict(json.loads(json_doc(doc)))
    assert again.to_dict() == doc
    assert again == diff
    assert (again.old_label, again.new_label) == ("2.3.0", "2.4.0")
    assert [c.symbol for c in again.blocking("ERR")] == [
        c.symbol for c in diff.changes if c.severity == "ERR" and not c.accepted
    ]


def test_a_file_written_by_canary_diff_reads_back_byte_for_byte(sides, tmp_path):
    old, new, baseline_file = sides
    out = tmp_path / "compat-diff.json"
    proc = canary(
        "diff", str(old), str(new), "--format", "json", "--baseline", str(baseline_file), "--output", str(out)
    )
    assert proc.returncode == 1, proc.stderr  # breaking changes found
    text = out.read_text()
    diff = load_diff(out)
    assert diff.file == str(out) and diff.changes
    assert json_doc(diff.to_dict()) == text


def test_a_hand_written_diff_reads_with_labels_and_a_bad_one_names_the_key(tmp_path):
    # what `canary report --diff FILE` accepts: sides as labels, changes with only rule and symbol
    path = tmp_path / "given.json"
    path.write_text(
        json.dumps({"old": "1.6.4", "new": "1.7.2", "changes": [{"rule": "R1", "symbol": "Room.serverId"}]})
    )
    diff = load_diff(path)
    assert (diff.old_label, diff.new_label) == ("1.6.4", "1.7.2")
    assert (diff.changes[0].severity, diff.changes[0].message) == ("unknown", "")
    # fields of the wrong shape are left at their defaults, never a traceback
    path.write_text(json.dumps({"changes": [{"rule": "R1", "symbol": "S", "location": "x", "accepted": "yes"}]}))
    change = load_diff(path).changes[0]
    assert (change.location, change.accepted, change.affects) == ({}, None, [])
    path.write_text(json.dumps({"schema": "canary/compat-diff/v1", "changes": [{"rule": "R1", "symbol": ""}]}))
    with pytest.raises(UserError) as err:
        load_diff(path)
    assert err.value.key == "changes[0].symbol" and err.value.file == str(path)


def test_merge_diff_is_checked_through_the_class_and_kept_as_given(tmp_path, capsys):
    """`canary merge --diff FILE`: a malformed diff is one line naming the file and the key (exit 2;
    it used to be copied into the merged run unread); a good one is kept as given."""
    from canary.cli import main
    from tests.test_fanout import SPECS, jobs, write_plan

    plan = write_plan(tmp_path / "plan.json")
    root = jobs(tmp_path, [SPECS])
    bad = tmp_path / "bad-diff.json"
    bad.write_text(json.dumps({"schema": "canary/compat-diff/v1", "changes": [{"rule": "TS001"}]}))
    assert main(["merge", str(root), "--plan", str(plan), "--out", str(tmp_path / "m1"), "--diff", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad-diff.json" in err and "changes[0].symbol" in err and "Traceback" not in err
    given = {"old": "1.6.4", "new": "1.7.2", "changes": [{"rule": "R1", "symbol": "Room.serverId"}]}
    good = tmp_path / "diff.json"
    good.write_text(json.dumps(given))
    assert (
        main(["merge", str(root), "--plan", str(plan), "--out", str(tmp_path / "m2"), "--diff", str(good)]) == 1
    )  # the regression
    assert json.loads((tmp_path / "m2" / "compat-diff.json").read_text()) == given
