"""Migrations generated from a compat diff: renames get fixes, removals are lint-only."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from canary.codemods.fix import fix_code
from canary.codemods.engine import compile_migration, scan
from canary.codemods.generate import emit_migration
from canary.codemods.lint import lint_paths
from canary.codemods.migration import load_migration
from canary.cli import main

SCHEMA = Path(__file__).resolve().parent.parent / "codemods" / "schemas" / "migration.schema.json"


def change(**kw):
    base = {
        "rule": "TS018",
        "name": "renamed-with-deprecated-alias",
        "severity": "WARN",
        "language": "ts",
        "kind": "member",
        "message": "renamed",
        "old": None,
        "new": None,
        "renamed_to": None,
    }
    base.update(kw)
    return base


DIFF = {
    "package": "@elizaos/core",
    "old": {"version": "1.6.4"},
    "new": {"version": "1.6.5"},
    "changes": [
        change(symbol="World.serverId", container="World", member="serverId", renamed_to="messageServerId"),
        change(symbol="Room.serverId", container="Room", member="serverId", renamed_to="messageServerId"),
        change(
            rule="TS007",
            name="parameter-property-removed",
            severity="ERR",
            kind="parameter-property",
            symbol="IAgentRuntime.ensureConnection(params).serverId",
            container="IAgentRuntime.ensureConnection",
            member="serverId",
            renamed_to="messageServerId",
        ),
        change(
            rule="TS001",
            name="export-removed",
            severity="ERR",
            kind="function",
            symbol="legacyHelper",
            container=None,
            member="legacyHelper",
        ),
        change(
            rule="TS010",
            name="enum-member-removed",
            severity="ERR",
            kind="enum-member",
            symbol="Role.GUEST",
            container="Role",
            member="GUEST",
            renamed_to="VISITOR",
        ),
        change(
            rule="TS005",
            name="member-type-changed",
            severity="ERR",
            symbol="World.name",
            container="World",
            member="name",
            old="string",
            new="UUID",
        ),
        change(
            rule="PY003",
            name="parameter-removed",
            severity="ERR",
            language="py",
            kind="parameter",
            symbol="agent.runtime.connect(server_id)",
            container="agent.runtime.connect",
            member="server_id",
            renamed_to="message_server_id",
        ),
        change(
            rule="SQL003",
            name="column-renamed",
            severity="ERR",
            language="sql",
            kind="column",
            symbol="rooms.server_id",
            container="rooms",
            member="server_id",
            renamed_to="message_server_id",
        ),
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


# --- a rename that also changes the type -------------------------------------------------

RETYPED_TS = """const id = room.serverId;
room.serverId = guild.id;
await runtime.ensureConnection({ entityId, serverId: guild.id });
await runtime.ensureConnection({ entityId, serverId });
const w = { id, serverId: g.id } as World;
"""


def _retyped_diff(with_types_on_rename: bool) -> dict:
    types = {"old": "string", "new": "UUID"} if with_types_on_rename else {}
    changes = [
        change(symbol="World.serverId", container="World", member="serverId", renamed_to="messageServerId", **types),
        change(
            rule="TS007",
            name="parameter-property-removed",
            severity="ERR",
            kind="parameter-property",
            symbol="IAgentRuntime.ensureConnection(params).serverId",
            container="IAgentRuntime.ensureConnection",
            member="serverId",
            renamed_to="messageServerId",
        ),
    ]
    if not with_types_on_rename:  # the type change reported as its own change on the same symbol
        changes.append(
            change(
                rule="TS005",
                name="member-type-changed",
                severity="ERR",
                symbol="World.serverId",
                container="World",
                member="serverId",
                old="string",
                new="UUID",
            )
        )
    return {"package": "@elizaos/core", "old": {"version": "1.6.4"}, "new": {"version": "1.6.5"}, "changes": changes}


@pytest.mark.parametrize("with_types_on_rename", [True, False])
def test_retyped_rename_writes_need_a_conversion_not_a_plain_rename(tmp_path, with_types_on_rename):
    out = tmp_path / "gen.yaml"
    emit_migration(_retyped_diff(with_types_on_rename), str(out))
    mig = load_migration(str(out))
    by_id = {r.id: r for r in mig.rules}
    writes = [r for r in mig.rules if r.id.endswith(("-key", "-shorthand", "-member-write"))]
    assert writes and all(r.fix is None for r in writes), [(r.id, r.fix) for r in writes]
    assert all("needs a conversion" in r.message and "string to UUID" in r.message for r in writes)
    assert by_id["serverid-member-read"].fix == "$X.messageServerId"  # reads stay renames

    rules = compile_migration(mig)["typescript"]
    fixed, _, left = fix_code(RETYPED_TS, "typescript", rules)
    assert fixed == RETYPED_TS.replace("const id = room.serverId;", "const id = room.messageServerId;")
    assert left == 4  # the assignment, both keys passed to ensureConnection and the World key
    report = lint_paths([str(_write(tmp_path, RETYPED_TS))], str(out))
    flagged = {(f.line, f.fix is None) for f in report.findings}
    assert flagged == {(1, False), (2, True), (3, True), (4, True), (5, True)}


def test_rename_entry_with_a_conversion_fixes_writes(tmp_path):
    mig_file = tmp_path / "m.yaml"
    mig_file.write_text("""id: with-conversion
version: "1"
core: ">=1.6.5"
renames:
  - id: sid
    language: typescript
    kind: member
    old: serverId
    new: messageServerId
    types: [World]
    type_change: {from: string, to: UUID, convert: "stringToUuid($V)",
                  imports: [{name: stringToUuid, from: "@elizaos/core"}]}
""")
    rules = compile_migration(load_migration(str(mig_file)))["typescript"]
    code = "room.serverId = g.id;\nconst w = { serverId: g.id } as World;\nconst r = room.serverId;\n"
    fixed, _, left = fix_code(code, "typescript", rules, "a.ts")
    assert fixed == (
        "import { stringToUuid } from '@elizaos/core';\n"
        "room.messageServerId = stringToUuid(g.id);\n"
        "const w = { messageServerId: stringToUuid(g.id) } as World;\n"
        "const r = room.messageServerId;\n"
    )
    assert left == 0


def _write(tmp_path, text):
    path = tmp_path / "src" / "a.ts"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path
