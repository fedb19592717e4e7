"""A canary killed inside `git worktree add` must not poison the shared bare mirror.

The kill is real: a git (or canary) process is SIGKILLed the moment its worktree shows up as
"initializing" in the mirror, which is the window in which the old code left a worktree that
every later `worktree add` refused and every later `git fetch` died on.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest

from canary.matrix.sources import git as gitsrc
from canary.matrix.store import Store
from tests.conftest import canary

MANY = 3000  # files in the connector: enough that a checkout takes a visible moment to kill inside


def _kill_when_initializing(proc: subprocess.Popen, pattern: str, limit: float = 120) -> bool:
    """SIGKILL the process group as soon as a worktree matching `pattern` is half made."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if glob.glob(pattern):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.0005)
    return False


def _big_repo(root: Path) -> Path:
    repo_dir = root / "big"
    repo = git.Repo.init(repo_dir, initial_branch="main")
    for i in range(MANY):
        (repo_dir / f"f{i:04}.txt").write_text(f"{i}\n")
    repo.git.add(A=True)
    repo.git.commit(
        "-m",
        "many files",
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
        },
    )
    return repo_dir


def test_mirror_survives_a_git_killed_inside_worktree_add(tmp_path):
    url = str(_big_repo(tmp_path))
    mirrors = tmp_path / "mirrors"
    repo = gitsrc.mirror(mirrors, url)
    sha = repo.head.commit.hexsha
    dest = tmp_path / "work" / "cell" / "src"
    dest.parent.mkdir(parents=True)
    proc = subprocess.Popen(
        ["git", "--git-dir", repo.git_dir, "worktree", "add", "--detach", "--force", str(dest), sha],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert _kill_when_initializing(proc, f"{repo.git_dir}/worktrees/*/locked"), "git finished before it could be killed"

    gitsrc._fetched.clear()  # a new canary process: it fetches the mirror before use
    repo = gitsrc.mirror(mirrors, url)
    tree = gitsrc.worktree(repo, sha, dest)
    assert len([p for p in tree.iterdir() if p.suffix == ".txt"]) == MANY  # a complete checkout
    listed = repo.git.worktree("list", "--porcelain")
    assert str(dest) in listed and "locked" not in listed and "prunable" not in listed
    assert not list(Path(repo.git_dir).glob("*.lock"))


def test_stale_locks_are_cleared_and_a_torn_mirror_is_cloned_again(tmp_path):
    source = _big_repo(tmp_path)
    url = str(source)
    mirrors = tmp_path / "mirrors"
    git_dir = Path(gitsrc.mirror(mirrors, url).git_dir)
    # What a fetch killed half way leaves: a ref lock, and an object store missing what refs name.
    (git_dir / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (git_dir / "refs" / "heads" / "main.lock").write_text("")
    shutil.rmtree(git_dir / "objects")
    (git_dir / "objects" / "pack").mkdir(parents=True)
    upstream = git.Repo(source)
    (source / "new.txt").write_text("new\n")
    upstream.git.add(A=True)
    upstream.git.commit(
        "-m",
        "new",
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
        },
    )
    gitsrc._fetched.clear()
    repo = gitsrc.mirror(mirrors, url)
    assert repo.git.rev_parse("main^{commit}") == upstream.head.commit.hexsha
    repo.git.fsck("--connectivity-only")  # raises when an object is missing


@pytest.mark.parametrize("gitdir", ["", "relative/.git", "{other}/.git", None])
def test_recovery_deletes_no_directory_it_cannot_prove_is_the_worktree(tmp_path, monkeypatch, gitdir):
    """A kill can land before git writes the admin dir's `gitdir` (empty), or its checkout's `.git`.
    Recovery must then delete nothing but the admin dir: an empty `gitdir` once resolved to the
    working directory, and recovery wiped it."""
    url = str(_big_repo(tmp_path))
    repo = gitsrc.mirror(tmp_path / "mirrors", url)
    cwd = tmp_path / "cwd"
    (cwd / "keep").mkdir(parents=True)
    (cwd / "keep" / "file.txt").write_text("mine")
    other = tmp_path / "other"
    (other / "data").mkdir(parents=True)
    (other / ".git").write_text("gitdir: /elsewhere/worktrees/x\n")  # a checkout of another repository
    admin = Path(repo.git_dir) / "worktrees" / "half"
    admin.mkdir(parents=True)
    (admin / "locked").write_text("initializing\n")
    if gitdir is not None:
        (admin / "gitdir").write_text(gitdir.format(other=other) + "\n")
    monkeypatch.chdir(cwd)
    with gitsrc._mirror_lock(Path(repo.git_dir)) as recovered:
        assert recovered
    assert not admin.exists()
    assert (cwd / "keep" / "file.txt").read_text() == "mine"
    assert (other / "data").is_dir() and (other / ".git").is_file()


@pytest.fixture
def big_demo(demo, tmp_path):
    """The demo's alpha connector with many files, alone in a matrix."""
    alpha = tmp_path / "alpha"
    shutil.copytree(demo.connectors["alpha"], alpha)
    repo = git.Repo(alpha)
    for branch in ("main", "next"):
        repo.git.checkout(branch)
        for i in range(MANY):
            (alpha / "tests" / "fixtures" / f"f{i:04}.txt").parent.mkdir(exist_ok=True)
            (alpha / "tests" / "fixtures" / f"f{i:04}.txt").write_text(f"{i}\n")
        repo.git.add(A=True)
        repo.index.commit("many files")
    repo.git.checkout("main")
    text = demo.matrix.read_text()
    head, _, rest = text.partition("connectors:\n")
    alpha_block = rest.split("  - name: beta")[0].replace(repr(str(demo.connectors["alpha"])), repr(str(alpha)))
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(head + "connectors:\n" + alpha_block)
    return matrix


def test_canary_killed_inside_worktree_add_then_plan_and_resume(big_demo, tmp_path):
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canary",
            "run",
            "-c",
            str(big_demo),
            "--no-cache",
            "--report",
            "none",
            "--progress",
            "none",
        ],
        env={**os.environ, "CANARY_HOME": str(home)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert _kill_when_initializing(proc, f"{home}/mirrors/*/worktrees/*/locked"), "canary finished before the kill"
    run = Store(home / "runs").latest()
    assert json.loads(run.run_file.read_text())["state"] == "running"

    planned = canary("plan", "-c", str(big_demo), env={"CANARY_HOME": str(home)})
    assert planned.returncode == 0, planned.stderr
    resumed = canary(
        "run",
        "-c",
        str(big_demo),
        "--resume",
        run.run_id,
        "--no-cache",
        "--report",
        "none",
        "--progress",
        "plain",
        env={"CANARY_HOME": str(home)},
    )
    assert resumed.returncode == 1, resumed.stderr  # alpha@main regressed, as designed
    statuses = {cid: r.status for cid, r in run.read_cells().items()}
    assert statuses == {
        "alpha@main--core-1.0.0": "pass",
        "alpha@main--core-2.0.0": "fail",
        "alpha@next--core-1.0.0": "pass",
        "alpha@next--core-2.0.0": "pass",
    }, resumed.stderr
    for cid, r in run.read_cells().items():
        assert r.core.resolved == cid.rsplit("core-", 1)[1]
    again = canary(
        "run",
        "-c",
        str(big_demo),
        "--no-cache",
        "--report",
        "none",
        "--progress",
        "none",
        env={"CANARY_HOME": str(home)},
    )
    assert again.returncode == 1, again.stderr
