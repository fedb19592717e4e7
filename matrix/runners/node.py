"""npm cells: a cell directory with its own package.json, the core under test forced, the core checked.

The cell's package.json depends on the connector tarball, the core tarball and
the companions (plugin-sql at the core's version), and forces the core for
every nested copy with npm `overrides` (`"<core>": "$<core>"` points each
override at the root dependency, so it matches the `file:` spec exactly).
`npm install` runs with lifecycle scripts off (unless the connector sets
`install_scripts`), with the shared npm cache and `--prefer-offline`.

Then, from the connector's own directory, Node resolves the core
(`createRequire(<connector>/package.json).resolve('<core>/package.json')`)
and every copy of the core in node_modules is listed (`npm ls --json` for the
record, a walk of the tree for completeness). The cell is an `error`
(CoreMismatch) unless every copy is the core under test and the connector's
copy came from its tarball.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from canary.kernel.atomic import write_json_atomic, write_text_atomic
from canary.kernel.digest import file_sha256
from canary.kernel.errors import CoreMismatch, InfrastructureError
from canary.matrix import npm_template
from canary.matrix.sources.npm import Run, npm_failure, pack_directory, plain_run, read_manifest
from canary.matrix.versions import in_declared_range

NAME = "node"

# Runs inside the cell (written to canary-check.cjs); argv: <connector package> <core package>.
CHECK_SCRIPT = r"""
const { createRequire } = require('module');
const fs = require('fs'), path = require('path'), cp = require('child_process');
const [connector, core] = process.argv.slice(2);
const root = process.cwd();
function find(fromDir, name) {
  const req = createRequire(path.join(fromDir, 'package.json'));
  try { return req.resolve(name + '/package.json'); } catch (e) {}
  for (const base of req.resolve.paths(name) || []) {
    const p = path.join(base, name, 'package.json');
    if (fs.existsSync(p)) return p;
  }
  return null;
}
const out = { connector_dir: null, connector_version: null, declared: null, resolved: null, resolved_path: null, copies: [], npm_ls: [] };
const cpkg = find(root, connector);
if (cpkg) {
  const m = JSON.parse(fs.readFileSync(cpkg, 'utf8'));
  out.connector_dir = path.dirname(cpkg);
  out.connector_version = m.version;
  out.declared = (m.dependencies || {})[core] || (m.peerDependencies || {})[core] || null;
  const corePkg = find(out.connector_dir, core);
  if (corePkg) {
    out.resolved_path = path.dirname(fs.realpathSync(corePkg));
    out.resolved = JSON.parse(fs.readFileSync(corePkg, 'utf8')).version;
  }
}
function walk(dir, depth) {
  if (depth > 12 || !fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    const full = path.join(dir, entry);
    if (entry.startsWith('@')) { for (const sub of fs.readdirSync(full)) visit(path.join(full, sub), entry + '/' + sub, depth); }
    else visit(full, entry, depth);
  }
}
function visit(pkgDir, name, depth) {
  const pj = path.join(pkgDir, 'package.json');
  if (name === core && fs.existsSync(pj)) out.copies.push({ path: path.relative(root, pkgDir), version: JSON.parse(fs.readFileSync(pj, 'utf8')).version });
  walk(path.join(pkgDir, 'node_modules'), depth + 1);
}
walk(path.join(root, 'node_modules'), 0);
try {
  const text = cp.execFileSync('npm', ['ls', '--json', '--all', core], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  collect(JSON.parse(text), []);
} catch (e) {
  if (e.stdout) { try { collect(JSON.parse(e.stdout), []); } catch (e2) {} }
}
function collect(node, trail) {
  for (const [name, dep] of Object.entries(node.dependencies || {})) {
    const here = trail.concat(name);
    if (name === core) out.npm_ls.push({ via: here.join(' > '), version: dep.version, invalid: !!dep.invalid });
    collect(dep, here);
  }
}
const lock = path.join(root, 'node_modules', '.package-lock.json');
if (fs.existsSync(lock)) {
  const entry = (JSON.parse(fs.readFileSync(lock, 'utf8')).packages || {})['node_modules/' + core];
  out.locked_from = entry ? entry.resolved || null : null;
}
console.log('CANARY-CHECK ' + JSON.stringify(out));
"""


@dataclass
class NodeCell:
    """What prepare_node_cell built and verified."""

    install_dir: Path
    connector_dir: Path
    connector_version: str | None
    resolved: str
    declared: str | None
    unsupported: bool
    copies: list[dict] = field(default_factory=list)
    npm_ls: list[dict] = field(default_factory=list)
    installed_via: str = ""  # "npm install in the cell", or the template it was copied from


def cell_manifest(
    connector: str,
    connector_tgz: Path,
    core: str,
    core_tgz: Path,
    companions: Sequence[tuple[str, str]] = (),
    *,
    force: bool = True,
) -> dict:
    deps = {connector: f"file:{Path(connector_tgz).resolve()}", core: f"file:{Path(core_tgz).resolve()}"}
    for name, spec in companions:
        deps[name] = spec
    manifest = {"name": "canary-cell", "version": "0.0.0", "private": True, "dependencies": deps}
    if force:
        # "$<name>" = the root dependency's spec: an override must equal it for file: specs.
        manifest["overrides"] = {core: f"${core}"}
    return manifest


def install_argv(npm_cache: Path, scripts: bool = False) -> list[str]:
    argv = [
        "npm",
        "install",
        "--no-audit",
        "--no-fund",
        "--no-package-lock",
        "--prefer-offline",
        "--cache",
        str(npm_cache),
        "--loglevel",
        "warn",
    ]
    if not scripts:
        argv.append("--ignore-scripts")
    return argv


def parse_check(lines: list[str]) -> dict:
    for line in reversed(lines):
        if line.startswith("CANARY-CHECK "):
            return json.loads(line[len("CANARY-CHECK ") :])
    raise InfrastructureError("check: the core check printed no result")


def verify(info: dict, connector: str, core: str, expected: str, core_tgz: Path) -> None:
    """Raise CoreMismatch unless the connector and every copy of the core load the core under test."""
    if not info.get("connector_dir"):
        raise InfrastructureError(f"check: {connector} is not installed in the cell")
    resolved = info.get("resolved")
    if resolved is None:
        raise CoreMismatch(f"core mismatch: {connector} resolves no {core} at all")
    if resolved != expected:
        raise CoreMismatch(
            f"core mismatch: {connector} loads {core} {resolved} from {info.get('resolved_path')}, "
            f"not the core under test {expected}"
        )
    stray = [c for c in info.get("copies", []) if c.get("version") != expected]
    if stray:
        where = ", ".join(f"{c['path']} ({c['version']})" for c in stray[:3])
        raise CoreMismatch(
            f"core mismatch: other copies of {core} in the cell: {where}; the core under test is {expected}"
        )
    locked = info.get("locked_from") or ""
    if locked and Path(locked.split(":", 1)[-1]).name != Path(core_tgz).name:
        raise CoreMismatch(f"core mismatch: {core} was installed from {locked}, not from {Path(core_tgz).name}")


def prepare_node_cell(
    cell_dir: Path,
    connector: str,
    connector_tgz: Path,
    core: str,
    core_tgz: Path,
    core_version: str,
    companions: Sequence[tuple[str, str]] = (),
    npm_cache: Path | None = None,
    *,
    run: Run | None = None,
    scripts: bool = False,
    force: bool = True,
    install: Sequence[list[str]] = (),
    templates: Path | None = None,
    companion_tgzs: Sequence[tuple[str, Path]] = (),
) -> NodeCell:
    """Install connector + forced core (+ companions) into `cell_dir` and verify what the connector loads.

    With `templates` (a directory per connector ref, matrix/npm_template.py) the tree comes
    from a template installed once and copied, the core and the companions (`companion_tgzs`:
    their tarballs) swapped in; without it, or with the connector's own install commands or
    install scripts, from an `npm install` in the cell. The check is the same either way.

    Raises InfrastructureError naming the cause when npm cannot install (a package
    missing from the registry, the registry unreachable) and CoreMismatch when
    the connector would load another core than `core_version`.
    """
    run = run or plain_run
    cell_dir = Path(cell_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    npm_cache = Path(npm_cache or cell_dir / ".npm-cache")
    manifest = cell_manifest(connector, connector_tgz, core, core_tgz, companions, force=force)
    via = "npm install in the cell"
    if templates is not None and not install and not scripts and force:
        swaps = [npm_template.swap_for(core, core_tgz, every_copy=True)]
        swaps += [npm_template.swap_for(name, tgz, every_copy=False) for name, tgz in companion_tgzs]

        def build(directory: Path, start: Path | None) -> None:
            if start is not None:  # npm install on top of a full copy: only what moved is fetched and unpacked
                npm_template.copy_template(start, directory, run, mode="copy")
            _npm_install(directory, manifest, [install_argv(npm_cache)], run)

        template, via = npm_template.choose(Path(templates), swaps, build)
        mode = npm_template.copy_mode(cell_dir)
        npm_template.copy_template(template.path, cell_dir, run, mode)
        write_json_atomic(cell_dir / "package.json", manifest)
        # A template built from the cell's own tarballs is its install as npm made it: nothing to swap
        # (a swap would drop the companion's nested dependencies, which npm placed for it).
        same = template.same_packages(swaps)
        npm_template.swap_in(cell_dir, [] if same else swaps, connector, run, mode)
        via = f"{via}; copied ({mode})" + ("" if same else ", core and companions swapped")
    else:
        # The connector's own install commands replace the default one; they run in the
        # cell next to the generated package.json, so its overrides still force the core.
        _npm_install(cell_dir, manifest, install or [install_argv(npm_cache, scripts)], run)
    check = cell_dir / "canary-check.cjs"  # a file, not `node -e`: the recorded argv stays readable
    write_text_atomic(check, CHECK_SCRIPT)
    code, lines = run("check", ["node", str(check), connector, core], cell_dir)
    if code != 0:
        raise InfrastructureError(f"check: node exited {code}", "\n".join(lines[-20:]))
    info = parse_check(lines)
    verify(info, connector, core, core_version, core_tgz)
    declared = info.get("declared")
    unsupported = bool(declared and not _in_range(info["resolved"], declared))
    return NodeCell(
        install_dir=cell_dir,
        connector_dir=Path(info["connector_dir"]),
        connector_version=info.get("connector_version"),
        resolved=info["resolved"],
        declared=declared,
        unsupported=unsupported,
        copies=info.get("copies", []),
        npm_ls=info.get("npm_ls", []),
        installed_via=via,
    )


def _npm_install(directory: Path, manifest: dict, commands: Sequence[list[str]], run: Run) -> None:
    write_json_atomic(directory / "package.json", manifest)
    for argv in commands:
        code, lines = run("install", list(argv), directory)
        if code != 0:
            raise npm_failure("install", code, lines)


def declared_range(manifest: dict, core: str) -> str | None:
    """The core range a connector's package.json declares (dependencies, else peerDependencies)."""
    for key in ("dependencies", "peerDependencies"):
        spec = (manifest.get(key) or {}).get(core)
        if spec:
            return spec
    return None


def _in_range(version: str, declared: str) -> bool:
    if declared.startswith(("file:", "link:", "workspace:", "git", "http", "npm:")) or declared in ("*", "latest", ""):
        return True  # not a version range: nothing declared to be outside of
    return in_declared_range("npm", version, declared)


# --- the harness's interface ------------------------------------------------


def prepare(cx) -> None:
    from canary.matrix.sources.npm import cx_run

    run = cx_run(cx)
    install_dir = cx.cell_dir / "node"
    art = cx.core_artifact
    connector_tgz = cx.checkout.artifact
    if connector_tgz is None:  # git or path source: pack the directory as it is
        connector_tgz = pack_directory(
            cx.checkout.path, cx.cell_dir / "connector-pack", cx.home.npm_cache, run=run
        ).path
    companions = [(c.name, c.version.format(core=art.version)) for c in cx.matrix.core.companions]
    record_declared(cx, connector_tgz)
    templates, companion_tgzs = None, []
    if npm_template.install_strategy() == "template" and not cx.connector.install and not cx.connector.install_scripts:
        from canary.matrix.npm_artifacts import materialize_npm_all
        from canary.matrix.sources.npm import artifacts_dir

        arts = materialize_npm_all([f"{n}@{v}" for n, v in companions], artifacts_dir(cx), cx.home.npm_cache, run=run)
        companion_tgzs = [(n, a.path) for (n, _), a in zip(companions, arts)]
        key = npm_template.template_key(
            cx.connector.package, file_sha256(connector_tgz), cx.matrix.core.name, companions_spec(cx)
        )
        templates = cx.home.dir("cache", "npm-templates", key)
    cell = prepare_node_cell(
        install_dir,
        cx.connector.package,
        connector_tgz,
        cx.matrix.core.name,
        art.path,
        art.version,
        companions,
        cx.home.npm_cache,
        run=run,
        scripts=cx.connector.install_scripts,
        install=[list(a) for a in cx.connector.install],
        templates=templates,
        companion_tgzs=companion_tgzs,
    )
    cx.note(f"installed: {cell.installed_via}")
    record_cell(cx, cell, cx.env.get("PATH", ""))


def record_declared(cx, connector_tgz: Path) -> None:
    """The declared core range, known from the tarball before installing: recorded even when npm fails."""
    declared = declared_range(read_manifest(connector_tgz), cx.matrix.core.name)
    cx.connector_record.declared_core_range = declared
    if declared and not _in_range(cx.core_artifact.version, declared):
        cx.unsupported = True


def record_cell(cx, cell: NodeCell, base_path: str) -> None:
    """Record what the check verified and set the test commands' environment (PATH: the cell's
    node_modules/.bin before `base_path`) and directory (the installed connector's)."""
    install_dir = cell.install_dir
    cx.core_record.resolved = cell.resolved
    cx.connector_record.declared_core_range = cell.declared
    if cx.connector_record.version is None:
        cx.connector_record.version = cell.connector_version
    if cell.unsupported:
        cx.unsupported = True
        cx.note(f"core {cell.resolved} is outside the connector's declared range {cell.declared}: unsupported")
    copies = ", ".join(f"{c['path']}={c['version']}" for c in cell.copies)
    cx.note(
        f"verified: {cx.connector.package} resolves {cx.matrix.core.name} {cell.resolved} "
        f"from {cx.core_artifact.path.name}; copies in the cell: {copies}"
    )
    bin_dir = install_dir / "node_modules" / ".bin"
    cx.runner_env.update(
        {
            "CANARY_CELL_DIR": str(install_dir),
            "CANARY_CONNECTOR": cx.connector.package,
            "PATH": f"{bin_dir}{os.pathsep}{base_path}",
        }
    )
    cx.variables.update({"node_dir": str(install_dir), "connector_dir": str(cell.connector_dir)})
    # Test commands run in the installed connector's own directory: what they import from
    # there resolves exactly as the connector's code does (its core, its dependencies).
    cx.checkout.path = cell.connector_dir


def companions_spec(cx) -> list[tuple[str, str]]:
    """The companions as the matrix writes them (`{core}` unexpanded): one template serves every core."""
    return [(c.name, c.version) for c in cx.matrix.core.companions]
