"""`.canary/`: git-ignored working data (mirrors, worktrees, environments, caches, runs)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Home"]


@dataclass(frozen=True)
class Home:
    """Where canary keeps its state (runs, mirrors, caches): $CANARY_HOME, else .canary."""

    root: Path

    @classmethod
    def default(cls) -> Home:
        return cls(Path(os.environ.get("CANARY_HOME") or ".canary").absolute())

    def dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def mirrors(self) -> Path:
        return self.dir("mirrors")

    @property
    def artifacts(self) -> Path:
        return self.dir("cache", "artifacts")

    @property
    def results_cache(self) -> Path:
        return self.dir("cache", "results")

    @property
    def npm_cache(self) -> Path:
        return self.dir("cache", "npm")

    def work(self, run_id: str, cell_id: str) -> Path:
        return self.dir("work", run_id, cell_id)
