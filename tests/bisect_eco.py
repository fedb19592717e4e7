"""An offline ecosystem for bisection (issue 15): a Python core in git with ten first-parent
commits between its tags v1.0.0 and v2.0.0, and three connectors that break in different commits.

Commit index i: v1.0.0 is -1, the commits in between are 0..9, v2.0.0 is 10.

  alpha  reads room.server_id; the rename to message_server_id lands in commit RENAME (7)
  beta   calls democore.health(): ok before FLAKY, flaky in it (fails on the first call in a
         directory, passes on the retry), ok after it, failing from BETA_BREAK (6) on
  gamma  asserts api_level() == 1 (2 from GAMMA_BREAK, 2, on); in commit UNAVAILABLE (4) its test
         exits 5, which the matrix declares an infrastructure exit code (an `error` probe)

Cores are built from git by canary itself; the connectors install with --no-deps. Everything is
real: git repositories, wheels, virtualenvs, `canary run` and `canary bisect` subprocesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from canary import demo
from tests.gate_eco import commit_all, git, write

BETWEEN = 10
RENAME, BETA_BREAK, FLAKY, GAMMA_BREAK, UNAVAILABLE = 7, 6, 4, 2, 4
BASE_LABEL, CAND_LABEL = "git:v1.0.0", "git:v2.0.0"


def core_source(i: int) -> str:
    attr = "message_server_id" if i >= RENAME else "server_id"
    if i == FLAKY:
        health = (
            '    marker = os.path.join(os.getcwd(), ".democore-health")\n'
            "    if not os.path.exists(marker):\n"
            '        open(marker, "w").close()\n'
            '        raise RuntimeError("health check timed out (first call)")\n'
            '    return "ok"\n'
        )
    elif i >= BETA_BREAK:
        health = '    raise RuntimeError("health endpoint removed")\n'
    else:
        health = '    return "ok"\n'
    return (
        f'"""democore, bisection history step {i}"""\nimport os\n\nSTEP = {i}\n\n\n'
        f"class Room:\n    def __init__(self, name, {attr}):\n        self.name = name\n"
        f"        self.{attr} = {attr}\n\n\n"
        f"def make_room(name, {attr}):\n    return Room(name, {attr})\n\n\n"
        f"def api_level():\n    return {2 if i >= GAMMA_BREAK else 1}\n\n\n"
        f"def health():\n{health}"
    )


def build_core(root: Path) -> tuple[Path, list[str]]:
    """The core repository and the commits between the tags, oldest first."""
    repo = root / "democore"
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo / ".gitignore", "build/\n*.egg-info/\n__pycache__/\n")
    commits = []
    for i in range(-1, BETWEEN + 1):
        version = "1.0.0" if i < 0 else "2.0.0" if i == BETWEEN else f"1.0.1.dev{i}"
        write(repo / "pyproject.toml", demo._pyproject("democore", version, []))
        write(repo / "democore" / "__init__.py", core_source(i))
        sha = commit_all(repo, f"democore step {i}")
        if i < 0:
            git(repo, "tag", "-a", "v1.0.0", "-m", "democore 1.0.0")
        elif i == BETWEEN:
            git(repo, "tag", "-a", "v2.0.0", "-m", "democore 2.0.0")
        else:
            commits.append(sha)
    return repo, commits


BETA_TEST = """import unittest
import democore


class Health(unittest.TestCase):
    def test_health(self):
        self.assertEqual(democore.health(), "ok")


if __name__ == "__main__":
    unittest.main()
"""

GAMMA_CHECK = """import sys
import democore

if democore.STEP == 4:
    print("service unavailable: cannot start the test harness")
    sys.exit(5)
level = democore.api_level()
if level != 1:
    print(f"AssertionError: expected api level 1, got {level}")
    sys.exit(1)
print("ok")
"""


def build_connector(root: Path, name: str, files: dict[str, str]) -> Path:
    repo = root / "connectors" / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    write(repo / "pyproject.toml", demo._pyproject(f"bisect-{name}", "0.1.0", ["democore>=1"]))
    write(repo / f"{name}_connector" / "__init__.py", files.pop("__init__", ""))
    for rel, text in files.items():
        write(repo / rel, text)
    commit_all(repo, f"{name} main")
    return repo


CONNECTOR = """  - name: {name}
    package: bisect-{name}
    git: {{url: {url!r}, refs: [main]}}
    install: [["{{python}}", -m, pip, install, --quiet, --no-deps, --no-build-isolation, "{{checkout}}"]]
    test: [{test}]
    timeout: 120
"""
UNITTEST = '["{python}", -m, unittest, discover, -s, tests, -v]'


@dataclass
class BisectEco:
    root: Path
    core: Path
    commits: list[str]
    matrix: Path
    home: Path

    def env(self) -> dict:
        return {"CANARY_HOME": str(self.home)}

    def label(self, i: int) -> str:
        return f"git:{self.commits[i][:12]}"


def build(root: Path, settings: str = "{retries: 1, bisect: true}", compat: bool = True) -> BisectEco:
    root = Path(root)
    core, commits = build_core(root)
    alpha = build_connector(
        root,
        "alpha",
        {
            "__init__": demo.READ_OLD,
            "tests/test_server.py": demo.TEST_SERVER.format(module="alpha_connector", expected="guild-10"),
        },
    )
    beta = build_connector(root, "beta", {"tests/test_health.py": BETA_TEST})
    gamma = build_connector(root, "gamma", {"check.py": GAMMA_CHECK})
    text = (
        "version: 1\ncore:\n  name: democore\n  ecosystem: pypi\n"
        f"  versions: [{{git: {str(core)!r}, ref: v1.0.0}}, {{git: {str(core)!r}, ref: v2.0.0}}]\n"
        f"  baseline: {BASE_LABEL!r}\n  index: {{no_index: true}}\n"
        f"settings: {settings}\n" + ("compat: {diff: true, language: py}\n" if compat else "") + "connectors:\n"
    )
    text += CONNECTOR.format(name="alpha", url=str(alpha), test=UNITTEST)
    text += CONNECTOR.format(name="beta", url=str(beta), test=UNITTEST)
    text += (
        CONNECTOR.format(name="gamma", url=str(gamma), test='["{python}", check.py]') + "    infra_exit_codes: [5]\n"
    )
    matrix = root / "matrix.yaml"
    matrix.write_text(text)
    return BisectEco(root, core, commits, matrix, root / "home")
