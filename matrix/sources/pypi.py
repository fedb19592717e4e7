"""PyPI sources: published artifacts via `pip download`, and cores built from git or a path into wheels."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename

from canary.kernel.archives import safe_extract
from canary.kernel.atomic import write_json_atomic
from canary.matrix.context import CellContext, Checkout, CoreArtifact
from canary.kernel.digest import file_sha256
from canary.kernel.errors import InfrastructureError
from canary.kernel.locks import exclusive
from canary.matrix.model import CoreSpec, Matrix, slug
from canary.matrix.registry import pip_index_args, pip_index_env, pypi_versions
from canary.matrix.sources import git as gitsrc
from canary.matrix.sources.git import head as git_head
from canary.kernel.treestate import tree_state

if TYPE_CHECKING:
    from canary.kernel.home import Home

__all__ = ["artifact_version", "read_index", "rebuild_index", "download", "build_wheel", "PypiSource", "SOURCE"]

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]


def artifact_version(path: Path) -> str:
    name = path.name
    try:
        if name.endswith(".whl"):
            return str(parse_wheel_filename(name)[1])
        return str(parse_sdist_filename(name)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        raise InfrastructureError(f"not a Python distribution file: {name}") from None


ARTIFACT_SUFFIXES = (".whl", ".gz", ".zip")


def read_index(dest: Path) -> dict[str, str]:
    """The cache directory's version -> file map. A torn or damaged index (a run killed while an
    older canary wrote it in place) is rebuilt from the artifacts on disk, never trusted."""
    index_file = dest / "index.json"
    try:
        index = json.loads(index_file.read_text(encoding="utf-8")) if index_file.exists() else {}
        if isinstance(index, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in index.items()):
            return index
    except (ValueError, UnicodeDecodeError):
        pass
    return rebuild_index(dest)


def rebuild_index(dest: Path) -> dict[str, str]:
    index: dict[str, str] = {}
    # Wheels first: when both files of one version are there, the wheel is what pip would pick.
    for path in sorted(dest.iterdir(), key=lambda p: (not p.name.endswith(".whl"), p.name)):
        if path.is_file() and path.suffix in ARTIFACT_SUFFIXES:
            try:
                index.setdefault(artifact_version(path), path.name)
            except InfrastructureError:
                continue
    write_json_atomic(dest / "index.json", index)
    return index


def download(cx: CellContext, name: str, version: str, kind: str) -> Path:
    """`name==version` downloaded once into the shared artifact cache (an index file maps it)."""
    dest = cx.home.dir("cache", "artifacts", "pypi", slug(name))
    with exclusive(dest / ".lock"):
        index = read_index(dest)
        cached = index.get(version)
        if cached and (dest / cached).exists():
            cx.note(f"{kind}: {name}=={version} from cache ({cached})")
            return dest / cached
        before = set(p.name for p in dest.iterdir())
        cx.run(
            "materialize",
            [
                *PIP,
                "download",
                "--no-deps",
                "--dest",
                str(dest),
                f"{name}=={version}",
                *pip_index_args(cx.matrix.core.index),
            ],
            infra=True,
        )
        new = [p for p in dest.iterdir() if p.name not in before and p.suffix in ARTIFACT_SUFFIXES]
        if not new:  # pip found an already-downloaded file: pick the one of this version
            new = [p for p in dest.iterdir() if p.suffix in ARTIFACT_SUFFIXES and _is_version(p, version)]
        if not new:
            raise InfrastructureError(f"{kind}: pip downloaded nothing for {name}=={version}")
        index[version] = new[0].name
        write_json_atomic(dest / "index.json", index)
        return new[0]


def _is_version(path: Path, version: str) -> bool:
    try:
        return artifact_version(path) == version
    except InfrastructureError:
        return False


def builder_python(cx: CellContext) -> str:
    """A shared virtualenv seeded (offline) with pip and setuptools, for building core wheels."""
    venv = cx.home.root / "builder"
    with exclusive(cx.home.root / "builder.lock"):
        if not (venv / "bin" / "python").exists():
            cx.run(
                "materialize",
                [sys.executable, "-m", "virtualenv", "--quiet", "--no-periodic-update", str(venv)],
                infra=True,
            )
    return str(venv / "bin" / "python")


def _uses_setuptools(source_dir: Path) -> bool:
    pyproject = source_dir / "pyproject.toml"
    if not pyproject.exists():
        return True
    import tomllib

    backend = tomllib.loads(pyproject.read_text()).get("build-system", {}).get("build-backend", "setuptools")
    return str(backend).startswith("setuptools")


def build_wheel(cx: CellContext, source_dir: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    wheels = sorted(out_dir.glob("*.whl"))
    if wheels:
        return wheels[0]
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    # setuptools projects build with the seeded setuptools (works offline); other backends get
    # pip's usual isolated build, which fetches the backend from the configured index.
    isolation = ["--no-build-isolation"] if _uses_setuptools(source_dir) else []
    cx.run(
        "materialize",
        [
            builder_python(cx),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            *isolation,
            "--wheel-dir",
            str(tmp),
            str(source_dir),
            *pip_index_args(cx.matrix.core.index),
        ],
        infra=True,
    )
    wheel = sorted(tmp.glob("*.whl"))[0]
    wheel.rename(out_dir / wheel.name)
    tmp.rmdir()
    return out_dir / wheel.name


def materialize_core(cx: CellContext, spec: CoreSpec) -> CoreArtifact:
    name = cx.matrix.core.name
    if spec.kind == "registry":
        path = download(cx, name, gitsrc.required(spec.version, f"core {spec.label}: version"), "core")
        return CoreArtifact(path=path, version=artifact_version(path), digest=file_sha256(path))
    if spec.kind == "git":
        wheel, sha = gitsrc.build_at_ref(cx, spec, "pypi-built", ".whl", lambda src, out: build_wheel(cx, src, out))
        return CoreArtifact(
            path=wheel, version=artifact_version(wheel), digest=file_sha256(wheel), commit=sha, tree="clean"
        )
    # A local path is rebuilt every time: its files may have changed since the last run.
    out = cx.cell_dir / "core-wheel"
    source_dir = Path(gitsrc.required(spec.path, f"core {spec.label}: path"))
    state = tree_state(source_dir)
    wheel = build_wheel(cx, source_dir, out)
    return CoreArtifact(
        path=wheel,
        version=artifact_version(wheel),
        digest=file_sha256(wheel),
        commit=git_head(source_dir),
        tree=state.tree,
        diff_digest=state.diff_digest,
    )


def identify_connector(cx: CellContext) -> Checkout:
    """The downloaded artifact (cached) and its digest; nothing is unpacked yet."""
    path = download(cx, cx.connector.package, cx.cell.ref, "connector")
    return Checkout(path=cx.cell_dir / "src", digest=file_sha256(path), artifact=path, version=artifact_version(path))


def checkout_connector(cx: CellContext) -> None:
    """An sdist is unpacked (its tests are the test commands' cwd); a wheel gets an empty directory."""
    checkout = cx.checked_out
    src, path = cx.cell_dir / "src", checkout.artifact
    if path is None:
        raise InfrastructureError(f"connector {cx.connector.name}: no artifact identified to unpack")
    if not path.name.endswith(".whl"):
        src = safe_extract(path, src)
    else:
        src.mkdir(parents=True, exist_ok=True)
    checkout.path = src


class PypiSource:
    """The PyPI ecosystem (or the matrix's index): published connectors and core versions, cores
    built into wheels from a git ref or a path."""

    NAME = "pypi"

    def identify(self, cx: CellContext) -> Checkout:
        return identify_connector(cx)

    def checkout(self, cx: CellContext) -> None:
        if not cx.checked_out.path.exists():
            checkout_connector(cx)

    def release(self, cx: CellContext) -> None:
        """The unpacked artifact goes with the cell's directory; the download cache stays."""

    def check(self, matrix: Matrix, home: Home, index: int) -> None:
        """Published versions are checked when the cell downloads them."""

    def materialize_core(self, cx: CellContext, spec: CoreSpec) -> CoreArtifact:
        return materialize_core(cx, spec)

    def published_versions(self, name: str, index: dict[str, object]) -> list[str]:
        return pypi_versions(name, index)

    def side(self, name: str, version: str) -> str:
        return f"pypi:{name}=={version}"

    def fetch_env(self, index: dict[str, object]) -> dict[str, str]:
        return pip_index_env(index)


SOURCE = PypiSource()
