"""Shared fixtures. Expensive ones (the demo ecosystem and one real run of it) are session-scoped.

Area-specific fixtures live in tests/conftest_<area>.py and are loaded here as plugins.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = [
    f"tests.conftest_{p.stem.split('conftest_', 1)[1]}" for p in sorted(Path(__file__).parent.glob("conftest_*.py"))
]


def canary(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the real `canary` command line in a subprocess (as a user would)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "canary", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """The demo ecosystem (canary.demo): a core in two versions, three connectors with two refs each."""
    from canary import demo as demo_mod

    return demo_mod.build(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="session")
def demo_run(demo, tmp_path_factory):
    """One real `canary run` of the demo matrix, shared by every test that only reads its results."""
    home = tmp_path_factory.mktemp("canary-home")
    proc = canary(
        "run",
        "-c",
        str(demo.matrix),
        "-j",
        "2",
        "--progress",
        "plain",
        "--report",
        "none",
        cwd=demo.root,
        env={"CANARY_HOME": str(home)},
    )
    from canary.matrix.store import Store

    runs = Store(home / "runs").runs()
    assert runs, proc.stderr
    return {"proc": proc, "run": runs[-1], "home": home, "demo": demo}
