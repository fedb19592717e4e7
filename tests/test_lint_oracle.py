"""`canary lint` finds exactly what the ast-grep CLI finds with the same rules (`canary migration
export-sg`), on the bench's generated connector tree: same files, positions, rules and replacements.
The CLI is the oracle for canary's own search (the combined rule, shared branches, constraint checks)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _sg() -> str:
    for name in ("ast-grep", "sg"):
        cand = Path(sys.executable).parent / name
        if cand.exists():
            return str(cand)
        if shutil.which(name):
            return str(shutil.which(name))
    pytest.skip("ast-grep CLI not installed (test extra ast-grep-cli)")


def _canary(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "canary", *args], cwd=cwd, capture_output=True, text=True)


def _bench():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_lint
    finally:
        sys.path.pop(0)
    return bench_lint


def _compare(tmp_path: Path, tree: str, migration: str) -> int:
    rules = tmp_path / "rules.yml"
    assert _canary("migration", "export-sg", migration, "-o", str(rules), cwd=tmp_path).returncode == 0
    lint = _canary("lint", tree, "--migration", migration, "--format", "json", "-j", "2", cwd=tmp_path)
    assert lint.returncode in (0, 1), lint.stderr
    mine = {
        (f["file"], f["line"], f["column"], f["end_line"], f["end_column"], f["rule"], f["fix"]["replacement"])
        for f in json.loads(lint.stdout)["findings"]
    }
    scan = subprocess.run(
        [_sg(), "scan", "--rule", str(rules), "--json=compact", tree], cwd=tmp_path, capture_output=True, text=True
    )
    theirs = {
        (
            m["file"],
            m["range"]["start"]["line"] + 1,
            m["range"]["start"]["column"] + 1,
            m["range"]["end"]["line"] + 1,
            m["range"]["end"]["column"] + 1,
            m["ruleId"].rsplit("@", 1)[0],
            m.get("replacement"),
        )
        for m in json.loads(scan.stdout or "[]")
    }
    assert mine == theirs
    return len(mine)


def test_lint_finds_what_ast_grep_finds_on_a_generated_tree(tmp_path):
    # 240 files: past PARALLEL_MIN_FILES, so the forked workers are part of what is compared.
    _bench().generate(tmp_path / "tree", 240, mixed=True, seed=11)
    assert _compare(tmp_path, "tree", "elizaos-server-id") > 200


def test_lint_finds_what_ast_grep_finds_with_200_rules(tmp_path):
    tree, migration = _bench().many_rules(tmp_path)
    assert _compare(tmp_path, tree.name, str(migration)) == 4
