"""Sources: turn a connector ref or a core version into files on disk, and record what they are.

A source is chosen by its name in matrix.yaml: a connector's source key (`git`, `path`, `pypi`,
`npm`) or the core's `ecosystem` (`pypi`, `npm`). `SOURCES` is the one registry, `select` and
`select_core` read it, and a name it does not know is a UserError (naming the matrix.yaml line when
the caller has it), never a silent fallback to PyPI.

Every source fits `Source` (a connector comes from it):
- `identify(cx)` says what the cell's connector ref is (a commit, an artifact's digest) as cheaply as
  possible, so a cell served from the result cache touches nothing else; returns the Checkout.
- `checkout(cx)` makes the identified files exist (a worktree, an unpacked artifact); idempotent.
- `release(cx)` drops what the cell made that outlives it (a git worktree); the caches stay.
- `check(matrix, home, index)` refuses, at plan time, a ref connector `index` names that does not
  exist: an error naming its line, never a cell `error` at run time.

An ecosystem (`ECOSYSTEMS`) also fits `CoreSource` (a core comes from it):
- `materialize_core(cx, spec)` fetches or builds one core version (a registry version, a git ref,
  a local path) and records its identity (version, digest, commit, tree state).
- `published_versions(name, index)` asks the ecosystem's own client which versions exist.
- `side(name, version)` is a published version as a `canary diff` side (`npm:x@1`, `pypi:x==1`).
- `fetch_env(index)` is the environment that points the ecosystem's client at the matrix's index.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from canary.kernel.errors import UserError
from canary.matrix.context import CellContext, Checkout, CoreArtifact
from canary.matrix.model import Connector, CoreSpec, Matrix
from canary.matrix.sources import git as gitsrc

if TYPE_CHECKING:
    from canary.kernel.home import Home
    from canary.kernel.yamlpos import Positions

__all__ = [
    "SOURCES",
    "ECOSYSTEMS",
    "Source",
    "CoreSource",
    "select",
    "select_core",
    "for_connector",
    "for_core",
    "identify_connector",
    "checkout_connector",
    "materialize_core",
    "release",
    "check_refs",
]

# name -> module; each module has SOURCE, an object that fits Source (and CoreSource for ECOSYSTEMS).
SOURCES = {
    "git": "canary.matrix.sources.git",
    "path": "canary.matrix.sources.path",
    "pypi": "canary.matrix.sources.pypi",
    "npm": "canary.matrix.sources.npm",
}
# The sources a core comes from (matrix.yaml `core.ecosystem`; the schema's enum is kept equal by a test).
ECOSYSTEMS = ("pypi", "npm")


@runtime_checkable
class Source(Protocol):
    """Where a connector's refs come from (see the module docstring)."""

    NAME: str  # its key in matrix.yaml

    def identify(self, cx: CellContext) -> Checkout: ...

    def checkout(self, cx: CellContext) -> None: ...

    def release(self, cx: CellContext) -> None: ...

    def check(self, matrix: Matrix, home: Home, index: int) -> None: ...


@runtime_checkable
class CoreSource(Source, Protocol):
    """An ecosystem: where the core's versions come from too (see the module docstring)."""

    def materialize_core(self, cx: CellContext, spec: CoreSpec) -> CoreArtifact: ...

    def published_versions(self, name: str, index: dict[str, object]) -> list[str]: ...

    def side(self, name: str, version: str) -> str: ...

    def fetch_env(self, index: dict[str, object]) -> dict[str, str]: ...


_selected: dict[str, Source] = {}


def _unknown(
    what: str, name: str, known: tuple[str, ...], at: Positions | None, path: tuple[str | int, ...]
) -> UserError:
    message, hint = f"no source for {what} {name!r}", f"known: {', '.join(known)}"
    return at.error(message, path, hint=hint) if at is not None else UserError(message, hint=hint)


def select(name: str, at: Positions | None = None, path: tuple[str | int, ...] = ()) -> Source:
    """The source called `name`; a name no source has is a UserError at `path` of `at` when given."""
    if name not in SOURCES:
        raise _unknown("connector kind", name, tuple(SOURCES), at, path)
    if name not in _selected:
        source: Source = importlib.import_module(SOURCES[name]).SOURCE
        _selected[name] = source
    return _selected[name]


def select_core(ecosystem: str, at: Positions | None = None, path: tuple[str | int, ...] = ()) -> CoreSource:
    """The source of a core's versions in `ecosystem`; any other name is a UserError, never PyPI."""
    if ecosystem not in ECOSYSTEMS:
        raise _unknown("ecosystem", ecosystem, ECOSYSTEMS, at, path)
    source = select(ecosystem)
    assert isinstance(source, CoreSource), f"{SOURCES[ecosystem]}.SOURCE serves no core"
    return source


def for_connector(matrix: Matrix, connector: Connector) -> Source:
    """The source of a connector's refs: its `git`, `path`, `pypi` or `npm` key."""
    index = next((i for i, c in enumerate(matrix.connectors) if c.name == connector.name), 0)
    return select(connector.source.kind, matrix.positions, ("connectors", index))


def for_core(matrix: Matrix) -> CoreSource:
    """The source of the matrix's core versions: its `core.ecosystem`."""
    return select_core(matrix.core.ecosystem, matrix.positions, ("core", "ecosystem"))


# --- the executor's steps, each through the registry --------------------------------------------


def identify_connector(cx: CellContext) -> Checkout:
    """What the cell's connector ref is (commit or digest), without making its files exist."""
    return for_connector(cx.matrix, cx.connector).identify(cx)


def checkout_connector(cx: CellContext) -> None:
    """Make the identified connector's files exist (a checkout that exists is left alone)."""
    for_connector(cx.matrix, cx.connector).checkout(cx)


def materialize_core(cx: CellContext) -> CoreArtifact:
    """Fetch or build the cell's core version through the source of the core's ecosystem."""
    return for_core(cx.matrix).materialize_core(cx, cx.cell.core)


def release(cx: CellContext) -> None:
    """Drop what the cell's checkout made that outlives it (a git worktree; the caches stay)."""
    for_connector(cx.matrix, cx.connector).release(cx)


def check_refs(matrix: Matrix, home: Home) -> None:
    """Every source named in the matrix exists (git repositories and refs, local paths); a missing
    one is an error naming its line, at plan time, never a cell `error` at run time."""
    for_core(matrix)
    for i, c in enumerate(matrix.connectors):
        for_connector(matrix, c).check(matrix, home, i)
    at = matrix.positions
    for i, spec in enumerate(matrix.core.versions):
        if not isinstance(spec, CoreSpec):
            continue
        if spec.kind == "git" and spec.url is not None and spec.ref is not None:
            repo = gitsrc.mirror_or_error(home, spec.url, matrix, ("core", "versions", i, "git"))
            if gitsrc.resolve(repo, spec.ref) is None:
                raise gitsrc.missing_ref_error(repo, spec.url, spec.ref, at, ("core", "versions", i, "ref"))
        if spec.kind == "path" and spec.path is not None and not Path(spec.path).is_dir():
            message, where = f"core path does not exist: {spec.path}", ("core", "versions", i, "path")
            raise at.error(message, where) if at is not None else UserError(message)
    from canary.matrix.plan import check_published

    check_published(matrix)
