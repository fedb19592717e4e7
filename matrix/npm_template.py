"""npm templates: one `npm install` per connector ref, a private copy of it per cell.

A cell of an npm matrix needs the connector's whole dependency tree with the core under test
(and its lockstep companions) in place. Installing that tree again for every core costs most of
a cell's time, and the trees differ only in the core and the companions. So:

- A **template** is today's cell install (the generated package.json with the core forced by
  `overrides`, one `npm install`), made once per connector ref, in
  `<home>/cache/npm-templates/<key>/<core-version>-<digest>/`. The key holds what decides the
  tree: the connector tarball's digest, the core's name, the companions, the npm registry.
- A cell takes the first template that **fits** its core: every dependency (and required peer)
  that the cell's core and companions declare is already installed at root at a version inside
  the declared range, and every package that resolves a companion from the root accepts the
  companion's new version. A cell no template fits builds a new template with its own core
  (the first cell of each connector ref, and a core whose dependencies moved).
- The cell **copies** the template (`copy_template`: a reflink where the file system has them;
  as root, an overlay mount with the template as its read-only lower layer (canary/kernel/mounts.py);
  hardlinks to read-only files where permissions protect them; else a full copy: never a file
  that one cell could change under another or under the template) and **swaps** the core:
  every copy of the core in the tree and the root copy of each companion are deleted and the
  cell's own tarballs extracted in their place; npm's hidden lockfile is rewritten to say so.
- The cell's check then runs exactly as for an installed cell (matrix/runners/node.py): Node
  resolves the core from the connector's directory and every copy of the core is listed.

- A template after the very first is, where cells get overlays (root), **layered**: its `npm
  install` runs in an overlay view of the closest template already built, of any connector ref of
  the same core and registry (`start_for`: one built with the same core version first, whose tree
  differs only by the connector's own dependencies), and it keeps only the upper layer (`delta/`:
  what npm added, replaced, or removed as whiteouts); its cells mount `delta` over the layers of
  that template, at most MAX_LAYERS in all. `CANARY_NPM_TEMPLATE_BASE=layer` layers only on the
  connector ref's own first template (the previous build); elsewhere (or `=copy`) a template after
  a ref's first starts from a full copy of it.
- The templates are a cache with bounds (`prune`, after every build): age since last use and a
  total size, never a template in use (recently chosen, mounted, or the base of a kept layer).

`CANARY_NPM_INSTALL=per-cell` keeps the previous path (one `npm install` per cell), for the
bench and as an escape hatch; `CANARY_NPM_COPY=reflink|overlay|hardlink|copy` forces a copy strategy.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from canary.kernel.atomic import write_json_atomic
from canary.kernel.digest import value_sha256
from canary.kernel.errors import InfrastructureError
from canary.kernel import mounts
from canary.kernel.locks import exclusive
from canary.matrix.npm_artifacts import Run, read_manifest
from canary.matrix.versions import npm_satisfies

INSTALL_ENV = "CANARY_NPM_INSTALL"  # template (default) | per-cell
COPY_ENV = "CANARY_NPM_COPY"  # auto (default) | reflink | hardlink | copy
BASE_ENV = "CANARY_NPM_TEMPLATE_BASE"  # shared (default) | layer | copy: how a template after the first starts
BASE_STRATEGIES = ("shared", "layer", "copy")
# A layered template's delta plus the layers below it. Every layer is one more lookup for each path a
# cell opens; three keep every template one delta away from a core-version sibling of another ref.
MAX_LAYERS = 3
MARK = "canary-template.json"  # written last: a template without it is unfinished
DELTA = "delta"  # a layered template's own layer: what its npm install changed on top of its base
# npm moves directories as it reifies; without redirect_dir a rename of a lower directory fails with
# EXDEV and npm copies the tree instead (measured: 19.3 against 12.7 CPU-s for one template's
# install). A delta built with redirects needs mounts that follow them (layered cells, views).
BUILD_OPTIONS = ("redirect_dir=on",)
FOLLOW_OPTIONS = ("redirect_dir=follow",)


def base_strategy() -> str:
    value = os.environ.get(BASE_ENV, "shared").strip().lower() or "shared"
    if value not in BASE_STRATEGIES:
        raise InfrastructureError(f"{BASE_ENV}={value!r}: expected one of {', '.join(BASE_STRATEGIES)}")
    return value


def install_strategy() -> str:
    value = os.environ.get(INSTALL_ENV, "template").strip().lower() or "template"
    if value not in ("template", "per-cell"):
        raise InfrastructureError(f"{INSTALL_ENV}={value!r}: expected 'template' or 'per-cell'")
    return value


@dataclass
class Swap:
    """A package the cell puts in place of the template's: the core (every copy) or a companion (root copy)."""

    name: str
    tgz: Path
    version: str
    manifest: dict
    every_copy: bool


def swap_for(name: str, tgz: Path, every_copy: bool) -> Swap:
    manifest = read_manifest(tgz)
    return Swap(name, Path(tgz), manifest.get("version", "0.0.0"), manifest, every_copy)


def _registry() -> str:
    return os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY") or ""  # noqa: SIM112 (npm reads the lower-case name)


def template_key(connector: str, connector_digest: str, core: str, companions: list[tuple[str, str]]) -> str:
    """What decides a connector's tree apart from the core version: the companions' specs are
    templates (`{core}`), the registry is npm's own setting."""
    return value_sha256([connector, connector_digest, core, sorted(companions), _registry()])[:24]


def family(swaps: list[Swap]) -> str:
    """Equal for templates of any connector ref that install the same core and companions from the
    same registry: one of them is a good start for another's build (`start_for`)."""
    return value_sha256([sorted(s.name for s in swaps), _registry()])[:16]


# --- which template fits a cell ---------------------------------------------------------


def _version_at(root: Path, name: str) -> str | None:
    try:
        return json.loads((root / "node_modules" / name / "package.json").read_text()).get("version")
    except (OSError, ValueError):
        return None


def _required(manifest: dict) -> dict[str, str]:
    """Dependencies a fresh install would put in the tree: dependencies and non-optional peers."""
    optional_peers = {k for k, v in (manifest.get("peerDependenciesMeta") or {}).items() if (v or {}).get("optional")}
    peers = {k: v for k, v in (manifest.get("peerDependencies") or {}).items() if k not in optional_peers}
    return {**peers, **(manifest.get("dependencies") or {})}


def _in_range(version: str, spec: str) -> bool:
    try:
        return npm_satisfies(version, spec, False)
    except ValueError:  # a tag, an alias, a URL: nothing here can prove the tree satisfies it
        return False


def misfit(
    template: Path, swaps: list[Swap], dependents: dict[str, list[str]], versions: dict[str, str] | None = None
) -> str | None:
    """Why `template` cannot serve a cell with `swaps`, or None when it fits.

    After the swap, a swapped root package has no node_modules of its own, so each of its
    dependencies resolves from the root: it must be there, inside the declared range.
    `versions`: the root packages' versions as recorded when the template was built (a layered
    template has no merged tree on disk to read them from).
    """
    swapped = {s.name: s.version for s in swaps}
    for s in swaps:
        for dep, spec in _required(s.manifest).items():
            version = swapped.get(dep) or (versions.get(dep) if versions is not None else _version_at(template, dep))
            if version is None:
                return f"{s.name} {s.version} needs {dep} {spec}: not in the template"
            if not _in_range(version, spec):
                return f"{s.name} {s.version} needs {dep} {spec}: the template has {version}"
        if not s.every_copy:  # a companion stays where npm put it: who resolves the root copy must accept it
            for spec in dependents.get(s.name, []):
                if not _in_range(s.version, spec):
                    return f"a package of the template needs {s.name} {spec}, not {s.version}"
    return None


def root_dependents(root: Path, names: list[str]) -> dict[str, list[str]]:
    """For each name: the ranges declared by the installed packages that resolve it from the root copy."""
    out: dict[str, list[str]] = {n: [] for n in names}
    modules = root / "node_modules"
    for pkg_dir in _package_dirs(modules):
        try:
            manifest = json.loads((pkg_dir / "package.json").read_text())
        except (OSError, ValueError):
            continue
        wants = _required(manifest)
        for name in names:
            if name in wants and _resolves_from_root(pkg_dir, modules, name):
                out[name].append(wants[name])
    return out


def root_versions(root: Path) -> dict[str, str]:
    """The version of every package at the root of `root`'s node_modules."""
    out = {}
    modules = root / "node_modules"
    for entry in sorted(modules.iterdir()) if modules.is_dir() else []:
        if entry.name.startswith("."):
            continue
        for pkg in sorted(entry.iterdir()) if entry.name.startswith("@") and entry.is_dir() else [entry]:
            version = _version_at(root, _name_of(pkg, modules))
            if version is not None:
                out[_name_of(pkg, modules)] = version
    return out


def _resolves_from_root(pkg_dir: Path, modules: Path, name: str) -> bool:
    here = pkg_dir
    while here != modules and modules in here.parents:
        if (here / "node_modules" / name / "package.json").exists():
            return False
        here = here.parent
        if here.name == "node_modules":
            here = here.parent
        if here.name.startswith("@"):
            here = here.parent
    return True


def _package_dirs(modules: Path):
    """Every installed package directory under a node_modules, nested ones included."""
    if not modules.is_dir():
        return
    for entry in os.scandir(modules):
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        if entry.name.startswith("@"):
            subs = [Path(s.path) for s in os.scandir(entry.path) if s.is_dir(follow_symlinks=False)]
        else:
            subs = [Path(entry.path)]
        for pkg in subs:
            yield pkg
            yield from _package_dirs(pkg / "node_modules")


# --- templates on disk -------------------------------------------------------------------


@dataclass
class Template:
    path: Path  # an install directory: package.json, node_modules/
    core_version: str
    dependents: dict[str, list[str]]
    built_from: dict[str, str] | None = None  # package -> the tarball npm installed it from
    base: str | None = (
        None  # layered: the template below this one's delta, relative to this one's connector ref directory
    )
    versions: dict[str, str] | None = None  # root package -> version, recorded at build time
    family: str | None = None  # see `family`; None: built before templates were shared between refs

    def layers(self) -> list[Path]:
        """The directories that make this template's node_modules, the top one first."""
        return layers_of(self.path)

    def same_packages(self, swaps: list[Swap]) -> bool:
        """Built from the very tarballs the cell swaps in: the template is the cell's own install."""
        built = self.built_from or {}
        return bool(built) and all(built.get(s.name) == s.tgz.name for s in swaps)


def templates(base: Path) -> list[Template]:
    found = []
    for mark in sorted(base.glob(f"*/{MARK}")):
        try:
            doc = json.loads(mark.read_text())
        except (OSError, ValueError):
            continue
        found.append(_from_mark(mark.parent, doc))
    return found


def _from_mark(path: Path, doc: dict) -> Template:
    return Template(
        path,
        doc.get("core_version", ""),
        doc.get("dependents", {}),
        doc.get("built_from", {}),
        doc.get("base"),
        doc.get("root_versions"),
        doc.get("family"),
    )


def base_path(template: Path, base: str) -> Path:
    """The template a layered one's `base` names: a sibling ("1.6.4-…") or one of another connector
    ref ("../<key>/1.6.4-…")."""
    return Path(os.path.normpath(template.parent / base))


def layers_of(template: Path) -> list[Path]:
    """A flat template's node_modules, or a layered one's delta above the layers of its base."""
    layers: list[Path] = []
    while True:
        try:
            base = json.loads((template / MARK).read_text()).get("base")
        except (OSError, ValueError):
            base = None
        if not base:
            return [*layers, template / "node_modules"]
        layers.append(template / DELTA)
        template = base_path(template, base)
        if len(layers) >= 16:  # never built (MAX_LAYERS), but a hand-edited mark must not loop
            raise InfrastructureError(f"npm template {template}: its layers go deeper than 16")


def _clear_stale_builds(base: Path) -> None:
    """Builds a killed canary left (under the lock nobody else builds): their temporary overlay
    mount first, then the directory; one still mounted is left alone rather than deleted through."""
    for stale in sorted([*base.glob(".build-*"), *base.glob(".prune-*")]):
        mounts.unmount_under(stale)
        if not mounts.mounts_under(stale):
            shutil.rmtree(stale, ignore_errors=True)


def _layered_build(tmp: Path, start: Template, build, names: list[str]) -> tuple[dict, dict]:
    """`build` (the npm install) in an overlay view whose lower layer is `start` and whose upper layer
    is `tmp`/delta: the new template keeps only what npm changed. Returns the dependents and root
    versions read in the merged view; the view is unmounted whatever happens."""
    modules, work = tmp / "node_modules", tmp / ".work"
    for d in (modules, tmp / DELTA, work):
        d.mkdir(parents=True, exist_ok=True)
    argv = mounts.overlay_argv(start.layers(), modules, tmp / DELTA, work, BUILD_OPTIONS)
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:  # a kernel without redirect_dir: npm copies what it moves, still correct
        argv = mounts.overlay_argv(start.layers(), modules, tmp / DELTA, work)
        proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InfrastructureError("install: cannot mount the template's base layer", proc.stderr.strip())
    try:
        build(tmp, None)
        return root_dependents(tmp, names), root_versions(tmp)
    finally:
        mounts.unmount_under(tmp)
        if mounts.mounts_under(tmp):
            raise InfrastructureError(f"install: {modules} is still mounted")
        shutil.rmtree(work, ignore_errors=True)
        modules.rmdir()


def choose(base: Path, swaps: list[Swap], build) -> tuple[Template, str]:
    """`_choose`, then, when it built a template (the cache grew), `prune` the templates of every
    connector ref beside `base` down to their bounds (PRUNE_* variables)."""
    template, note, built = _choose(base, swaps, build)
    if built:
        prune(base.parent)
    return template, note


def start_for(base: Path, existing: list[Template], core_version: str, kin: str) -> Template | None:
    """The template a layered build for the connector ref `base` starts from (`shared`): of those
    with fewer than MAX_LAYERS layers, this ref's own and those of the same `family` in other refs,
    the first of: built with the same core version (another ref's: npm then changes only the
    connector's own dependencies), this ref's own, the fewest layers. None: from nothing."""
    others = [
        t
        for key_dir in (sorted(base.parent.iterdir()) if base.parent.is_dir() else [])
        if key_dir != base and (key_dir / ".lock").exists()
        for t in templates(key_dir)
        if t.family == kin
    ]
    depth = {t.path: len(t.layers()) for t in [*existing, *others]}  # each layer is a mark to read
    candidates = [t for t in [*existing, *others] if depth[t.path] < MAX_LAYERS]
    ranked = sorted(
        candidates, key=lambda t: (t.core_version != core_version, t.path.parent != base, depth[t.path], str(t.path))
    )
    for t in ranked:
        # Touched before use: pruning spares what was used within its grace period, and re-checks under
        # the ref's lock before it deletes (`_delete`); a template already hidden is passed over.
        if _used(t) is not None:
            return t
    return None


def _choose(base: Path, swaps: list[Swap], build) -> tuple[Template, str, bool]:
    """The first template under `base` that fits, else a new one made by `build(directory, start)`:
    the per-cell install, run in a directory of its own, on top of a template already built when
    there is one, else from nothing (npm then fetches and unpacks only what moved).
    On top means, where this process can mount an overlay (`layered`), a view whose lower layers
    are those of `start_for` (any connector ref's) and whose upper layer becomes the new template's
    delta (`start` None: nothing to copy); else a full copy of the connector ref's first template
    (`start`: the template to copy). Returns the template and a note.
    One process at a time per connector ref: a second cell waits for the first one's install."""
    base.mkdir(parents=True, exist_ok=True)
    with exclusive(base / ".lock"), contextlib.ExitStack() as held:
        _clear_stale_builds(base)
        reasons = []
        existing = templates(base)
        for t in existing:
            if t.same_packages(swaps):
                _used(t)
                return t, f"template built with core {t.core_version} (these very tarballs)", False
            why = misfit(t.path, swaps, t.dependents, t.versions)
            if why is None:
                _used(t)
                return t, f"template built with core {t.core_version}", False
            reasons.append(f"core {t.core_version}: {why}")
        core = next(s for s in swaps if s.every_copy)
        names = [s.name for s in swaps if not s.every_copy]
        kin = family(swaps)
        flat = next((t for t in existing if not t.base), None)  # a whole tree of this ref
        if not layered_builds(base):
            start, layered = flat, False
        elif base_strategy() == "shared":
            start = start_for(base, existing, core.version, kin)
            if start is None:
                # The first cells of two refs would both install from nothing at once: the second one
                # waits for the first's build (one lock per family, held until its template is in
                # place) and layers on it.
                held.enter_context(exclusive(base.parent / f".first-{kin}.lock"))
                start = start_for(base, existing, core.version, kin)
            layered = start is not None
        else:
            start, layered = flat, flat is not None
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=base))
        try:
            if layered and start is not None:
                dependents, versions = _layered_build(tmp, start, build, names)
            else:
                build(tmp, start.path if start else None)
                dependents, versions = root_dependents(tmp, names), root_versions(tmp)
            if copy_mode() == "hardlink":
                _read_only(tmp / "node_modules")
            built_from = {s.name: s.tgz.name for s in swaps}
            doc = {
                "core_version": core.version,
                "core_tgz": core.tgz.name,
                "dependents": dependents,
                "built_from": built_from,
                "root_versions": versions,
                "bytes": tree_bytes(tmp),
                "family": kin,
            }
            if layered and start is not None:
                doc["base"] = os.path.relpath(start.path, base)
            write_json_atomic(tmp / MARK, doc)
            final = base / f"{core.version}-{value_sha256(str(core.tgz))[:8]}"
            n = 1
            while final.exists():  # never replace a template: another cell may be copying it
                final = base / f"{core.version}-{value_sha256(str(core.tgz))[:8]}-{n}"
                n += 1
            tmp.rename(final)
        except BaseException:
            mounts.unmount_under(tmp)
            if not mounts.mounts_under(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        note = "new template" + (
            f" {'layered on' if layered else 'from'} the one built with core {start.core_version}"
            + ("" if start.path.parent == base else f" for another connector ref ({start.path.parent.name})")
            + (f" (none fits: {'; '.join(reasons)})" if reasons else "")
            if start
            else ""
        )
        return _from_mark(final, doc), note, True


def layered_builds(base: Path) -> bool:
    """Whether a new template is a delta on an overlay (root, overlayfs, the copy mode `overlay`,
    and not CANARY_NPM_TEMPLATE_BASE=copy), rather than a full copy plus an install."""
    return base_strategy() != "copy" and copy_mode(base / ".probe") == "overlay"


def _used(t: Template) -> Template | None:
    """Remember when a template last served a cell or a build: pruning keeps what was used recently.
    None: the template is gone (pruned since it was listed)."""
    try:
        os.utime(t.path / MARK)
    except OSError:
        return None
    return t


def tree_bytes(root: Path) -> int:
    """Disk use of a directory tree (allocated blocks; a hardlinked file counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


# --- pruning -----------------------------------------------------------------------------

PRUNE_AGE_ENV = "CANARY_NPM_TEMPLATES_MAX_AGE_DAYS"  # default 14; 0: no age bound
PRUNE_SIZE_ENV = "CANARY_NPM_TEMPLATES_MAX_MB"  # default 5000; 0: no size bound
PRUNE_GRACE_S = 3600  # a template that served a cell this recently may be being copied: never pruned


def _bound(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise InfrastructureError(f"{name}={raw!r}: expected a number") from None
    if value < 0:
        raise InfrastructureError(f"{name}={raw!r}: expected a number >= 0")
    return value


@dataclass
class _Cached:
    template: Template
    key_dir: Path
    last_used: float  # the mark's mtime: set when built, touched whenever the template serves a cell
    size: int


def prune(
    root: Path, max_age_days: float | None = None, max_mb: float | None = None, now: float | None = None
) -> list[Path]:
    """Delete templates under `root` (<home>/cache/npm-templates: a directory per connector ref) that
    were not used for `max_age_days`, then the least recently used ones while the total exceeds
    `max_mb`. Never one used in the last PRUNE_GRACE_S seconds, one an overlay mount reads (a live
    cell's), a base a kept layered template needs, nor one whose connector ref's lock is held (a
    build or a choice in progress there). Returns the deleted templates' paths."""
    max_age_days = _bound(PRUNE_AGE_ENV, 14) if max_age_days is None else max_age_days
    max_mb = _bound(PRUNE_SIZE_ENV, 5000) if max_mb is None else max_mb
    now = time.time() if now is None else now
    cached = []
    for lock in sorted(Path(root).glob("*/.lock")):
        with _lock_if_free(lock.parent) as free:
            if free:  # what a canary killed during a build left, in any connector ref
                _clear_stale_builds(lock.parent)
        for t in templates(lock.parent):
            mark = t.path / MARK
            try:
                last_used, recorded = mark.stat().st_mtime, json.loads(mark.read_text()).get("bytes")
            except (OSError, ValueError):
                continue
            cached.append(
                _Cached(t, lock.parent, last_used, recorded if isinstance(recorded, int) else tree_bytes(t.path))
            )
    in_use = {os.path.realpath(p) for p in mounts.overlay_lowers()}
    total = sum(c.size for c in cached)
    deleted: list[Path] = []

    def deletable(c: _Cached) -> bool:
        if now - c.last_used < PRUNE_GRACE_S:
            return False
        if any(os.path.realpath(layer) in in_use for layer in c.template.layers()):
            return False
        return not any(
            o.template.base and base_path(o.template.path, o.template.base) == c.template.path for o in cached
        )

    def drop(c: _Cached) -> None:
        nonlocal total
        if deletable(c) and _delete(c.template.path, now):
            cached.remove(c)
            deleted.append(c.template.path)
            total -= c.size

    changed = bool(max_age_days)
    while changed:  # a base becomes deletable once its layers went (of any connector ref)
        before = len(cached)
        for c in sorted(cached, key=lambda c: c.last_used):
            if now - c.last_used > max_age_days * 86400:
                drop(c)
        changed = len(cached) < before
    changed = True
    while max_mb and total > max_mb * 1e6 and changed:  # a base becomes deletable once its layers went
        changed = False
        for c in sorted(cached, key=lambda c: c.last_used):
            if total <= max_mb * 1e6:
                break
            before = len(cached)
            drop(c)
            changed = changed or len(cached) < before
    return deleted


def _delete(template: Path, now: float) -> bool:
    """Under its connector ref's lock, if free: hide the template (its mark first), then remove it.
    Not if it was used since `now` minus the grace period: a build of another connector ref may
    have chosen it as its start (`start_for` touches it) after pruning listed it."""
    with _lock_if_free(template.parent) as free:
        try:
            recent = now - (template / MARK).stat().st_mtime < PRUNE_GRACE_S
        except OSError:
            return False
        if not free or recent:
            return False
        (template / MARK).unlink()
        trash = Path(tempfile.mkdtemp(prefix=".prune-", dir=template.parent))
        template.rename(trash / template.name)
        shutil.rmtree(trash, ignore_errors=True)
        return True


@contextlib.contextmanager
def _lock_if_free(key_dir: Path) -> Iterator[bool]:
    """The connector ref's lock (the one `choose` holds) without waiting: False when another holds it."""
    with open(key_dir / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_only(modules: Path) -> None:
    for dirpath, _dirs, files in os.walk(modules):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode & ~0o222)


# --- copies ------------------------------------------------------------------------------


COPY_MODES = ("reflink", "overlay", "hardlink", "copy")


def copy_mode(cell_dir: Path | None = None) -> str:
    """reflink where the file system can clone files; an overlay mount where this process may mount
    one on `cell_dir`'s file system (root); hardlinks to read-only files where permissions keep a
    cell from writing them (not root); else a full copy: a cell never shares a writable file."""
    forced = os.environ.get(COPY_ENV, "auto").strip().lower() or "auto"
    if forced in COPY_MODES:
        return forced
    if forced != "auto":
        raise InfrastructureError(f"{COPY_ENV}={forced!r}: expected auto, {', '.join(COPY_MODES)}")
    return _auto_mode(cell_dir)


_AUTO: dict[str, str] = {}


def _auto_mode(cell_dir: Path | None) -> str:
    if "mode" not in _AUTO:
        _AUTO["mode"] = "reflink" if _can_reflink() else ("hardlink" if os.geteuid() != 0 else "copy")
    if _AUTO["mode"] == "copy" and cell_dir is not None and mounts.overlay_supported(cell_dir.parent):
        return "overlay"
    return _AUTO["mode"]


def _can_reflink() -> bool:
    probe = Path(tempfile.mkdtemp(prefix=".reflink-probe-"))
    try:
        (probe / "a").write_bytes(b"x")
        return (
            subprocess.run(
                ["cp", "--reflink=always", str(probe / "a"), str(probe / "b")], capture_output=True
            ).returncode
            == 0
        )
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def copy_argv(src: Path, dest: Path, mode: str) -> list[str]:
    flag = {"reflink": ["-a", "--reflink=always"], "hardlink": ["-al"], "copy": ["-a"]}[mode]
    # npm rewrites files of the tree it installs into (bin targets' modes, its hidden lockfile):
    # a template built on top of another one starts from a full copy, never from links.
    return ["cp", *flag, str(src), str(dest)]


def copy_template(template: Path, dest: Path, run: Run, mode: str | None = None) -> None:
    mode = mode or copy_mode(dest)
    modules = dest / "node_modules"
    mounts.unmount_under(modules)  # left by a killed attempt, like the tree below
    if modules.exists():
        shutil.rmtree(modules)
    shutil.rmtree(dest / mounts.OVERLAY_DIR, ignore_errors=True)
    dest.mkdir(parents=True, exist_ok=True)
    layers = layers_of(template)
    if mode == "overlay":
        mounts.prepare_layers(modules)
        argv = mounts.overlay_argv(layers, modules, options=FOLLOW_OPTIONS if len(layers) > 1 else ())
    elif len(layers) > 1:  # a layered template copied without an overlay of the cell's own: a full copy of its view
        _copy_merged(layers, dest, run)
        return
    else:
        argv = copy_argv(template / "node_modules", modules, mode)
    code, lines = run("install", argv, dest)
    if code != 0:
        raise InfrastructureError(f"install: copying the template failed ({mode})", "\n".join(lines[-20:]))


def _copy_merged(layers: list[Path], dest: Path, run: Run) -> None:
    view = dest / ".template-view"
    view.mkdir(parents=True, exist_ok=True)
    code, lines = run("install", mounts.overlay_view_argv(layers, view, FOLLOW_OPTIONS), dest)
    try:
        if code == 0:
            code, lines = run("install", copy_argv(view, dest / "node_modules", "copy"), dest)
    finally:
        mounts.unmount_under(view)
        if not mounts.mounts_under(view):
            view.rmdir()
    if code != 0:
        raise InfrastructureError("install: copying the layered template failed", "\n".join(lines[-20:]))


def swap_in(install_dir: Path, swaps: list[Swap], connector: str, run: Run, mode: str = "copy") -> None:
    """Put the cell's own core (every copy) and companions (the root copy) in place of the template's,
    give the connector a directory of real files (its tests run there), and rewrite npm's hidden lockfile."""
    modules = install_dir / "node_modules"
    places: dict[str, list[Path]] = {}
    for s in swaps:
        dirs = [p for p in _package_dirs(modules) if _name_of(p, modules) == s.name] if s.every_copy else []
        root_copy = modules / s.name
        places[s.name] = sorted({root_copy, *dirs})
    for s in swaps:
        for where in places[s.name]:
            if where.exists() or where.is_symlink():
                shutil.rmtree(where) if where.is_dir() and not where.is_symlink() else where.unlink()
            where.mkdir(parents=True)
            code, lines = run(
                "install",
                ["tar", "-xzf", str(s.tgz), "-C", str(where), "--strip-components=1", "--no-same-owner"],
                install_dir,
            )
            if code != 0:
                raise InfrastructureError(f"install: cannot unpack {s.tgz.name}", "\n".join(lines[-20:]))
    own = modules / connector
    if own.is_dir() and mode == "hardlink":
        shutil.copytree(own, own.with_name(own.name + ".canary-own"), symlinks=True)
        shutil.rmtree(own)
        own.with_name(own.name + ".canary-own").rename(own)
        _writable(own)
    _rewrite_lock(modules, swaps, places)


def _writable(directory: Path) -> None:
    for dirpath, _dirs, files in os.walk(directory):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | 0o200)


def _name_of(pkg_dir: Path, modules: Path) -> str:
    return f"{pkg_dir.parent.name}/{pkg_dir.name}" if pkg_dir.parent.name.startswith("@") else pkg_dir.name


def _rewrite_lock(modules: Path, swaps: list[Swap], places: dict[str, list[Path]]) -> None:
    """npm's hidden lockfile (node_modules/.package-lock.json) as npm would write it after the swap:
    a new file (never the template's), each swapped entry naming the cell's tarball."""
    lock = modules / ".package-lock.json"
    if not lock.exists():
        return
    doc = json.loads(lock.read_text())
    packages = doc.get("packages") or {}
    root = modules.parent
    for s in swaps:
        for where in places[s.name]:
            key = where.relative_to(root).as_posix()
            entry = {k: v for k, v in (packages.get(key) or {}).items() if k not in ("integrity", "resolved")}
            entry.update({"version": s.version, "resolved": f"file:{s.tgz}"})
            for field_name in ("dependencies", "peerDependencies", "optionalDependencies", "peerDependenciesMeta"):
                if s.manifest.get(field_name):
                    entry[field_name] = s.manifest[field_name]
                else:
                    entry.pop(field_name, None)
            packages[key] = entry
    write_json_atomic(lock, doc)
