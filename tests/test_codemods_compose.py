"""Fixes compose: nested matches are all fixed in one run (a second run changes nothing), edits
that overlap are never applied together, fixes that never settle leave the file alone, and every
extension the linter claims is linted and fixed (through the real CLI, on files in a git repo)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from canary.codemods.engine import compile_migration, parse_errors
from canary.codemods.fix import FixDoesNotConverge, fix_code
from canary.codemods.languages import EXTENSIONS, language_of
from canary.codemods.migration import load_migration, parse_migration
from canary.cli import main

MIG = "elizaos-server-id"
IMPORT_ESM = "import { stringToUuid } from '@elizaos/core';\n"
IMPORT_CJS = "const { stringToUuid } = require('@elizaos/core');\n"

BODY = (
    "const id = a.serverId.serverId;\n"
    "const other = b?.serverId;\n"
    "await rt.ensureConnection({ entityId, serverId: channel.guild.id, metadata: { serverId: 1 } });\n"
)
FIXED_BODY = (
    "const id = a.messageServerId.messageServerId;\n"
    "const other = b?.messageServerId;\n"
    "await rt.ensureConnection({ entityId, messageServerId: stringToUuid(channel.guild.id), "
    "metadata: { serverId: 1 } });\n"
)
CODE = {  # per extension: what is valid in that file's grammar
    ".ts": (
        "",
        BODY + "const w = { serverId: g.id } as World;\n",
        FIXED_BODY + "const w = { messageServerId: stringToUuid(g.id) } as World;\n",
    ),
    ".mts": ("", BODY, FIXED_BODY),
    ".cts": ("", BODY, FIXED_BODY),
    ".tsx": (
        "",
        BODY + "export const A = () => <div>{room.serverId}</div>;\n",
        FIXED_BODY + "export const A = () => <div>{room.messageServerId}</div>;\n",
    ),
    ".js": ("", BODY, FIXED_BODY),
    ".jsx": (
        "",
        BODY + "export const A = () => <div>{room.serverId}</div>;\n",
        FIXED_BODY + "export const A = () => <div>{room.messageServerId}</div>;\n",
    ),
    ".mjs": ("", BODY, FIXED_BODY),
    ".cjs": ("'use strict';\n", BODY, FIXED_BODY),
}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_every_claimed_code_extension_has_a_case():
    claimed = {ext for ext, lang in EXTENSIONS.items() if lang != "python"}
    assert claimed == set(CODE)


@pytest.mark.parametrize("ext", sorted(CODE))
def test_fix_every_extension_in_one_run(ext, tmp_path, capsys):
    prologue, body, fixed_body = CODE[ext]
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    target = repo / "src" / f"mod{ext}"
    target.write_text(prologue + body)
    lang = language_of(str(target))
    assert parse_errors(prologue + body, lang) == 0
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")

    assert main(["lint", str(repo), "-m", MIG]) == 1
    line = 1 + prologue.count("\n")
    assert f"mod{ext}:{line}:12: error[elizaos-serverid-member-read]" in capsys.readouterr().out
    assert main(["fix", str(repo), "-m", MIG, "--write"]) == 0
    capsys.readouterr()
    imported = prologue + IMPORT_CJS if ext == ".cjs" else IMPORT_ESM + prologue
    assert target.read_text() == imported + fixed_body
    assert parse_errors(target.read_text(), lang) == 0
    _git(repo, "commit", "-qam", "fix")
    assert main(["fix", str(repo), "-m", MIG]) == 0  # second run: no diff
    assert capsys.readouterr().out == ""
    assert main(["lint", str(repo), "-m", MIG]) == 0


def test_deeply_nested_matches_are_all_fixed_in_one_run():
    rules = compile_migration(load_migration(MIG))["typescript"]
    depth = 12  # more levels than the old 8-pass limit
    text = "const x = a" + ".serverId" * depth + ";\n"
    fixed, edits, left = fix_code(text, "typescript", rules)
    assert fixed == "const x = a" + ".messageServerId" * depth + ";\n"
    assert (edits, left) == (depth, 0)
    assert fix_code(fixed, "typescript", rules)[:2] == (fixed, 0)


def test_overlapping_edits_are_applied_one_at_a_time():
    """An outer and an inner match of different rules: the outer is rendered from the original
    text and the inner is matched again in the rewritten text, never spliced into a stale span."""
    mig = parse_migration(
        """id: overlap
version: "1"
core: ">=1"
rules:
  - {id: call, language: typescript, message: m, rule: {pattern: "foo($A)"}, fix: "bar($A)"}
  - {id: member, language: typescript, message: m, rule: {pattern: $X.old}, fix: $X.new}
  - {id: same-span-a, language: typescript, message: m, rule: {pattern: $X.twice}, fix: $X.first}
  - {id: same-span-b, language: typescript, message: m, rule: {pattern: $X.twice}, fix: $X.second}
""",
        "overlap.yaml",
    )
    rules = compile_migration(mig)["typescript"]
    text = "foo(foo(a.old.old));\nconst t = z.twice;\n"
    fixed, _, _ = fix_code(text, "typescript", rules)
    assert fixed == "bar(bar(a.new.new));\nconst t = z.first;\n"
    assert parse_errors(fixed, "typescript") == 0


def test_fixes_that_never_settle_leave_the_file_alone(tmp_path, capsys):
    mig = tmp_path / "grow.yaml"
    mig.write_text(
        'id: grow\nversion: "1"\ncore: ">=1"\nrules:\n'
        "  - {id: grow, language: typescript, message: m, rule: {pattern: $X.foo}, fix: $X.foo.foo}\n"
        "  - {id: flip, language: typescript, message: m, rule: {pattern: $X.ping}, fix: $X.pong}\n"
        "  - {id: flop, language: typescript, message: m, rule: {pattern: $X.pong}, fix: $X.ping}\n"
    )
    rules = compile_migration(parse_migration(mig.read_text(), str(mig)))["typescript"]
    with pytest.raises(FixDoesNotConverge):
        fix_code("a.foo;\n", "typescript", rules)
    with pytest.raises(FixDoesNotConverge, match="undo each other"):
        fix_code("a.ping;\n", "typescript", rules)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.ts").write_text("a.foo;\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    assert main(["fix", str(repo), "-m", str(mig), "--write"]) == 1
    assert "a.ts: the fixes still change the file after" in capsys.readouterr().err
    assert (repo / "a.ts").read_text() == "a.foo;\n"
