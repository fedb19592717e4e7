"""Sources: turn a connector ref or a core version into files on disk.

Connector sources: git (mirror + worktree), pypi and npm (published artifact),
path (a local directory). Core sources per ecosystem: registry version, git
ref, local path. Each returns plain dataclasses (Checkout, CoreArtifact).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from canary.matrix.context import CellContext, Checkout, CoreArtifact
from canary.kernel.errors import InfrastructureError
from canary.kernel.home import Home
from canary.matrix.model import Matrix
from canary.matrix.sources import git as gitsrc

__all__ = [
    "CONNECTOR_SOURCES",
    "CORE_SOURCES",
    "identify_connector",
    "checkout_connector",
    "materialize_connector",
    "materialize_core",
    "release",
    "check_refs",
]

CONNECTOR_SOURCES = {"pypi": "canary.matrix.sources.pypi", "npm": "canary.matrix.sources.npm"}
CORE_SOURCES = {"pypi": "canary.matrix.sources.pypi", "npm": "canary.matrix.sources.npm"}


def identify_connector(cx: CellContext) -> Checkout:
    """What the connector ref is (commit or digest), as cheaply as possible.

    For git this resolves the ref in the mirror without making a worktree, so a
    cell served from the result cache never touches the disk beyond the mirror.
    """
    src = cx.connector.source
    if src.kind == "git":
        repo = gitsrc.mirror(cx.home.mirrors, src.url)
        sha = gitsrc.resolve(repo, cx.cell.ref)
        if sha is None:
            raise InfrastructureError(f"git: ref {cx.cell.ref!r} does not exist in {src.url}")
        tree = cx.cell_dir / "src"
        return Checkout(path=tree / src.subdir if src.subdir else tree, commit=sha)
    if src.kind == "path":
        return materialize_connector(cx)
    return importlib.import_module(CONNECTOR_SOURCES[src.kind]).identify_connector(cx)


def checkout_connector(cx: CellContext) -> None:
    """Make the identified connector's files exist: a git worktree at the recorded commit, an
    unpacked registry artifact. Idempotent: a checkout that exists is left alone."""
    src = cx.connector.source
    if src.kind == "path" or cx.checkout.path.exists():
        return
    if src.kind == "git":
        repo = gitsrc.mirror(cx.home.mirrors, src.url)
        gitsrc.worktree(repo, cx.checkout.commit, cx.cell_dir / "src")
        cx.note(f"connector {cx.connector.name} {cx.cell.ref} at {cx.checkout.commit}")
        return
    importlib.import_module(CONNECTOR_SOURCES[src.kind]).checkout_connector(cx)


def materialize_connector(cx: CellContext) -> Checkout:
    """Identify the connector ref and make its files exist (for callers that need both at once)."""
    src = cx.connector.source
    if src.kind == "path":
        path = Path(src.url)
        if not path.is_dir():
            raise InfrastructureError(f"connector path does not exist: {path}")
        return Checkout(path=path, commit=gitsrc.head(path))
    cx.checkout = identify_connector(cx)
    checkout_connector(cx)
    return cx.checkout


def materialize_core(cx: CellContext) -> CoreArtifact:
    """Fetch or build the cell's core version through the source of the core's ecosystem."""
    module = importlib.import_module(CORE_SOURCES[cx.matrix.core.ecosystem])
    return module.materialize_core(cx, cx.cell.core)


def release(cx: CellContext) -> None:
    """Drop the cell's git worktree (the mirror stays)."""
    src = cx.connector.source
    if src.kind == "git" and cx.checkout is not None and (cx.cell_dir / "src").exists():
        repo = gitsrc.mirror(cx.home.mirrors, src.url, refresh=False)
        gitsrc.remove_worktree(repo, cx.cell_dir / "src")


def _mirror_or_error(home: Home, url: str, matrix: Matrix, path: tuple):
    try:
        return gitsrc.mirror(home.mirrors, url)
    except InfrastructureError as exc:
        raise matrix.positions.error(exc.reason, path) from None


def check_refs(matrix: Matrix, home: Home) -> None:
    """Every source named in the matrix exists (git repositories and refs, local paths); a missing
    one is an error naming its line, at plan time, never a cell `error` at run time."""
    for i, c in enumerate(matrix.connectors):
        if c.source.kind == "path" and not Path(c.source.url).is_dir():
            raise matrix.positions.error(f"connector path does not exist: {c.source.url}", ("connectors", i, "path"))
        if c.source.kind != "git":
            continue
        repo = _mirror_or_error(home, c.source.url, matrix, ("connectors", i, "git", "url"))
        for j, ref in enumerate(c.source.refs):
            if gitsrc.resolve(repo, ref) is None:
                raise gitsrc.missing_ref_error(
                    repo, c.source.url, ref, matrix.positions, ("connectors", i, "git", "refs", j)
                )
    for i, spec in enumerate(matrix.core.versions):
        if getattr(spec, "kind", None) == "git":
            repo = _mirror_or_error(home, spec.url, matrix, ("core", "versions", i, "git"))
            if gitsrc.resolve(repo, spec.ref) is None:
                raise gitsrc.missing_ref_error(
                    repo, spec.url, spec.ref, matrix.positions, ("core", "versions", i, "ref")
                )
        if getattr(spec, "kind", None) == "path" and not Path(spec.path).is_dir():
            raise matrix.positions.error(f"core path does not exist: {spec.path}", ("core", "versions", i, "path"))
    from canary.matrix.plan import check_published

    check_published(matrix)
