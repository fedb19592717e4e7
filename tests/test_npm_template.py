"""npm templates offline: one `npm install` per connector ref, a private copy per cell, the core swapped.

Real `npm install` of tarballs packed by the tests (tests/conftest_npm.py's fake registry), real
copies, real Node loading the swapped core. Proves that a copied cell loads its own core and
companion (not the template's, not another cell's), that nothing writable is shared between a
cell and the template or another cell, that a core whose dependencies the template lacks gets a
template of its own, and that CANARY_NPM_INSTALL=per-cell keeps the old path.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from canary.kernel import mounts
from canary.kernel.errors import CoreMismatch
from canary.matrix import npm_template
from canary.matrix.npm_artifacts import plain_run
from canary.matrix.runners.node import install_argv, prepare_node_cell
from canary.matrix.store import Store
from tests.conftest import canary
from tests.test_npm_runner import load_in_cell

CORE, SQL, PLUGIN = "@canary-fake/core", "@canary-fake/sql", "@canary-fake/plugin-nested"


class Recorder:
    """The runner's command hook: runs each command for real and keeps its argv."""

    def __init__(self):
        self.argvs: list[list[str]] = []

    def __call__(self, phase, argv, cwd):
        self.argvs.append(list(argv))
        return plain_run(phase, argv, cwd)

    def npm_installs(self) -> int:
        return sum(1 for a in self.argvs if a[:2] == ["npm", "install"])


def cell(
    fake, tmp_path: Path, name: str, core_version: str, rec: Recorder, *, sql: bool = True, connector=PLUGIN, **kw
):
    companions = [(SQL, core_version)] if sql else []
    return prepare_node_cell(
        tmp_path / name,
        connector,
        fake.tgz(connector, "0.1.0"),
        CORE,
        fake.tgz(CORE, core_version),
        core_version,
        companions,
        npm_cache=fake.npm_cache,
        run=rec,
        templates=kw.pop("templates", tmp_path / "templates"),
        companion_tgzs=[(SQL, fake.tgz(SQL, core_version))] if sql else [],
        **kw,
    )


def shared_writable(a: Path, b: Path) -> list[str]:
    """Files under `a` that are the same inode as the file at the same place under `b` and writable
    by this process: a write into one would change the other."""
    out = []
    for dirpath, _dirs, files in os.walk(a):
        for f in files:
            p = Path(dirpath) / f
            q = b / p.relative_to(a)
            if p.is_symlink() or not q.exists() or q.is_symlink():
                continue
            sp, sq = os.stat(p), os.stat(q)
            # (device, inode) names a file: an overlay view shows the lower file's inode on its own device,
            # and a write there copies the file up into the cell's layer instead of changing it.
            if (sp.st_dev, sp.st_ino) == (sq.st_dev, sq.st_ino) and (os.geteuid() == 0 or sp.st_mode & 0o222):
                out.append(str(p.relative_to(a)))
    return out


@pytest.fixture(autouse=True)
def _no_mount_outlives_the_test(tmp_path):
    # prepare_node_cell alone (no `canary run`) leaves a cell's overlay view mounted: the run's cleanup
    # is what removes it, so the test does.
    yield
    mounts.unmount_under(tmp_path)


@pytest.fixture
def two_cells(fake_registry_env, tmp_path, monkeypatch):
    monkeypatch.delenv(npm_template.INSTALL_ENV, raising=False)
    rec = Recorder()
    first = cell(fake_registry_env, tmp_path, "cell-2", "2.0.0", rec)
    second = cell(fake_registry_env, tmp_path, "cell-1", "1.0.0", rec)
    [template] = npm_template.templates(tmp_path / "templates")
    return first, second, template, rec


def test_one_install_serves_two_cores_each_cell_loads_its_own(two_cells):
    first, second, template, rec = two_cells
    assert rec.npm_installs() == 1  # the template; the second cell is a copy with the core swapped
    assert template.core_version == "2.0.0" and "template built with core 2.0.0" in second.installed_via
    # Node itself, from each cell: the connector and the nested library load that cell's core,
    # and the companion is that cell's too; the template still holds what it was built with.
    assert load_in_cell(second.install_dir, PLUGIN, ["VERSION", "MID_CORE"]) == {
        "VERSION": "1.0.0",
        "MID_CORE": "1.0.0",
    }
    assert load_in_cell(first.install_dir, PLUGIN, ["VERSION", "MID_CORE"]) == {"VERSION": "2.0.0", "MID_CORE": "2.0.0"}
    assert load_in_cell(second.install_dir, SQL, ["SQL"]) == {"SQL": "1.0.0"}
    assert load_in_cell(template.path, PLUGIN, ["VERSION"]) == {"VERSION": "2.0.0"}
    assert (second.resolved, [c["version"] for c in second.copies]) == ("1.0.0", ["1.0.0"])
    # npm's own view of the copied cell agrees (its hidden lockfile names the cell's tarball).
    lock = json.loads((second.install_dir / "node_modules" / ".package-lock.json").read_text())
    assert lock["packages"][f"node_modules/{CORE}"]["resolved"].endswith("core-1.0.0.tgz")


def test_no_writable_file_is_shared_with_the_template_or_another_cell(two_cells):
    first, second, template, _ = two_cells
    for a, b in ((second.install_dir, template.path), (second.install_dir, first.install_dir)):
        assert shared_writable(a / "node_modules", b / "node_modules") == []
    # A write into one cell's copy of a library reaches neither the template nor the other cell.
    rel = Path("node_modules/@canary-fake/mid/index.js")
    before = (template.path / rel).read_text()
    target = second.install_dir / rel
    try:
        with open(target, "a") as fh:
            fh.write("export const TOUCHED = 1;\n")
    except PermissionError:  # hardlink copies: the shared files are read-only to the cell
        pass
    else:  # the cell's own view has the write (an overlay copied the file up into the cell's layer)
        assert "TOUCHED" in target.read_text()
    assert (template.path / rel).read_text() == before == (first.install_dir / rel).read_text()


def test_a_core_whose_dependencies_the_template_lacks_gets_its_own_template(
    two_cells, fake_registry_env, tmp_path, monkeypatch
):
    monkeypatch.setenv(npm_template.BASE_ENV, "copy")  # the full-copy base (non-root, the bench's template-flatbase)
    _, _, _, rec = two_cells
    third = cell(fake_registry_env, tmp_path, "cell-11", "1.1.0", rec)
    assert rec.npm_installs() == 2
    assert "needs @canary-fake/util ^1.0.0: not in the template" in third.installed_via
    assert "new template from the one built with core 2.0.0" in third.installed_via
    # ... installed on top of a full copy of the first template (npm adds only what moved),
    # which stays as it was.
    last_install = max(i for i, a in enumerate(rec.argvs) if a[:2] == ["npm", "install"])
    assert rec.argvs[last_install - 1][:2] == ["cp", "-a"]
    assert load_in_cell(third.install_dir, PLUGIN, ["VERSION"]) == {"VERSION": "1.1.0"}
    assert load_in_cell(third.install_dir, "@canary-fake/util", ["UTIL"]) == {"UTIL": 1}
    first_template = next(t for t in npm_template.templates(tmp_path / "templates") if t.core_version == "2.0.0")
    assert load_in_cell(first_template.path, PLUGIN, ["VERSION"]) == {"VERSION": "2.0.0"}
    assert not (first_template.path / "node_modules" / "@canary-fake" / "util").exists()
    assert sorted(t.core_version for t in npm_template.templates(tmp_path / "templates")) == ["1.1.0", "2.0.0"]
    # ... and the next cell takes the first template that fits, not a third install.
    cell(fake_registry_env, tmp_path, "cell-1b", "1.0.0", rec)
    assert rec.npm_installs() == 2


def test_the_check_still_catches_a_core_the_connector_does_not_load(two_cells, fake_registry_env, tmp_path):
    # The swap is checked like an install: a cell claiming a core other than its tarball is refused.
    with pytest.raises(CoreMismatch, match="not the core under test 2.0.0"):
        prepare_node_cell(
            tmp_path / "liar",
            PLUGIN,
            fake_registry_env.tgz(PLUGIN, "0.1.0"),
            CORE,
            fake_registry_env.tgz(CORE, "1.0.0"),
            "2.0.0",
            npm_cache=fake_registry_env.npm_cache,
            templates=tmp_path / "templates",
        )


def test_companion_ranges_of_the_template_decide_the_fit(tmp_path):
    # A package that resolves the companion from the root and wants sql ^2 refuses a swap to sql 1.
    root = tmp_path / "t"
    for name, version, deps in ((SQL, "2.0.0", {}), ("@x/user", "1.0.0", {SQL: "^2.0.0"})):
        d = root / "node_modules" / name
        d.mkdir(parents=True)
        (d / "package.json").write_text(json.dumps({"name": name, "version": version, "dependencies": deps}))
    dependents = npm_template.root_dependents(root, [SQL])
    assert dependents == {SQL: ["^2.0.0"]}
    swap = npm_template.Swap(SQL, tmp_path / "sql.tgz", "1.0.0", {"dependencies": {}}, every_copy=False)
    assert "needs @canary-fake/sql ^2.0.0, not 1.0.0" in npm_template.misfit(root, [swap], dependents)


def test_per_cell_switch_keeps_the_old_path(fake_registry_env, tmp_path, monkeypatch):
    monkeypatch.setenv(npm_template.INSTALL_ENV, "per-cell")
    assert npm_template.install_strategy() == "per-cell"
    rec = Recorder()
    # prepare() reads the switch; at this level "no templates" is the per-cell path itself.
    one = cell(fake_registry_env, tmp_path, "a", "1.0.0", rec, templates=None)
    assert rec.npm_installs() == 1 and one.installed_via == "npm install in the cell"


def test_a_cell_with_the_templates_own_tarballs_is_a_plain_copy(two_cells, fake_registry_env, tmp_path):
    # The baseline again (a --no-cache re-run): the template is its install; no new template, no
    # swap (which would drop what npm nested under the companion for it).
    _, _, template, rec = two_cells
    again = cell(fake_registry_env, tmp_path, "cell-2b", "2.0.0", rec)
    assert rec.npm_installs() == 1 and "these very tarballs" in again.installed_via
    assert not any(a[0] == "tar" for a in rec.argvs[-3:])
    assert [t.path for t in npm_template.templates(tmp_path / "templates")] == [template.path]
    assert load_in_cell(again.install_dir, PLUGIN, ["VERSION"]) == {"VERSION": "2.0.0"}


def test_as_root_a_cell_sees_the_template_through_an_overlay_and_writes_only_its_layer(two_cells):
    # The copy mode a root process gets where reflinks are missing: no 370 MB copy per cell.
    first, second, template, _ = two_cells
    if not mounts.overlay_supported(second.install_dir.parent):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    assert "copied (overlay)" in second.installed_via
    assert mounts.mounts_under(second.install_dir) == [second.install_dir / "node_modules"]
    layer = second.install_dir / mounts.OVERLAY_DIR / "node_modules" / "upper"
    # The swapped core and companion are the cell's own files, in its layer; the template is untouched.
    assert json.loads((layer / CORE / "package.json").read_text())["version"] == "1.0.0"
    assert json.loads((template.path / "node_modules" / CORE / "package.json").read_text())["version"] == "2.0.0"
    assert not (layer / "@canary-fake" / "mid").exists()  # unchanged libraries are read from the template
    assert mounts.unmount_under(second.install_dir) == 1 and not (second.install_dir / "node_modules" / CORE).exists()


# The test of every cell (it runs in the connector's directory): load the connector (its core, and mid's nested core), demand the cell's own
# core (argv[2]), and leave a scratch file in a library the template holds (a test writing into node_modules).
CELL_TEST = """
import(require('url').pathToFileURL(process.cwd() + '/index.js')).then((m) => {
  const fs = require('fs');
  const mid = require.resolve('@canary-fake/mid/package.json', { paths: [process.cwd()] });
  fs.writeFileSync(mid.replace('package.json', 'scratch.txt'), m.VERSION);
  if (m.VERSION !== process.argv[2] || m.MID_CORE !== process.argv[2]) {
    console.error('loaded', m.VERSION, m.MID_CORE);
    process.exit(1);
  }
});
"""


def _npm_matrix(tmp_path: Path, test: str) -> Path:
    script = tmp_path / "cell-test.cjs"
    script.write_text(test)
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(
        "version: 1\ncore:\n  name: '@canary-fake/core'\n  ecosystem: npm\n  versions: ['2.0.0', '1.0.0']\n"
        "  baseline: '2.0.0'\nsettings: {retries: 0}\nconnectors:\n  - name: nested\n"
        "    package: '@canary-fake/plugin-nested'\n    npm: {versions: ['0.1.0']}\n"
        f"    test: [node, {json.dumps(str(script))}, '{{core_version}}']\n"
    )
    return matrix


def test_a_run_of_copied_cells_passes_and_leaves_no_mount_and_an_unchanged_template(fake_npm, tmp_path):
    home = tmp_path / "home"
    env = {"CANARY_HOME": str(home), **fake_npm.env()}
    proc = canary("run", "-c", str(_npm_matrix(tmp_path, CELL_TEST)), "--progress", "none", "--report", "none", env=env)
    run = Store(home / "runs").latest()
    cells = run.read_cells()
    assert proc.returncode == 0 and {c.status for c in cells.values()} == {"pass"}, proc.stdout + proc.stderr
    # The 1.0.0 cell is the 2.0.0 template's copy (an overlay as root, else the machine's copy mode).
    log = (run.path / "logs" / "nested@0.1.0--core-1.0.0.log").read_text()
    assert f"copied ({npm_template.copy_mode(home / 'work')}), core and companions swapped" in log
    assert mounts.mounts_under(home) == []  # every cell's view went with the cell
    [key_dir] = [d for d in (home / "cache" / "npm-templates").iterdir() if d.is_dir()]  # one connector ref
    [template] = npm_template.templates(key_dir)
    assert not list((template.path / "node_modules").rglob("scratch.txt"))  # no cell wrote into it


def test_a_killed_run_leaves_a_mount_the_next_run_removes(fake_npm, tmp_path):
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    home = tmp_path / "home"
    env = {**os.environ, "CANARY_HOME": str(home), **fake_npm.env()}
    hang = _npm_matrix(tmp_path, "setTimeout(() => {}, 120000)")
    first = subprocess.Popen(
        [sys.executable, "-m", "canary", "run", "-c", str(hang), "--progress", "none", "--report", "none", "-j", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not mounts.mounts_under(home / "work") and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
        left = mounts.mounts_under(home / "work")
        assert left, "no cell mounted its copy of the template"
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # canary and its cell's node die at once: nothing cleans up
        first.wait()
    assert mounts.mounts_under(home / "work") == left
    second = canary("run", "-c", str(_npm_matrix(tmp_path, "0")), "--progress", "none", "--report", "none", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert mounts.mounts_under(home) == []


# --- layered templates: a template after the first is a delta on an overlay of the first ---------


@pytest.fixture
def layered(two_cells, fake_registry_env, tmp_path, monkeypatch):
    """The 2.0.0 template, then core 1.1.0 (needs util, which the template lacks): a layered template."""
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    monkeypatch.delenv(npm_template.BASE_ENV, raising=False)
    monkeypatch.delenv(npm_template.COPY_ENV, raising=False)
    first, _, flat, rec = two_cells
    third = cell(fake_registry_env, tmp_path, "cell-11", "1.1.0", rec)
    [delta] = [t for t in npm_template.templates(tmp_path / "templates") if t.core_version == "1.1.0"]
    return flat, delta, third, rec


def test_a_template_after_the_first_is_a_delta_on_the_first(layered, tmp_path):
    flat, delta, third, rec = layered
    assert rec.npm_installs() == 2 and "new template layered on the one built with core 2.0.0" in third.installed_via
    assert not any(a[:2] == ["cp", "-a"] for a in rec.argvs)  # no full copy of the first template
    assert delta.base == flat.path.name and delta.layers() == [delta.path / "delta", flat.path / "node_modules"]
    assert not (delta.path / "node_modules").exists() and not (delta.path / ".work").exists()
    # The delta holds what npm changed (the core, util, the lock), not the libraries it kept.
    own = {p.relative_to(delta.path / "delta").as_posix() for p in (delta.path / "delta").rglob("package.json")}
    assert f"{CORE}/package.json" in own and "@canary-fake/util/package.json" in own
    assert "@canary-fake/mid/package.json" not in own
    # The first template, the lower layer, is as it was; the cell loads the new template's core.
    assert load_in_cell(flat.path, PLUGIN, ["VERSION"]) == {"VERSION": "2.0.0"}
    assert not (flat.path / "node_modules" / "@canary-fake" / "util").exists()
    assert load_in_cell(third.install_dir, PLUGIN, ["VERSION", "MID_CORE"]) == {"VERSION": "1.1.0", "MID_CORE": "1.1.0"}
    assert load_in_cell(third.install_dir, "@canary-fake/util", ["UTIL"]) == {"UTIL": 1}
    assert mounts.mounts_under(tmp_path / "templates") == []  # the build's view is gone


def test_two_cells_of_a_layered_template_see_only_their_own_core(layered, fake_registry_env, tmp_path):
    _, delta, third, rec = layered
    # Core 1.0.0 fits the 1.1.0 template (first in order): a second cell of it, its core swapped.
    other = cell(fake_registry_env, tmp_path, "cell-1b", "1.0.0", rec)
    assert rec.npm_installs() == 2 and "template built with core 1.1.0" in other.installed_via
    assert "copied (overlay)" in other.installed_via
    assert str(delta.path / "delta") in " ".join(next(a for a in rec.argvs[::-1] if a[0] == "mount"))
    assert load_in_cell(other.install_dir, PLUGIN, ["VERSION", "MID_CORE"]) == {"VERSION": "1.0.0", "MID_CORE": "1.0.0"}
    assert load_in_cell(third.install_dir, PLUGIN, ["VERSION", "MID_CORE"]) == {"VERSION": "1.1.0", "MID_CORE": "1.1.0"}
    assert (other.resolved, third.resolved) == ("1.0.0", "1.1.0")
    for a, b in ((other.install_dir, third.install_dir), (other.install_dir, delta.path)):
        assert shared_writable(a / "node_modules", b / "delta" if b == delta.path else b / "node_modules") == []
    (other.install_dir / "node_modules" / "@canary-fake" / "mid" / "scratch.txt").write_text("1.0.0")
    assert not (third.install_dir / "node_modules" / "@canary-fake" / "mid" / "scratch.txt").exists()
    assert not list(delta.path.rglob("scratch.txt"))


def test_a_layered_template_copied_without_an_overlay_is_its_merged_tree(
    layered, fake_registry_env, tmp_path, monkeypatch
):
    _, delta, _, rec = layered
    monkeypatch.setenv(npm_template.COPY_ENV, "copy")
    plain = cell(fake_registry_env, tmp_path, "cell-1c", "1.0.0", rec)
    assert "template built with core 1.1.0" in plain.installed_via and "copied (copy)" in plain.installed_via
    assert mounts.mounts_under(plain.install_dir) == []  # a real tree, the view it was copied from is gone
    assert load_in_cell(plain.install_dir, PLUGIN, ["VERSION", "MID_CORE"]) == {"VERSION": "1.0.0", "MID_CORE": "1.0.0"}
    assert load_in_cell(plain.install_dir, "@canary-fake/util", ["UTIL"]) == {"UTIL": 1}


def test_what_npm_removed_or_replaced_in_the_delta_stays_so_in_a_cell(fake_registry_env, tmp_path):
    # A base with core 2.0.0 and mid; on top of it, npm installs core 1.1.0 alone: it removes mid
    # (a whiteout in the delta) and replaces the core (new files over the base's). As a lower layer of
    # a cell's overlay the delta must keep both: mid absent, the core 1.1.0's, the base untouched.
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    deps = [{CORE: "2.0.0", "@canary-fake/mid": "0.1.0"}, {CORE: "1.1.0"}]

    def build(directory: Path, start: Path | None) -> None:
        assert start is None  # layered: nothing to copy, npm installs into the view
        (directory / "package.json").write_text(json.dumps({"name": "t", "version": "1.0.0", "dependencies": deps[0]}))
        subprocess.run(install_argv(fake_registry_env.npm_cache), cwd=directory, check=True, capture_output=True)

    root = tmp_path / "templates"
    base, _ = npm_template.choose(
        root, [npm_template.swap_for(CORE, fake_registry_env.tgz(CORE, "2.0.0"), True)], build
    )
    deps.pop(0)
    top, note = npm_template.choose(
        root, [npm_template.swap_for(CORE, fake_registry_env.tgz(CORE, "1.1.0"), True)], build
    )
    assert "layered on" in note and top.base == base.path.name
    gone = top.path / "delta" / "@canary-fake" / "mid"
    assert stat.S_ISCHR(os.lstat(gone).st_mode)  # npm's removal, as overlayfs records it
    assert top.versions[CORE] == "1.1.0" and "@canary-fake/mid" not in top.versions
    view = tmp_path / "cell"
    npm_template.copy_template(top.path, view, plain_run, "overlay")
    modules = view / "node_modules"
    assert not (modules / "@canary-fake" / "mid").exists()
    assert json.loads((modules / CORE / "package.json").read_text())["version"] == "1.1.0"
    assert (modules / "@canary-fake" / "util" / "package.json").exists()
    assert load_in_cell(view, CORE, ["VERSION"]) == {"VERSION": "1.1.0"}
    assert json.loads((base.path / "node_modules" / CORE / "package.json").read_text())["version"] == "2.0.0"
    assert (base.path / "node_modules" / "@canary-fake" / "mid" / "package.json").exists()


def test_a_build_killed_with_its_view_mounted_is_cleared_by_the_next_build(layered, fake_registry_env, tmp_path):
    flat, _, _, rec = layered
    # What a canary killed during a layered build leaves: .build-* with the overlay view on it.
    stale = flat.path.parent / ".build-killed"
    mounts.prepare_layers(stale / "node_modules")
    subprocess.run(mounts.overlay_argv(flat.path / "node_modules", stale / "node_modules"), check=True)
    assert mounts.mounts_under(stale)
    cell(fake_registry_env, tmp_path, "cell-11b", "1.1.0", rec)  # any cell takes the lock and clears
    assert mounts.mounts_under(tmp_path / "templates") == [] and not stale.exists()
    assert load_in_cell(flat.path, PLUGIN, ["VERSION"]) == {"VERSION": "2.0.0"}  # the base, untouched
    # Pruning (after a build of any connector ref) clears them too, where no build holds the lock.
    mounts.prepare_layers(stale / "node_modules")
    subprocess.run(mounts.overlay_argv(flat.path / "node_modules", stale / "node_modules"), check=True)
    assert npm_template.prune(tmp_path, max_age_days=0, max_mb=0) == []
    assert mounts.mounts_under(tmp_path / "templates") == [] and not stale.exists()


# --- pruning: the template cache has bounds -----------------------------------------------


def _last_used(t: npm_template.Template, hours_ago: float) -> None:
    when = time.time() - hours_ago * 3600
    os.utime(t.path / npm_template.MARK, (when, when))


def test_pruning_spares_what_a_live_cell_mounts_and_the_base_a_kept_layer_needs(layered, tmp_path):
    flat, delta, _, _ = layered
    key_dirs = tmp_path  # prune() takes the directory that holds one directory per connector ref
    _last_used(flat, 30 * 24)
    _last_used(delta, 30 * 24)
    # Cells are still mounted on both templates: nothing goes, however old.
    assert npm_template.prune(key_dirs, max_age_days=14, max_mb=0) == []
    mounts.unmount_under(tmp_path)  # the cells ended
    # The base is old, its layered template was used a day ago: the base stays for it.
    _last_used(delta, 24)
    assert npm_template.prune(key_dirs, max_age_days=14, max_mb=0) == []
    # Over the size bound, least recently used first, but the base (older) only after its layer.
    assert npm_template.prune(key_dirs, max_age_days=0, max_mb=1e-6) == [delta.path, flat.path]
    assert npm_template.templates(tmp_path / "templates") == [] and not delta.path.exists()
    assert not list((tmp_path / "templates").glob(".prune-*"))


def test_pruning_by_age_takes_the_layer_and_keeps_the_recent_base(layered, tmp_path):
    flat, delta, _, _ = layered
    mounts.unmount_under(tmp_path)
    _last_used(delta, 30 * 24)
    _last_used(flat, 2)
    assert npm_template.prune(tmp_path, max_age_days=14, max_mb=0) == [delta.path]
    assert [t.path for t in npm_template.templates(tmp_path / "templates")] == [flat.path]
    assert load_in_cell(flat.path, PLUGIN, ["VERSION"]) == {"VERSION": "2.0.0"}


def test_one_prune_by_age_takes_an_old_layer_and_then_its_old_base(layered, tmp_path):
    # Oldest first, the base is listed before its layer and spared for it; once the layer is gone
    # the same prune takes the base too (not the next one, after another build).
    flat, delta, _, _ = layered
    mounts.unmount_under(tmp_path)
    _last_used(flat, 31 * 24)
    _last_used(delta, 30 * 24)
    assert npm_template.prune(tmp_path, max_age_days=14, max_mb=0) == [delta.path, flat.path]
    assert npm_template.templates(tmp_path / "templates") == []


def test_pruning_never_takes_a_template_used_within_the_grace_period(layered, tmp_path, monkeypatch):
    mounts.unmount_under(tmp_path)
    # Just built and used: a cell of another process may be copying them right now.
    monkeypatch.setenv(npm_template.PRUNE_SIZE_ENV, "0.000001")
    assert npm_template.prune(tmp_path) == []
    assert len(npm_template.templates(tmp_path / "templates")) == 2


def test_a_directory_moved_in_a_delta_is_found_where_it_moved_in_a_cell(tmp_path):
    # npm moves package directories as it reifies; a layered build mounts with redirect_dir=on so the
    # move is a redirect in the delta (not a copy of the tree), and a cell's mount must follow it.
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    base, delta, work, build = (tmp_path / d for d in ("base", "delta", "work", "build"))
    (base / "node_modules" / "nested" / "node_modules" / "pkg").mkdir(parents=True)
    (base / "node_modules" / "nested" / "node_modules" / "pkg" / "index.js").write_text("moved")
    for d in (delta, work, build):
        d.mkdir()
    argv = mounts.overlay_argv(base / "node_modules", build, delta, work, npm_template.BUILD_OPTIONS)
    if subprocess.run(argv, capture_output=True).returncode != 0:
        pytest.skip("this kernel's overlayfs has no redirect_dir (layered builds mount without it)")
    try:
        os.rename(build / "nested" / "node_modules" / "pkg", build / "pkg")  # hoisted, as npm does
    finally:
        mounts.unmount_under(build)
    assert not (delta / "pkg" / "index.js").exists()  # a redirect, not a copy
    cell_view = tmp_path / "cell" / "node_modules"
    mounts.prepare_layers(cell_view)
    argv = mounts.overlay_argv([delta, base / "node_modules"], cell_view, options=npm_template.FOLLOW_OPTIONS)
    subprocess.run(argv, check=True)
    assert (cell_view / "pkg" / "index.js").read_text() == "moved"
    assert not (cell_view / "nested" / "node_modules" / "pkg").exists()
    assert (base / "node_modules" / "nested" / "node_modules" / "pkg" / "index.js").exists()


# --- shared templates: a connector ref's template layered on another ref's ----------------------


def test_a_template_is_layered_on_another_refs_with_the_same_core(fake_registry_env, tmp_path, monkeypatch):
    # Ref a (plugin-nested: core + mid) builds core 2.0.0 from nothing, then 1.1.0 on it. Ref b (plugin:
    # core only) then needs core 1.1.0: its first template starts from ref a's 1.1.0 one (same core,
    # npm only swaps the connectors), three layers, and its cells see ref b's tree and nothing of ref a's.
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    for name in (npm_template.BASE_ENV, npm_template.COPY_ENV, npm_template.INSTALL_ENV):
        monkeypatch.delenv(name, raising=False)
    rec, root = Recorder(), tmp_path / "npm-templates"
    a200 = cell(fake_registry_env, tmp_path, "a-2", "2.0.0", rec, templates=root / "a")
    a110 = cell(fake_registry_env, tmp_path, "a-11", "1.1.0", rec, templates=root / "a")
    b110 = cell(
        fake_registry_env, tmp_path, "b-11", "1.1.0", rec, templates=root / "b", connector="@canary-fake/plugin"
    )
    assert rec.npm_installs() == 3
    [ta200, ta110] = sorted(npm_template.templates(root / "a"), key=lambda t: t.core_version, reverse=True)
    [tb110] = npm_template.templates(root / "b")
    assert "new template layered on the one built with core 1.1.0 for another connector ref (a)" in b110.installed_via
    assert tb110.base == f"../a/{ta110.path.name}" and tb110.family == ta110.family
    assert tb110.layers() == [tb110.path / "delta", ta110.path / "delta", ta200.path / "node_modules"]
    # npm removed ref a's connector and mid (whiteouts in b's delta) and added b's connector.
    modules = b110.install_dir / "node_modules" / "@canary-fake"
    assert sorted(p.name for p in modules.iterdir()) == ["core", "plugin", "sql", "util"]
    assert load_in_cell(b110.install_dir, "@canary-fake/plugin", ["VERSION"]) == {"VERSION": "1.1.0"}
    assert b110.resolved == "1.1.0"
    # Ref a's templates and cells are as they were, and no writable file is shared with them.
    assert load_in_cell(a110.install_dir, PLUGIN, ["VERSION", "MID_CORE"]) == {"VERSION": "1.1.0", "MID_CORE": "1.1.0"}
    assert load_in_cell(a200.install_dir, PLUGIN, ["VERSION"]) == {"VERSION": "2.0.0"}
    assert not (ta200.path / "node_modules" / "@canary-fake" / "plugin").exists()
    assert shared_writable(b110.install_dir / "node_modules", a110.install_dir / "node_modules") == []
    # A cell of ref b on core 1.0.0 fits b's template (core swapped); it sees its own core only.
    b100 = cell(fake_registry_env, tmp_path, "b-1", "1.0.0", rec, templates=root / "b", connector="@canary-fake/plugin")
    assert rec.npm_installs() == 3 and "template built with core 1.1.0" in b100.installed_via
    assert load_in_cell(b100.install_dir, "@canary-fake/plugin", ["VERSION"]) == {"VERSION": "1.0.0"}
    assert load_in_cell(b110.install_dir, "@canary-fake/plugin", ["VERSION"]) == {"VERSION": "1.1.0"}

    # A template with MAX_LAYERS layers is no start: ref b's core 2.0.0 template (1.1.0's does not fit:
    # sql 2.0.0 is pinned to core 2.0.0 and the template's util stays) starts from ref a's 2.0.0, flat.
    monkeypatch.setattr(npm_template, "misfit", lambda *a, **k: "forced: a new template")
    cell(fake_registry_env, tmp_path, "b-2", "2.0.0", rec, templates=root / "b", connector="@canary-fake/plugin")
    tb200 = next(t for t in npm_template.templates(root / "b") if t.core_version == "2.0.0")
    assert tb200.base == f"../a/{ta200.path.name}" and len(tb200.layers()) == 2

    # Pruning follows bases across refs: a's templates stay while b's layers need them, and the age
    # bound then takes them all in one prune, each layer before its base.
    mounts.unmount_under(tmp_path)
    for t in (ta200, ta110, tb110, tb200):
        os.utime(t.path / npm_template.MARK, (time.time() - 30 * 86400,) * 2)
    deleted = npm_template.prune(root, max_age_days=14, max_mb=0)
    assert sorted(deleted) == sorted([ta200.path, ta110.path, tb110.path, tb200.path])
    assert deleted.index(tb110.path) < deleted.index(ta110.path) < deleted.index(ta200.path)
    assert deleted.index(tb200.path) < deleted.index(ta200.path)


def test_a_template_in_use_by_another_refs_build_is_not_pruned(fake_registry_env, tmp_path, monkeypatch):
    # Pruning lists templates, then deletes under each ref's lock: a template chosen as a start after
    # the listing (start_for touches it) must survive that delete.
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    monkeypatch.delenv(npm_template.BASE_ENV, raising=False)
    rec, root = Recorder(), tmp_path / "npm-templates"
    cell(fake_registry_env, tmp_path, "a-2", "2.0.0", rec, templates=root / "a")
    [ta] = npm_template.templates(root / "a")
    old = time.time() - 30 * 86400
    os.utime(ta.path / npm_template.MARK, (old, old))
    assert npm_template.start_for(root / "b", [], "2.0.0", ta.family) == ta  # touches it
    assert npm_template.prune(root, max_age_days=14, max_mb=0, now=time.time()) == []
    assert npm_template._delete(ta.path, time.time()) is False  # the delete's own re-check
    assert npm_template.templates(root / "a") == [ta]


def test_the_first_cells_of_two_refs_at_once_install_from_nothing_once(fake_registry_env, tmp_path, monkeypatch):
    # Two workers start two connector refs with no template anywhere: one installs from nothing, the
    # other waits for it (the family's lock) and layers on its template instead of a second full install.
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")
    monkeypatch.delenv(npm_template.BASE_ENV, raising=False)
    rec, root = Recorder(), tmp_path / "npm-templates"
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(cell, fake_registry_env, tmp_path, "a-2", "2.0.0", rec, templates=root / "a")
        b = pool.submit(
            cell,
            fake_registry_env,
            tmp_path,
            "b-2",
            "2.0.0",
            rec,
            templates=root / "b",
            connector="@canary-fake/plugin",
        )
        cells = [a.result(), b.result()]
    built = [*npm_template.templates(root / "a"), *npm_template.templates(root / "b")]
    assert rec.npm_installs() == 2 and sorted(bool(t.base) for t in built) == [False, True]
    assert [c.resolved for c in cells] == ["2.0.0", "2.0.0"]
    assert load_in_cell(cells[1].install_dir, "@canary-fake/plugin", ["VERSION"]) == {"VERSION": "2.0.0"}
