"""`canary diff` timed as whole processes against the same work done by hand. Prints figures (medians of
alternating rounds with min-max, CPU seconds, the machine's load at start and end); asserts nothing.

    .venv/bin/python bench/bench_compat.py [--rounds 5]

- start-up: `canary diff --help` (the interpreter, the CLI and compat's command module, no diff),
  next to `python -c pass` (the interpreter alone).
- cold real pair: `canary diff npm:@elizaos/core@1.6.4 npm:@elizaos/core@1.6.5` with an empty
  CANARY_HOME (so an empty npm cache too), against by hand: one `npm pack` of both versions with an
  empty npm cache, `tar -xzf` of package.json and the declaration files of each, and `canary diff`
  of the two directories (the same extraction and diff). Target: <= 1.1x.
- cached real pair: the same diff again (everything cached) against `canary diff` of the two
  directories: what the cache lookup costs.
- synthetic: a package ten times the real one's size, diffed from directories.

The registry parts need the npm registry; without it they are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from rounds import alternate, canary_argv, load, ratio_line, run

REAL = ("npm:@elizaos/core@1.6.4", "npm:@elizaos/core@1.6.5")
DIFF_OK = (0, 1)  # 1: breaking changes found, which the real pair has


def synthetic(root: Path, interfaces: int, variant: int) -> Path:
    """A package of `interfaces` interfaces (8 members, 3 methods with params each) in 50 files."""
    dist = root / "dist"
    dist.mkdir(parents=True)
    files = 50
    per = interfaces // files
    (root / "package.json").write_text(
        '{"name": "synthetic", "version": "1.%d.0", "types": "dist/index.d.ts"}' % variant
    )
    (dist / "index.d.ts").write_text("".join(f"export * from './m{f}';\n" for f in range(files)))
    for f in range(files):
        parts = []
        for i in range(per):
            n = f * per + i
            renamed = variant and n % 7 == 0
            member = "messageServerId" if renamed else "serverId"
            alias = (
                "    /** @deprecated Use messageServerId instead. */\n    serverId?: string;\n"
                if renamed and n % 2
                else ""
            )
            parts.append(
                f"export interface Entity{n} extends Base{f} {{\n"
                f"    id: string;\n    name{'?' if variant and n % 5 == 0 else ''}: string;\n"
                f"    {member}?: string;\n{alias}"
                f"    meta?: {{ a: number; b?: string; c: {{ d: boolean }} }};\n"
                f"    count: number;\n    tags: string[];\n    created: Date;\n"
                f"    run({{ id, {member} }}: {{ id: string; {member}?: string }}): Promise<void>;\n"
                f"    get(key: string, fallback?: number): number;\n"
                f"    set(key: string, value: {'number' if variant and n % 11 == 0 else 'string'}): void;\n}}\n"
            )
        parts.append(f"export interface Base{f} {{ baseId: string; }}\n")
        extra_member = ', C = "C"' if not variant else ""
        parts.append(f'export declare enum Kind{f} {{ A = "A", B = "B"{extra_member} }}\n')
        (dist / f"m{f}.d.ts").write_text("".join(parts))
    return root


def _changes(path: Path) -> list[tuple[str, str]]:
    return [(c["rule"], c["symbol"]) for c in json.loads(path.read_text())["changes"]]


def bench_startup(rounds: int, env: dict) -> None:
    series = alternate(
        {
            "canary diff --help (start-up)": lambda: run(canary_argv("diff", "--help"), env=env),
            "python -c pass (interpreter alone)": lambda: run([sys.executable, "-c", "pass"], env=env),
        },
        rounds,
    )
    for s in series.values():
        print(s.line())


def bench_real(rounds: int, env: dict, work: Path) -> bool:
    """Cold and cached diff of the real pair against the same work by hand; False without a registry."""
    specs = [spec[len("npm:") :] for spec in REAL]
    state = {"round": 0}

    def fresh(kind: str) -> Path:
        state["round"] += 1
        path = work / f"{kind}-{state['round']}"
        path.mkdir(parents=True)
        return path

    def canary_cold() -> None:
        home = fresh("home")
        run(
            canary_argv("diff", *REAL, "--format", "json", "--output", str(home / "diff.json")),
            env={**env, "CANARY_HOME": str(home)},
            cwd=home,
            ok=DIFF_OK,
        )
        state["canary"] = home

    def by_hand() -> None:
        here = fresh("hand")
        run(
            ["npm", "pack", *specs, "--cache", str(here / "npm-cache"), "--pack-destination", str(here)],
            env=env,
            cwd=here,
        )
        dirs = []
        for spec in specs:
            name, _, version = spec.rpartition("@")
            out = here / version
            out.mkdir()
            run(
                [
                    "tar",
                    "-xzf",
                    str(here / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"),
                    "-C",
                    str(out),
                    "--wildcards",
                    "package/package.json",
                    "*.d.ts",
                ],
                env=env,
            )
            dirs.append(str(out / "package"))
        run(
            canary_argv("diff", *dirs, "--format", "json", "--output", str(here / "diff.json")),
            env={**env, "CANARY_HOME": str(here / "home")},
            cwd=here,
            ok=DIFF_OK,
        )
        state["hand"] = here

    try:
        run(["npm", "view", specs[0], "version"], env=env)
    except SystemExit as exc:
        print(f"real pair skipped: registry not reachable ({str(exc)[:120]})")
        return False
    cold = alternate(
        {
            "canary diff, cold (empty CANARY_HOME)": canary_cold,
            "by hand: npm pack a b + tar *.d.ts + diff dirs": by_hand,
        },
        rounds,
    )
    for s in cold.values():
        print(s.line())
    mine, hand = cold.values()
    print(ratio_line("cold canary diff / by hand", mine, hand, target=1.1))
    same = _changes(state["canary"] / "diff.json") == _changes(state["hand"] / "diff.json")
    print(f"same changes reported by both: {same}")

    home, hand_dir = state["canary"], state["hand"]
    dirs = [str(hand_dir / spec.rpartition("@")[2] / "package") for spec in specs]
    warm = alternate(
        {
            "canary diff, cached (nothing fetched)": lambda: run(
                canary_argv("diff", *REAL, "--format", "json", "--output", os.devnull),
                env={**env, "CANARY_HOME": str(home)},
                cwd=home,
                ok=DIFF_OK,
            ),
            "canary diff of the two directories": lambda: run(
                canary_argv("diff", *dirs, "--format", "json", "--output", os.devnull),
                env={**env, "CANARY_HOME": str(hand_dir / "home")},
                cwd=hand_dir,
                ok=DIFF_OK,
            ),
        },
        rounds,
    )
    for s in warm.values():
        print(s.line())
    print(ratio_line("cached canary diff / diff of directories", *warm.values()))
    return True


def bench_synthetic(rounds: int, env: dict, work: Path) -> None:
    old = synthetic(work / "syn-old", 1050, 0)
    new = synthetic(work / "syn-new", 1050, 1)
    out = work / "syn.json"
    series = alternate(
        {
            "synthetic package, 10x the real one (directories)": lambda: run(
                canary_argv("diff", str(old), str(new), "--format", "json", "--output", str(out)),
                env={**env, "CANARY_HOME": str(work / "syn-home")},
                ok=DIFF_OK,
            )
        },
        rounds,
    )
    doc = json.loads(out.read_text())
    print(series["synthetic package, 10x the real one (directories)"].line())
    print(
        f"  synthetic: {doc['counts']['old_declarations']} -> {doc['counts']['new_declarations']} declarations, "
        f"{doc['summary']['total']} changes"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    # What a user gets: an installed tool has its bytecode cached (PYTHONDONTWRITEBYTECODE would
    # recompile every module on every run).
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "CANARY_HOME")}
    print(f"start: {load()}")
    work = Path(tempfile.mkdtemp(prefix="canary-bench-compat-"))
    try:
        bench_startup(args.rounds, env)
        bench_real(args.rounds, env, work)
        bench_synthetic(args.rounds, env, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"end:   {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
