"""git sources: one bare mirror per repository, one worktree per cell, the commit recorded."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import git

from canary.kernel.errors import InfrastructureError, UserError
from canary.kernel.locks import exclusive
from canary.matrix.context import CellContext, Checkout
from canary.matrix.model import CoreSpec, Matrix, slug

if TYPE_CHECKING:
    from canary.kernel.home import Home
    from canary.kernel.yamlpos import Positions

__all__ = [
    "mirror_path",
    "mirror",
    "recover",
    "known_refs",
    "resolve",
    "missing_ref_error",
    "worktree",
    "remove_worktree",
    "head",
    "build_at_ref",
    "mirror_or_error",
    "required",
    "GitSource",
    "SOURCE",
]

_fetched: set[str] = set()
_fetched_guard = threading.Lock()


def mirror_path(mirrors: Path, url: str) -> Path:
    """The bare mirror of a repository URL under `mirrors`."""
    return mirrors / f"{slug(Path(url.rstrip('/')).name)}-{hashlib.sha256(url.encode()).hexdigest()[:10]}.git"


def mirror(mirrors: Path, url: str, refresh: bool = True) -> git.Repo:
    """The bare mirror of `url`, cloned or fetched at most once per process.

    What a killed canary left in it (a half-made worktree, lock files) is cleared first, and a
    mirror that is still inconsistent after that is cloned again rather than trusted.
    """
    path = mirror_path(mirrors, url)
    with _mirror_lock(path) as recovered:
        try:
            if recovered and not _consistent(path):
                shutil.rmtree(path)
            if not (path / "HEAD").exists():
                if path.exists():
                    shutil.rmtree(path)  # a half-made clone from a killed run
                git.Repo.clone_from(url, path, mirror=True, env={"GIT_TERMINAL_PROMPT": "0"})
                with _fetched_guard:
                    _fetched.add(str(path))
            elif refresh:
                with _fetched_guard:
                    done = str(path) in _fetched
                if not done:
                    repo = git.Repo(path)
                    repo.git.fetch(
                        "--prune",
                        "origin",
                        "+refs/heads/*:refs/heads/*",
                        "+refs/tags/*:refs/tags/*",
                        env={"GIT_TERMINAL_PROMPT": "0"},
                    )
                    with _fetched_guard:
                        _fetched.add(str(path))
        except git.GitCommandError as exc:
            raise InfrastructureError(f"git: cannot mirror {url}: {_first_error(exc)}") from None
        return git.Repo(path)


@contextlib.contextmanager
def _mirror_lock(git_dir: Path) -> Iterator[bool]:
    """The mirror's lock, with the leftovers of killed processes cleared (yields whether any were)."""
    with exclusive(git_dir.with_suffix(".lock")):
        yield recover(git_dir)


def recover(git_dir: Path) -> bool:
    """Undo what a git process killed half way left in a bare mirror; True when anything was found.

    Call it only with the mirror's lock held: every canary process changes a mirror under that
    lock, so a lock file or a worktree still "initializing" seen now belongs to a dead process.
    Left alone, `git worktree add` refuses the path ("missing but locked worktree") and `git fetch`
    dies on the half-made worktree's zero HEAD, for every later run on this machine.
    """
    if not git_dir.is_dir():
        return False
    found = False
    for lock in [*git_dir.glob("*.lock"), *(git_dir / "refs").rglob("*.lock")]:
        lock.unlink(missing_ok=True)
        found = True
    admin = git_dir / "worktrees"
    for entry in sorted(admin.iterdir()) if admin.is_dir() else ():
        if not _half_made(entry):
            continue
        found = True
        checkout = _checkout_of(entry)
        shutil.rmtree(entry, ignore_errors=True)
        if checkout is not None:
            shutil.rmtree(checkout, ignore_errors=True)
    if found:
        subprocess.run(["git", "--git-dir", str(git_dir), "worktree", "prune"], capture_output=True, check=False)
    return found


def _half_made(admin: Path) -> bool:
    """A worktree that `git worktree add` never finished: still locked as initializing, or whose
    HEAD names no commit (git writes a zero id first and the real one at the end)."""
    locked = admin / "locked"
    if locked.is_file() and locked.read_text(errors="replace").strip() == "initializing":
        return True
    try:
        head = (admin / "HEAD").read_text(errors="replace").strip()
    except OSError:
        return True
    return head == "" or set(head) == {"0"}


def _checkout_of(admin: Path) -> Path | None:
    """The checkout of a half-made worktree, only when it provably is one: an absolute `.../.git`
    named by the admin dir whose own `.git` file points back at that admin dir. A kill can land
    before git has written `gitdir` (empty: `Path("").parent` is the working directory) or the
    checkout's `.git`; then nothing is deleted, and `worktree()` replaces the path it knows."""
    try:
        named = (admin / "gitdir").read_text(errors="replace").strip()
    except OSError:
        return None
    dotgit = Path(named)
    if not named or not dotgit.is_absolute() or dotgit.name != ".git":
        return None
    try:
        back = dotgit.read_text(errors="replace").strip()
    except OSError:
        return None
    if not back.startswith("gitdir:") or Path(back[len("gitdir:") :].strip()).resolve() != admin.resolve():
        return None
    return dotgit.parent


def _consistent(git_dir: Path) -> bool:
    """After a crash: every ref resolves to objects that are all there (no half-written pack)."""
    if not (git_dir / "HEAD").is_file():
        return False
    probe = subprocess.run(
        ["git", "--git-dir", str(git_dir), "fsck", "--connectivity-only", "--no-dangling"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def _first_error(exc: git.GitCommandError) -> str:
    text = (exc.stderr or str(exc)).strip().replace("stderr: ", "")
    lines = [ln.strip(" '") for ln in text.splitlines() if ln.strip(" '")]
    fatal = [ln for ln in lines if ln.startswith("fatal:")]
    return (fatal or lines or ["unknown error"])[0]


def known_refs(repo: git.Repo) -> list[str]:
    """The branches and tags of a repository."""
    out = repo.git.for_each_ref("--format=%(refname:short)", "refs/heads", "refs/tags")
    return [r for r in out.splitlines() if r]


_resolved: dict[tuple[str, str], str | None] = {}


def resolve(repo: git.Repo, ref: str) -> str | None:
    """The commit of a ref in a mirror, asked of git once per process (the mirror is fetched once too)."""
    key = (str(repo.git_dir), ref)
    if key not in _resolved:
        try:
            _resolved[key] = repo.git.rev_parse("--verify", "--quiet", f"{ref}^{{commit}}")
        except git.GitCommandError:
            _resolved[key] = None
    return _resolved[key]


def missing_ref_error(
    repo: git.Repo, url: str, ref: str, pos: Positions | None = None, path: tuple[str | int, ...] = ()
) -> UserError:
    """A UserError for a ref the repository does not have, with the closest known ref as a hint."""
    refs = known_refs(repo)
    close = difflib.get_close_matches(ref, refs, n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(refs[:8]) or 'none'}"
    msg = f"ref {ref!r} does not exist in {url}"
    if pos is not None:
        return pos.error(msg, path, hint=hint)
    return UserError(msg, hint=hint)


def worktree(repo: git.Repo, sha: str, dest: Path) -> Path:
    """A detached worktree of `sha` at `dest` (replacing a leftover one)."""
    with _mirror_lock(Path(repo.git_dir)):
        if dest.exists():
            remove_worktree(repo, dest, locked=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            repo.git.worktree("add", "--detach", "--force", str(dest), sha)
        except git.GitCommandError:
            # A worktree registered by a killed run at this path: forget stale ones and retry.
            repo.git.worktree("prune")
            repo.git.worktree("add", "--detach", "--force", str(dest), sha)
    return dest


def remove_worktree(repo: git.Repo, dest: Path, locked: bool = False) -> None:
    """Remove a git worktree and its directory (under the mirror's lock when `locked`)."""

    def _remove() -> None:
        try:
            repo.git.worktree("remove", "--force", str(dest))
        except git.GitCommandError:
            shutil.rmtree(dest, ignore_errors=True)
            repo.git.worktree("prune")

    if locked:
        _remove()
    else:
        with _mirror_lock(Path(repo.git_dir)):
            _remove()


def head(path: Path) -> str | None:
    """The commit checked out at a local path, or None when it is not a git checkout."""
    try:
        return git.Repo(path, search_parent_directories=True).head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None


def build_at_ref(
    cx: CellContext, spec: CoreSpec, kind: str, suffix: str, build: Callable[[Path, Path], object]
) -> tuple[Path, str]:
    """An artifact of the core built from a git ref, once per commit (cached by commit).

    `build(source_dir, out_dir)` writes one file ending in `suffix` into out_dir; it runs in
    a temporary worktree that is removed afterwards. Returns (artifact, commit).
    """
    from canary.kernel.locks import exclusive

    url, ref = required(spec.url, f"core {spec.label}: git url"), required(spec.ref, f"core {spec.label}: git ref")
    repo = mirror(cx.home.mirrors, url)
    sha = resolve(repo, ref)
    if sha is None:
        raise missing_ref_error(repo, url, ref)
    out = cx.home.dir("cache", "artifacts", kind, slug(cx.matrix.core.name), sha)
    with exclusive(out.with_suffix(".lock")):
        if not list(out.glob(f"*{suffix}")):
            tree = worktree(repo, sha, cx.cell_dir / "core-src")
            try:
                build(tree / (spec.subdir or ""), out)
            finally:
                remove_worktree(repo, tree)
        return sorted(out.glob(f"*{suffix}"))[0], sha


def mirror_or_error(home: Home, url: str, matrix: Matrix, path: tuple[str | int, ...]) -> git.Repo:
    """The mirror of `url`, or (plan time) an error naming the matrix.yaml line that names it."""
    try:
        return mirror(home.mirrors, url)
    except InfrastructureError as exc:
        raise matrix.error(exc.reason, path) from None


def required(value: str | None, what: str) -> str:
    """A field config.load always sets for its kind (a git core's url and ref, a path connector's
    directory, a checkout's commit), checked here rather than assumed: a missing one is an error."""
    if value is None:
        raise UserError(f"{what} is missing")
    return value


class GitSource:
    """A connector's refs from a git repository: one bare mirror, one worktree per cell."""

    NAME = "git"

    def identify(self, cx: CellContext) -> Checkout:
        """The ref's commit, resolved in the mirror without making a worktree."""
        src = cx.connector.source
        url = required(src.url, f"connector {cx.connector.name}: git url")
        sha = resolve(mirror(cx.home.mirrors, url), cx.cell.ref)
        if sha is None:
            raise InfrastructureError(f"git: ref {cx.cell.ref!r} does not exist in {url}")
        tree = cx.cell_dir / "src"
        return Checkout(path=tree / src.subdir if src.subdir else tree, commit=sha)

    def checkout(self, cx: CellContext) -> None:
        checkout = cx.checked_out
        if checkout.path.exists():
            return
        repo = mirror(cx.home.mirrors, required(cx.connector.source.url, f"connector {cx.connector.name}: git url"))
        worktree(repo, required(checkout.commit, f"connector {cx.connector.name}: commit"), cx.cell_dir / "src")
        cx.note(f"connector {cx.connector.name} {cx.cell.ref} at {checkout.commit}")

    def release(self, cx: CellContext) -> None:
        """Drop the cell's worktree (the mirror stays)."""
        if cx.checkout is not None and (cx.cell_dir / "src").exists():
            url = required(cx.connector.source.url, f"connector {cx.connector.name}: git url")
            repo = mirror(cx.home.mirrors, url, refresh=False)
            remove_worktree(repo, cx.cell_dir / "src")

    def check(self, matrix: Matrix, home: Home, index: int) -> None:
        src = matrix.connectors[index].source
        url = required(src.url, f"connector {matrix.connectors[index].name}: git url")
        repo = mirror_or_error(home, url, matrix, ("connectors", index, "git", "url"))
        for j, ref in enumerate(src.refs):
            if resolve(repo, ref) is None:
                raise missing_ref_error(repo, url, ref, matrix.positions, ("connectors", index, "git", "refs", j))


SOURCE = GitSource()
