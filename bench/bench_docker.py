"""Cost of `runner: docker` against the local runner (issue 16). Prints figures; asserts nothing.

    python bench/bench_docker.py [--workdir DIR] [--jobs 1] [--rounds 1] [--ecosystem pypi|npm]

pypi: the demo matrix (12 cells); npm: the fake npm packages of tests/conftest_npm.py served by
its offline registry, two connectors (one with a nested copy of the core) against two core
versions (4 cells; the local runner as it runs by default, with its npm templates). Each run
with the local runner and with `runner: docker` (the test images of tests/docker_engine.py,
built or imported first, not timed), both with `--no-cache`, the same
cells and the same `-j`, alternating (docker, local, docker, local, ...) so that a change in the
machine's load hits both. Reported per round and as the median over rounds: the mean wall time
of a cell (CellResult duration_s), the ratio docker/local, and where the time goes in docker (the
recorded command durations by phase; one container per command).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from canary import demo as demo_mod  # noqa: E402
from canary.matrix.store import Store  # noqa: E402
from tests import docker_engine  # noqa: E402


def run(matrix: Path, home: Path, jobs: int, env: dict) -> tuple[float, list]:
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "canary",
            "run",
            "-c",
            str(matrix),
            "--no-cache",
            "-j",
            str(jobs),
            "--report",
            "none",
            "--progress",
            "none",
        ],
        cwd=matrix.parent,
        env={**os.environ, **env, "CANARY_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t0
    runs = Store(home / "runs").runs()
    if not runs:
        raise SystemExit(f"no run: {proc.stderr[-500:]}")
    return wall, list(runs[-1].read_cells().values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--ecosystem", choices=("pypi", "npm"), default="pypi")
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench-docker-"))
    engine = docker_engine.start()
    rounds = []
    server = None
    try:
        env = {"DOCKER_HOST": engine.host}
        if args.ecosystem == "npm":
            image = docker_engine.ensure_node_image(engine)
            local_matrix, server, registry_env = npm_matrix(root / "npm")
            env.update(registry_env)
        else:
            image = docker_engine.ensure_image(engine)
            local_matrix = demo_mod.build(root / "demo").matrix
        docker_matrix = root / "docker" / "matrix.yaml"
        docker_matrix.parent.mkdir(parents=True, exist_ok=True)
        docker_matrix.write_text(
            local_matrix.read_text().replace(
                "settings:\n",
                f"settings:\n  runner: docker\n  docker:\n    images: {{{args.ecosystem}: {image!r}}}\n",
                1,
            )
        )
        for n in range(args.rounds):
            d_wall, d_cells = run(docker_matrix, root / f"home-docker-{n}", args.jobs, env)
            l_wall, l_cells = run(local_matrix, root / f"home-local-{n}", args.jobs, env)
            rounds.append(summary(d_wall, d_cells, l_wall, l_cells, args.jobs))
    finally:
        if server is not None:
            server.shutdown()
        engine.stop()
    ratios = sorted(r["ratio_per_cell"] for r in rounds)
    print(json.dumps({"rounds": rounds, "median_ratio_per_cell": ratios[len(ratios) // 2]}, indent=2))


NPM_CHECK = (
    "import(process.cwd() + '/index.js').then(m => { const v = [m.VERSION, m.MID_CORE].filter(Boolean);"
    " if (v.some(x => x !== '2.0.0')) { console.log('Error: needs core 2, got ' + v.join(',')); process.exit(1); } })"
)


def npm_matrix(root: Path):
    """The fake npm packages packed and served offline; (matrix path, server, registry env)."""
    from tests.conftest_npm import FAKE_PACKAGES, npm_pack_dir, serve_tarballs, write_package

    tarballs = {}
    for name, version, deps, code in FAKE_PACKAGES:
        src = write_package(root / "src" / f"{name.split('/')[-1]}-{version}", name, version, deps, code)
        tarballs[(name, version)] = npm_pack_dir(src, root / "tgz", root / "npm-cache")
    server, url = serve_tarballs(tarballs)
    connectors = "".join(
        f"  - name: {n}\n    package: '@canary-fake/{p}'\n    npm: {{versions: ['0.1.0']}}\n"
        f"    test: [node, -e, {json.dumps(NPM_CHECK)}]\n"
        for n, p in (("plugin", "plugin"), ("nested", "plugin-nested"))
    )
    matrix = root / "matrix.yaml"
    matrix.write_text(
        "version: 1\ncore:\n  name: '@canary-fake/core'\n  ecosystem: npm\n  versions: ['2.0.0', '1.0.0']\n"
        "  baseline: '2.0.0'\nconnectors:\n" + connectors + "settings:\n  retries: 0\n"
    )
    return matrix, server, {"npm_config_registry": url, "npm_config_fetch_retries": "0"}


def summary(d_wall: float, d_cells: list, l_wall: float, l_cells: list, jobs: int) -> dict:
    same = {c.cell_id: c.status for c in d_cells} == {c.cell_id: c.status for c in l_cells}
    d_mean = sum(c.duration_s for c in d_cells) / len(d_cells)
    l_mean = sum(c.duration_s for c in l_cells) / len(l_cells)
    phases: dict[str, float] = defaultdict(float)
    containers = 0
    for c in d_cells:
        for a in c.attempts:
            for cmd in a.commands:
                if cmd.phase != "materialize":  # the core's build runs on the host, before the runner
                    phases[cmd.phase] += cmd.duration_s
                    containers += 1
    return {
        "cells": len(d_cells),
        "jobs": jobs,
        "same_statuses": same,
        "local": {"wall_s": round(l_wall, 1), "mean_cell_s": round(l_mean, 2)},
        "docker": {
            "wall_s": round(d_wall, 1),
            "mean_cell_s": round(d_mean, 2),
            "containers": containers,
            "seconds_by_phase": {k: round(v, 1) for k, v in sorted(phases.items())},
        },
        "ratio_per_cell": round(d_mean / l_mean, 2),
        "ratio_wall": round(d_wall / l_wall, 2),
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    main()
