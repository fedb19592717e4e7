"""npm tarballs: `npm pack` of published packages and package directories, and the artifact cache.

Every published version is a tarball in `<cache_dir>/<slug(name)>/<version>/` (the harness passes
`<home>/cache/artifacts/npm`), packed once under a per-package lock and reused by every cell,
every later run and `canary diff`: an exact version is never fetched twice. Several versions
missing at once are fetched by one `npm pack a b` (npm fetches them in parallel).

This module imports nothing of the harness (no git, no cell context), so `canary diff` can use
the cache without paying for them; matrix/sources/npm.py is the harness's side.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from canary.kernel.digest import file_sha256
from canary.kernel.errors import InfrastructureError
from canary.kernel.locks import exclusive
from canary.matrix.failures import FailureKind, output_kind
from canary.matrix.infra import kind_words, missing_package
from canary.matrix.model import slug

__all__ = [
    "Run",
    "NpmArtifact",
    "plain_run",
    "split_spec",
    "read_manifest",
    "explain_npm",
    "debug_log_of",
    "npm_failure",
    "pack",
    "pack_all",
    "tarball_name",
    "materialize_npm",
    "materialize_npm_all",
    "read_version",
    "pack_directory",
]

# A command runner: (phase, argv, cwd) -> (exit_code, output lines). The harness passes
# one that logs and records through CellContext.run; standalone use gets `plain_run`.
Run = Callable[[str, list, Path], tuple]

_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass
class NpmArtifact:
    """A packed npm tarball and the identity of what it holds."""

    path: Path  # the .tgz
    name: str
    version: str
    digest: str  # sha256:<hex> of the tarball


def plain_run(phase: str, argv: list, cwd: Path, timeout: float = 600.0) -> tuple[int | None, list[str]]:
    """Run a command without the harness (standalone use and tests)."""
    try:
        proc = subprocess.run(
            argv, cwd=str(cwd), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return None, [f"{phase} timed out after {timeout:g}s"]
    return proc.returncode, (proc.stdout + proc.stderr).splitlines()


def split_spec(spec: str) -> tuple[str, str | None]:
    """`@scope/name@1.2.3` -> (`@scope/name`, `1.2.3`); no version -> (name, None)."""
    at = spec.rfind("@")
    if at > 0:
        return spec[:at], spec[at + 1 :]
    return spec, None


def read_manifest(tgz: Path) -> dict:
    """package.json of a packed tarball (npm puts it at package/package.json)."""
    try:
        with tarfile.open(tgz, "r:gz") as tf:
            member = next(
                (m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/package.json")), None
            )
            if member is None:
                raise InfrastructureError(f"npm: {tgz.name} has no package.json")
            data = tf.extractfile(member)
            if data is None:  # a directory or a link where the manifest should be
                raise InfrastructureError(f"npm: {tgz.name}: {member.name} is not a regular file")
            return json.load(data)
    except (tarfile.TarError, OSError, json.JSONDecodeError) as exc:
        raise InfrastructureError(f"npm: cannot read {tgz.name}: {exc}") from None


def explain_npm(
    phase: str, kind: FailureKind | str | None, lines: list[str], debug_log: str | None = None
) -> str | None:
    """The reason of an npm failure whose recorded kind names a cause (missing dependency, network,
    disk, memory), or None when the kind names none (an ERESOLVE conflict, a script's exit).

    The kind is canary.matrix.failures' (`output_kind` of the same output): this only words it, with
    the package npm names and, for a missing one, the package that wanted it when npm's debug log
    says so.
    """
    words = kind_words(kind, lines)
    if words is None:
        return None
    if kind == FailureKind.MISSING_DEPENDENCY:
        what = missing_package(lines)
        if what:
            words += _wanted_by(what, debug_log)
    return f"{phase}: {words}"


def _wanted_by(what: str, debug_log: str | None) -> str:
    """` (wanted by viem@2.57.20)` from npm's debug log `placeDep ... want:` lines, when present."""
    if not debug_log:
        return ""
    name, version = split_spec(what)
    for line in debug_log.splitlines():
        if (
            "placeDep" in line
            and f" {name}@" in line
            and "for:" in line
            and (version is None or f"want: {version}" in line)
        ):
            m = re.search(r"for: (\S+)", line)
            if m:
                return f" (wanted by {m.group(1)})"
    return ""


def debug_log_of(lines: list[str]) -> str | None:
    """The text of the debug log npm names in its last lines ("A complete log of this run ...")."""
    for line in reversed(lines):
        m = re.search(r"A complete log of this run can be found in:\s*(\S+)", line)
        if m:
            try:
                return Path(m.group(1)).read_text(errors="replace")
            except OSError:
                return None
    return None


def npm_failure(phase: str, code: int | None, lines: list[str]) -> InfrastructureError:
    """An InfrastructureError saying why an npm command failed, from its output."""
    # Classified once, by the same table as every other failure; the reason words that kind.
    # npm's own output, never a test's: every cause counts whatever the caller calls the phase
    # (compat's fetch says "npm pack", which is no cell phase).
    kind = output_kind(None, "\n".join(lines))
    reason = explain_npm(phase, kind, lines, debug_log_of(lines))
    if reason is None:
        last = next((ln.strip() for ln in reversed(lines) if ln.strip() and "complete log" not in ln), "")
        reason = f"{phase}: npm exited {code}" + (f": {last[:200]}" if last else "")
    return InfrastructureError(reason, "\n".join(lines[-20:]), kind=kind or "")


def pack(target: str, out_dir: Path, npm_cache: Path, *, run: Run | None = None, phase: str = "materialize") -> Path:
    """`npm pack <target>` (a registry spec or a directory) into out_dir; the new tarball's path."""
    return pack_all([target], out_dir, npm_cache, run=run, phase=phase)[-1]


def pack_all(
    targets: list[str], out_dir: Path, npm_cache: Path, *, run: Run | None = None, phase: str = "materialize"
) -> list[Path]:
    """One `npm pack <target>...` into out_dir: npm fetches the targets in parallel, so two
    versions take the time of one. Returns the tarballs it wrote (at most one per target)."""
    run = run or plain_run
    out_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in out_dir.glob("*.tgz")}
    argv = [
        "npm",
        "pack",
        *targets,
        "--pack-destination",
        str(out_dir),
        "--cache",
        str(npm_cache),
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
    ]
    code, lines = run(phase, argv, out_dir)
    if code != 0:
        raise npm_failure(phase, code, lines)
    new = sorted(p for p in out_dir.glob("*.tgz") if p.name not in before)
    if not new:
        # npm overwrote a tarball of the same name: take the ones it printed.
        named = [out_dir / ln.strip() for ln in lines if ln.strip().endswith(".tgz")]
        new = [p for p in named if p.exists()]
    if not new:
        raise InfrastructureError(f"{phase}: npm pack {' '.join(targets)} produced no tarball")
    return new


def tarball_name(name: str, version: str) -> str:
    """The file name `npm pack` gives a package: `@scope/name` 1.2.3 -> `scope-name-1.2.3.tgz`."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def _cached(base: Path, version: str | None) -> Path | None:
    if version and _EXACT.match(version):
        hit = sorted((base / version).glob("*.tgz"))
        if hit:
            return hit[0]
    return None


def materialize_npm(
    spec: str, cache_dir: Path, npm_cache: Path | None = None, *, run: Run | None = None, phase: str = "materialize"
) -> NpmArtifact:
    """A published package as a tarball in `cache_dir/<name>/<version>/`, packed at most once.

    An exact version already in the cache is reused without asking npm; a tag or a
    range (`latest`, `^1.2`) is resolved by `npm pack` every time.
    """
    return materialize_npm_all([spec], cache_dir, npm_cache, run=run, phase=phase)[0]


def materialize_npm_all(
    specs: list[str],
    cache_dir: Path,
    npm_cache: Path | None = None,
    *,
    run: Run | None = None,
    phase: str = "materialize",
) -> list[NpmArtifact]:
    """`materialize_npm` for several specs, in their order: the exact versions missing from the
    cache are fetched by a single `npm pack` (under every package's lock, taken in name order);
    a tag or a range is packed on its own, since only its tarball tells its version."""
    cache_dir = Path(cache_dir)
    npm_cache = Path(npm_cache or cache_dir / "_npm-cache")
    parsed = [split_spec(spec) for spec in specs]
    found: dict[str, NpmArtifact] = {}
    for spec, (name, version) in zip(specs, parsed):
        hit = _cached(cache_dir / slug(name), version)
        if hit is not None and version is not None:  # a hit is an exact version
            found[spec] = NpmArtifact(hit, name, version, file_sha256(hit))
    exact = [s for s, (_, v) in zip(specs, parsed) if s not in found and v and _EXACT.match(v)]
    if exact:
        found.update(_pack_exact(list(dict.fromkeys(exact)), cache_dir, npm_cache, run, phase))
    for spec in specs:
        if spec not in found:
            found[spec] = _pack_resolved(spec, cache_dir, npm_cache, run, phase)
    return [found[spec] for spec in specs]


def _pack_exact(
    specs: list[str], cache_dir: Path, npm_cache: Path, run: Run | None, phase: str
) -> dict[str, NpmArtifact]:
    from contextlib import ExitStack

    parsed: dict[str, tuple[str, str]] = {}
    for spec in specs:
        name, version = split_spec(spec)
        if version is None:  # the caller passes exact versions only
            raise ValueError(f"not an exact npm spec: {spec}")
        parsed[spec] = (name, version)
    bases = sorted({cache_dir / slug(name) for name, _ in parsed.values()})
    out: dict[str, NpmArtifact] = {}
    with ExitStack() as locks:
        for base in bases:
            base.mkdir(parents=True, exist_ok=True)
            locks.enter_context(exclusive(base / ".lock"))
        missing = []
        for spec, (name, version) in parsed.items():
            hit = _cached(cache_dir / slug(name), version)  # another process may have packed it meanwhile
            if hit is not None:
                out[spec] = NpmArtifact(hit, name, version, file_sha256(hit))
            else:
                missing.append(spec)
        if not missing:
            return out
        tmp = Path(tempfile.mkdtemp(prefix=".pack-", dir=cache_dir))
        try:
            made = {p.name: p for p in pack_all(missing, tmp, npm_cache, run=run, phase=phase)}
            for spec in missing:
                name, version = parsed[spec]
                tgz = made.get(tarball_name(name, version))
                if tgz is None:  # npm normalised the version (`v1.2.3`): ask the tarballs themselves
                    tgz = next((p for p in made.values() if _holds(p, name, version)), None)
                if tgz is None:
                    raise InfrastructureError(f"{phase}: npm pack {spec} produced no tarball")
                out[spec] = _store(tgz, cache_dir / slug(name), name, read_version(tgz, name, version))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _holds(tgz: Path, name: str, version: str) -> bool:
    manifest = read_manifest(tgz)
    return manifest.get("name") == name and manifest.get("version") == version.lstrip("v").split("+", 1)[0]


def read_version(tgz: Path, name: str, version: str) -> str:
    """The version a tarball holds: its file name says it when npm named it after `version`
    (which it derives from the package.json), else its package.json does."""
    if tgz.name == tarball_name(name, version):
        return version
    return read_manifest(tgz).get("version") or version


def _store(tgz: Path, base: Path, name: str, version: str) -> NpmArtifact:
    dest = base / version
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / tgz.name
    if not final.exists():
        tgz.replace(final)
    return NpmArtifact(final, name, version, file_sha256(final))


def _pack_resolved(spec: str, cache_dir: Path, npm_cache: Path, run: Run | None, phase: str) -> NpmArtifact:
    name, version = split_spec(spec)
    base = cache_dir / slug(name)
    base.mkdir(parents=True, exist_ok=True)
    with exclusive(base / ".lock"):
        tmp = Path(tempfile.mkdtemp(prefix=".pack-", dir=base))
        try:
            tgz = pack(spec, tmp, npm_cache, run=run, phase=phase)
            manifest = read_manifest(tgz)
            art = _store(tgz, base, name, manifest.get("version") or version or "0.0.0")
            art.name = manifest.get("name", name)
            return art
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def pack_directory(
    directory: Path, out_dir: Path, npm_cache: Path, *, run: Run | None = None, phase: str = "materialize"
) -> NpmArtifact:
    """A package directory (git worktree or local path) packed as it is, scripts off."""
    if not (Path(directory) / "package.json").is_file():
        raise InfrastructureError(f"{phase}: no package.json in {directory}")
    tgz = pack(str(Path(directory).resolve()), Path(out_dir), npm_cache, run=run, phase=phase)
    manifest = read_manifest(tgz)
    return NpmArtifact(tgz, manifest.get("name", ""), manifest.get("version", "0.0.0"), file_sha256(tgz))
