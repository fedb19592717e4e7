"""The few git operations promotion needs, as argv lists (no shell).

Reading is done with `git rev-parse`/`for-each-ref`/`ls-remote`; the only write
is `git tag -a`, which refuses by itself to overwrite an existing tag, so a
release tag is never moved or deleted even if two promotions race.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from canary.kernel.errors import UserError

LS_REMOTE_TIMEOUT_S = 30.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Never wait for a password prompt: an unreachable remote is "not checkable", not a hang.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


def git(repo: Path, *args: str, check: bool = True, timeout: float | None = 60.0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise UserError(
            f"{shlex.join(['git', *args])} failed: {proc.stderr.strip() or proc.stdout.strip()}", file=str(repo)
        )
    return proc


def ensure_repo(repo: Path) -> Path:
    proc = git(repo, "rev-parse", "--git-dir", check=False) if repo.is_dir() else None
    if proc is None or proc.returncode != 0:
        raise UserError(
            "not a git repository", file=str(repo), key="--repo", hint="pass the core repository with --repo PATH"
        )
    return repo


def tag_commit(repo: Path, tag: str) -> str | None:
    """The commit a tag points to (peeled through annotated tags), or None if no such tag."""
    proc = git(repo, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def tag_created(repo: Path, tag: str) -> int | None:
    """Unix time the tag was made: tagger date, or commit date for a lightweight tag."""
    proc = git(repo, "for-each-ref", "--format=%(creatordate:unix)", f"refs/tags/{tag}", check=False)
    text = proc.stdout.strip()
    return int(text) if text.isdigit() else None


def valid_tag_name(repo: Path, name: str) -> bool:
    return git(repo, "check-ref-format", f"refs/tags/{name}", check=False).returncode == 0


def create_tag(repo: Path, name: str, commit: str, message: str, sign_key: Path | None = None) -> None:
    args = ["tag", "-a", name, commit, "-F", "-"]
    cfg: list[str] = []
    if sign_key is not None:
        # An SSH-signed tag (git >= 2.34): offline, no agent or keyring needed.
        cfg = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={sign_key}"]
        args = ["tag", "-s", name, commit, "-F", "-"]
    proc = subprocess.run(
        ["git", "-C", str(repo), *cfg, *args],
        input=message,
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    if proc.returncode != 0:
        raise UserError(f"git tag {name} failed: {proc.stderr.strip()}", file=str(repo))


@dataclass
class RemoteRef:
    """What `git ls-remote` says a ref is now."""

    kind: str  # branch | tag | missing | unreachable
    commit: str | None = None
    detail: str = ""


def remote_ref(url: str, ref: str) -> RemoteRef:
    try:
        proc = subprocess.run(
            ["git", "ls-remote", "--", url, f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}"],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=LS_REMOTE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        return RemoteRef("unreachable", detail=str(exc))
    if proc.returncode != 0:
        lines = (proc.stderr.strip() or f"exit {proc.returncode}").splitlines()
        return RemoteRef("unreachable", detail=lines[-1] if lines else "")
    refs = {}
    for line in proc.stdout.splitlines():
        sha, _, name = line.partition("\t")
        refs[name] = sha
    if f"refs/heads/{ref}" in refs:
        return RemoteRef("branch", refs[f"refs/heads/{ref}"])
    if f"refs/tags/{ref}^{{}}" in refs:
        return RemoteRef("tag", refs[f"refs/tags/{ref}^{{}}"])
    if f"refs/tags/{ref}" in refs:
        return RemoteRef("tag", refs[f"refs/tags/{ref}"])
    return RemoteRef("missing")
