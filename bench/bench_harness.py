"""Harness benchmarks (issue 4). Prints figures measured in one run; asserts nothing.

    python bench/bench_harness.py [--only overhead,warm,parallel] [--workdir DIR]

(a) overhead: `canary run --no-cache -j 1` over the demo matrix against the very same commands
    replayed by hand (the commands each CellResult recorded, plus the git worktree each cell
    needs), as a ratio; best of three alternating rounds (`rounds` shows each, the machine's
    noise is about 5%). `accounted_ratio`: the harness process's wall time against the sum of
    the command durations it recorded in the same run. Target: at most 1.05.
(b) warm: a re-run of an unchanged 100-cell matrix (every cell served from the result cache),
    wall time of the whole `canary run` process. Target: under 2 s.
(c) parallel: `-j 2` against `-j 1` on CPU-bound cells (each test burns CPU for ~2 s), as a
    speed-up. Target: at least 1.7 on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from canary import demo as demo_mod  # noqa: E402
from canary.matrix.sources.git import mirror_path  # noqa: E402
from canary.matrix.store import Store  # noqa: E402


def canary(args: list[str], home: Path, cwd: Path) -> float:
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "canary", *args, "--report", "none", "--progress", "none"],
        cwd=cwd,
        env={**os.environ, "CANARY_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    return time.monotonic() - t0


def replay(run_dir, home: Path, scratch: Path) -> float:
    """The recorded commands of every cell, run by hand in fresh directories, in the same
    environment a cell gets (scrubbed base, the index settings, the virtualenv on PATH); every
    exit code must be the recorded one, or the replay is not the same work."""
    record = json.loads((run_dir.path / "run.json").read_text())
    matrix_file = record["matrix_file"]
    from canary.matrix import config
    from canary.matrix.cellenv import cell_env
    from canary.matrix.runners.python import pip_env

    matrix = config.load(matrix_file)

    class _Cx:  # what pip_env reads
        pass

    fake = _Cx()
    fake.matrix = matrix
    mismatches = 0
    t0 = time.monotonic()
    for result in run_dir.read_cells().values():
        old = str(home / "work" / run_dir.run_id / result.cell_id)
        new = scratch / result.cell_id
        new.mkdir(parents=True)
        conn = matrix.connector(result.connector.name)
        env, _ = cell_env(conn.env, conn.pass_env)
        env.update(pip_env(fake), VIRTUAL_ENV=str(new / "venv"), PATH=f"{new / 'venv' / 'bin'}:{env.get('PATH', '')}")
        if conn.source.kind == "git":
            git_dir = mirror_path(home / "mirrors", conn.source.url)
            subprocess.run(
                [
                    "git",
                    "--git-dir",
                    str(git_dir),
                    "worktree",
                    "add",
                    "--detach",
                    "--force",
                    str(new / "src"),
                    result.connector.commit,
                ],
                check=True,
                capture_output=True,
            )
        for attempt in result.attempts:
            for cmd in attempt.commands:
                argv = [a.replace(old, str(new)) for a in cmd.argv]
                cwd = cmd.cwd.replace(old, str(new)) if cmd.cwd else str(new)
                proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
                mismatches += proc.returncode != cmd.exit_code
        if conn.source.kind == "git":
            subprocess.run(
                ["git", "--git-dir", str(git_dir), "worktree", "remove", "--force", str(new / "src")],
                capture_output=True,
            )
    elapsed = time.monotonic() - t0
    if mismatches:
        print(f"warning: {mismatches} replayed command(s) exited otherwise than recorded", file=sys.stderr)
    return elapsed


def bench_overhead(work: Path) -> dict:
    demo = demo_mod.build(work / "demo")
    home = work / "home-overhead"
    canary(
        ["run", "-c", str(demo.matrix), "--cells", "alpha@main*", "--no-cache"], home, demo.root
    )  # warm pip/virtualenv caches
    # Three rounds, harness and replay alternating, best of each: the machine's noise (page cache,
    # other processes) then weighs on both sides alike.
    harness_times, raw_times, accounted = [], [], []
    for i in range(3):
        harness_times.append(canary(["run", "-c", str(demo.matrix), "--no-cache", "-j", "1"], home, demo.root))
        run = Store(home / "runs").latest()
        # The same run's own accounting: the whole process against the commands it ran.
        commands = sum(c.duration_s for r in run.read_cells().values() for a in r.attempts for c in a.commands)
        accounted.append(harness_times[-1] / commands)
        raw_times.append(replay(run, home, work / f"replay{i}"))
    harness, raw = min(harness_times), min(raw_times)
    return {
        "harness_s": round(harness, 2),
        "raw_s": round(raw, 2),
        "ratio": round(harness / raw, 3),
        "rounds": [round(h / r, 3) for h, r in zip(harness_times, raw_times)],
        "accounted_ratio": round(min(accounted), 3),
        "target": "<= 1.05",
    }


def bench_warm(work: Path) -> dict:
    demo = demo_mod.build(work / "demo100")
    repo = demo.connectors["beta"]
    refs = [f"r{i:02d}" for i in range(50)]
    for ref in refs:
        subprocess.run(["git", "-C", str(repo), "branch", ref, "main"], check=True)
    text = demo.matrix.read_text()
    head, _, _ = text.partition("connectors:")
    matrix = demo.root / "matrix100.yaml"
    matrix.write_text(
        head
        + "connectors:\n"
        + (
            "  - name: beta\n    package: demo-beta\n    git:\n"
            f"      url: {str(repo)!r}\n      refs: [{', '.join(refs)}]\n"
            '    install: [["{python}", -m, pip, install, --quiet, --no-build-isolation, "{checkout}"]]\n'
            '    test: [["{python}", -m, unittest, discover, -s, tests]]\n'
        )
    )
    home = work / "home-warm"
    cold = canary(["run", "-c", str(matrix), "-j", "2"], home, demo.root)
    warm = canary(["run", "-c", str(matrix), "-j", "2"], home, demo.root)
    cells = Store(home / "runs").latest().read_cells()
    cached = sum(1 for r in cells.values() if r.cached_from)
    return {
        "cells": len(cells),
        "cached": cached,
        "cold_s": round(cold, 2),
        "warm_s": round(warm, 2),
        "target": "< 2 s",
    }


def bench_parallel(work: Path) -> dict:
    demo = demo_mod.build(work / "demo-cpu")
    burn = "import time; t=time.process_time(); x=0\\nwhile time.process_time()-t<2: x+=1"
    text = demo.matrix.read_text().replace(
        '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]', f'    test: [["{{python}}", -c, "{burn}"]]'
    )
    matrix = demo.root / "matrix-cpu.yaml"
    matrix.write_text(text)
    home = work / "home-cpu"
    canary(["run", "-c", str(matrix), "--cells", "beta@main*", "--no-cache"], home, demo.root)  # warm caches
    cells = ["alpha*", "beta*"]
    one = canary(["run", "-c", str(matrix), "--cells", *cells, "--no-cache", "-j", "1"], home, demo.root)
    two = canary(["run", "-c", str(matrix), "--cells", *cells, "--no-cache", "-j", "2"], home, demo.root)
    return {
        "cells": 8,
        "j1_s": round(one, 2),
        "j2_s": round(two, 2),
        "speedup": round(one / two, 2),
        "target": ">= 1.7",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="overhead,warm,parallel")
    parser.add_argument("--workdir")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="canary-bench-"))
    benches = {"overhead": bench_overhead, "warm": bench_warm, "parallel": bench_parallel}
    for name in args.only.split(","):
        figures = benches[name](work / name)
        print(json.dumps({"bench": name, **figures}), flush=True)


if __name__ == "__main__":
    main()
