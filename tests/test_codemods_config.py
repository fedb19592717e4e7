"""Python rules (attribute and keyword renames scoped to callees) and config-file key renames
(TOML via tomlkit, YAML, JSON) keeping comments, order and formatting."""

from __future__ import annotations

import json

import pytest

from canary.codemods.config_files import path_matches
from canary.codemods.fix import plan_fixes, write_fixes
from canary.codemods.lint import lint_paths
from canary.cli import main

MIGRATION = """\
id: py-and-config
version: "1.0.0"
core: ">=2.0"
rules:
  - id: py-attribute
    language: python
    severity: warning
    message: server_id is now message_server_id
    rule: {pattern: $X.server_id}
    fix: $X.message_server_id
  - id: py-keyword
    language: python
    severity: warning
    message: pass message_server_id
    rule:
      kind: identifier
      regex: ^server_id$
      inside:
        kind: keyword_argument
        field: name
        inside:
          kind: argument_list
          inside:
            kind: call
            has: {field: function, regex: '(^|\\.)(ensure_connection|create_room)$'}
    fix: message_server_id
config:
  - id: toml-server-id
    files: ["*.toml"]
    key: tool.agent.serverId
    rename_to: messageServerId
    message: rename tool.agent.serverId
  - id: yaml-server-id
    files: ["*.yaml", "*.yml"]
    key: "**.serverId"
    rename_to: messageServerId
  - id: json-server-id
    files: ["character.json"]
    key: settings.*.serverId
    rename_to: messageServerId
"""

PY = """\
from agent import runtime


def connect(room, server_id):
    server_id = room.server_id  # a local called server_id stays
    runtime.ensure_connection(room_id=room.id, server_id=server_id)
    runtime.create_room(server_id=server_id)
    other_call(server_id=server_id)
    return dict(server_id=server_id)
"""
PY_FIXED = """\
from agent import runtime


def connect(room, server_id):
    server_id = room.message_server_id  # a local called server_id stays
    runtime.ensure_connection(room_id=room.id, message_server_id=server_id)
    runtime.create_room(message_server_id=server_id)
    other_call(server_id=server_id)
    return dict(server_id=server_id)
"""

TOML = """\
# agent settings
[tool.agent]
name = "bot"   # display name
serverId = "123"  # the guild
  # trailing comment

[tool.other]
serverId = "keep"
"""
YAML = """\
# character
settings:
  discord:
    serverId: "123"   # guild
    "token": x
  list:
    - serverId: 1
other: {serverId: 2, b: 3}
"""
JSONC = """\
{
  // the character
  "name": "bot",
  "settings": {
    "discord": { "serverId": "123", "x": 1 },
    "serverId": "top-level stays"
  }
}
"""


@pytest.fixture
def project(tmp_path):
    mig = tmp_path / "mig.yaml"
    mig.write_text(MIGRATION)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "agent.py").write_text(PY)
    (root / "pyproject.toml").write_text(TOML)
    (root / "character.yaml").write_text(YAML)
    (root / "character.json").write_text(JSONC)
    return root, str(mig)


def test_lint_python_and_config_findings(project):
    root, mig = project
    report = lint_paths([str(root)], mig)
    got = sorted((f.file.rsplit("/", 1)[-1], f.line, f.column, f.rule) for f in report.findings)
    assert got == [
        ("agent.py", 5, 17, "py-attribute"),
        ("agent.py", 6, 48, "py-keyword"),
        ("agent.py", 7, 25, "py-keyword"),
        ("character.json", 5, 18, "json-server-id"),
        ("character.yaml", 4, 5, "yaml-server-id"),
        ("character.yaml", 7, 7, "yaml-server-id"),
        ("character.yaml", 8, 9, "yaml-server-id"),
        ("pyproject.toml", 4, 1, "toml-server-id"),
    ]


def test_fix_keeps_comments_order_and_format_and_is_idempotent(project):
    root, mig = project
    result = plan_fixes([str(root)], mig)
    assert not result.rejected
    write_fixes(result)
    assert (root / "agent.py").read_text() == PY_FIXED
    assert (root / "pyproject.toml").read_text() == TOML.replace('serverId = "123"', 'messageServerId = "123"')
    assert (root / "character.yaml").read_text() == YAML.replace("serverId", "messageServerId")
    assert (root / "character.json").read_text() == JSONC.replace('{ "serverId"', '{ "messageServerId"')
    again = plan_fixes([str(root)], mig)
    assert again.changes == [] and again.rejected == []
    assert lint_paths([str(root)], mig).findings == []


def test_config_file_that_does_not_parse_is_reported_not_touched(project, capsys):
    root, mig = project
    (root / "character.json").write_text('{"settings": {"a": {"serverId": 1}')
    report = lint_paths([str(root)], mig)
    assert {"file": str(root / "character.json"), "message": "not valid JSON"} in report.errors
    code = main(["fix", str(root), "-m", mig])
    err = capsys.readouterr().err
    assert code == 1 and "character.json: not valid JSON" in err


def test_key_path_globs():
    assert path_matches(["**", "serverId"], ["serverId"])
    assert path_matches(["**", "serverId"], ["a", "0", "serverId"])
    assert path_matches(["settings", "*", "serverId"], ["settings", "discord", "serverId"])
    assert not path_matches(["settings", "*", "serverId"], ["settings", "serverId"])
    assert not path_matches(["tool", "agent", "serverId"], ["tool", "other", "serverId"])


def test_json_rename_keeps_other_bytes(tmp_path):
    # Byte-for-byte: only the key text changes, whatever the spacing.
    from canary.codemods.config_files import scan_config
    from canary.codemods.migration import ConfigRename

    text = '{"a":{"serverId" :  1,\n\t"b":[1,2]}}'
    hits, new = scan_config(text, "json", [ConfigRename("r", "a.serverId", "messageServerId", ["*"])])
    assert new == text.replace('"serverId"', '"messageServerId"') and len(hits) == 1
    assert json.loads(new) == {"a": {"messageServerId": 1, "b": [1, 2]}}


SHORTHAND = """\
id: shorthand
version: "1"
core: ">=2"
renames:
  - id: py-server-id
    language: python
    kind: attribute
    old: server_id
    new: message_server_id
  - id: py-server-id-kw
    language: python
    kind: keyword
    old: server_id
    new: message_server_id
    callees: [ensure_connection, create_room]
  - id: ts-channel
    language: typescript
    kind: key
    old: channel
    new: channelId
    callees: [sendMessage]
    types: [Memory]
  - id: ts-removed
    language: ts
    kind: member
    old: legacyFlag
"""


def test_renames_shorthand_expands_to_rules(tmp_path):
    from canary.codemods.engine import compile_migration
    from canary.codemods.fix import fix_code
    from canary.codemods.migration import load_migration

    mig_file = tmp_path / "m.yaml"
    mig_file.write_text(SHORTHAND)
    mig = load_migration(str(mig_file))
    compiled = compile_migration(mig)
    fixed, _, _ = fix_code(PY, "python", compiled["python"])
    assert fixed == PY_FIXED  # same result as the hand-written ast-grep rules above
    ts = (
        "rt.sendMessage({ channel, text });\nconst m = { channel: 1 } as Memory;\n"
        "other({ channel });\nif (cfg.legacyFlag) {}\n"
    )
    fixed, _, left = fix_code(ts, "typescript", compiled["typescript"])
    assert fixed == (
        "rt.sendMessage({ channelId: channel, text });\nconst m = { channelId: 1 } as Memory;\n"
        "other({ channel });\nif (cfg.legacyFlag) {}\n"
    )
    assert left == 1  # the removal is lint-only
    assert {r.severity for r in mig.rules} == {"error"}
    # The file round-trips: renames stay renames, their expansion is not written out as rules.
    from canary.codemods.migration import dump_migration, parse_migration

    again = parse_migration(dump_migration(mig), "x")
    assert [r.id for r in again.rules] == [r.id for r in mig.rules] and "rules: []" in dump_migration(mig)


def test_renames_kind_not_available_for_language(tmp_path, capsys):
    mig_file = tmp_path / "m.yaml"
    mig_file.write_text(
        "id: x\nversion: '1'\ncore: '>=1'\nrenames:\n  - id: k\n    language: python\n"
        "    kind: key\n    old: a\n    new: b\n"
    )
    (tmp_path / "a.py").write_text("a = 1\n")
    assert main(["lint", str(tmp_path / "a.py"), "-m", str(mig_file)]) == 2
    err = capsys.readouterr().err
    assert f"{mig_file}:5:5: key 'renames.0.kind': kind 'key' is not available for python" in err
