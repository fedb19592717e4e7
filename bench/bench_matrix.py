"""The default matrix, whole `canary run` processes: cold, warm and --no-cache, for the npm template
install (one `npm install` per connector ref) next to the previous per-cell install, in one go.

    python bench/bench_matrix.py                       # every phase, both strategies
    python bench/bench_matrix.py --phases cold,nocache # what fits in the time there is

Phases, per strategy (STRATEGIES: template, template-ref, template-flatbase, template-copy,
per-cell), each strategy with its own fresh CANARY_HOME (nothing cached: no artifact, no npm cache,
no template, no result):
- cold:    the first run (fetches every tarball, installs, runs every cell, diff, report);
- warm:    the same command again (every cell served from the result cache);
- nocache: `--no-cache` (artifacts, npm cache and templates kept, every cell run again).
The two strategies alternate within a phase (the order flips every phase). Printed per run: wall,
CPU-seconds of the whole process tree, and the cells' time split: install (npm install, template
copy and core swap), test, other (pack, check, ...), and install's share of the cells' time.
Also printed: the disk use of the home's npm templates (`du`, hardlinks once) and the CPU-seconds
of the commands that build templates and copy trees, `npm install` and `cp` (each run through a
shim on PATH that records its user+sys time).
The figures go to stdout and, as JSON, to --json (default: bench-matrix.json in the temp dir).

Targets (issue 18): cold total CPU-seconds <= 260, --no-cache install share <= 15 %, warm < 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import ROOT, canary_argv, load, measure, run  # noqa: E402

# strategy -> environment: the template install with the machine's copy mode (overlay as root where
# reflinks are missing; a new template layered on the closest one of any connector ref), the same
# layered only on its own ref's first template (the previous build), the same with templates after
# the first built on a full copy of it, the same with full copies for the cells too (the previous
# root path), one `npm install` per cell.
STRATEGIES = {
    "template": {"CANARY_NPM_INSTALL": "template"},
    "template-ref": {"CANARY_NPM_INSTALL": "template", "CANARY_NPM_TEMPLATE_BASE": "layer"},
    "template-flatbase": {"CANARY_NPM_INSTALL": "template", "CANARY_NPM_TEMPLATE_BASE": "copy"},
    "template-copy": {"CANARY_NPM_INSTALL": "template", "CANARY_NPM_COPY": "copy"},
    "per-cell": {"CANARY_NPM_INSTALL": "per-cell"},
}
PHASES = ("cold", "warm", "nocache")

# Runs the real command (the first one on PATH after the shim's directory) as a child and appends
# "<name> <user+sys CPU-seconds> <first argument>" to its log (a path written into the shim: canary
# gives npm a scrubbed environment).
SHIM = """#!{python}
import os, sys
name = os.path.basename(sys.argv[0])
here = os.path.dirname(os.path.abspath(sys.argv[0]))
path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if os.path.abspath(d) != here]
real = next(os.path.join(d, name) for d in path if os.access(os.path.join(d, name), os.X_OK))
env = {{**os.environ, "PATH": os.pathsep.join(path)}}
pid = os.fork()
if pid == 0:
    os.execve(real, [real, *sys.argv[1:]], env)
_, status, usage = os.wait4(pid, 0)
with open({log!r}, "a") as log:
    log.write(f"{{name}} {{usage.ru_utime + usage.ru_stime:.3f}} {{(sys.argv[1:] or [''])[0]}}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def make_shims(directory: Path, log: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("npm", "cp"):
        shim = directory / name
        shim.write_text(SHIM.format(python=sys.executable, log=str(log)))
        shim.chmod(0o755)
    return directory


def command_cpu(log: Path) -> dict:
    """CPU-seconds of `npm install` and of `cp` from the shims' log."""
    out = {"npm_install_cpu_s": 0.0, "npm_installs": 0, "cp_cpu_s": 0.0, "cps": 0}
    for row in log.read_text().splitlines() if log.exists() else []:
        name, cpu, first = (row.split(" ", 2) + [""])[:3]
        if name == "npm" and first == "install":
            out["npm_install_cpu_s"] += float(cpu)
            out["npm_installs"] += 1
        elif name == "cp":
            out["cp_cpu_s"] += float(cpu)
            out["cps"] += 1
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def templates_mb(home: Path) -> float:
    """Disk use of the home's npm templates, as `du` counts it (a hardlinked file once)."""
    where = home / "cache" / "npm-templates"
    if not where.exists():
        return 0.0
    out = subprocess.run(["du", "-s", "--block-size=1", str(where)], capture_output=True, text=True)
    return round(int(out.stdout.split()[0]) / 1e6, 1) if out.returncode == 0 and out.stdout else -1.0


def cell_split(home: Path) -> dict:
    """Seconds of the newest run's cells by kind of command, from the cell results."""
    runs = sorted(p for p in (home / "runs").iterdir() if (p / "run.json").exists())
    split = {"install": 0.0, "test": 0.0, "other": 0.0, "cells": 0.0, "cached": 0, "count": 0}
    for f in (runs[-1] / "cells").glob("*.json"):
        result = json.loads(f.read_text())
        split["count"] += 1
        if result.get("cached_from"):
            split["cached"] += 1
            continue
        for attempt in result.get("attempts", []):
            split["cells"] += attempt.get("duration_s") or 0.0
            for c in attempt.get("commands", []):
                kind = c["phase"] if c["phase"] in ("install", "test") else "other"
                split[kind] += c.get("duration_s") or 0.0
    return split


def one_run(home: Path, strategy: str, phase: str, log_dir: Path) -> dict:
    cpu_log = log_dir / f"{strategy}-{phase}.cpu"
    shims = make_shims(log_dir / f"shims-{strategy}-{phase}", cpu_log)
    env = {**os.environ, "CANARY_HOME": str(home), **STRATEGIES[strategy]}
    env["PATH"] = f"{shims}{os.pathsep}{env.get('PATH', '')}"
    argv = canary_argv("run", "-c", str(ROOT / "matrix.yaml"), "--progress", "none")
    if phase == "nocache":
        argv.append("--no-cache")
    with open(log_dir / f"{strategy}-{phase}.log", "w") as out:
        # Exit 1 is the matrix's own verdict (it has regressions by design), not a failure of the bench.
        sample = measure(lambda: run(argv, env=env, cwd=ROOT, stdout=out, ok=(0, 1)))
    split = cell_split(home)
    share = split["install"] / split["cells"] if split["cells"] else 0.0
    return {
        "strategy": strategy,
        "phase": phase,
        "wall_s": round(sample.wall, 1),
        "cpu_s": round(sample.cpu, 1),
        "install_s": round(split["install"], 1),
        "test_s": round(split["test"], 1),
        "other_s": round(split["other"], 1),
        "cell_s": round(split["cells"], 1),
        "install_share": round(share, 3),
        "cells": split["count"],
        "cached": split["cached"],
        "templates_mb": templates_mb(home),
        **command_cpu(cpu_log),
        "load": load(),
    }


def line(r: dict) -> str:
    return (
        f"{r['phase']:<8} {r['strategy']:<13} wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:7.1f} s  "
        f"cells {r['cell_s']:6.1f} s = install {r['install_s']:6.1f} + test {r['test_s']:6.1f} + other "
        f"{r['other_s']:5.1f} (install {100 * r['install_share']:4.1f} %)  cached {r['cached']}/{r['cells']}"
        f"\n         templates {r['templates_mb']:.0f} MB on disk; npm install {r['npm_install_cpu_s']:.1f} CPU-s"
        f" ({r['npm_installs']} runs), cp {r['cp_cpu_s']:.1f} CPU-s ({r['cps']} runs)  [{r['load']}]"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phases", default=",".join(PHASES), help="comma-separated: cold, warm, nocache")
    ap.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated: " + ", ".join(STRATEGIES))
    ap.add_argument("--json", default=None, help="write the figures here as JSON")
    ap.add_argument(
        "--home",
        default=None,
        help="warm and nocache only: one CANARY_HOME a cold run already filled, shared by both "
        "strategies and kept (artifacts, npm cache and templates; the result cache does not "
        "depend on the strategy)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the homes the cold runs filled (for a later --home)")
    args = ap.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    strategies = [s for s in args.strategies.split(",") if s]
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise SystemExit(f"--strategies: unknown {', '.join(unknown)} (known: {', '.join(STRATEGIES)})")
    if args.home and "cold" in phases:
        raise SystemExit("--home: a filled home cannot give a cold run; leave cold out of --phases")
    if not args.home and "cold" not in phases:
        raise SystemExit("--phases needs cold: warm and nocache run in the homes the cold runs fill (or give --home)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-matrix-"))
    homes = {s: Path(args.home) if args.home else tmp / f"home-{s}" for s in strategies}
    print(f"# bench_matrix: {ROOT / 'matrix.yaml'}, {os.cpu_count()} CPUs, homes in {tmp}", flush=True)
    results = []
    try:
        for i, phase in enumerate(p for p in PHASES if p in phases):
            for strategy in strategies if i % 2 == 0 else strategies[::-1]:
                r = one_run(homes[strategy], strategy, phase, tmp)
                results.append(r)
                print(line(r), flush=True)
                Path(args.json or tmp / "bench-matrix.json").write_text(json.dumps(results, indent=2) + "\n")
        by = {(r["phase"], r["strategy"]): r for r in results}
        for phase in phases:
            mine = by.get((phase, "template"))
            for other in ("template-flatbase", "template-copy", "per-cell"):
                old = by.get((phase, other))
                if mine and old:
                    print(
                        f"{phase:<8} template / {other}: wall {mine['wall_s'] / old['wall_s']:.2f}x  "
                        f"cpu {mine['cpu_s'] / old['cpu_s']:.2f}x  "
                        f"install {mine['install_s'] / max(old['install_s'], 1e-9):.2f}x  "
                        f"templates on disk {mine['templates_mb'] / max(old['templates_mb'], 1e-9):.2f}x"
                    )
        print("targets: cold cpu <= 260 s; nocache install share <= 15 %; warm wall < 5 s")
    finally:
        for strategy in STRATEGIES if not args.keep else ():
            shutil.rmtree(tmp / f"home-{strategy}", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
