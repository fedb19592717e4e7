"""runner: docker on a real engine (tests/conftest_docker.py starts it; the image is built locally).

What the issue asks to be shown: the demo matrix gives the local runner's verdicts in containers;
no network while tests run (the install phase has it); the pids limit holds a fork bomb; a memory
hog is `error` out of memory; nothing of a cell remains after a SIGKILL of canary and the next run;
an unreachable engine is one line and exit 2 (or the docker cells' `error` when others are local).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from canary.matrix.store import Store
from tests.conftest import canary
from tests.docker_engine import HostServer

LABEL = "dev.canary.managed"


def docker_demo_matrix(demo, image: str, dest: Path, extra: str = "") -> Path:
    """The demo matrix with `settings.runner: docker` and the test image."""
    text = demo.matrix.read_text().replace(
        "settings:\n", f"settings:\n  runner: docker\n  docker:\n    images: {{pypi: {image!r}}}\n{extra}", 1
    )
    path = dest / "matrix.yaml"
    path.write_text(text)
    return path


def statuses(run) -> dict[str, str]:
    return {cid: r.status for cid, r in run.read_cells().items()}


def verdicts(run) -> dict[str, str]:
    doc = json.loads((run.path / "verdicts.json").read_text())
    return {v["cell_id"]: v["verdict"] for v in doc["verdicts"]}


def labelled(client, home: Path | None = None) -> list[dict]:
    """canary's containers, as the list shows them (sparse: no inspect that races with a removal);
    with `home`, only those of runs in that store: another suite on the same engine has its own."""
    found = [c.attrs for c in client.containers.list(all=True, filters={"label": LABEL}, sparse=True)]
    if home is None:
        return found
    return [c for c in found if c["Labels"].get("dev.canary.run-path", "").startswith(f"{home}/")]


@pytest.mark.docker
@pytest.mark.slow
def test_demo_matrix_in_docker_gives_the_local_verdicts(demo_run, docker_engine, tmp_path):
    matrix = docker_demo_matrix(demo_run["demo"], docker_engine["image"], tmp_path)
    home = tmp_path / "home"
    proc = canary(
        "run",
        "-c",
        str(matrix),
        "-j",
        "2",
        "--progress",
        "plain",
        "--report",
        "none",
        cwd=tmp_path,
        env={"CANARY_HOME": str(home)},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    run = Store(home / "runs").runs()[-1]
    local = demo_run["run"]
    assert statuses(run) == statuses(local), proc.stdout
    assert verdicts(run) == verdicts(local)
    assert proc.returncode == demo_run["proc"].returncode
    image_id = docker_engine["client"].images.get(docker_engine["image"]).id
    for result in run.read_cells().values():
        assert result.runner == "docker"
        assert result.sandbox["image"] == docker_engine["image"] and result.sandbox["image_id"] == image_id
        assert result.sandbox["network"] == {"install": "host", "test": "none"}
        assert result.core.resolved == result.core.label  # verified inside the container
    assert labelled(docker_engine["client"]) == []
    if os.getuid() == 0:  # the cells were given to uid 65534: not one file of the shared cache with them
        shared = [p for p in (home / "cache").rglob("*") if p.is_file() and p.suffix in (".whl", ".gz", ".tgz")]
        assert shared and [p for p in shared if p.stat().st_uid != 0] == []
    # The image digest is part of the cell's identity: a second run is served from the cache ...
    again = canary(
        "run",
        "-c",
        str(matrix),
        "--cells",
        "beta@main--core-1.0.0",
        "--progress",
        "none",
        "--report",
        "none",
        "--exit-by-status",
        cwd=tmp_path,
        env={"CANARY_HOME": str(home)},
    )
    assert again.returncode == 0, again.stdout + again.stderr
    cached = Store(home / "runs").runs()[-1].read_cell("beta@main--core-1.0.0")
    assert cached.cached_from == run.run_id
    # ... and another image under the same name is a different cell.
    client = docker_engine["client"]
    other = f"{docker_engine['image']}-relabelled"
    client.images.build(
        fileobj=_dockerfile(f"FROM {docker_engine['image']}\nLABEL canary.test=other\n"), tag=other, rm=True
    )
    try:
        (tmp_path / "other").mkdir()
        changed = docker_demo_matrix(demo_run["demo"], other, tmp_path / "other")
        third = canary(
            "run",
            "-c",
            str(changed),
            "--cells",
            "beta@main--core-1.0.0",
            "--progress",
            "none",
            "--report",
            "none",
            "--exit-by-status",
            cwd=tmp_path,
            env={"CANARY_HOME": str(home)},
        )
        assert third.returncode == 0, third.stdout + third.stderr
        fresh = Store(home / "runs").runs()[-1].read_cell("beta@main--core-1.0.0")
        assert fresh.cached_from is None and fresh.sandbox["image_id"] != image_id
    finally:
        client.images.remove(other, force=True)


def _dockerfile(text: str):
    import io

    return io.BytesIO(text.encode())


# --- isolation: network, pids, memory -------------------------------------------------------

FORK_BOMB = """
import os, sys, time
n = 0
try:
    while n < 5000:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
        n += 1
except OSError as exc:
    print(f"fork stopped after {n} children: {exc}", flush=True)
    sys.exit(0)
print(f"forked {n} children: no limit", flush=True)
sys.exit(1)
"""

MEMORY_HOG = """
hog = []
while True:
    hog.append(bytearray(32 << 20))
"""

SLEEPER = "import time; print('sleeping', flush=True); time.sleep(600)"

CONNECT = "import socket, sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close(); print('connected')"


def probe_connector(root: Path, name: str) -> Path:
    """A git repository with an installable package that depends on democore."""
    from canary.demo import _git, _pyproject, _write

    repo_dir = root / name
    repo = _git(repo_dir)
    _write(repo_dir / "pyproject.toml", _pyproject(f"probe-{name}", "0.1.0", ["democore>=1"]))
    _write(repo_dir / f"probe_{name}" / "__init__.py", "")
    _write(
        repo_dir / "probe.py", {"forkbomb": FORK_BOMB, "memhog": MEMORY_HOG, "net": CONNECT, "sleeper": SLEEPER}[name]
    )
    repo.git.add(A=True)
    repo.index.commit(name)
    return repo_dir


def isolation_matrix(root: Path, demo, image: str, port: int) -> Path:
    lines = [
        "core:",
        "  name: democore",
        "  ecosystem: pypi",
        '  versions: ["1.0.0"]',
        "  index:",
        f"    find_links: [{str(demo.wheels)!r}]",
        "    no_index: true",
        "settings:",
        "  retries: 0",
        "  runner: docker",
        "  docker:",
        f"    images: {{pypi: {image!r}}}",
        "    memory: 192m",
        "    pids: 64",
        "connectors:",
    ]
    for name in ("net", "forkbomb", "memhog", "sleeper"):
        lines += [
            f"  - name: {name}",
            f"    package: probe-{name}",
            "    git:",
            f"      url: {str(probe_connector(root / 'repos', name))!r}",
            "      refs: [main]",
            '    install: [["{python}", -m, pip, install, --quiet, --no-build-isolation, "{checkout}"]]',
            f'    test: [["{{python}}", probe.py, "{port}"]]',
            f"    timeout: {8 if name == 'sleeper' else 90}",
        ]
        if name == "net":
            lines.append(f'    setup: [["{{python}}", probe.py, "{port}"]]')
    path = root / "matrix.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.docker
@pytest.mark.slow
def test_no_network_in_tests_pids_hold_a_fork_bomb_a_memory_hog_is_an_error_timeout_kills(
    demo, docker_engine, tmp_path
):
    server = HostServer()
    try:
        matrix = isolation_matrix(tmp_path, demo, docker_engine["image"], server.port)
        home = tmp_path / "home"
        proc = canary(
            "run",
            "-c",
            str(matrix),
            "-j",
            "2",
            "--progress",
            "plain",
            "--report",
            "none",
            cwd=tmp_path,
            env={"CANARY_HOME": str(home)},
        )
    finally:
        server.close()
    assert "Traceback" not in proc.stderr, proc.stderr
    run = Store(home / "runs").runs()[-1]
    cells = run.read_cells()
    net, bomb, hog, sleeper = (cells[f"{n}@main--core-1.0.0"] for n in ("net", "forkbomb", "memhog", "sleeper"))

    # The set-up command reached the host's server (install phase: network); the same test could not.
    assert server.accepted, "the install phase had no network"
    assert net.status == "fail" and "network is off while tests run" in net.reason, net.reason
    assert [c.phase for c in net.attempts[0].commands][-2:] == ["setup", "test"]

    bomb_log = (run.path / bomb.log).read_text()
    assert bomb.status == "pass", bomb.reason
    stopped = [ln for ln in bomb_log.splitlines() if ln.startswith("fork stopped after")]
    assert stopped and int(stopped[0].split()[3]) < 64, bomb_log[-800:]
    assert bomb.duration_s < 90

    assert hog.status == "error" and hog.reason.startswith("out of memory"), hog.reason
    assert "192m" in hog.reason

    # The wall timeout kills the container: the cell ends after its 8 s, not the command's 600 s.
    assert sleeper.status == "timeout", sleeper.reason
    assert sleeper.attempts[0].commands[-1].timed_out and sleeper.duration_s < 60
    assert labelled(docker_engine["client"]) == []


# --- a SIGKILLed canary leaves nothing after the next run -----------------------------------


@pytest.mark.docker
@pytest.mark.slow
def test_sigkill_of_canary_leaves_nothing_after_the_next_run(demo, docker_engine, tmp_path):
    sleeper = tmp_path / "sleeper"
    sleeper.mkdir()
    matrix = docker_demo_matrix(demo, docker_engine["image"], sleeper)
    text = matrix.read_text().replace(
        'test: [["{python}", -m, unittest, discover, -s, tests, -v]]',
        'test: [["{python}", -c, "import time; time.sleep(600)"]]',
    )
    matrix.write_text(text)
    home = tmp_path / "home"
    client = docker_engine["client"]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canary",
            "run",
            "-c",
            str(matrix),
            "--cells",
            "beta@main--core-1.0.0",
            "--progress",
            "none",
            "--report",
            "none",
        ],
        cwd=tmp_path,
        env={**os.environ, "CANARY_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        testing = []
        while time.monotonic() < deadline and not testing:
            testing = [c for c in labelled(client, home) if c["HostConfig"]["NetworkMode"] == "none"]
            time.sleep(0.5)
        assert testing, "the cell never reached its test phase"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = labelled(client, home)
    assert left, "the killed canary's container should outlive it (this is what the next run cleans)"
    cell_dir = Path(left[0]["Labels"]["dev.canary.cell-dir"])
    assert cell_dir.is_dir()

    quick = tmp_path / "quick"
    quick.mkdir()
    matrix2 = docker_demo_matrix(demo, docker_engine["image"], quick)
    nxt = canary(
        "run",
        "-c",
        str(matrix2),
        "--cells",
        "beta@main--core-1.0.0",
        "--progress",
        "none",
        "--report",
        "none",
        "--exit-by-status",
        cwd=tmp_path,
        env={"CANARY_HOME": str(home)},
    )
    assert nxt.returncode == 0, nxt.stdout + nxt.stderr
    assert labelled(client, home) == []
    assert not cell_dir.exists()
    assert [c for c in client.containers.list(all=True, sparse=True) if c.id in {x["Id"] for x in left}] == []


# --- the engine is not reachable -------------------------------------------------------------


def test_unreachable_engine_is_one_line_and_exit_2(demo, tmp_path):
    matrix = docker_demo_matrix(demo, "canary-test/none:0", tmp_path)
    home = tmp_path / "home"
    proc = canary(
        "run",
        "-c",
        str(matrix),
        "--report",
        "none",
        "--progress",
        "none",
        cwd=tmp_path,
        env={"CANARY_HOME": str(home), "DOCKER_HOST": f"unix://{tmp_path}/no.sock"},
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "docker engine not reachable" in lines[0], proc.stderr
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


def test_unreachable_engine_makes_only_the_docker_cells_error(demo, tmp_path):
    text = demo.matrix.read_text().replace("  - name: alpha\n", "  - name: alpha\n    runner: docker\n")
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(text)
    home = tmp_path / "home"
    proc = canary(
        "run",
        "-c",
        str(matrix),
        "--cells",
        "alpha@main--core-1.0.0",
        "beta@main--core-1.0.0",
        "--report",
        "none",
        "--progress",
        "none",
        cwd=tmp_path,
        env={"CANARY_HOME": str(home), "DOCKER_HOST": f"unix://{tmp_path}/no.sock"},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    cells = Store(home / "runs").runs()[-1].read_cells()
    alpha, beta = cells["alpha@main--core-1.0.0"], cells["beta@main--core-1.0.0"]
    assert alpha.status == "error" and alpha.reason.startswith("docker engine not reachable"), alpha.reason
    assert alpha.runner == "docker"
    assert beta.status == "pass" and beta.runner == "python"


def test_plan_shows_the_runner_and_an_unknown_runner_is_a_file_error(demo, tmp_path):
    text = demo.matrix.read_text().replace(
        "  - name: alpha\n", "  - name: alpha\n    runner: docker\n    image: py:test\n"
    )
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(text)
    out = canary("plan", "-c", str(matrix), "--no-check-refs", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    alpha = [ln for ln in out.stdout.splitlines() if "alpha@main--core-1.0.0" in ln and "demo-alpha" in ln]
    beta = [ln for ln in out.stdout.splitlines() if "beta@main--core-1.0.0" in ln and "demo-beta" in ln]
    assert alpha[0].endswith("(runner docker py:test)") and "runner" not in beta[0]
    doc = json.loads(canary("plan", "-c", str(matrix), "--no-check-refs", "--json", cwd=tmp_path).stdout)
    assert {c["connector"]: c["runner"] for c in doc["cells"]}["alpha"] == "docker py:test"
    matrix.write_text(text.replace("runner: docker", "runner: podman"))
    bad = canary("plan", "-c", str(matrix), "--no-check-refs", cwd=tmp_path)
    assert bad.returncode == 2 and "runner" in bad.stderr and ":" in bad.stderr.split()[1], bad.stderr
    assert "Traceback" not in bad.stderr


# --- the registry ------------------------------------------------------------------------------


def test_runner_registry_knows_each_pair_and_refuses_the_rest():
    from canary.kernel.errors import UserError
    from canary.matrix import runners

    for where, eco, name in (
        ("local", "pypi", "python"),
        ("local", "npm", "node"),
        ("docker", "pypi", "docker"),
        ("docker", "npm", "docker"),
    ):
        runner = runners.select(where, eco)
        assert name == runner.NAME
        assert callable(runner.prepare) and callable(runner.identity) and callable(runner.reap)
    for where, eco in (("docker", "cargo"), ("podman", "npm"), ("podman", "pypi"), ("local", "cargo")):
        with pytest.raises(UserError, match="no runner for"):
            runners.select(where, eco)
