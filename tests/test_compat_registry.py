"""The real thing: @elizaos/core 1.6.4 -> 1.6.5 from the npm registry (the serverId break)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest_npm import npm_calls, npm_shim

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def cold_run(tmp_path_factory) -> dict:
    """One cold diff (empty CANARY_HOME, so an empty npm cache too), every npm call logged."""
    home = tmp_path_factory.mktemp("canary-home")
    shim, log = npm_shim(tmp_path_factory.mktemp("npm-shim"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "canary.cli",
            "diff",
            "npm:@elizaos/core@1.6.4",
            "npm:@elizaos/core@1.6.5",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=home,
        env={**os.environ, "CANARY_HOME": str(home), "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert proc.returncode in (0, 1), proc.stderr
    return {"proc": proc, "home": home, "calls": npm_calls(log)}


@pytest.fixture(scope="module")
def real_diff(cold_run) -> tuple[int, dict]:
    return cold_run["proc"].returncode, json.loads(cold_run["proc"].stdout)


def test_cold_diff_is_one_npm_pack_and_unpacks_declarations_only(cold_run):
    calls = cold_run["calls"]
    assert len(calls) == 1 and calls[0].startswith("pack @elizaos/core@1.6.4 @elizaos/core@1.6.5 "), calls
    trees = sorted((cold_run["home"] / "cache/compat/npm").iterdir())
    assert [t.name for t in trees] == ["@elizaos_core-1.6.4.ts", "@elizaos_core-1.6.5.ts"]
    for tree in trees:
        files = [p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()]
        assert "package/package.json" in files and "package/dist/index.d.ts" in files
        assert all(f == "package/package.json" or f.endswith(".d.ts") for f in files), files
    # the tarballs sit in the matrix's artifact cache, where `canary run` looks for them
    assert len(list((cold_run["home"] / "cache/artifacts/npm/@elizaos_core").glob("1.6.*/*.tgz"))) == 2


def by(doc: dict, rule: str, symbol: str) -> dict:
    hits = [c for c in doc["changes"] if c["rule"] == rule and c["symbol"] == symbol]
    assert hits, f"{rule} {symbol} not found"
    return hits[0]


def test_document_is_valid_and_breaking(real_diff):
    code, doc = real_diff
    jsonschema.validate(doc, json.loads((ROOT / "compat/schemas/diff.schema.json").read_text()))
    assert code == 1
    assert (doc["old"]["version"], doc["new"]["version"]) == ("1.6.4", "1.6.5")
    assert doc["semver"]["step"] == "patch" and doc["semver"]["sufficient"] is False


@pytest.mark.parametrize("owner", ["World", "Room"])
def test_server_id_renamed_with_deprecated_alias(real_diff, owner):
    _, doc = real_diff
    c = by(doc, "TS018", f"{owner}.serverId")
    assert c["renamed_to"] == "messageServerId" and c["rename_evidence"] == "alias"
    assert (c["container"], c["member"], c["kind"]) == (owner, "serverId", "member")
    assert c["deprecated"]["new"].startswith("Use messageServerId instead")
    assert c["location"]["file"] == "dist/types/environment.d.ts"


def test_world_server_id_type_and_optionality(real_diff):
    _, doc = real_diff
    t = by(doc, "TS005", "World.serverId")
    assert (t["old"], t["new"], t["severity"]) == ("string", "UUID", "ERR")
    o = by(doc, "TS004", "World.serverId")
    assert (o["old"], o["new"]) == ("required", "optional")


def test_ensure_connection_no_longer_takes_server_id(real_diff):
    _, doc = real_diff
    c = by(doc, "TS007", "IAgentRuntime.ensureConnection(params).serverId")
    assert c["severity"] == "ERR" and c["kind"] == "parameter-property"
    assert (c["container"], c["member"], c["renamed_to"]) == (
        "IAgentRuntime.ensureConnection",
        "serverId",
        "messageServerId",
    )
    # createRoom destructures only messageServerId now: a passed serverId is silently dropped
    d = by(doc, "TS016", "IAgentRuntime.createRoom(params).serverId")
    assert d["renamed_to"] == "messageServerId"
