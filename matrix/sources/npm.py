"""npm sources: published packages via `npm pack`, and cores packed from a git ref or a path.

Every artifact is a tarball in the shared artifact cache
(`<home>/cache/artifacts/npm/<name>/<version>/`, matrix/npm_artifacts.py), packed once and
reused by every cell, every later run and `canary diff`: an exact version is never fetched
twice. The digest recorded is the tarball's sha256.

The standalone entry points live in matrix/npm_artifacts.py (`materialize_npm(spec, cache_dir,
npm_cache)`, `materialize_npm_all(specs, ...)`); `SOURCE` (an NpmSource) is the harness's
interface (the Source protocol of matrix/sources/__init__.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from canary.kernel.archives import safe_extract
from canary.kernel.digest import file_sha256
from canary.kernel.errors import InfrastructureError
from canary.matrix.context import CellContext, Checkout, CoreArtifact
from canary.matrix.model import CoreSpec, Matrix
from canary.matrix.npm_artifacts import (
    Run,
    explain_npm,
    materialize_npm,
    npm_failure,
    pack_directory,
    plain_run,
    read_manifest,
)
from canary.matrix.registry import npm_versions

if TYPE_CHECKING:
    from canary.kernel.home import Home

__all__ = [
    "NpmSource",
    "SOURCE",
    "artifacts_dir",
    "checkout_connector",
    "cx_run",
    "identify_connector",
    "materialize_core",
    # npm_artifacts' standalone entry points, re-exported for the runners and the tests
    "Run",
    "explain_npm",
    "materialize_npm",
    "npm_failure",
    "pack_directory",
    "plain_run",
    "read_manifest",
]


# --- the harness's interface ------------------------------------------------


def cx_run(cx: CellContext) -> Run:
    def run(phase: str, argv: list[str], cwd: Path) -> tuple[int | None, list[str]]:
        out = cx.run(phase, argv, cwd=cwd)
        if out.record.timed_out:
            raise InfrastructureError(f"{phase} timed out after {out.record.duration_s:.0f}s")
        return out.record.exit_code, out.tail

    return run


def artifacts_dir(cx: CellContext) -> Path:
    return cx.home.dir("cache", "artifacts", "npm")


def materialize_core(cx: CellContext, spec: CoreSpec) -> CoreArtifact:
    from canary.matrix.sources import git as gitsrc

    name = cx.matrix.core.name
    npm_cache = cx.home.npm_cache
    if spec.kind == "registry":
        version = gitsrc.required(spec.version, f"core {spec.label}: version")
        art = materialize_npm(f"{name}@{version}", artifacts_dir(cx), npm_cache, run=cx_run(cx))
        cx.note(f"core {name}@{art.version}: {art.path.name} {art.digest}")
        return CoreArtifact(path=art.path, version=art.version, digest=art.digest)
    if spec.kind == "git":
        tgz, sha = gitsrc.build_at_ref(
            cx, spec, "npm-built", ".tgz", lambda src, out: pack_directory(src, out, npm_cache, run=cx_run(cx))
        )
        return CoreArtifact(
            path=tgz,
            version=read_manifest(tgz).get("version", "0.0.0"),
            digest=file_sha256(tgz),
            commit=sha,
            tree="clean",
        )
    # A local path is packed every time: its files may have changed since the last run.
    from canary.kernel.treestate import tree_state

    source_dir = Path(gitsrc.required(spec.path, f"core {spec.label}: path"))
    state = tree_state(source_dir)
    art = pack_directory(source_dir, cx.cell_dir / "core-pack", npm_cache, run=cx_run(cx))
    return CoreArtifact(
        path=art.path,
        version=art.version,
        digest=art.digest,
        commit=gitsrc.head(source_dir),
        tree=state.tree,
        diff_digest=state.diff_digest,
    )


def identify_connector(cx: CellContext) -> Checkout:
    """The packed tarball (cached) and its digest; nothing is unpacked yet."""
    c = cx.connector
    art = materialize_npm(f"{c.package}@{cx.cell.ref}", artifacts_dir(cx), cx.home.npm_cache, run=cx_run(cx))
    return Checkout(path=cx.cell_dir / "src", digest=art.digest, artifact=art.path, version=art.version)


def checkout_connector(cx: CellContext) -> None:
    checkout = cx.checked_out
    if checkout.artifact is None:
        raise InfrastructureError(f"connector {cx.connector.name}: no tarball identified to unpack")
    checkout.path = safe_extract(checkout.artifact, cx.cell_dir / "src")
    cx.note(f"connector {cx.connector.package}@{checkout.version}: {checkout.artifact.name} {checkout.digest}")


class NpmSource:
    """The npm ecosystem: published connectors and core versions as packed tarballs, cores packed
    from a git ref or a path."""

    NAME = "npm"

    def identify(self, cx: CellContext) -> Checkout:
        return identify_connector(cx)

    def checkout(self, cx: CellContext) -> None:
        if not cx.checked_out.path.exists():
            checkout_connector(cx)

    def release(self, cx: CellContext) -> None:
        """The unpacked tarball goes with the cell's directory; the artifact cache stays."""

    def check(self, matrix: Matrix, home: Home, index: int) -> None:
        """Published versions are checked when the cell packs them."""

    def materialize_core(self, cx: CellContext, spec: CoreSpec) -> CoreArtifact:
        return materialize_core(cx, spec)

    def published_versions(self, name: str, index: dict[str, object]) -> list[str]:
        return npm_versions(name)

    def side(self, name: str, version: str) -> str:
        return f"npm:{name}@{version}"

    def fetch_env(self, index: dict[str, object]) -> dict[str, str]:
        """npm reads its registry from the user's .npmrc: nothing to add."""
        return {}


SOURCE = NpmSource()
