"""Scratch files a later run trusts are written whole or not at all, even when a write fails midway;
archives are unpacked by the one safe extractor.

The failure is real: the CLI runs in a subprocess whose file-size limit (RLIMIT_FSIZE) is below the
file it writes, so the kernel refuses the write past the limit (EFBIG, as ENOSPC on a full disk;
Python ignores SIGXFSZ) after the first megabyte reached the disk.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from canary.kernel.atomic import atomic_directory

BIG = 4 << 20  # the file being written when the process is killed
LIMIT = 1 << 20


def _failing_mid_write(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))

    return subprocess.run(
        [sys.executable, "-m", "canary", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )


def _big_source() -> str:
    line = "export const value = 'x';\n"
    return line * (BIG // len(line) + 1)


def test_extract_sources_failing_mid_write_leaves_no_truncated_source(tmp_path):
    big = _big_source()
    pkg = tmp_path / "package"
    (pkg / "dist").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "plugin-x", "version": "1.0.0"}))
    (pkg / "dist" / "index.js").write_text("//# sourceMappingURL=index.js.map\n")
    smap = {"version": 3, "sources": ["../src/big.ts"], "sourcesContent": [big], "mappings": ""}
    (pkg / "dist" / "index.js.map").write_text(json.dumps(smap))
    out = tmp_path / "out"

    proc = _failing_mid_write("migration", "extract-sources", str(pkg), "-o", str(out), cwd=tmp_path)
    assert proc.returncode != 0 and "File too large" in proc.stderr, proc.stderr
    target = out / "src" / "big.ts"
    # Before: a 1 MiB prefix of the source stood at src/big.ts, and `canary lint out` read it as the package.
    assert not target.exists() or target.read_text() == big

    done = subprocess.run(
        [sys.executable, "-m", "canary", "migration", "extract-sources", str(pkg), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text() == big


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_compat_git_side_failing_mid_tree_is_not_trusted_later(tmp_path):
    """`canary diff` caches a git side's tree by commit and trusts a tree that exists: a run that
    fails while writing it must leave no tree there, so the next run writes it whole."""
    repo = tmp_path / "core"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "package.json").write_text(json.dumps({"name": "core", "version": "1.0.0"}))
    (repo / "index.d.ts").write_text("export declare function keep(): void;\n")
    (repo / "zz-big.txt").write_text(_big_source())
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "1")
    home = tmp_path / "home"
    side = f"git:{repo}@HEAD"

    proc = _failing_mid_write("diff", side, side, cwd=tmp_path, env={"CANARY_HOME": str(home)})
    assert proc.returncode != 0 and "File too large" in proc.stderr, proc.stderr
    trees = home / "cache" / "compat" / "git"
    assert [p.name for p in trees.iterdir() if not p.name.startswith(".")] == []  # no tree to trust

    done = subprocess.run(
        [sys.executable, "-m", "canary", "diff", side, side, "--format", "json"],
        env={**os.environ, "CANARY_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (tree,) = [p for p in trees.iterdir() if not p.name.startswith(".")]
    assert (tree / "zz-big.txt").read_text() == _big_source()


def test_atomic_directory_exists_only_complete(tmp_path):
    dest = tmp_path / "cache" / "tree"
    with pytest.raises(RuntimeError), atomic_directory(dest) as tmp:
        (tmp / "half").write_text("x")
        raise RuntimeError("killed")
    assert not dest.exists() and list(dest.parent.iterdir()) == []  # nothing half-made, no temp left

    with atomic_directory(dest) as tmp:
        (tmp / "a").write_text("first")
        assert not dest.exists()  # a reader sees nothing until the block is done
    assert (dest / "a").read_text() == "first"

    with atomic_directory(dest) as tmp:  # another process made it first: its tree is kept
        (tmp / "a").write_text("second")
    assert (dest / "a").read_text() == "first" and [p.name for p in dest.parent.iterdir()] == ["tree"]


def test_lint_refuses_a_tarball_bomb_in_one_line(tmp_path):
    """`canary lint pkg.tgz` unpacks through the kernel's extractor and its limits: 64 MiB of zeros
    packed into a few KiB is refused before it fills the disk (before: unpacked in full)."""
    from tests.test_archives import _tar_bomb

    bomb = _tar_bomb(tmp_path / "plugin-x-1.0.0.tgz")
    proc = subprocess.run(
        [sys.executable, "-m", "canary", "lint", str(bomb), "-m", "elizaos-server-id"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"canary: error: {bomb}: cannot unpack package tarball: refused to unpack")
    assert len(proc.stderr.splitlines()) == 1
