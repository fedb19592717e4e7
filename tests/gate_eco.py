"""A small real ecosystem for the gate tests (issue 11): a Python core in git with a release
and a prerelease tag, and connectors in local git repositories.

  democore  v1.0.0    Room.server_id
            v2.1.0b1  Room.message_server_id (the serverId rename), a PEP 440 prerelease
  alpha     reads room.server_id, declares democore>=1   -> regressed on v2.1.0b1
  beta      never reads rooms, declares democore>=1      -> ok

Everything runs offline: the cores are built from git by canary itself, the connectors are
installed with --no-deps (their declared range is still read from their metadata).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from canary import demo

ROOT = Path(__file__).resolve().parent.parent
PRE = "v2.1.0b1"
BASE_LABEL = "git:v1.0.0"
CAND_LABEL = f"git:{PRE}"


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Gate",
        "GIT_AUTHOR_EMAIL": "gate@example.invalid",
        "GIT_COMMITTER_NAME": "Gate",
        "GIT_COMMITTER_EMAIL": "gate@example.invalid",
    }
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def build_core(root: Path, versions=(("1.0.0", demo.CORE_V1), ("2.1.0b1", demo.CORE_V2))) -> Path:
    repo = root / "democore"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo / ".gitignore", "build/\n*.egg-info/\n__pycache__/\n")
    for version, body in versions:
        write(repo / "pyproject.toml", demo._pyproject("democore", version, []))
        write(repo / "democore" / "__init__.py", body)
        commit_all(repo, f"democore {version}")
        git(repo, "tag", "-a", f"v{version}", "-m", f"democore {version}")
    return repo


def build_connector(
    root: Path,
    name: str,
    body: str,
    expected: str,
    declared: str = "democore>=1",
    branches: dict[str, tuple[str, str]] | None = None,
) -> Path:
    """A connector repository; `branches` adds more refs (name -> (body, expected))."""
    repo = root / "connectors" / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    module = f"{name.replace('-', '_')}_connector"

    def files(body: str, expected: str) -> None:
        write(repo / "pyproject.toml", demo._pyproject(f"gate-{name}", "0.1.0", [declared]))
        write(repo / module / "__init__.py", body)
        write(repo / "tests" / "test_server.py", demo.TEST_SERVER.format(module=module, expected=expected))

    files(body, expected)
    commit_all(repo, f"{name} main")
    for branch, (b_body, b_expected) in (branches or {}).items():
        git(repo, "checkout", "-q", "-b", branch, "main")
        files(b_body, b_expected)
        commit_all(repo, f"{name} {branch}")
        git(repo, "checkout", "-q", "main")
    return repo


CONNECTOR_BLOCK = """  - name: {name}
    package: gate-{name}
    tier: {tier}
    git: {{url: {url!r}, refs: [{refs}]}}
    install: [["{{python}}", -m, pip, install, --quiet, --no-deps, --no-build-isolation, "{{checkout}}"]]
    test: [["{{python}}", -m, unittest, discover, -s, tests, -v]]
    timeout: 120
"""


@dataclass
class Eco:
    root: Path
    core: Path
    connectors: dict[str, Path]
    matrix: Path
    home: Path

    def env(self) -> dict:
        return {"CANARY_HOME": str(self.home)}

    @property
    def store(self) -> Path:
        return self.home / "runs"


def matrix_text(core_versions: list[str], baseline: str, connectors: list[dict], extra: str = "") -> str:
    lines = [
        "version: 1",
        "core:",
        "  name: democore",
        "  ecosystem: pypi",
        f"  versions: [{', '.join(core_versions)}]",
        f"  baseline: {baseline!r}",
        "  index: {no_index: true}",
        "settings: {retries: 0}",
        "connectors:",
    ]
    text = "\n".join(lines) + "\n"
    for c in connectors:
        text += CONNECTOR_BLOCK.format(
            name=c["name"], tier=c.get("tier", "required"), url=str(c["url"]), refs=", ".join(c.get("refs", ["main"]))
        )
    return text + extra


def build(root: Path, home: Path | None = None) -> Eco:
    """The core, connectors alpha (regresses on the prerelease) and beta (ok), and their matrix."""
    root = Path(root)
    core = build_core(root)
    alpha = build_connector(root, "alpha", demo.READ_OLD, "guild-10")
    beta = build_connector(root, "beta", demo.NO_READ, "n/a")
    matrix = root / "matrix.yaml"
    matrix.write_text(
        matrix_text(
            [f"{{git: {str(core)!r}, ref: v1.0.0}}", f"{{git: {str(core)!r}, ref: {PRE}}}"],
            BASE_LABEL,
            [{"name": "alpha", "url": alpha}, {"name": "beta", "url": beta}],
        )
    )
    return Eco(root, core, {"alpha": alpha, "beta": beta}, matrix, Path(home or root / "home"))


def canary(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    return subprocess.run(
        [sys.executable, "-m", "canary", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
