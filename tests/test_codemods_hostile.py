"""lint and fix on hostile trees (issue 12 item 7): only regular files are read, symlinks are
never followed out of the tree or written through, oversized files are skipped and reported,
git-ignored files are left alone. Each case runs the real CLI in a subprocess with a timeout
(a FIFO would otherwise block forever) and checks that nothing outside the tree changed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import canary

MIG = "elizaos-server-id"
BAD = "const s = room.serverId;\n"
TIMEOUT = 60  # seconds; a hang on a FIFO or /dev/zero fails the test instead of the suite


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _snapshot(root: Path) -> dict[str, str]:
    """Every entry under root: a link's target, a file's hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                out[str(p)] = "-> " + os.readlink(p)
            elif p.is_file():
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def outside(tmp_path) -> Path:
    """A directory beside the tree: nothing in it may be read as part of the tree or written."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.ts").write_text(BAD)
    (out / "target.txt").write_text("must not change\n")
    return out


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "b.ts").write_text(BAD)
    return repo


def test_fifo_named_ts_is_skipped_not_read(tmp_path, outside):
    repo = _repo(tmp_path)
    os.mkfifo(repo / "src" / "x.ts")
    before = _snapshot(outside)
    proc = canary("lint", str(repo), "-m", MIG, "--format", "json", timeout=TIMEOUT)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stderr
    assert {"file": str(repo / "src" / "x.ts"), "reason": "not a regular file"} in doc["skipped"]
    assert [f["file"] for f in doc["findings"]] == [str(repo / "src" / "b.ts")]
    # a FIFO named on the command line is skipped too
    proc = canary("lint", str(repo / "src" / "x.ts"), "-m", MIG, timeout=TIMEOUT)
    assert proc.returncode == 0 and "x.ts: skipped: not a regular file" in proc.stdout
    proc = canary("fix", str(repo), "-m", MIG, timeout=TIMEOUT)
    assert proc.returncode == 1 and "x.ts: skipped: not a regular file" in proc.stderr
    assert _snapshot(outside) == before


def test_symlinks_are_not_followed_out_of_the_tree(tmp_path, outside):
    repo = _repo(tmp_path)
    os.symlink(outside / "secret.ts", repo / "src" / "link.ts")
    os.symlink(outside, repo / "src" / "linkdir")
    os.symlink("/dev/zero", repo / "src" / "zero.ts")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "tree with links")
    before = _snapshot(outside)
    proc = canary("lint", str(repo), "-m", MIG, "--format", "json", timeout=TIMEOUT)
    doc = json.loads(proc.stdout)
    assert [f["file"] for f in doc["findings"]] == [str(repo / "src" / "b.ts")]
    reasons = {s["file"]: s["reason"] for s in doc["skipped"]}
    assert reasons[str(repo / "src" / "link.ts")] == "a symbolic link (not followed)"
    assert reasons[str(repo / "src" / "zero.ts")] == "a symbolic link (not followed)"
    assert not any("linkdir" in f for f in reasons)  # a linked directory is not walked at all
    proc = canary("fix", str(repo), "-m", MIG, "--write", timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "src" / "b.ts").read_text() == "const s = room.messageServerId;\n"
    # tracked symlinks are left as they are
    assert os.readlink(repo / "src" / "link.ts") == str(outside / "secret.ts")
    assert os.readlink(repo / "src" / "zero.ts") == "/dev/zero"
    assert _snapshot(outside) == before


def test_oversized_file_and_dev_zero_are_skipped_quickly(tmp_path, outside):
    repo = _repo(tmp_path)
    big = repo / "src" / "big.ts"
    with open(big, "wb") as fh:  # 100 MB, sparse: costs no disk
        fh.truncate(100 * 1024 * 1024)
    os.symlink("/dev/zero", repo / "src" / "dev.ts")
    before = _snapshot(outside)
    proc = canary("lint", str(repo), "-m", MIG, "--format", "json", timeout=TIMEOUT)
    doc = json.loads(proc.stdout)
    reasons = {s["file"]: s["reason"] for s in doc["skipped"]}
    assert reasons[str(big)].startswith("larger than 8 MiB")
    assert str(repo / "src" / "dev.ts") in reasons
    assert doc["files_scanned"] == 1
    proc = canary("lint", str(big), "-m", MIG, timeout=TIMEOUT)  # named on the command line
    assert proc.returncode == 0 and "big.ts: skipped: larger than 8 MiB" in proc.stdout
    assert _snapshot(outside) == before


def test_fix_write_never_writes_through_a_committed_tmp_symlink(tmp_path, outside):
    repo = _repo(tmp_path)
    # the old writer wrote to `<file>.canary-tmp` without O_EXCL: a committed symlink of that name
    # redirected the write to any file the user can write
    os.symlink(outside / "target.txt", repo / "src" / "b.ts.canary-tmp")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "hostile")
    before = _snapshot(outside)
    proc = canary("fix", str(repo), "-m", MIG, "--write", timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert (repo / "src" / "b.ts").read_text() == "const s = room.messageServerId;\n"
    assert os.readlink(repo / "src" / "b.ts.canary-tmp") == str(outside / "target.txt")
    assert _snapshot(outside) == before
    assert sorted(p.name for p in (repo / "src").iterdir()) == ["b.ts", "b.ts.canary-tmp"]  # no temp left


def test_fix_leaves_git_ignored_files_alone(tmp_path, outside):
    repo = _repo(tmp_path)
    (repo / ".gitignore").write_text("generated/\n*.gen.ts\n")
    (repo / "generated").mkdir()
    (repo / "generated" / "g.ts").write_text(BAD)
    (repo / "src" / "c.gen.ts").write_text(BAD)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "tree")
    proc = canary("fix", str(repo), "-m", MIG, "--write", timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert "c.gen.ts: skipped: ignored by git (left alone)" in proc.stderr
    assert (repo / "src" / "c.gen.ts").read_text() == BAD
    assert (repo / "generated" / "g.ts").read_text() == BAD
    assert (repo / "src" / "b.ts").read_text() == "const s = room.messageServerId;\n"
    assert _git(repo, "status", "--porcelain") == " M src/b.ts\n"


def test_write_refuses_a_file_turned_into_a_symlink_after_planning(tmp_path, outside):
    """The write re-checks the target: a file swapped for a symlink between read and write is not followed."""
    from canary.codemods.fix import plan_fixes, write_fixes

    repo = _repo(tmp_path)
    result = plan_fixes([str(repo)], MIG)
    target = repo / "src" / "b.ts"
    target.unlink()
    os.symlink(outside / "target.txt", target)
    before = _snapshot(outside)
    refused = write_fixes(result)
    assert refused == [{"file": str(target), "reason": "not written: a symbolic link (not followed)"}]
    assert _snapshot(outside) == before and target.is_symlink()
