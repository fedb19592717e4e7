"""What every bench shares: whole processes timed in alternating rounds, medians with min-max, the load.

The machine these run on is shared, so one timing says little: each side of a comparison runs once
per round, the order flips every round, and the figures are medians of the rounds (with their
min-max) and the ratio of the medians. CPU seconds are the children's user+sys time (npm, tar and
canary's own workers included), which load stretches far less than wall time.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[1]


def canary_argv(*args: str) -> list[str]:
    """The installed `canary` script (what a user runs), else `python -m matrix`."""
    script = Path(sys.executable).parent / "canary"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "canary", *args]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


@dataclass
class Sample:
    wall: float
    cpu: float


@dataclass
class Series:
    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [s.wall for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    def line(self) -> str:
        return (
            f"{self.label:<52} median {self.median:7.3f} s  (min {min(self.walls):.3f} - max {max(self.walls):.3f})"
            f"  cpu {self.cpu:6.2f} s  n={len(self.samples)}"
        )


def run(
    argv: list[str],
    *,
    env: dict | None = None,
    cwd: Path | None = None,
    stdout=subprocess.DEVNULL,
    ok: tuple[int, ...] = (0,),
) -> None:
    """One command; its output goes to `stdout` (a file, or discarded) and is never read here."""
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(map(str, argv[:4]))} ... exited {proc.returncode}: {proc.stderr.strip()[-400:]}")


def measure(work: Callable[[], None]) -> Sample:
    """Wall and children's CPU time of `work` (which runs whole processes and waits for them)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Sample(wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def alternate(sides: dict[str, Callable[[], None]], rounds: int) -> dict[str, Series]:
    """Each side once per round, the order reversed every other round."""
    series = {label: Series(label) for label in sides}
    order = list(sides)
    for i in range(rounds):
        for label in order if i % 2 == 0 else order[::-1]:
            series[label].samples.append(measure(sides[label]))
    return series


def ratio_line(label: str, mine: Series, reference: Series, target: float | None = None) -> str:
    per_round = [a / b for a, b in zip(mine.walls, reference.walls)]
    cpu = mine.cpu / max(reference.cpu, 1e-9)
    text = (
        f"{label:<52} {mine.median / reference.median:5.2f}x wall  "
        f"(per round: median {statistics.median(per_round):.2f}, min {min(per_round):.2f} - max {max(per_round):.2f})"
        f"  {cpu:5.2f}x cpu"
    )
    return text + (f"  target <= {target}" if target is not None else "")
