"""`canary lint`, `canary fix`, `canary migrations`, `canary migration ...` end to end (in-process CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import jsonschema

from canary.codemods.lint import lint_paths
from canary.codemods.sources import extract_sourcemap_sources
from canary.cli import main

SCHEMAS = Path(__file__).resolve().parent.parent / "codemods" / "schemas"
MIG = "elizaos-server-id"

PROVIDER_TS = """import type { Room } from '@elizaos/core';

export async function get(runtime: any, roomId: string) {
  const room = await runtime.getRoom(roomId);
  const serverId = room.serverId;
  if (!room?.serverId) {
    throw new Error('No server ID found 10');
  }
  await runtime.ensureConnection({ entityId: 'e', roomId, serverId, source: 'discord' });
  return { data: { serverId }, values: { serverId } };
}
"""
FIXED_TS = (
    PROVIDER_TS.replace("room.serverId", "room.messageServerId")
    .replace("room?.serverId", "room?.messageServerId")
    .replace(
        "roomId, serverId, source", "roomId, messageServerId: serverId ? stringToUuid(serverId) : undefined, source"
    )
    .replace(
        "import type { Room } from '@elizaos/core';\n",
        # a type-only import cannot carry the value the conversion needs: a value import is added
        "import type { Room } from '@elizaos/core';\nimport { stringToUuid } from '@elizaos/core';\n",
    )
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_repo(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    git(root, "init", "-q")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "init")
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# --- lint ---------------------------------------------------------------------------------


def test_lint_text_reports_reads_keys_and_fix_preview_but_no_locals(tmp_path, capsys):
    src = tmp_path / "src" / "provider.ts"
    src.parent.mkdir()
    src.write_text(PROVIDER_TS)
    code, out, _ = run(capsys, "lint", str(tmp_path), "--migration", MIG)
    assert code == 1
    assert "provider.ts:5:20: error[elizaos-serverid-member-read]" in out
    assert "provider.ts:6:8: error[elizaos-serverid-optional-member-read]" in out
    assert "provider.ts:9:59: error[elizaos-serverid-call-shorthand]" in out
    assert "+ const serverId = room.messageServerId;" in out
    assert "3 finding(s) in 1 file(s)" in out  # `const serverId` and `{ serverId }` in data are locals


def test_lint_fail_on_threshold(tmp_path, capsys):
    (tmp_path / "a.ts").write_text("const x = room.serverId;\n")
    assert run(capsys, "lint", str(tmp_path), "-m", MIG, "--fail-on", "never")[0] == 0
    assert run(capsys, "lint", str(tmp_path), "-m", MIG, "--fail-on", "error")[0] == 1
    (tmp_path / "a.ts").write_text("const x = room.messageServerId;\n")
    assert run(capsys, "lint", str(tmp_path), "-m", MIG)[0] == 0


def test_lint_json_matches_schema(tmp_path, capsys):
    (tmp_path / "a.ts").write_text(PROVIDER_TS)
    code, out, _ = run(capsys, "lint", str(tmp_path), "-m", MIG, "--format", "json")
    doc = json.loads(out)
    jsonschema.validate(doc, json.loads((SCHEMAS / "lint.schema.json").read_text()))
    assert code == 1 and doc["counts"]["error"] == 3
    f = doc["findings"][0]
    assert (f["line"], f["column"], f["symbol"]) == (5, 20, "World.serverId")
    assert f["fix"] == {
        "replacement": "room.messageServerId",
        "preview": "  const serverId = room.messageServerId;",
        "imports": [],
        "verification": "unverified",
    }


def test_lint_sarif_and_github(tmp_path, capsys):
    (tmp_path / "a.ts").write_text("const x = room.serverId;\n")
    _, out, _ = run(capsys, "lint", str(tmp_path), "-m", MIG, "--format", "sarif")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    res = sarif["runs"][0]["results"]
    assert [r["ruleId"] for r in res] == ["elizaos-serverid-member-read"]
    region = res[0]["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (1, 11)
    assert (
        res[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"] == "room.messageServerId"
    )
    _, out, _ = run(capsys, "lint", str(tmp_path), "-m", MIG, "--format", "github")
    assert (
        out.startswith("::error file=") and ",line=1,col=11," in out and "title=elizaos-serverid-member-read::" in out
    )


def test_lint_covers_all_script_extensions_and_skips_dependencies(tmp_path):
    read = "export const f = (room) => room.serverId;\n"
    for name in ("a.ts", "b.tsx", "c.js", "d.mjs", "e.cjs", "f.jsx"):
        (tmp_path / name).write_text(read)
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "i.js").write_text(read)
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "index.js").write_text(read)
    report = lint_paths([str(tmp_path)], MIG)
    assert sorted(Path(f.file).name for f in report.findings) == ["a.ts", "b.tsx", "c.js", "d.mjs", "e.cjs", "f.jsx"]


def test_unknown_migration_and_bad_file_are_user_errors(tmp_path, capsys):
    (tmp_path / "a.ts").write_text("x\n")
    code, _, err = run(capsys, "lint", str(tmp_path), "-m", "no-such-migration")
    assert code == 2 and "no shipped migration 'no-such-migration'" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\nversion: '1'\ncore: '>=1'\nrules:\n  - id: r\n    language: cobol\n    message: m\n    rule: {pattern: x}\n"
    )
    code, _, err = run(capsys, "lint", str(tmp_path), "-m", str(bad))
    assert code == 2 and f"{bad}:6:15: key 'rules.0.language'" in err
    bad.write_text(
        "id: bad\nversion: '1'\ncore: '>=1'\nrules:\n  - id: r\n    language: ts\n    message: m\n"
        "    rule: {kind: no_such_kind}\n"
    )
    code, _, err = run(capsys, "lint", str(tmp_path), "-m", str(bad))
    assert code == 2 and f"{bad}:8: key 'r.rule': rule 'r' does not compile" in err and "no_such_kind" in err
    bad.write_text("id: bad\nversion: '1'\ncore: 'not a range'\nrules: []\n")
    code, _, err = run(capsys, "lint", str(tmp_path), "-m", str(bad))
    assert code == 2 and f"{bad}:3:7: key 'core'" in err


def test_migrations_lists_shipped(capsys):
    code, out, _ = run(capsys, "migrations")
    from canary.codemods.migration import load_migration

    mig = load_migration("elizaos-server-id")
    assert code == 0 and out.startswith(f"elizaos-server-id  {mig.version}  core >=1.6.5  {len(mig.rules)} rule(s)")
    code, out, _ = run(capsys, "migrations", "--format", "json")
    doc = json.loads(out)
    jsonschema.validate(doc, json.loads((SCHEMAS / "migrations.schema.json").read_text()))
    assert doc[0]["id"] == MIG and doc[0]["rules"] == len(mig.rules)


def test_shipped_migrations_match_schema():
    import yaml

    schema = json.loads((SCHEMAS / "migration.schema.json").read_text())
    for path in (Path(__file__).resolve().parent.parent / "codemods" / "migrations").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


# --- fix ----------------------------------------------------------------------------------


def test_fix_diff_then_write_then_idempotent(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo", {"src/provider.ts": PROVIDER_TS, "src/other.ts": "export const a = 1;\n"})
    target = repo / "src" / "provider.ts"
    code, out, _ = run(capsys, "fix", str(repo), "-m", MIG)
    assert code == 1
    assert (
        "--- a/" in out
        and "-  const serverId = room.serverId;" in out
        and "+  const serverId = room.messageServerId;" in out
    )
    assert target.read_text() == PROVIDER_TS  # diff mode writes nothing
    code, _, err = run(capsys, "fix", str(repo), "-m", MIG, "--write")
    assert code == 0 and "fixed 3 place(s) in 1 file(s)" in err
    assert target.read_text() == FIXED_TS
    assert run(capsys, "lint", str(repo), "-m", MIG)[0] == 0
    git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "fix")
    code, out, _ = run(capsys, "fix", str(repo), "-m", MIG)
    assert (code, out) == (0, "")
    code, _, err = run(capsys, "fix", str(repo), "-m", MIG, "--write")
    assert code == 0 and git(repo, "status", "--porcelain") == ""


def test_fix_refuses_dirty_tree_unless_forced(tmp_path, capsys):
    repo = make_repo(tmp_path / "repo", {"src/provider.ts": PROVIDER_TS})
    target = repo / "src" / "provider.ts"
    target.write_text(PROVIDER_TS + "// local edit\n")
    code, _, err = run(capsys, "fix", str(repo), "-m", MIG, "--write")
    assert code == 2
    assert "refusing to write: uncommitted changes in" in err and "src/provider.ts" in err and "--force" in err
    assert target.read_text() == PROVIDER_TS + "// local edit\n"
    code, _, _ = run(capsys, "fix", str(repo), "-m", MIG, "--write", "--force")
    assert code == 0 and target.read_text() == FIXED_TS + "// local edit\n"


def test_fix_outside_git_needs_force(tmp_path, capsys):
    (tmp_path / "a.ts").write_text("const x = room.serverId;\n")
    code, _, err = run(capsys, "fix", str(tmp_path), "-m", MIG, "--write")
    assert code == 2 and "not in a git repository" in err


def test_fix_leaves_a_file_that_would_not_parse(tmp_path, capsys):
    mig = tmp_path / "broken.yaml"
    mig.write_text(
        "id: broken\nversion: '1'\ncore: '>=1'\nrules:\n"
        "  - id: breaks-code\n    language: typescript\n    message: m\n"
        "    rule: {pattern: $X.serverId}\n    fix: 'foo($X'\n"  # only a MISSING `)`, no ERROR node
        "  - id: breaks-code-too\n    language: typescript\n    message: m\n"
        "    rule: {pattern: $X.otherId}\n    fix: '$X.(('\n"
        "  - id: fine\n    language: typescript\n    message: m\n"
        "    rule: {pattern: $X.oldName}\n    fix: '$X.newName'\n"
    )
    repo = make_repo(
        tmp_path / "repo",
        {
            "bad.ts": "const a = room.serverId;\n",
            "good.ts": "const b = x.oldName;\n",
            "bad2.ts": "const c = y.otherId;\n",
        },
    )
    code, _, err = run(capsys, "fix", str(repo), "-m", str(mig), "--write")
    assert code == 1
    assert "bad.ts: the fixed file would no longer parse; left unchanged" in err
    assert "bad2.ts: the fixed file would no longer parse; left unchanged" in err
    assert (repo / "bad.ts").read_text() == "const a = room.serverId;\n"
    assert (repo / "bad2.ts").read_text() == "const c = y.otherId;\n"
    assert (repo / "good.ts").read_text() == "const b = x.newName;\n"


# --- published packages (source maps) --------------------------------------------------------


def make_package(root: Path) -> Path:
    pkg = root / "package"
    (pkg / "dist").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "@elizaos/plugin-x", "version": "1.0.0"}))
    (pkg / "dist" / "index.js").write_text("var r = room.serverId;\n//# sourceMappingURL=index.js.map\n")
    (pkg / "dist" / "index.js.map").write_text(
        json.dumps(
            {
                "version": 3,
                "sources": [
                    "../src/providers/a.ts",
                    "../../../evil.ts",
                    "/etc/abs.ts",
                    "../node_modules/dep/i.js",
                    "webpack://plugin-x/src/b.ts",
                ],
                "sourcesContent": [
                    PROVIDER_TS,
                    "const e = room.serverId;\n",
                    "const f = room.serverId;\n",
                    "const g = room.serverId;\n",
                    "const h = room.serverId;\n",
                ],
                "mappings": "",
            }
        )
    )
    return pkg


def test_extract_sourcemap_sources_writes_only_safe_paths(tmp_path):
    pkg = make_package(tmp_path)
    out = tmp_path / "out"
    written = extract_sourcemap_sources(str(pkg), str(out))
    rel = sorted(str(Path(p).relative_to(out.resolve())) for p in written)
    assert rel == ["src/b.ts", "src/providers/a.ts"]
    assert not (tmp_path / "evil.ts").exists() and not list(tmp_path.rglob("evil.ts"))
    assert (out / "src" / "providers" / "a.ts").read_text() == PROVIDER_TS


def test_lint_package_dir_and_tarball_through_source_maps(tmp_path, capsys):
    pkg = make_package(tmp_path)
    report = lint_paths([str(pkg)], MIG)
    files = sorted({f.file for f in report.findings})
    assert files == [str(pkg / "src" / "b.ts"), str(pkg / "src" / "providers" / "a.ts")]
    assert {f.origin for f in report.findings} == {"sourcemap"}
    tgz = tmp_path / "plugin-x-1.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(pkg, arcname="package")
    code, out, _ = run(capsys, "lint", str(tgz), "-m", MIG, "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["counts"]["error"] == 4
    assert {f["file"] for f in doc["findings"]} == {f"{tgz}/src/b.ts", f"{tgz}/src/providers/a.ts"}
    code, _, err = run(capsys, "fix", str(tgz), "-m", MIG)
    assert code == 2 and "cannot fix a published package in place" in err
    out_dir = tmp_path / "extracted"
    assert run(capsys, "migration", "extract-sources", str(tgz), "-o", str(out_dir))[0] == 0
    assert (out_dir / "src" / "providers" / "a.ts").read_text() == PROVIDER_TS


def test_package_without_source_maps_is_linted_in_dist(tmp_path):
    pkg = make_package(tmp_path)
    (pkg / "dist" / "index.js.map").unlink()
    report = lint_paths([str(pkg)], MIG)
    assert [(f.file, f.line, f.origin) for f in report.findings] == [(str(pkg / "dist" / "index.js"), 1, "dist")]


# --- ast-grep CLI parity ----------------------------------------------------------------------


def test_exported_rules_give_sg_scan_the_same_findings(tmp_path, capsys):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.ts").write_text(PROVIDER_TS + "const w = { id, serverId } as World;\n")
    (tree / "b.js").write_text("export const f = (room) => room?.serverId;\n")
    rules = tmp_path / "rules.yml"
    assert run(capsys, "migration", "export-sg", MIG, "-o", str(rules))[0] == 0
    sg = Path(sys.executable).parent / "ast-grep"
    proc = subprocess.run(
        [str(sg), "scan", "--rule", str(rules), "--json=compact", str(tree)], capture_output=True, text=True
    )
    sg_hits = sorted(
        (Path(m["file"]).name, m["range"]["start"]["line"] + 1, m["range"]["start"]["column"] + 1)
        for m in json.loads(proc.stdout)
    )
    ours = sorted((Path(f.file).name, f.line, f.column) for f in lint_paths([str(tree)], MIG).findings)
    assert ours == sg_hits and len(ours) == 5


def test_pre_commit_hooks_run_the_real_commands(tmp_path, capsys):
    import shlex

    import yaml

    hooks = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {"canary-lint", "canary-fix"}
    repo = make_repo(tmp_path / "repo", {"a.ts": "const x = room.serverId;\n"})
    target = str(repo / "a.ts")
    lint = by_id["canary-lint"]
    argv = shlex.split(lint["entry"])[1:] + lint["args"] + [target]
    assert main(argv) == 1  # pre-commit passes the staged file names
    capsys.readouterr()
    fix = by_id["canary-fix"]
    assert main(shlex.split(fix["entry"])[1:] + fix["args"] + [target]) == 0
    assert (repo / "a.ts").read_text() == "const x = room.messageServerId;\n"
    assert main(argv) == 0


def test_parallel_lint_gives_the_same_report(tmp_path):
    for i in range(220):  # above PARALLEL_MIN_FILES, so workers are used
        body = "const x = room.serverId;\n" if i % 3 == 0 else "const y = 1;\n"
        (tmp_path / f"f{i:03}.ts").write_text(body)
    serial = lint_paths([str(tmp_path)], MIG, jobs=1)
    parallel = lint_paths([str(tmp_path)], MIG, jobs=2)
    assert parallel.to_dict() == serial.to_dict()
    assert len(serial.findings) == 74 and serial.files_scanned == 220


def test_every_output_labels_fixes_unverified(tmp_path, capsys):
    """lint never runs the fixed connector, and fix without --verify does not either: each says so."""
    repo = make_repo(tmp_path / "repo", {"a.ts": "const x = room.serverId;\n"})
    code, out, _ = run(capsys, "lint", str(repo), "-m", MIG)
    assert "+ const x = room.messageServerId;  (unverified)" in out and "fixes unverified until" in out
    _, out, _ = run(capsys, "lint", str(repo), "-m", MIG, "--format", "json")
    assert json.loads(out)["findings"][0]["fix"]["verification"] == "unverified"
    _, out, _ = run(capsys, "lint", str(repo), "-m", MIG, "--format", "sarif")
    fix = json.loads(out)["runs"][0]["results"][0]["fixes"][0]
    assert fix["properties"]["verification"] == "unverified" and fix["description"]["text"].endswith("(unverified)")
    _, out, _ = run(capsys, "lint", str(repo), "-m", MIG, "--format", "github")
    assert "(fix, unverified: " in out
    code, out, err = run(capsys, "fix", str(repo), "-m", MIG, "--format", "json")
    assert code == 1 and json.loads(out)["verification"] == {"status": "unverified"}
    jsonschema.validate(json.loads(out), json.loads((SCHEMAS / "fix.schema.json").read_text()))
    assert "these fixes are unverified" in err
    code, _, err = run(capsys, "fix", str(repo), "-m", MIG, "--write")
    assert code == 0 and "fixed 1 place(s) in 1 file(s) (unverified)" in err
