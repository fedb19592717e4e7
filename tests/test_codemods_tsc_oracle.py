"""Oracle for the shipped migration's fixes: tsc against the real @elizaos/core 1.6.5 declarations.

The connector-style fixture writes `serverId` the ways plugin-discord 1.3.3 does. Before the fix tsc
rejects it; after the shipped migration's fix it compiles; the old plain-rename fix (`serverId:` ->
`messageServerId:` with the platform id left as a string) still fails with TS2322 — the break the
runtime shows as a failed insert into the uuid column.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from canary.codemods.engine import compile_migration
from canary.codemods.fix import fix_code
from canary.codemods.migration import load_migration, parse_migration

pytestmark = pytest.mark.registry

CORE = "1.6.5"
TYPESCRIPT = "5.9.3"

CONNECTOR_TS = """import { type IAgentRuntime, ChannelType, createUniqueUuid, logger } from '@elizaos/core';
import type { Room, World, UUID } from '@elizaos/core';

export async function onGuild(runtime: IAgentRuntime, guild: { id: string; name: string }, roomId: UUID,
                              reaction: { message: { guild?: { id: string } } }) {
  const worldId = createUniqueUuid(runtime, guild.id);
  let serverId: string | undefined = guild.id;
  await runtime.ensureConnection({ entityId: roomId, roomId, worldId, serverId: guild.id, type: ChannelType.GROUP });
  await runtime.ensureConnection({ entityId: roomId, roomId, worldId, serverId, type: ChannelType.GROUP });
  await runtime.ensureConnection({ entityId: roomId, roomId, worldId, serverId: reaction.message.guild?.id });
  const world = { id: worldId, name: guild.name, agentId: runtime.agentId, serverId: guild.id } as World;
  await runtime.ensureWorldExists(world);
  const room = (await runtime.getRoom(roomId)) as Room;
  room.serverId = guild.id;
  await runtime.ensureRoomExists({ ...room, serverId: room.serverId });
  logger.info(`server ${room.serverId ?? room?.serverId}`);
}
"""

OLD_MIGRATION = """id: old-plain-rename
version: "1.0.0"
core: ">=1.6.5"
rules:
  - {id: read, language: typescript, message: m, rule: {pattern: $X.serverId}, fix: $X.messageServerId}
  - id: key
    language: typescript
    message: m
    rule: {kind: property_identifier, regex: ^serverId$, inside: {kind: pair, field: key}}
    fix: messageServerId
  - id: shorthand
    language: typescript
    message: m
    rule: {kind: shorthand_property_identifier, regex: ^serverId$}
    fix: "messageServerId: serverId"
"""


@pytest.fixture(scope="module")
def core_project(tmp_path_factory) -> Path:
    """A project with the real @elizaos/core and a pinned tsc installed from the registry."""
    root = tmp_path_factory.mktemp("tsc-oracle")
    (root / "package.json").write_text(json.dumps({"name": "oracle", "private": True}))
    (root / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "noEmit": True,
                    "skipLibCheck": True,
                    "module": "esnext",
                    "moduleResolution": "bundler",
                    "target": "es2022",
                },
                "files": ["connector.ts"],
            }
        )
    )
    proc = subprocess.run(
        [
            "npm",
            "install",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            f"@elizaos/core@{CORE}",
            f"typescript@{TYPESCRIPT}",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"npm install failed: {proc.stderr[-500:]}")
    return root


def _tsc(project: Path, source: str) -> list[str]:
    (project / "connector.ts").write_text(source)
    proc = subprocess.run(
        ["node_modules/.bin/tsc", "-p", "."], cwd=project, capture_output=True, text=True, timeout=300
    )
    return [ln for ln in proc.stdout.splitlines() if re.search(r"error TS\d+", ln)]


def _fixed(migration) -> str:
    rules = compile_migration(migration)["typescript"]
    text, edits, _ = fix_code(CONNECTOR_TS, "typescript", rules, "connector.ts")
    assert edits > 0
    return text


def test_unfixed_connector_does_not_compile(core_project):
    errors = _tsc(core_project, CONNECTOR_TS)
    assert any("serverId" in e for e in errors), errors


def test_shipped_fix_compiles_against_core_165(core_project):
    fixed = _fixed(load_migration("elizaos-server-id"))
    assert "messageServerId: stringToUuid(guild.id)" in fixed
    assert "createUniqueUuid, logger, stringToUuid }" in fixed
    assert _tsc(core_project, fixed) == []
    # and the fix is stable: a second run changes nothing
    rules = compile_migration(load_migration("elizaos-server-id"))["typescript"]
    assert fix_code(fixed, "typescript", rules, "connector.ts")[:2] == (fixed, 0)


def test_old_plain_rename_fix_fails_the_oracle(core_project):
    fixed = _fixed(parse_migration(OLD_MIGRATION, "old.yaml"))
    errors = _tsc(core_project, fixed)
    assert any("TS2322" in e for e in errors), errors
