"""Sides of a diff: `npm:<pkg>@<version>`, `pypi:<pkg>==<version>`, `git:<url-or-path>@<ref>[:<subdir>]`
or a local directory, materialized as a local directory plus the resolved version.

Downloads are cached under `$CANARY_HOME/cache/compat/` (default `.canary/` of the current
directory). An exact npm/PyPI version already extracted there is used without touching the
registry, which keeps a repeated `canary diff` well under a second. npm tarballs live in the
matrix's artifact cache (`cache/artifacts/npm/`, matrix/npm_artifacts.py), fetched for both sides
by one `npm pack`, and only the files the diff's extractor reads are unpacked from them. Archives
are unpacked with the project's safe extractor (no path traversal, no links out of the tree).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from canary.kernel.atomic import atomic_directory
from canary.kernel.errors import InfrastructureError, UserError
from canary.kernel.home import Home
from canary.matrix.model import slug

from canary.compat.document import DiffSide
from canary.compat.model import TS_SUFFIXES

_EXACT = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$")


@dataclass
class Side:
    spec: str
    kind: str  # npm | pypi | git | path
    path: Path  # directory holding the sources
    name: str | None = None
    version: str | None = None
    commit: str | None = None

    def to_document(self) -> DiffSide:
        """This side as the diff document records it."""
        return DiffSide(self.spec, self.kind, self.name, self.version, self.commit, str(self.path))


def cache_dir(*parts: str) -> Path:
    return Home.default().dir("cache", "compat", *parts)


def _run(argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as exc:
        raise UserError(f"'{argv[0]}' is not installed", hint="needed to fetch this side") from exc
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"'{' '.join(argv[:3])}' timed out") from exc


def _unpack(archive: Path, dest: Path, keep=None) -> None:
    """Unpack into `dest` atomically: a killed run never leaves half a tree there for a later run
    to trust. `keep(member name)` selects members (streamed, the others are never written)."""
    from canary.kernel.archives import safe_extract, safe_extract_selected

    try:
        with atomic_directory(dest) as tmp:
            if keep is None:
                safe_extract(archive, tmp)
            else:
                safe_extract_selected(archive, tmp, keep)
    except InfrastructureError as exc:
        raise UserError(str(exc.reason), file=str(archive)) from exc
    except (tarfile.TarError, zipfile.BadZipFile) as exc:  # traversal, links out, corrupt archive
        raise UserError(f"refusing to unpack: {exc}", file=str(archive)) from exc


def _npm_name_version(spec: str) -> tuple[str, str]:
    body = spec[4:]
    at = body.rfind("@")
    if at <= 0:
        raise UserError("npm side needs a version", key=spec, hint="npm:<pkg>@<version>")
    return body[:at], body[at + 1 :]


def _keep(language: str):
    """Which tarball members a diff in `language` reads: package.json and the language's
    sources (TypeScript: declarations and .ts files; SQL: .sql), nothing else. Python reads
    every file (None)."""
    suffixes = {"ts": TS_SUFFIXES, "sql": (".sql",)}.get(language)
    if suffixes is None:
        return None

    def keep(member: str) -> bool:
        parts = member.split("/")
        if parts[1:] == ["package.json"]:
            return True
        return member.endswith(suffixes) and "node_modules" not in parts

    return keep


def _npm_tree(name: str, version: str, language: str) -> Path:
    """Where the files of one npm version that a `language` diff reads are kept."""
    return cache_dir("npm") / f"{slug(name)}-{slug(version)}.{language}"


def _npm_sides(specs: list[str], language: str) -> list[Side]:
    """npm sides, in order. An exact version already unpacked is used as it is; the tarballs
    missing from the shared artifact cache (the matrix's, `cache/artifacts/npm/`) are all
    fetched by one `npm pack`, then only what the diff reads is unpacked from each."""
    wanted = [_npm_name_version(spec) for spec in specs]
    trees: dict[str, Path] = {}
    for spec, (name, version) in zip(specs, wanted):
        tree = _npm_tree(name, version, language)
        if _EXACT.match(version) and tree.is_dir():
            trees[spec] = tree
    fetch = [spec for spec in dict.fromkeys(specs) if spec not in trees]
    if fetch:
        from canary.matrix.npm_artifacts import materialize_npm_all

        home = Home.default()
        try:
            arts = materialize_npm_all(
                [spec[4:] for spec in fetch], home.dir("cache", "artifacts", "npm"), home.npm_cache, phase="npm pack"
            )
        except InfrastructureError as exc:
            named = [spec for spec in fetch if spec[4:] in f"{exc.reason}\n{exc.detail}"]
            reason = exc.reason.removeprefix("npm pack: ").replace("dependency not in registry", "not in the registry")
            raise UserError(f"npm pack failed: {reason}", key=", ".join(named or fetch)) from exc
        for spec, art in zip(fetch, arts):
            tree = _npm_tree(_npm_name_version(spec)[0], art.version, language)
            if not tree.is_dir():
                _unpack(art.path, tree, _keep(language))
            trees[spec] = tree
    sides = []
    for spec, (name, version) in zip(specs, wanted):
        pkg_dir = trees[spec] / "package"
        if not pkg_dir.is_dir():  # a few tarballs use another top folder
            subdirs = [p for p in trees[spec].iterdir() if p.is_dir()]
            pkg_dir = subdirs[0] if len(subdirs) == 1 else trees[spec]
        meta = _package_json(pkg_dir)
        sides.append(Side(spec=spec, kind="npm", path=pkg_dir, name=name, version=meta.get("version") or version))
    return sides


def _pypi_side(spec: str, body: str) -> Side:
    if "==" not in body:
        raise UserError("pypi side needs an exact version", key=spec, hint="pypi:<pkg>==<version>")
    name, version = body.split("==", 1)
    root = cache_dir("pypi")
    dest = root / f"{slug(name)}-{slug(version)}"
    if not dest.is_dir():
        with tempfile.TemporaryDirectory(dir=root, prefix=".dl-") as scratch:
            dl = Path(scratch)
            proc = _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--disable-pip-version-check",
                    "download",
                    "--no-deps",
                    "--quiet",
                    "-d",
                    str(dl),
                    f"{name}=={version}",
                ]
            )
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["pip download failed"])[-1]
                raise UserError(f"pip download failed: {last}", key=spec)
            files = sorted(dl.iterdir(), key=lambda p: (not p.name.endswith(".whl"), p.name))
            if not files:
                raise UserError("pip download produced no file", key=spec)
            _unpack(files[0], dest)
    return Side(spec=spec, kind="pypi", path=dest, name=name, version=version)


def _git_side(spec: str, body: str) -> Side:
    import git

    subdir = ""
    location, at, ref = body.rpartition("@")
    if not at or not location:
        raise UserError("git side needs a ref", key=spec, hint="git:<url-or-path>@<ref>[:<subdir>]")
    if ":" in ref:
        ref, subdir = ref.split(":", 1)
    local = Path(location).expanduser()
    try:
        if local.is_dir():
            repo = git.Repo(local)
        else:
            from canary.matrix.sources.git import mirror

            try:
                repo = mirror(Home.default().mirrors, location)
            except InfrastructureError as exc:
                raise UserError(f"cannot clone {location}: {exc.reason}", key=spec) from exc
        try:
            commit = repo.commit(ref)
        except (git.BadName, ValueError, git.GitCommandError) as exc:
            raise UserError(f"unknown ref '{ref}' in {location}", key=spec) from exc
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise UserError(f"not a git repository: {location}", key=spec) from exc
    dest = cache_dir("git") / f"{slug(Path(location.rstrip('/')).name)}-{commit.hexsha[:12]}"
    if not dest.is_dir():  # made whole or not at all: a later run trusts it because it exists
        with atomic_directory(dest) as tmp:
            for blob in commit.tree.traverse():
                if not isinstance(blob, git.Blob) or blob.mode == 0o120000:  # no symlinks: they could point out
                    continue
                target = (tmp / blob.path).resolve()
                if tmp.resolve() not in target.parents:
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob.data_stream.read())
    path = dest / subdir if subdir else dest
    if not path.is_dir():
        raise UserError(f"no directory '{subdir}' at {ref} in {location}", key=spec)
    version = _local_version(path)
    return Side(spec=spec, kind="git", path=path, name=None, version=version, commit=commit.hexsha)


def _package_json(path: Path) -> dict:
    f = path / "package.json"
    if not f.is_file():
        return {}
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"invalid package.json: {exc.msg}", file=str(f), line=exc.lineno, column=exc.colno) from exc
    return data if isinstance(data, dict) else {}


def _local_version(path: Path) -> str | None:
    meta = _package_json(path)
    if isinstance(meta.get("version"), str):
        return meta["version"]
    pyproject = path / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError:
            return None
        version = data.get("project", {}).get("version")
        return version if isinstance(version, str) else None
    return None


def resolve_sides(old: str, new: str, language: str | None = None) -> tuple[Side, Side, str]:
    """OLD and NEW sides and the diff's language (`language`, else detected on NEW). npm sides
    are fetched together (one `npm pack`) and unpack only what that language's extractor reads."""
    new_side = None
    if language is None and not new.startswith("npm:"):
        new_side = resolve_side(new)
        language = detect_language(new_side.path)
    language = language or "ts"  # an npm package always has a package.json: detected as ts
    npm = [spec for spec in (old, new) if spec.startswith("npm:")]
    by_spec = dict(zip(npm, _npm_sides(npm, language))) if npm else {}
    old_side = by_spec.get(old) or resolve_side(old, language)
    new_side = new_side or by_spec.get(new) or resolve_side(new, language)
    return old_side, new_side, language


def resolve_side(spec: str, language: str = "ts") -> Side:
    """One side; an npm side unpacks only what a `language` diff reads."""
    if spec.startswith("npm:"):
        return _npm_sides([spec], language)[0]
    if spec.startswith("pypi:"):
        return _pypi_side(spec, spec[5:])
    if spec.startswith("git:"):
        return _git_side(spec, spec[4:])
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise UserError(
            f"'{spec}' is not a directory",
            hint="use npm:<pkg>@<version>, pypi:<pkg>==<version>, git:<url>@<ref>[:<subdir>] or a path",
        )
    meta = _package_json(path)
    return Side(spec=spec, kind="path", path=path.resolve(), name=meta.get("name"), version=_local_version(path))


def detect_language(path: Path) -> str:
    if (path / "package.json").is_file():
        return "ts"
    if (path / "pyproject.toml").is_file() or (path / "setup.py").is_file() or (path / "setup.cfg").is_file():
        return "py"
    counts = {"ts": 0, "py": 0, "sql": 0}
    for _root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in ("node_modules", ".git", ".venv", "__pycache__")]
        for f in files:
            if f.endswith((".ts", ".tsx", ".mts")):
                counts["ts"] += 1
            elif f.endswith(".py"):
                counts["py"] += 1
            elif f.endswith(".sql"):
                counts["sql"] += 1
    best = max(counts, key=lambda k: counts[k])
    if counts[best] == 0:
        raise UserError(f"cannot tell the language of {path}", hint="pass --lang ts|py|sql")
    return best
