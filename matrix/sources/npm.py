"""npm sources: published packages via `npm pack`, and cores packed from a git ref or a path.

Every artifact is a tarball in the shared artifact cache
(`<home>/cache/artifacts/npm/<name>/<version>/`), packed once and reused by
every cell and every later run: an exact version is never fetched twice. The
digest recorded is the tarball's sha256.

The standalone entry point is `materialize_npm(spec, cache_dir, npm_cache)`;
`materialize_core`, `identify_connector` and `checkout_connector` are the harness's interface
(see matrix/sources/__init__.py).
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
from typing import Callable

from ..archives import safe_extract
from ..digest import file_sha256
from ..errors import InfrastructureError
from ..locks import exclusive
from ..model import CoreSpec, slug

# A command runner: (phase, argv, cwd) -> (exit_code, output lines). The harness passes
# one that logs and records through CellContext.run; standalone use gets `plain_run`.
Run = Callable[[str, list, Path], tuple]

_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass
class NpmArtifact:
    path: Path  # the .tgz
    name: str
    version: str
    digest: str  # sha256:<hex> of the tarball


def plain_run(phase: str, argv: list, cwd: Path, timeout: float = 600.0) -> tuple[int | None, list[str]]:
    """Run a command without the harness (standalone use and tests)."""
    try:
        proc = subprocess.run(argv, cwd=str(cwd), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, [f"{phase} timed out after {timeout:g}s"]
    return proc.returncode, (proc.stdout + proc.stderr).splitlines()


def split_spec(spec: str) -> tuple[str, str | None]:
    """`@scope/name@1.2.3` -> (`@scope/name`, `1.2.3`); no version -> (name, None)."""
    at = spec.rfind("@")
    if at > 0:
        return spec[:at], spec[at + 1:]
    return spec, None


def read_manifest(tgz: Path) -> dict:
    """package.json of a packed tarball (npm puts it at package/package.json)."""
    try:
        with tarfile.open(tgz, "r:gz") as tf:
            member = next((m for m in tf.getmembers() if m.name.count("/") == 1 and m.name.endswith("/package.json")), None)
            if member is None:
                raise InfrastructureError(f"npm: {tgz.name} has no package.json")
            return json.load(tf.extractfile(member))
    except (tarfile.TarError, OSError, json.JSONDecodeError) as exc:
        raise InfrastructureError(f"npm: cannot read {tgz.name}: {exc}") from None


def explain_npm(phase: str, lines: list[str], debug_log: str | None = None) -> str | None:
    """Name an infrastructure cause from npm's own error output, or None if it is not one.

    E404 / ETARGET: a package or version the registry does not have (named, with
    the package that wanted it when npm's debug log says so). ENOTFOUND,
    ECONNREFUSED, ETIMEDOUT, EAI_AGAIN: the registry is unreachable.
    """
    text = "\n".join(lines)
    wanted_by = ""
    m = re.search(r"npm error notarget No matching version found for (\S+?)\.?$", text, re.M)
    if m:
        what = m.group(1)
        wanted_by = _wanted_by(what, debug_log)
        return f"{phase}: dependency not in registry: {what}{wanted_by}"
    m = re.search(r"npm error 404 +'?([^' ]+)'? is not in this registry", text)
    if m:
        what = m.group(1)
        return f"{phase}: dependency not in registry: {what}{_wanted_by(what, debug_log)}"
    if re.search(r"npm error code E404", text):
        m = re.search(r"404 Not Found - GET \S+/((?:@|%40)[^/\s]+(?:/|%2[fF])[^/\s]+|[^/@\s]+)", text)
        what = m.group(1).replace("%2f", "/").replace("%2F", "/").replace("%40", "@") if m else "a package"
        return f"{phase}: dependency not in registry: {what}"
    m = re.search(r"\b(ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|ENETUNREACH|EHOSTUNREACH)\b", text)
    if m:
        return f"{phase}: registry unreachable ({m.group(1)})"
    if re.search(r"ENOSPC|no space left on device", text, re.I):
        return f"{phase}: no space left on device"
    return None


def _wanted_by(what: str, debug_log: str | None) -> str:
    """` (wanted by viem@2.57.20)` from npm's debug log `placeDep ... want:` lines, when present."""
    if not debug_log:
        return ""
    name, version = split_spec(what)
    for line in debug_log.splitlines():
        if "placeDep" in line and f" {name}@" in line and "for:" in line and (version is None or f"want: {version}" in line):
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
    reason = explain_npm(phase, lines, debug_log_of(lines))
    if reason is None:
        last = next((ln.strip() for ln in reversed(lines) if ln.strip() and "complete log" not in ln), "")
        reason = f"{phase}: npm exited {code}" + (f": {last[:200]}" if last else "")
    return InfrastructureError(reason, "\n".join(lines[-20:]))


def pack(target: str, out_dir: Path, npm_cache: Path, *, run: Run | None = None, phase: str = "materialize") -> Path:
    """`npm pack <target>` (a registry spec or a directory) into out_dir; the new tarball's path."""
    run = run or plain_run
    out_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in out_dir.glob("*.tgz")}
    argv = ["npm", "pack", target, "--pack-destination", str(out_dir), "--cache", str(npm_cache),
            "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"]
    code, lines = run(phase, argv, out_dir)
    if code != 0:
        raise npm_failure(phase, code, lines)
    new = [p for p in out_dir.glob("*.tgz") if p.name not in before]
    if not new:
        # npm overwrote a tarball of the same name: take the one it printed last.
        named = [out_dir / ln.strip() for ln in lines if ln.strip().endswith(".tgz")]
        new = [p for p in named if p.exists()]
    if not new:
        raise InfrastructureError(f"{phase}: npm pack {target} produced no tarball")
    return new[-1]


def materialize_npm(spec: str, cache_dir: Path, npm_cache: Path | None = None, *, run: Run | None = None,
                    phase: str = "materialize") -> NpmArtifact:
    """A published package as a tarball in `cache_dir/<name>/<version>/`, packed at most once.

    An exact version already in the cache is reused without asking npm; a tag or a
    range (`latest`, `^1.2`) is resolved by `npm pack` every time.
    """
    cache_dir = Path(cache_dir)
    npm_cache = Path(npm_cache or cache_dir / "_npm-cache")
    name, version = split_spec(spec)
    base = cache_dir / slug(name)
    if version and _EXACT.match(version):
        hit = sorted((base / version).glob("*.tgz"))
        if hit:
            return NpmArtifact(hit[0], name, version, file_sha256(hit[0]))
    base.mkdir(parents=True, exist_ok=True)
    with exclusive(base / ".lock"):
        if version and _EXACT.match(version):
            hit = sorted((base / version).glob("*.tgz"))
            if hit:
                return NpmArtifact(hit[0], name, version, file_sha256(hit[0]))
        tmp = Path(tempfile.mkdtemp(prefix=".pack-", dir=base))
        try:
            tgz = pack(spec, tmp, npm_cache, run=run, phase=phase)
            manifest = read_manifest(tgz)
            real = manifest.get("version") or version or "0.0.0"
            dest = base / real
            dest.mkdir(parents=True, exist_ok=True)
            final = dest / tgz.name
            if not final.exists():
                tgz.replace(final)
            return NpmArtifact(final, manifest.get("name", name), real, file_sha256(final))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def pack_directory(directory: Path, out_dir: Path, npm_cache: Path, *, run: Run | None = None,
                   phase: str = "materialize") -> NpmArtifact:
    """A package directory (git worktree or local path) packed as it is, scripts off."""
    if not (Path(directory) / "package.json").is_file():
        raise InfrastructureError(f"{phase}: no package.json in {directory}")
    tgz = pack(str(Path(directory).resolve()), Path(out_dir), npm_cache, run=run, phase=phase)
    manifest = read_manifest(tgz)
    return NpmArtifact(tgz, manifest.get("name", ""), manifest.get("version", "0.0.0"), file_sha256(tgz))


# --- the harness's interface ------------------------------------------------

def cx_run(cx) -> Run:
    def run(phase: str, argv: list, cwd: Path) -> tuple:
        out = cx.run(phase, argv, cwd=cwd)
        if out.record.timed_out:
            raise InfrastructureError(f"{phase} timed out after {out.record.duration_s:.0f}s")
        return out.record.exit_code, out.tail

    return run


def artifacts_dir(cx) -> Path:
    return cx.home.dir("cache", "artifacts", "npm")


def materialize_core(cx, spec: CoreSpec):
    from ..context import CoreArtifact
    from . import git as gitsrc

    name = cx.matrix.core.name
    npm_cache = cx.home.npm_cache
    if spec.kind == "registry":
        art = materialize_npm(f"{name}@{spec.version}", artifacts_dir(cx), npm_cache, run=cx_run(cx))
        cx.note(f"core {name}@{art.version}: {art.path.name} {art.digest}")
        return CoreArtifact(path=art.path, version=art.version, digest=art.digest)
    if spec.kind == "git":
        tgz, sha = gitsrc.build_at_ref(cx, spec, "npm-built", ".tgz",
                                       lambda src, out: pack_directory(src, out, npm_cache, run=cx_run(cx)))
        return CoreArtifact(path=tgz, version=read_manifest(tgz).get("version", "0.0.0"), digest=file_sha256(tgz), commit=sha,
                            tree="clean")
    # A local path is packed every time: its files may have changed since the last run.
    from ..treestate import tree_state

    state = tree_state(Path(spec.path))
    art = pack_directory(Path(spec.path), cx.cell_dir / "core-pack", npm_cache, run=cx_run(cx))
    return CoreArtifact(path=art.path, version=art.version, digest=art.digest, commit=gitsrc.head(Path(spec.path)),
                        tree=state.tree, diff_digest=state.diff_digest)


def identify_connector(cx):
    """The packed tarball (cached) and its digest; nothing is unpacked yet."""
    from ..context import Checkout

    c = cx.connector
    art = materialize_npm(f"{c.package}@{cx.cell.ref}", artifacts_dir(cx), cx.home.npm_cache, run=cx_run(cx))
    return Checkout(path=cx.cell_dir / "src", digest=art.digest, artifact=art.path, version=art.version)


def checkout_connector(cx) -> None:
    cx.checkout.path = safe_extract(cx.checkout.artifact, cx.cell_dir / "src")
    cx.note(f"connector {cx.connector.package}@{cx.checkout.version}: {cx.checkout.artifact.name} {cx.checkout.digest}")


def materialize_connector(cx):
    cx.checkout = identify_connector(cx)
    checkout_connector(cx)
    return cx.checkout
