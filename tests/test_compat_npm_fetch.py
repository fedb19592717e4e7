"""npm sides of `canary diff`: one `npm pack` for both versions, only declarations unpacked, the
tarballs shared with the matrix's artifact cache (one fetch across `canary diff` and `canary run`).

Offline: a tiny typed package in two versions, packed here with the real npm and served by a
local registry (tests/conftest_npm.py); every npm call goes through a PATH shim that logs it and
runs the real npm.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import canary
from tests.conftest_npm import npm_calls, npm_pack_dir, npm_shim, serve_tarballs

NAME = "@canary-fake/typed"
OLD, NEW = f"npm:{NAME}@1.0.0", f"npm:{NAME}@2.0.0"

WORLD = {
    "1.0.0": "export interface World {\n    id: string;\n    serverId: string;\n}\n",
    "2.0.0": (
        "export interface World {\n    id: string;\n    /** @deprecated Use messageServerId instead. */\n"
        "    serverId?: string;\n    messageServerId?: string;\n}\n"
    ),
}
RUNTIME = {
    "1.0.0": "export declare function ensureConnection(params: { serverId: string }): void;\n",
    "2.0.0": "export declare function ensureConnection(params: { messageServerId: string }): void;\n",
}


def _typed_package(dest: Path, version: str) -> Path:
    """Declarations next to what a real package also ships: code, source maps, docs, a nested
    package in node_modules. A diff reads only package.json and the declarations."""
    files = {
        "package.json": json.dumps(
            {
                "name": NAME,
                "version": version,
                "main": "dist/index.js",
                "types": "dist/index.d.ts",
                "bundleDependencies": [],
            }
        ),
        "dist/index.d.ts": "export * from './types/world';\nexport * from './runtime';\n",
        "dist/types/world.d.ts": WORLD[version],
        "dist/runtime.d.ts": RUNTIME[version],
        "dist/index.js": "export const VERSION = '%s';\n" % version,
        "dist/index.js.map": '{"version": 3, "mappings": ""}\n',
        "dist/index.d.ts.map": '{"version": 3, "mappings": ""}\n',
        "README.md": "# typed\n",
        "migrations/0001_rooms.sql": "CREATE TABLE rooms (id TEXT PRIMARY KEY, %s TEXT);\n"
        % ("server_id" if version == "1.0.0" else "message_server_id"),
        "assets/logo.svg": "<svg/>\n",
    }
    for rel, text in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    return dest


DECLARATIONS = {
    "package/package.json",
    "package/dist/index.d.ts",
    "package/dist/types/world.d.ts",
    "package/dist/runtime.d.ts",
}


@pytest.fixture(scope="module")
def typed_registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("typed-npm")
    tarballs = {
        (NAME, v): npm_pack_dir(_typed_package(root / "src" / v, v), root / "tgz", root / "npm-cache")
        for v in ("1.0.0", "2.0.0")
    }
    server, url = serve_tarballs(tarballs)
    yield url, tarballs
    server.shutdown()


def _env(registry: str, home: Path, shim: Path) -> dict:
    return {
        "CANARY_HOME": str(home),
        "npm_config_registry": registry,
        "npm_config_fetch_retries": "0",
        "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _unpacked(home: Path) -> set[str]:
    trees = home / "cache" / "compat" / "npm"
    return {
        p.relative_to(tree).as_posix()
        for tree in trees.iterdir()
        if tree.is_dir()
        for p in tree.rglob("*")
        if p.is_file()
    }


def test_cold_diff_packs_both_versions_at_once_and_unpacks_only_declarations(typed_registry, tmp_path):
    registry, tarballs = typed_registry
    shim, log = npm_shim(tmp_path / "shim")
    home = tmp_path / "home"
    env = _env(registry, home, shim)

    proc = canary("diff", OLD, NEW, "--format", "json", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    calls = npm_calls(log)
    assert len(calls) == 1 and calls[0].startswith(f"pack {NAME}@1.0.0 {NAME}@2.0.0 "), calls
    assert _unpacked(home) == DECLARATIONS
    doc = json.loads(proc.stdout)
    assert (doc["old"]["version"], doc["new"]["version"]) == ("1.0.0", "2.0.0")

    # The same diff on the fully unpacked tarballs: leaving the rest out changes nothing.
    full = {}
    for version in ("1.0.0", "2.0.0"):
        out = tmp_path / "full" / version
        out.mkdir(parents=True)
        subprocess.run(["tar", "-xzf", str(tarballs[(NAME, version)]), "-C", str(out)], check=True)
        full[version] = out / "package"
    by_hand = canary("diff", str(full["1.0.0"]), str(full["2.0.0"]), "--format", "json", cwd=tmp_path, env=env)
    expected = json.loads(by_hand.stdout)
    assert [(c["rule"], c["symbol"]) for c in doc["changes"]] == [(c["rule"], c["symbol"]) for c in expected["changes"]]
    assert any(c["rule"] == "TS018" and c["symbol"] == "World.serverId" for c in doc["changes"])

    # Everything is cached now: a second diff asks npm nothing.
    again = canary("diff", OLD, NEW, "--format", "json", cwd=tmp_path, env=env)
    assert again.returncode == 1 and json.loads(again.stdout)["changes"] == doc["changes"]
    assert npm_calls(log) == calls


def test_diff_and_matrix_share_one_fetch_of_each_tarball(typed_registry, tmp_path, monkeypatch):
    """A diff after the matrix packed the core fetches nothing; the matrix after a diff neither."""
    registry, _ = typed_registry
    shim, log = npm_shim(tmp_path / "shim")
    for key, value in _env(registry, tmp_path / "home", shim).items():
        monkeypatch.setenv(key, value)
    from canary.kernel.home import Home
    from canary.matrix.sources.npm import materialize_npm

    home = Home.default()
    artifacts = home.dir("cache", "artifacts", "npm")
    # What `canary run` does for a registry core (matrix/sources/npm.py materialize_core).
    packed = materialize_npm(f"{NAME}@1.0.0", artifacts, home.npm_cache)
    assert len(npm_calls(log)) == 1

    proc = canary("diff", OLD, NEW, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    calls = npm_calls(log)
    assert len(calls) == 2 and calls[1].startswith(f"pack {NAME}@2.0.0 "), calls  # 1.0.0 came from the cache

    again = materialize_npm(f"{NAME}@2.0.0", artifacts, home.npm_cache)
    assert npm_calls(log) == calls
    assert packed.path.parent.parent == again.path.parent.parent == artifacts / "@canary-fake_typed"


def test_sql_diff_of_npm_sides_unpacks_only_sql(typed_registry, tmp_path):
    registry, _ = typed_registry
    shim, _ = npm_shim(tmp_path / "shim")
    home = tmp_path / "home"
    proc = canary("diff", OLD, NEW, "--lang", "sql", "--format", "json", cwd=tmp_path, env=_env(registry, home, shim))
    assert proc.returncode == 1, proc.stderr
    assert _unpacked(home) == {"package/package.json", "package/migrations/0001_rooms.sql"}
    changes = json.loads(proc.stdout)["changes"]
    assert any(c["symbol"] == "rooms.server_id" and c["renamed_to"] == "message_server_id" for c in changes), changes


def test_a_missing_version_is_named(typed_registry, tmp_path):
    registry, _ = typed_registry
    shim, _ = npm_shim(tmp_path / "shim")
    proc = canary("diff", OLD, f"npm:{NAME}@9.9.9", cwd=tmp_path, env=_env(registry, tmp_path / "home", shim))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"canary: error: key 'npm:{NAME}@9.9.9': npm pack failed: not in the registry: {NAME}@9.9.9"
    ]


def test_the_diff_after_a_run_fetches_no_core_again(fake_npm, tmp_path):
    """`canary run` with `compat: {diff: true}` packs each core once for its cells; the diff of
    baseline -> candidate after the cells reads the same tarballs."""
    from tests.test_npm_harness import MATRIX

    (tmp_path / "matrix.yaml").write_text(MATRIX + "compat: {diff: true}\n")
    shim, log = npm_shim(tmp_path / "shim")
    env = {**_env(fake_npm.registry, tmp_path / "home", shim), "npm_config_fetch_retries": "0"}
    # The whole matrix: a run of some cells (a CI shard) leaves the diff to `canary merge`.
    proc = canary("run", "-c", "matrix.yaml", "--progress", "none", "--report", "none", cwd=tmp_path, env=env)
    assert "breaking changes: " in proc.stdout, proc.stdout + proc.stderr
    packs = [c for c in npm_calls(log) if c.startswith("pack ")]
    for version in ("1.0.0", "2.0.0"):
        assert sum(f"@canary-fake/core@{version}" in c.split(" --")[0] for c in packs) == 1, packs
