"""runner: docker for an npm core, on a real engine, offline (the fake npm registry of tests/conftest_npm.py).

One npm matrix runs twice, with the local runner and with `runner: docker` (the test image is the
Python one plus this machine's node and npm, tests/docker_engine.py), and must give the same
statuses and verdicts: a core that breaks the connector regresses in both, a connector whose own
install leaves another core in the cell is a core mismatch in both (in docker: found by the check
run inside the container). Only in docker: a test that connects to a server on the host fails and
its reason says the network was off; every result records the runner, the image and its id; the
shared artifact cache is not handed to the container user; packing a git connector on the host runs
none of its lifecycle scripts.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from canary.matrix.store import Store
from tests.conftest import canary
from tests.docker_engine import HostServer

# Loads the connector from its own directory and fails unless it got core 2.x.
CHECK = (
    "import(process.cwd() + '/index.js').then(m => {"
    " console.log('loaded core ' + m.VERSION);"
    " if (m.VERSION !== '2.0.0') { console.log('Error: needs core 2, got ' + m.VERSION); process.exit(1); } })"
)
CONNECT = (
    "require('net').connect(+process.argv[1], '127.0.0.1')"
    ".on('connect', function () { console.log('connected'); this.end(); })"
    ".on('error', e => { console.log('Error: ' + e.code + ' ' + e.message); process.exit(1); })"
)
# The connector's own install: a normal install, then the core's manifest rewritten to another version.
SWAP_CORE = (
    "npm install --no-audit --no-fund --no-package-lock --ignore-scripts --cache ../npm-cache --loglevel warn"
    ' && sed -i \'s/"version": "2.0.0"/"version": "1.0.0"/\' node_modules/@canary-fake/core/package.json'
)
DOCKER_ONLY = {"net@0.1.0--core-2.0.0", "net@0.1.0--core-1.0.0"}


def git_connector(root: Path, marker: Path) -> Path:
    """A git connector like @canary-fake/plugin (declaring core >=1.0.0) whose lifecycle scripts would leave `marker` on the host."""
    from canary.demo import _git
    from tests.conftest_npm import write_package

    repo_dir = write_package(
        root / "gitplug",
        "@canary-fake/gitplug",
        "0.1.0",
        {"@canary-fake/core": ">=1.0.0"},  # claims 1.x too: the break on 1.0.0 is a regression, not unsupported
        "export { VERSION } from '@canary-fake/core';\n",
    )
    manifest = json.loads((repo_dir / "package.json").read_text())
    manifest["scripts"] = {s: f"touch {marker}" for s in ("prepack", "prepare", "postpack", "preinstall")}
    (repo_dir / "package.json").write_text(json.dumps(manifest, indent=2))
    repo = _git(repo_dir)
    repo.git.add(A=True)
    repo.index.commit("gitplug")
    return repo_dir


def npm_matrix(root: Path, port: int, marker: Path, docker_image: str | None) -> Path:
    settings = "settings:\n  retries: 0\n"
    if docker_image:
        settings += f"  runner: docker\n  docker:\n    images: {{npm: {docker_image!r}}}\n"
    text = (
        textwrap.dedent(f"""\
        version: 1
        core:
          name: "@canary-fake/core"
          ecosystem: npm
          versions: ["2.0.0", "1.0.0"]
          baseline: "2.0.0"
          companions:
            - {{name: "@canary-fake/sql", version: "{{core}}"}}
        connectors:
          - name: plugin
            package: "@canary-fake/plugin"
            npm: {{versions: ["0.1.0"]}}
            test: ["node", "-e", {json.dumps(CHECK)}]
          - name: gitplug
            package: "@canary-fake/gitplug"
            git: {{url: {str(git_connector(root, marker))!r}, refs: [main]}}
            test: ["node", "-e", {json.dumps(CHECK)}]
          - name: swapped
            package: "@canary-fake/plugin"
            npm: {{versions: ["0.1.0"]}}
            install: [["sh", "-c", {json.dumps(SWAP_CORE)}]]
            test: ["node", "-e", "0"]
          - name: net
            package: "@canary-fake/plugin"
            npm: {{versions: ["0.1.0"]}}
            setup: [["node", "-e", {json.dumps(CONNECT)}, "{port}"]]
            test: [["node", "-e", {json.dumps(CONNECT)}, "{port}"]]
        """)
        + settings
    )
    path = root / "matrix.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def npm_runs(fake_npm, docker_node_image, tmp_path_factory):
    image = docker_node_image
    server = HostServer()
    runs = {}
    try:
        for runner in ("local", "docker"):
            root = tmp_path_factory.mktemp(f"npm-{runner}")
            marker = root / "lifecycle-script-ran"
            matrix = npm_matrix(root, server.port, marker, image if runner == "docker" else None)
            home = root / "home"
            before = server.accepted
            proc = canary(
                "run",
                "-c",
                str(matrix),
                "-j",
                "2",
                "--progress",
                "none",
                "--report",
                "none",
                cwd=root,
                env={"CANARY_HOME": str(home), **fake_npm.env()},
            )
            assert "Traceback" not in proc.stderr, proc.stderr
            assert (home / "runs").is_dir(), f"{runner}: no run\n{proc.stdout}\n{proc.stderr}"
            run = Store(home / "runs").runs()[-1]
            runs[runner] = {
                "proc": proc,
                "run": run,
                "home": home,
                "marker": marker,
                "connections": server.accepted - before,
            }
    finally:
        server.close()
    runs["image"] = image
    return runs


def statuses(run, skip=()) -> dict[str, str]:
    return {cid: r.status for cid, r in run.read_cells().items() if cid not in skip}


def verdicts(run, skip=()) -> dict[str, str]:
    doc = json.loads((run.path / "verdicts.json").read_text())
    return {v["cell_id"]: v["verdict"] for v in doc["verdicts"] if v["cell_id"] not in skip}


@pytest.mark.docker
@pytest.mark.slow
def test_npm_matrix_in_docker_gives_the_local_statuses_and_verdicts(npm_runs):
    local, docker = npm_runs["local"]["run"], npm_runs["docker"]["run"]
    assert statuses(docker, DOCKER_ONLY) == statuses(local, DOCKER_ONLY), npm_runs["docker"]["proc"].stdout
    assert verdicts(docker, DOCKER_ONLY) == verdicts(local, DOCKER_ONLY)
    cells = docker.read_cells()
    # The core that breaks the connector regresses in containers as on the host.
    for name in ("plugin", "gitplug"):
        good, bad = (
            cells[f"{name}@0.1.0--core-2.0.0" if name == "plugin" else "gitplug@main--core-2.0.0"],
            cells[f"{name}@0.1.0--core-1.0.0" if name == "plugin" else "gitplug@main--core-1.0.0"],
        )
        assert good.status == "pass", good.reason
        assert bad.status == "fail" and bad.reason == "Error: needs core 2, got 1.0.0", bad.reason
    assert verdicts(docker)["gitplug@main--core-1.0.0"] == "regressed"
    assert verdicts(docker)["plugin@0.1.0--core-1.0.0"] == "unsupported"  # outside its declared ^2.0.0


@pytest.mark.docker
@pytest.mark.slow
def test_npm_results_record_the_runner_the_image_and_the_core_verified_in_the_container(npm_runs, docker_engine):
    run = npm_runs["docker"]["run"]
    image_id = docker_engine["client"].images.get(npm_runs["image"]).id
    for cid, result in run.read_cells().items():
        assert result.runner == "docker", cid
        assert result.sandbox["image"] == npm_runs["image"] and result.sandbox["image_id"] == image_id
        assert result.sandbox["network"] == {"install": "host", "test": "none"}
    plugin = run.read_cell("plugin@0.1.0--core-1.0.0")
    assert plugin.core.resolved == "1.0.0" and plugin.connector.declared_core_range == "^2.0.0"
    assert plugin.unsupported
    log = (run.path / plugin.log).read_text()
    assert "$ [check] node" in log and "(container, network host" in log.split("$ [check] node", 1)[1][:300]
    assert "verified: @canary-fake/plugin resolves @canary-fake/core 1.0.0" in log
    assert "cell-local npm cache" in log
    assert [r for r in npm_runs["local"]["run"].read_cells().values() if r.runner != "node"] == []


@pytest.mark.docker
@pytest.mark.slow
def test_core_check_inside_the_container_catches_a_mismatch(npm_runs):
    for runner in ("local", "docker"):
        swapped = npm_runs[runner]["run"].read_cell("swapped@0.1.0--core-2.0.0")
        assert swapped.status == "error", (runner, swapped.reason)
        assert swapped.reason.startswith("core mismatch: @canary-fake/plugin loads @canary-fake/core 1.0.0"), (
            runner,
            swapped.reason,
        )


@pytest.mark.docker
@pytest.mark.slow
def test_npm_tests_have_no_network_in_docker(npm_runs):
    local, docker = npm_runs["local"]["run"], npm_runs["docker"]["run"]
    assert local.read_cell("net@0.1.0--core-2.0.0").status == "pass"
    net = docker.read_cell("net@0.1.0--core-2.0.0")
    assert net.status == "fail" and "network is off while tests run" in net.reason, net.reason
    assert [c.phase for c in net.attempts[0].commands][-2:] == ["setup", "test"]
    # setup: (install phase, network host) reached the host's server in both cells; the tests did not.
    assert npm_runs["docker"]["connections"] == 2
    assert npm_runs["local"]["connections"] == 4


@pytest.mark.docker
@pytest.mark.slow
def test_nothing_of_the_connector_runs_on_the_host_and_the_shared_cache_stays_the_callers(npm_runs):
    for runner in ("local", "docker"):
        assert not npm_runs[runner]["marker"].exists(), f"{runner}: a lifecycle script of the git connector ran"
    if os.getuid() == 0:  # the cell directory is given to the container's user: no file of the shared cache
        shared = list((npm_runs["docker"]["home"] / "cache" / "artifacts" / "npm").rglob("*.tgz"))
        assert shared and all(p.stat().st_uid == 0 for p in shared)
