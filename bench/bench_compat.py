"""Wall time of `canary diff` (startup included) on the real elizaOS pair and on a synthetic package
ten times its size. Prints figures; asserts nothing (speed is not a unit test).

    .venv/bin/python bench/bench_compat.py [--runs 5]

The real pair needs the npm registry once; its tarballs are then cached under $CANARY_HOME
(default: <repo>/.canary) and every timed run is served from the cache.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ("npm:@elizaos/core@1.6.4", "npm:@elizaos/core@1.6.5")
TARGET = 0.5


CPU: dict[str, list[float]] = {}


def canary(*args: str, env: dict) -> tuple[float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "matrix.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(" ".join(args), []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, proc


def timed(args: list[str], env: dict, runs: int) -> list[float]:
    out = []
    CPU.pop(" ".join(args), None)
    for _ in range(runs):
        wall, proc = canary(*args, env=env)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"canary {' '.join(args)} failed: {proc.stderr.strip()}")
        out.append(wall)
    return out


def synthetic(root: Path, interfaces: int, variant: int) -> Path:
    """A package of `interfaces` interfaces (8 members, 3 methods with params each) in 50 files."""
    dist = root / "dist"
    dist.mkdir(parents=True)
    files = 50
    per = interfaces // files
    (root / "package.json").write_text('{"name": "synthetic", "version": "1.%d.0", "types": "dist/index.d.ts"}'
                                       % variant)
    (dist / "index.d.ts").write_text("".join(f"export * from './m{f}';\n" for f in range(files)))
    for f in range(files):
        parts = []
        for i in range(per):
            n = f * per + i
            renamed = variant and n % 7 == 0
            member = "messageServerId" if renamed else "serverId"
            alias = ("    /** @deprecated Use messageServerId instead. */\n    serverId?: string;\n"
                     if renamed and n % 2 else "")
            parts.append(
                f"export interface Entity{n} extends Base{f} {{\n"
                f"    id: string;\n    name{'?' if variant and n % 5 == 0 else ''}: string;\n"
                f"    {member}?: string;\n{alias}"
                f"    meta?: {{ a: number; b?: string; c: {{ d: boolean }} }};\n"
                f"    count: number;\n    tags: string[];\n    created: Date;\n"
                f"    run({{ id, {member} }}: {{ id: string; {member}?: string }}): Promise<void>;\n"
                f"    get(key: string, fallback?: number): number;\n"
                f"    set(key: string, value: {'number' if variant and n % 11 == 0 else 'string'}): void;\n}}\n")
        parts.append(f"export interface Base{f} {{ baseId: string; }}\n")
        extra_member = ', C = "C"' if not variant else ""
        parts.append(f'export declare enum Kind{f} {{ A = "A", B = "B"{extra_member} }}\n')
        (dist / f"m{f}.d.ts").write_text("".join(parts))
    return root


def report(label: str, walls: list[float], args: list[str], baseline: float | None = None) -> float:
    best, med = min(walls), statistics.median(walls)
    cpu = statistics.median(CPU.get(" ".join(args), [0.0]))
    line = f"{label:<44} min {best:6.3f} s  median {med:6.3f} s  cpu {cpu:6.3f} s  ({len(walls)} runs)"
    if baseline:
        line += f"  = {med / baseline:5.2f}x the real pair"
    else:
        line += f"  = {med / TARGET:5.2f}x the {TARGET} s target"
    print(line)
    return med


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    env = {**os.environ, "CANARY_HOME": os.environ.get("CANARY_HOME", str(ROOT / ".canary"))}
    # Measure what a user gets: an installed tool has its bytecode cached. With
    # PYTHONDONTWRITEBYTECODE every run would recompile every module of the CLI from source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    startup = timed(["--version"], env, args.runs)
    report("canary --version (startup only)", startup, ["--version"])

    real_med = None
    warm, proc = canary("diff", *REAL, "--format", "json", "--output", os.devnull, env=env)
    if proc.returncode in (0, 1):
        print(f"{'real pair, first run (fetch + extract)':<44} {warm:6.3f} s")
        real_args = ["diff", *REAL, "--format", "json", "--output", os.devnull]
        real = timed(real_args, env, args.runs)
        real_med = report("real @elizaos/core 1.6.4 -> 1.6.5 (cached)", real, real_args)
    else:
        print(f"real pair skipped: registry not reachable ({proc.stderr.strip()[:120]})")

    with tempfile.TemporaryDirectory() as tmp:
        old = synthetic(Path(tmp) / "old", 1050, 0)
        new = synthetic(Path(tmp) / "new", 1050, 1)
        syn_args = ["diff", str(old), str(new), "--format", "json", "--output", os.devnull]
        walls = timed(syn_args, env, args.runs)
        _, proc = canary("diff", str(old), str(new), "--format", "json", env=env)
        import json

        doc = json.loads(proc.stdout)
        print(f"synthetic: {doc['counts']['old_declarations']} -> {doc['counts']['new_declarations']} declarations, "
              f"{doc['summary']['total']} changes")
        report("synthetic package, 10x the real one", walls, syn_args, real_med)
    if real_med is not None:
        print(f"startup share of the real pair: {statistics.median(startup) / real_med:5.2f}")
        # compat's own work, in process (no interpreter start, no other command modules imported)
        os.environ["CANARY_HOME"] = env["CANARY_HOME"]
        sys.path.insert(0, str(ROOT))
        start = time.perf_counter()
        import compat

        compat.compare(*REAL)
        first = time.perf_counter() - start
        runs = []
        for _ in range(args.runs):
            start = time.perf_counter()
            compat.compare(*REAL)
            runs.append(time.perf_counter() - start)
        print(f"{'in process: compat.compare(real pair)':<44} first {first:6.3f} s (imports included)  "
              f"median {statistics.median(runs):6.3f} s")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores: wall figures stretch under load, cpu figures do not")
    return 0


if __name__ == "__main__":
    sys.exit(main())
