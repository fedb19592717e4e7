"""Migrations generated from a compat diff: renames get fixes, removals are lint-only."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from codemods.fix import fix_code
from codemods.engine import compile_migration, scan
from codemods.generate import emit_migration
from codemods.lint import lint_paths
from codemods.migration import load_migration
from matrix.cli import main

SCHEMA = Path(__file__).resolve().parent.parent / "codemods" / "schemas" / "migration.schema.json"


def change(**kw):
    base = {"rule": "TS018", "name": "renamed-with-deprecated-alias", "severity": "WARN", "language": "ts",
            "kind": "member", "message": "renamed", "old": None, "new": None, "renamed_to": None}
    base.update(kw)
    return base


DIFF = {
    "package": "@elizaos/core",
    "old": {"version": "1.6.4"},
    "new": {"version": "1.6.5"},
    "changes": [
        change(symbol="World.serverId", container="World", member="serverId", renamed_to="messageServerId"),
        change(symbol="Room.serverId", container="Room", member="serverId", renamed_to="messageServerId"),
        change(rule="TS007", name="parameter-property-removed", severity="ERR", kind="parameter-property",
               symbol="IAgentRuntime.ensureConnection(params).serverId", container="IAgentRuntime.ensureConnection",
               member="serverId", renamed_to="messageServerId"),
        change(rule="TS001", name="export-removed", severity="ERR", kind="function", symbol="legacyHelper",
               container=None, member="legacyHelper"),
        change(rule="TS010", name="enum-member-removed", severity="ERR", kind="enum-member", symbol="Role.GUEST",
               container="Role", member="GUEST", renamed_to="VISITOR"),
        change(rule="TS005", name="member-type-changed", severity="ERR", symbol="World.name", container="World",
               member="name", old="string", new="UUID"),
        change(rule="PY003", name="parameter-removed", severity="ERR", language="py", kind="parameter",
               symbol="agent.runtime.connect(server_id)", container="agent.runtime.connect", member="server_id",
               renamed_to="message_server_id"),
        change(rule="SQL003", name="column-renamed", severity="ERR", language="sql", kind="column",
               symbol="rooms.server_id", container="rooms", member="server_id", renamed_to="message_server_id"),
    ],
}

TS = """import { legacyHelper, Role } from '@elizaos/core';
const id = room.serverId ?? world?.serverId;
await runtime.ensureConnection({ entityId, serverId });
const w = { id, serverId: g.id } as World;
const payload = { serverId: 1 };
const r = Role.GUEST;
legacyHelper();
"""
TS_FIXED = """import { legacyHelper, Role } from '@elizaos/core';
const id = room.messageServerId ?? world?.messageServerId;
await runtime.ensureConnection({ entityId, messageServerId: serverId });
const w = { id, messageServerId: g.id } as World;
const payload = { serverId: 1 };
const r = Role.VISITOR;
legacyHelper();
"""


def test_emit_migration_writes_a_valid_file_with_fixes_and_lint_only_rules(tmp_path):
    out = tmp_path / "mig.yaml"
    emit_migration(DIFF, str(out))
    doc = yaml.safe_load(out.read_text())
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["id"] == "elizaos-core-1-6-4-to-1-6-5" and doc["core"] == ">=1.6.5"
    by_id = {r["id"]: r for r in doc["rules"]}
    assert by_id["legacyhelper-import"].get("fix") is None  # removal: lint only
    assert by_id["serverid-member-read"]["fix"] == "$X.messageServerId"
    assert by_id["serverid-member-read"]["severity"] == "warning"
    assert by_id["serverid-call-ensureconnection-key"]["severity"] == "error"
    skipped = {s["symbol"]: s["reason"] for s in doc["generated_from"]["skipped"]}
    assert set(skipped) == {"rooms.server_id"}  # the type change is not a rename/removal: not a rule either
    assert not any("World.name" in json.dumps(r) for r in doc["rules"])

    mig = load_migration(str(out))
    rules = compile_migration(mig)["typescript"]
    fixed, _, left = fix_code(TS, "typescript", rules)
    assert fixed == TS_FIXED
    assert left == 1  # the removed legacyHelper import stays reported
    assert [m.rule.id for m in scan(fixed, "typescript", rules)] == ["legacyhelper-import"]
    py = "runtime.connect(room, server_id=1)\nconnect(server_id=2)\nother(server_id=3)\n"
    pyfixed, _, _ = fix_code(py, "python", compile_migration(mig)["python"])
    assert pyfixed == "runtime.connect(room, message_server_id=1)\nconnect(message_server_id=2)\nother(server_id=3)\n"


def test_from_diff_cli_then_lint(tmp_path, capsys):
    diff = tmp_path / "diff.json"
    diff.write_text(json.dumps(DIFF))
    out = tmp_path / "generated.yaml"
    assert main(["migration", "from-diff", str(diff), "-o", str(out), "--id", "my-migration"]) == 0
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.ts").write_text(TS)
    report = lint_paths([str(tmp_path / "src")], str(out))
    assert report.migration["id"] == "my-migration"
    assert len(report.findings) == 6


def test_from_diff_rejects_a_non_diff(tmp_path, capsys):
    bad = tmp_path / "diff.json"
    bad.write_text('{"changes": 3}')
    assert main(["migration", "from-diff", str(bad), "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "not a compat diff" in err
    bad.write_text('{"changes": [')
    assert main(["migration", "from-diff", str(bad), "-o", str(tmp_path / "x.yaml")]) == 2
    assert f"{bad}:1:" in capsys.readouterr().err
