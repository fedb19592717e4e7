"""Kill trials: SIGKILL `canary run` at random moments, then `--resume`, and compare with a clean run.

    python bench/kill_trials.py [--trials 21] [--jobs 2] [--seed 1]

On the demo ecosystem (offline). A clean run gives the reference statuses and verdicts. Each trial
starts a run on the same CANARY_HOME (mirrors, caches and earlier trials' leftovers are shared, as on
a real machine), kills its whole process group at a moment chosen by the trial's kind, then resumes
it with reports, and checks:

  lost   a planned cell without exactly one complete result, a temporary file left in cells/,
         run.json not `complete`, a report file that does not parse;
  wrong  a cell whose status or verdict differs from the clean run's.

Kinds, in turn: `random` (uniform over the clean run's duration), `worktree` (the moment a git
worktree is half made in a mirror: the window that used to poison the mirror), `report` (the
moment the report directory appears). Prints one line per trial and a summary; exits 1 when any
result was lost or wrong.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from canary import demo as demo_mod  # noqa: E402


def canary_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "canary", *args]


def outcome(run_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    statuses = {p.stem: json.loads(p.read_text())["status"] for p in (run_dir / "cells").glob("*.json")}
    verdicts = {v["cell_id"]: v["verdict"] for v in json.loads((run_dir / "verdicts.json").read_text())["verdicts"]}
    return statuses, verdicts


def latest_run(home: Path, after: set[str]) -> Path | None:
    runs = [p for p in sorted((home / "runs").glob("*")) if p.is_dir() and p.name not in after]
    return runs[-1] if runs else None


def kill_moment(kind: str, proc: subprocess.Popen, home: Path, known: set[str], delay: float) -> str:
    """Wait for the trial's moment, then SIGKILL the group; says what was hit."""
    deadline = time.monotonic() + (delay if kind == "random" else 600)
    while proc.poll() is None and time.monotonic() < deadline:
        if kind == "worktree" and glob.glob(f"{home}/mirrors/*/worktrees/*/locked"):
            break
        if kind == "report":
            run = latest_run(home, known)
            if run is not None and (run / "report").exists():
                break
        time.sleep(0.0005 if kind != "random" else 0.01)
    if proc.poll() is not None:
        return "finished before the kill"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return "killed"


def check(run_dir: Path, planned: set[str], ref_status: dict, ref_verdict: dict) -> tuple[list[str], list[str]]:
    lost, wrong = [], []
    record = json.loads((run_dir / "run.json").read_text())
    if record.get("state") != "complete":
        lost.append(f"run.json state {record.get('state')}")
    names = [p.name for p in (run_dir / "cells").iterdir()]
    lost += [f"stray file {n}" for n in names if not n.endswith(".json") or n.startswith(".")]
    statuses, verdicts = outcome(run_dir)
    lost += [f"no result for {c}" for c in sorted(planned - set(statuses))]
    wrong += [f"{c}: {statuses[c]} != {ref_status[c]}" for c in sorted(statuses) if statuses[c] != ref_status.get(c)]
    wrong += [f"{c}: verdict {verdicts.get(c)} != {v}" for c, v in sorted(ref_verdict.items()) if verdicts.get(c) != v]
    for report in ("report.json",):
        path = run_dir / "report" / report
        try:
            json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            lost.append(f"{report}: {exc}")
    return lost, wrong


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=21)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="canary-kill-"))
    demo = demo_mod.build(work / "demo")
    home = work / "home"
    env = {**os.environ, "CANARY_HOME": str(home)}
    run_args = ["run", "-c", str(demo.matrix), "--no-cache", "-j", str(args.jobs), "--progress", "none"]

    t0 = time.monotonic()
    subprocess.run(canary_argv(*run_args, "--report", "json"), env=env, capture_output=True, check=False)
    clean_s = time.monotonic() - t0
    clean = latest_run(home, set())
    ref_status, ref_verdict = outcome(clean)
    planned = set(ref_status)
    print(f"clean run: {len(planned)} cells in {clean_s:.1f} s; statuses {sorted(set(ref_status.values()))}")

    kinds = ("random", "worktree", "report")
    total_lost = total_wrong = 0
    for i in range(args.trials):
        kind = kinds[i % len(kinds)]
        known = {p.name for p in (home / "runs").glob("*")}
        proc = subprocess.Popen(
            canary_argv(*run_args, "--report", "html,md,junit,json"),
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        delay = rng.uniform(0.3, clean_s)
        hit = kill_moment(kind, proc, home, known, delay)
        run = latest_run(home, known)
        done_before = len(list((run / "cells").glob("*.json"))) if run else 0
        resumed = subprocess.run(
            canary_argv("run", "-c", str(demo.matrix), "--resume", run.name, "--no-cache", "--progress", "none"),
            env=env,
            capture_output=True,
            text=True,
        )
        lost, wrong = check(run, planned, ref_status, ref_verdict)
        total_lost += len(lost)
        total_wrong += len(wrong)
        moment = f"{delay:.1f}s" if kind == "random" else kind
        print(
            f"trial {i + 1:2}: kill at {moment:<9} {hit:<24} {done_before:2} results before, resume exit "
            f"{resumed.returncode}; lost {len(lost)}, wrong {len(wrong)} {'; '.join(lost + wrong)[:200]}"
        )
    print(f"{args.trials} trials: {total_lost} results lost, {total_wrong} wrong (against the clean run)")
    return 1 if total_lost or total_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
