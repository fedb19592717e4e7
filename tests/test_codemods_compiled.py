"""The compiled-migration cache (canary.codemods.compiled) and what a warm `canary lint` leaves out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from canary.codemods.compiled import cache_dir, load_compiled
from canary.codemods.engine import compile_migration
from canary.codemods.lint import lint_paths
from canary.codemods.migration import load_migration

MIG = "elizaos-server-id"
SOURCE = """export function f(room: any, world: any) {
  const a = room.serverId;
  world.serverId = a;
  return room?.serverId;
}
"""
RENAMES = """id: cached
version: "1.0.0"
core: ">=2"
renames:
  - {id: one, language: typescript, kind: member, old: fieldOne, new: renamedOne}
"""


def _configs(compiled) -> dict:
    return {lang: [(c.rule.id, c.config, c.words) for c in rules] for lang, rules in compiled.items()}


def test_second_load_comes_from_the_cache_and_equals_a_fresh_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    first_mig, first = load_compiled(MIG)
    entries = list(cache_dir().glob("*.json"))
    assert len(entries) == 1 and entries[0].parent == tmp_path / "home" / "cache" / "lint"
    second_mig, second = load_compiled(MIG)
    fresh = compile_migration(load_migration(MIG))
    assert _configs(second) == _configs(first) == _configs(fresh)
    assert second_mig.to_dict() == first_mig.to_dict() == load_migration(MIG).to_dict()
    assert [r.line for r in second_mig.rules] == [r.line for r in load_migration(MIG).rules]
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.ts").write_text(SOURCE)
    cached = lint_paths([str(src)], second_mig, compiled=second).to_dict()
    assert cached == lint_paths([str(src)], MIG).to_dict()
    assert cached["findings"]


def test_an_edited_migration_file_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    mig = tmp_path / "m.yaml"
    mig.write_text(RENAMES)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.ts").write_text("export const x = (w: any) => [w.fieldOne, w.fieldTwo];\n")
    m, c = load_compiled(str(mig))
    assert [f.text for f in lint_paths([str(src)], m, compiled=c).findings] == ["w.fieldOne"]
    mig.write_text(RENAMES.replace("fieldOne", "fieldTwo"))
    m, c = load_compiled(str(mig))
    assert [f.text for f in lint_paths([str(src)], m, compiled=c).findings] == ["w.fieldTwo"]


def test_an_unreadable_cache_entry_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    load_compiled(MIG)
    (entry,) = cache_dir().glob("*.json")
    entry.write_text('{"format": 1, "migration": {"id": "x"}}')
    mig, compiled = load_compiled(MIG)
    assert _configs(compiled) == _configs(compile_migration(load_migration(MIG)))
    assert json.loads(entry.read_text())["migration"]["id"] == MIG  # rewritten


def _lint_modules(tmp_path: Path, env: dict) -> dict:
    """Run `canary lint` in a fresh interpreter; report which heavy modules it imported and its peak RSS
    (Linux: /proc/self/status)."""
    (tmp_path / "a.ts").write_text(SOURCE)
    code = (
        "import sys\n"
        "from canary.cli import main\n"
        f"rc = main(['lint', {str(tmp_path / 'a.ts')!r}, '-m', {MIG!r}, '--format', 'json', '-o', "
        f"{str(tmp_path / 'out.json')!r}])\n"
        "mods = [m for m in ('jsonschema', 'yaml', 'tomlkit', 'tarfile', 'multiprocessing') if m in sys.modules]\n"
        # VmHWM, not ru_maxrss: that one keeps the pytest parent's size across fork and exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(rc, ','.join(mods) or '-', int(hwm) // 1024)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    rc, mods, rss = proc.stdout.split()
    return {"rc": int(rc), "modules": mods, "rss_mib": int(rss)}


def test_a_warm_lint_neither_validates_nor_imports_what_it_does_not_use(tmp_path):
    env = {"CANARY_HOME": str(tmp_path / "home")}
    cold = _lint_modules(tmp_path, env)
    assert cold["rc"] == 1 and "jsonschema" in cold["modules"]  # the first run validates the migration
    warm = _lint_modules(tmp_path, env)
    assert warm["rc"] == 1 and warm["modules"] == "-"
    assert json.loads((tmp_path / "out.json").read_text())["findings"]


def test_rule_pruning_captures_no_rust_backtraces(tmp_path):
    # With RUST_BACKTRACE=1 every expected compile failure used to capture a backtrace: 76 MiB peak
    # instead of 27 for the shipped migration (measured); 55 leaves room for other builds.
    cold = _lint_modules(tmp_path, {"CANARY_HOME": str(tmp_path / "home"), "RUST_BACKTRACE": "1"})
    assert cold["rc"] == 1 and cold["rss_mib"] < 55, cold
