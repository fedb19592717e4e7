"""`canary fix --verify` offline: a tiny npm core whose 2.0.0 stores `messageServerId` as a UUID,
and a connector published with dist/ only (plus its source map), both packed by the test and
served by the local fake registry. A migration whose fix is a plain rename passes every static
check but fails the connector's cell on 2.0.0 ("fails after fix" with the failing line); the
migration that converts the value with stringToUuid is "verified". The dist/ is patched through
the source map: the published package has no sources to fix."""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from canary.codemods.migration import parse_migration
from canary.codemods.verify import FAILS, VERIFIED, decode_mappings, patch_dist, verify_fix
from canary.cli import main
from tests.conftest_npm import npm_pack_dir

FAKE_UUID = """export function stringToUuid(s) {
  let h = 7;
  for (const c of String(s)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, '0') + '-0000-4000-8000-000000000000';
}
"""
CORE_1 = (
    FAKE_UUID
    + """export function saveRoom(room) {
  if (!room.serverId) throw new Error('No server ID found');
  return room;
}
"""
)
CORE_2 = (
    FAKE_UUID
    + """const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export function saveRoom(room) {
  if (!UUID.test(room.messageServerId)) {
    throw new Error(`Failed query: insert into "worlds" ("message_server_id") values ('${room.messageServerId}')`);
  }
  return room;
}
"""
)
PLUGIN_TS = """import { saveRoom } from '@verify-fake/core';

export function onGuild(guild: { id: string }) {
  const kept = { serverId: guild.id };
  return saveRoom({ name: 'general', serverId: guild.id, kept });
}
"""
PLUGIN_JS = """import { saveRoom } from "@verify-fake/core";
export function onGuild(guild) {
    const kept = { serverId: guild.id };
    return saveRoom({ name: "general", serverId: guild.id, kept });
}
//# sourceMappingURL=index.js.map
"""
CHECK = """import { pathToFileURL } from 'url';
import fs from 'fs';
import path from 'path';
const main = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'package.json'), 'utf8')).main;
const m = await import(pathToFileURL(path.join(process.cwd(), main)).href);
console.log('saved', JSON.stringify(m.onGuild({ id: '123456789012345678' })));
"""
RULE = """id: {id}
version: "1"
core: ">=2"
rules:
  - id: server-id-key
    language: typescript
    message: "serverId passed to saveRoom is dropped: pass messageServerId"
    rule:
      pattern: {{context: "({{serverId: $V}})", selector: pair}}
      inside: {{kind: object, inside: {{kind: arguments, inside: {{kind: call_expression, has: {{field: function, regex: ^saveRoom$}}}}}}}}
    fix: "{fix}"
{imports}"""
PLAIN = RULE.format(id="plain-rename", fix="messageServerId: $V", imports="")
CONVERTING = RULE.format(
    id="converting",
    fix="messageServerId: stringToUuid($V)",
    imports='    imports: [{name: stringToUuid, from: "@verify-fake/core"}]\n',
)

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TOK = re.compile(r"[A-Za-z0-9_$]+|[^\sA-Za-z0-9_$]")


def _vlq(n: int) -> str:
    n = (-n << 1) | 1 if n < 0 else n << 1
    out = ""
    while True:
        digit, n = n & 31, n >> 5
        out += _B64[digit | (32 if n else 0)]
        if not n:
            return out


def _tokens(text: str):
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out = []
    for m in _TOK.finditer(text):
        line = max(i for i, s in enumerate(starts) if s <= m.start())
        out.append((m.group(), line, m.start() - starts[line]))
    return out


def source_map(source: str, generated: str, name: str) -> dict:
    """A v3 source map with one segment per token the generated code shares with the source
    (what a compiler emits for code it does not transform)."""
    src, gen = _tokens(source), _tokens(generated)
    lines: dict[int, list[tuple[int, int, int]]] = {}
    matcher = difflib.SequenceMatcher(None, [t[0] for t in src], [t[0] for t in gen], autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            _, sl, sc = src[block.a + k]
            _, gl, gc = gen[block.b + k]
            lines.setdefault(gl, []).append((gc, sl, sc))
    encoded, prev_sl, prev_sc = [], 0, 0
    for gl in range(generated.count("\n") + 1):
        segs, prev_gc = [], 0
        for gc, sl, sc in sorted(lines.get(gl, [])):
            segs.append(_vlq(gc - prev_gc) + _vlq(0) + _vlq(sl - prev_sl) + _vlq(sc - prev_sc))
            prev_gc, prev_sl, prev_sc = gc, sl, sc
        encoded.append(",".join(segs))
    return {
        "version": 3,
        "file": "index.js",
        "sources": [f"../src/{name}"],
        "sourcesContent": [source],
        "names": [],
        "mappings": ";".join(encoded),
    }


def _publish(fake_npm, name: str, version: str, files: dict[str, str], deps: dict) -> Path:
    src = fake_npm.root / "verify-src" / f"{name.split('/')[-1]}-{version}"
    src.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": name,
        "version": version,
        "type": "module",
        "main": files.get("main", "index.js"),
        "dependencies": deps,
    }
    for rel, text in files.items():
        if rel != "main":
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(text)
    (src / "package.json").write_text(json.dumps(manifest))
    tgz = npm_pack_dir(src, fake_npm.root / "verify-tgz", fake_npm.npm_cache)
    blob = tgz.read_bytes()
    fake_npm.handler.files[tgz.name] = blob
    doc = fake_npm.handler.packuments.setdefault(name, {"name": name, "dist-tags": {}, "versions": {}})
    doc["versions"][version] = {
        **manifest,
        "dist": {
            "tarball": f"{fake_npm.registry}-/tarballs/{tgz.name}",
            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode(),
            "shasum": hashlib.sha1(blob).hexdigest(),
        },
    }
    doc["dist-tags"]["latest"] = max(doc["versions"])
    return tgz


@pytest.fixture(scope="module")
def verify_setup(fake_npm, tmp_path_factory):
    root = tmp_path_factory.mktemp("verify")
    _publish(fake_npm, "@verify-fake/core", "1.0.0", {"index.js": CORE_1}, {})
    _publish(fake_npm, "@verify-fake/core", "2.0.0", {"index.js": CORE_2}, {})
    plugin = _publish(
        fake_npm,
        "@verify-fake/plugin",
        "0.1.0",
        {
            "main": "dist/index.js",
            "dist/index.js": PLUGIN_JS,
            "dist/index.js.map": json.dumps(source_map(PLUGIN_TS, PLUGIN_JS, "index.ts")),
        },
        {"@verify-fake/core": "^1.0.0"},
    )
    (root / "check.mjs").write_text(CHECK)
    (root / "matrix.yaml").write_text(
        textwrap.dedent(f"""\
        version: 1
        core:
          name: "@verify-fake/core"
          ecosystem: npm
          versions: ["1.0.0", "2.0.0"]
          baseline: "1.0.0"
        connectors:
          - name: plugin
            package: "@verify-fake/plugin"
            npm: {{versions: ["0.1.0"]}}
            test: ["node", "{root / "check.mjs"}"]
        settings:
          retries: 0
        """)
    )
    (root / "plain.yaml").write_text(PLAIN)
    (root / "converting.yaml").write_text(CONVERTING)
    return root, plugin


def test_source_map_decoding_round_trips():
    smap = source_map(PLUGIN_TS, PLUGIN_JS, "index.ts")
    segs = decode_mappings(smap["mappings"])
    # `saveRoom` of the call on dist line 4 maps back to the source's line 5
    gl, gc = 3, PLUGIN_JS.splitlines()[3].index("saveRoom")
    assert any(s[:2] == (gl, gc) and s[3:] == (4, PLUGIN_TS.splitlines()[4].index("saveRoom")) for s in segs)


def test_dist_is_patched_through_the_source_map(verify_setup, tmp_path):
    root, plugin = verify_setup
    pkg = tmp_path / "pkg"
    subprocess.run(["tar", "-xzf", str(plugin), "-C", str(tmp_path)], check=True)
    (tmp_path / "package").rename(pkg)
    patch = patch_dist(str(pkg), parse_migration(CONVERTING, "converting.yaml"))
    assert patch.unplaced == [] and patch.edits > 0
    new = patch.files[str(pkg / "dist" / "index.js")]
    assert 'import { saveRoom, stringToUuid } from "@verify-fake/core";' in new
    assert 'saveRoom({ name: "general", messageServerId: stringToUuid(guild.id), kept })' in new
    assert "const kept = { serverId: guild.id };" in new  # not passed to saveRoom: untouched


def test_plain_rename_fails_after_fix_and_conversion_is_verified(
    verify_setup, fake_registry_env, tmp_path, monkeypatch
):
    root, plugin = verify_setup
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    bad = verify_fix(str(plugin), str(root / "plain.yaml"), str(root / "matrix.yaml"), "plugin")
    assert bad.status == FAILS, bad
    assert bad.core == "2.0.0" and bad.edits == 1
    assert 'Failed query: insert into "worlds" ("message_server_id")' in bad.line
    good = verify_fix(str(plugin), str(root / "converting.yaml"), str(root / "matrix.yaml"), "plugin")
    assert good.status == VERIFIED, good
    assert good.cell_status == "pass"


def test_cli_verify_reports_and_exits(verify_setup, fake_registry_env, tmp_path, monkeypatch, capsys):
    root, plugin = verify_setup
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    code = main(
        [
            "fix",
            str(plugin),
            "-m",
            str(root / "plain.yaml"),
            "--verify",
            "--matrix",
            str(root / "matrix.yaml"),
            "--connector",
            "plugin",
            "--format",
            "json",
        ]
    )
    out = capsys.readouterr()
    assert code == 1
    assert "fails after fix: plugin on core 2.0.0: " in out.err
    assert json.loads(out.out)["verification"]["status"] == FAILS
    code = main(["fix", str(plugin), "-m", str(root / "plain.yaml"), "--verify", "--matrix", str(root / "matrix.yaml")])
    assert code == 2 and "--verify needs --matrix FILE and --connector NAME" in capsys.readouterr().err


def test_exposure_verify_records_the_verification(verify_setup, fake_registry_env, tmp_path):
    """matrix.yaml `exposure: {migration, verify: true}`: `canary run` also runs each fixed connector's cell."""
    from tests.conftest import canary

    root, _ = verify_setup
    work = tmp_path / "m"
    work.mkdir()
    text = (
        (root / "matrix.yaml")
        .read_text()
        .replace("settings:", f"exposure:\n  migration: {root / 'plain.yaml'}\n  verify: true\nsettings:")
    )
    (work / "matrix.yaml").write_text(text)
    env = {"CANARY_HOME": str(tmp_path / "home"), **fake_registry_env.env()}
    proc = canary("run", "-c", "matrix.yaml", "--progress", "none", "--report", "none", cwd=work, env=env)
    runs = sorted((tmp_path / "home" / "runs").glob("*/exposure.json"))
    assert runs, proc.stdout + proc.stderr
    entry = json.loads(runs[-1].read_text())["connectors"]["plugin@0.1.0"]
    assert entry["findings"] == 1
    assert entry["verification"]["status"] == FAILS and entry["verification"]["core"] == "2.0.0"
    assert "Failed query" in entry["verification"]["line"]


def test_source_tree_is_fixed_in_a_scratch_copy_and_verified(
    verify_setup, fake_registry_env, tmp_path, monkeypatch, capsys
):
    """A connector's own git checkout (plain JavaScript here: nothing to build): the copy is fixed and
    run; `--write` then writes the checkout only once the fix is verified."""
    import subprocess as sp

    root, _ = verify_setup
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    repo = tmp_path / "plugin"
    repo.mkdir()
    (repo / "package.json").write_text(
        json.dumps(
            {
                "name": "@verify-fake/plugin",
                "version": "0.1.0",
                "type": "module",
                "main": "index.js",
                "dependencies": {"@verify-fake/core": "^1.0.0"},
            }
        )
    )
    source = PLUGIN_JS.replace("//# sourceMappingURL=index.js.map\n", "")
    (repo / "index.js").write_text(source)
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "0.1.0"]):
        sp.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *argv], cwd=repo, check=True)
    args = ["fix", str(repo), "--verify", "--matrix", str(root / "matrix.yaml"), "--connector", "plugin", "--write"]
    assert main([*args, "-m", str(root / "plain.yaml")]) == 1
    assert (repo / "index.js").read_text() == source  # not verified: nothing written
    assert main([*args, "-m", str(root / "converting.yaml")]) == 0
    err = capsys.readouterr().err
    assert "verified: plugin on core 2.0.0 passes its cell after the fix (1 edit(s))" in err
    assert "fixed 1 place(s) in 1 file(s) (verified)" in err
    assert "messageServerId: stringToUuid(guild.id)" in (repo / "index.js").read_text()
