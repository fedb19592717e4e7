"""The real proof: plugin-discord 1.3.3 (npm, dist/ only) fixed by the shipped migration passes the
discord smoke scenario on core 1.6.5; the previous migration's plain rename fails it with the
`Failed query: insert into "worlds" (... "message_server_id" ...)` the issue reported.
Both go through `canary fix --verify` with the project's own matrix.yaml cell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from canary.codemods.verify import FAILS, VERIFIED, verify_fix

pytestmark = [pytest.mark.registry, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
# The shipped migration before it converted the value: serverId: x -> messageServerId: x.
OLD_MIGRATION_COMMIT = "361c005"


@pytest.fixture(scope="module")
def old_migration(tmp_path_factory) -> Path:
    text = subprocess.run(
        ["git", "show", f"{OLD_MIGRATION_COMMIT}:codemods/migrations/elizaos-server-id.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if text.returncode != 0:  # not a git checkout (an sdist): rebuild the plain-rename rules
        pytest.skip("the previous migration needs the project's git history")
    path = tmp_path_factory.mktemp("old") / "old.yaml"
    path.write_text(text.stdout.replace("id: elizaos-server-id", "id: elizaos-server-id-old", 1))
    return path


def test_shipped_fix_is_verified_and_old_fix_fails(discord_133_tarball, old_migration, tmp_path, monkeypatch):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    matrix = str(ROOT / "matrix.yaml")
    good = verify_fix(str(discord_133_tarball), "elizaos-server-id", matrix, "plugin-discord", core="1.6.5")
    assert good.status == VERIFIED, json.dumps(good.to_dict())
    assert good.edits == 19 and good.cell_status == "pass"
    bad = verify_fix(str(discord_133_tarball), str(old_migration), matrix, "plugin-discord", core="1.6.5")
    assert bad.status == FAILS, json.dumps(bad.to_dict())
    assert 'Failed query: insert into "worlds"' in bad.line and "message_server_id" in bad.line
