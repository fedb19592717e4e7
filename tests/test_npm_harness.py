"""`canary run` on an npm matrix, offline: fake core and connectors served by the local fake registry.

The whole path of an npm cell through the harness: `npm pack` into the shared
artifact cache (digest recorded), the cell install with the core forced, the
check of the resolved core, `unsupported` from the declared range, the test
command in the installed connector's directory, and a named infrastructure
error for a dependency the registry lacks. A second run reuses the tarballs.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from canary.matrix.store import Store
from tests.conftest import canary

# Loads the connector from its own directory and fails unless it got core 2.x.
CHECK = (
    "import(process.cwd() + '/index.js').then(m => {"
    " const v = [m.VERSION, m.MID_CORE].filter(Boolean);"
    " console.log('loaded core ' + v.join(','));"
    " if (v.some(x => x !== '2.0.0')) { console.log('Error: needs core 2, got ' + v.join(',')); process.exit(1); } })"
)

MATRIX = textwrap.dedent(f"""\
    version: 1
    core:
      name: "@canary-fake/core"
      ecosystem: npm
      versions: ["2.0.0", "1.0.0"]
      baseline: "2.0.0"
    connectors:
      - name: plugin
        package: "@canary-fake/plugin"
        npm: {{versions: ["0.1.0"]}}
        test: ["node", "-e", {json.dumps(CHECK)}]
      - name: nested
        package: "@canary-fake/plugin-nested"
        npm: {{versions: ["0.1.0"]}}
        test: ["node", "-e", {json.dumps(CHECK)}]
      - name: missing
        package: "@canary-fake/plugin-missing"
        npm: {{versions: ["0.1.0"]}}
        test: ["node", "-e", "0"]
        tier: optional
    settings:
      retries: 0
    """)


@pytest.fixture(scope="module")
def npm_runs(fake_npm, tmp_path_factory):
    root = tmp_path_factory.mktemp("npm-matrix")
    (root / "matrix.yaml").write_text(MATRIX)
    home = root / "home"
    env = {"CANARY_HOME": str(home), **fake_npm.env()}
    first = canary("run", "-c", "matrix.yaml", "-j", "2", "--progress", "none", "--report", "none", cwd=root, env=env)
    second = canary(
        "run", "-c", "matrix.yaml", "-j", "2", "--progress", "none", "--report", "none", "--no-cache", cwd=root, env=env
    )
    runs = Store(home / "runs").runs()
    assert len(runs) == 2, first.stderr + second.stderr
    return {"first": first, "second": second, "runs": runs, "home": home}


def cell(run, cell_id):
    result = run.read_cell(cell_id)
    assert result is not None, f"no result for {cell_id}"
    return result


def test_every_cell_loads_the_core_of_its_label(npm_runs):
    run = npm_runs["runs"][0]
    for cid in (
        "plugin@0.1.0--core-2.0.0",
        "plugin@0.1.0--core-1.0.0",
        "nested@0.1.0--core-2.0.0",
        "nested@0.1.0--core-1.0.0",
    ):
        r = cell(run, cid)
        assert r.core.resolved == r.core.label, cid
        assert r.core.digest.startswith("sha256:") and r.connector.digest.startswith("sha256:")
        assert r.connector.declared_core_range == "^2.0.0"


def test_pass_on_baseline_fail_on_forced_old_core_marked_unsupported(npm_runs):
    run = npm_runs["runs"][0]
    good, bad = cell(run, "nested@0.1.0--core-2.0.0"), cell(run, "nested@0.1.0--core-1.0.0")
    assert (good.status, good.unsupported) == ("pass", False)
    # The nested library's copy was forced too: the connector fails on 1.0.0 through both paths.
    assert (bad.status, bad.unsupported) == ("fail", True)
    assert bad.reason == "Error: needs core 2, got 1.0.0,1.0.0"
    log = (run.path / bad.log).read_text()
    assert "verified: @canary-fake/plugin-nested resolves @canary-fake/core 1.0.0" in log


def test_dependency_missing_from_registry_is_error_naming_it(npm_runs):
    r = cell(npm_runs["runs"][0], "missing@0.1.0--core-2.0.0")
    assert r.status == "error"
    assert r.reason.startswith("install: dependency not in registry: @canary-fake/mid@^9.0.0")
    assert r.connector.declared_core_range == "^2.0.0"  # read from the tarball, before npm failed


def test_second_run_reuses_the_packed_tarballs(npm_runs):
    first, second = npm_runs["runs"]
    packed = lambda run, cid: [c for a in cell(run, cid).attempts for c in a.commands if c.phase == "materialize"]
    assert packed(first, "plugin@0.1.0--core-2.0.0") or packed(first, "nested@0.1.0--core-2.0.0")
    for cid in ("plugin@0.1.0--core-2.0.0", "nested@0.1.0--core-1.0.0"):
        assert packed(second, cid) == []  # no `npm pack`: served from the artifact cache
        assert cell(second, cid).core.digest == cell(first, cid).core.digest
    tarballs = sorted(p.name for p in (npm_runs["home"] / "cache" / "artifacts" / "npm").rglob("*.tgz"))
    assert tarballs == sorted(set(tarballs))  # each artifact once, shared by every cell


def test_core_from_a_git_ref_is_packed_once_per_commit(fake_npm, tmp_path):
    """A core version given as a git ref: packed from the commit, its commit recorded, forced."""
    import git

    from tests.conftest_npm import write_package

    repo_dir = tmp_path / "core-repo"
    write_package(repo_dir, "@canary-fake/core", "2.0.0", {}, "export const VERSION = '2.0.0';\n")
    repo = git.Repo.init(repo_dir)
    repo.git.add(A=True)
    repo.git.commit(
        "-m",
        "core 2.0.0",
        "--no-gpg-sign",
        author="t <t@example.invalid>",
        env={"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"},
    )
    repo.create_tag("v2.0.0")
    text = MATRIX.replace('versions: ["2.0.0", "1.0.0"]', f"versions: [{{git: {str(repo_dir)!r}, ref: v2.0.0}}]")
    text = text.replace('baseline: "2.0.0"', 'baseline: "git:v2.0.0"')
    (tmp_path / "matrix.yaml").write_text(text)
    home = tmp_path / "home"
    env = {"CANARY_HOME": str(home), **fake_npm.env()}
    proc = canary("run", "-c", "matrix.yaml", "--cells", "plugin@*", "--report", "none", cwd=tmp_path, env=env)
    result = Store(home / "runs").latest().read_cell("plugin@0.1.0--core-git_v2.0.0")
    assert result.status == "pass", proc.stdout + proc.stderr
    assert result.core.commit == repo.head.commit.hexsha and result.core.resolved == "2.0.0"
    assert len(list((home / "cache" / "artifacts" / "npm-built").rglob("*.tgz"))) == 1
