"""The real case: plugin-discord 1.3.3's TypeScript, from its npm tarball's source map.

lint reports the `room.serverId` reads in providers/voiceState.ts and
providers/channelState.ts and the `serverId` keys passed to ensureConnection,
never a local variable; `fix --write` then lint reports nothing; a second fix
changes nothing; every file still parses.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from canary.codemods.engine import parse_errors
from canary.codemods.languages import language_of
from canary.cli import main

pytestmark = pytest.mark.registry
MIG = "elizaos-server-id"


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _git(cwd, *args):
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_lint_published_plugin_discord(discord_133_tarball, capsys):
    code, out, _ = _run(capsys, "lint", str(discord_133_tarball), "-m", MIG, "--format", "json")
    doc = json.loads(out)
    assert code == 1
    prefix = f"{discord_133_tarball}/"
    found = {(f["file"].removeprefix(prefix), f["line"], f["rule"]) for f in doc["findings"]}
    # The reads that make voiceState throw `No server ID found` on core >= 1.6.5:
    assert ("src/providers/voiceState.ts", 37, "elizaos-serverid-member-read") in found
    assert ("src/providers/channelState.ts", 40, "elizaos-serverid-member-read") in found
    # The keys written into ensureConnection (a pair in voice.ts and service.ts, a shorthand in messages.ts):
    assert ("src/voice.ts", 813, "elizaos-serverid-call-key") in found  # serverId: channel.guild.id
    assert ("src/service.ts", 1295, "elizaos-serverid-call-key-maybe-undefined") in found
    assert ("src/service.ts", 1389, "elizaos-serverid-call-key-maybe-undefined") in found
    assert ("src/messages.ts", 133, "elizaos-serverid-call-shorthand") in found
    # Only one finding per provider: `const serverId = ...` and the `{ serverId }` results are locals.
    assert [f for f in found if f[0] == "src/providers/voiceState.ts"] == [
        ("src/providers/voiceState.ts", 37, "elizaos-serverid-member-read")
    ]
    assert len([f for f in found if f[0] == "src/providers/channelState.ts"]) == 1
    for f in doc["findings"]:
        line = f["source_line"]
        before = line[: f["column"] - 1]
        assert not before.rstrip().endswith(("const", "let", "var")), f"local variable reported: {f}"
        assert f["origin"] == "sourcemap" and f["fix"] is not None
    # The commented-out ensureConnection block in service.ts (~line 348) is not code.
    assert not any(f[0] == "src/service.ts" and 330 < f[1] < 360 for f in found)


def test_fix_published_sources_then_lint_is_clean(discord_133_tarball, tmp_path, capsys):
    repo = tmp_path / "plugin-discord"
    assert _run(capsys, "migration", "extract-sources", str(discord_133_tarball), "-o", str(repo))[0] == 0
    files = [p for p in repo.rglob("*") if p.is_file() and language_of(str(p))]
    assert len(files) > 20
    before = {p: parse_errors(p.read_text(), language_of(str(p))) for p in files}
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "1.3.3 sources")

    code, _, err = _run(capsys, "fix", str(repo), "-m", MIG, "--write")
    assert code == 0, err
    assert "fixed 19 place(s)" in err
    code, out, _ = _run(capsys, "lint", str(repo), "-m", MIG)
    assert code == 0 and "0 finding(s)" in out
    voice = (repo / "src" / "providers" / "voiceState.ts").read_text()
    assert "const serverId = room.messageServerId;" in voice
    messages = (repo / "src" / "messages.ts").read_text()
    # the key written into the uuid column is converted, and its import added
    assert "messageServerId: serverId ? stringToUuid(serverId) : undefined," in messages
    assert "  stringToUuid,\n} from '@elizaos/core';" in messages

    _git(repo, "commit", "-qam", "fix")
    code, out, _ = _run(capsys, "fix", str(repo), "-m", MIG)
    assert (code, out) == (0, "")  # second run: no diff
    code, _, _ = _run(capsys, "fix", str(repo), "-m", MIG, "--write")
    assert code == 0 and _git(repo, "status", "--porcelain") == ""
    for p in files:
        assert parse_errors(p.read_text(), language_of(str(p))) <= before[p], f"{p} no longer parses"
    assert all(n == 0 for n in before.values())


def test_migration_generated_from_the_real_core_diff_finds_the_same_places(
    discord_133_tarball, tmp_path, monkeypatch, capsys
):
    """compat diff of @elizaos/core 1.6.4 -> 1.6.5 --emit-migration, then lint plugin-discord 1.3.3 with it."""
    from canary.codemods.lint import lint_paths

    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    generated = tmp_path / "generated.yaml"
    code, _, err = _run(
        capsys,
        "diff",
        "npm:@elizaos/core@1.6.4",
        "npm:@elizaos/core@1.6.5",
        "--format",
        "json",
        "--output",
        str(tmp_path / "diff.json"),
        "--emit-migration",
        str(generated),
    )
    assert generated.is_file(), err
    shipped = {(f.file, f.line) for f in lint_paths([str(discord_133_tarball)], MIG).findings}
    ours = lint_paths([str(discord_133_tarball)], str(generated))
    serverid = {(f.file, f.line) for f in ours.findings if "serverId" in f.text}
    assert serverid == shipped
    # serverId -> messageServerId is also string -> UUID: reads are renamed, writes need a conversion
    for f in ours.findings:
        if "serverId" not in f.text:
            continue
        if f.rule.endswith("member-read"):
            assert f.fix is not None
        else:
            assert f.fix is None and "needs a conversion" in f.message, f
