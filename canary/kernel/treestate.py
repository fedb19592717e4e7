"""The state of a local core tree: clean (exactly its commit), dirty, or untracked.

A `path:` core is built from whatever files are on disk. Its recorded commit (HEAD) only
says what was tested when the tree is clean; with uncommitted or untracked changes the
artifact is something no commit holds, so `canary promote` must not take it as the tag.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CLEAN", "DIRTY", "UNTRACKED", "TreeState", "tree_state"]

CLEAN, DIRTY, UNTRACKED = "clean", "dirty", "untracked"


@dataclass(frozen=True)
class TreeState:
    """Whether a git work tree is exactly its HEAD, and if not, a digest of the difference."""

    tree: str  # clean | dirty | untracked
    diff_digest: str | None = None  # sha256 of the changes (dirty only)


def _git(path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, stdin=subprocess.DEVNULL, timeout=120)


def tree_state(path: Path | str) -> TreeState:
    """Whether the files under `path` are exactly those of HEAD (ignored files do not count)."""
    path = Path(path)
    if _git(path, "rev-parse", "--verify", "HEAD").returncode != 0:
        return TreeState(UNTRACKED)
    status = _git(path, "status", "--porcelain", "--untracked-files=all", "--", ".")
    if status.returncode != 0:
        return TreeState(UNTRACKED)
    if not status.stdout.strip():
        return TreeState(CLEAN)
    h = hashlib.sha256(_git(path, "diff", "HEAD", "--binary", "--", ".").stdout)
    untracked = _git(path, "ls-files", "--others", "--exclude-standard", "-z", "--", ".").stdout.split(b"\0")
    for name in sorted(n for n in untracked if n):
        h.update(b"\0untracked\0" + name + b"\0")
        file = path / Path(name.decode("utf-8", "surrogateescape"))
        if file.is_file():
            h.update(hashlib.sha256(file.read_bytes()).digest())
    return TreeState(DIRTY, h.hexdigest())
