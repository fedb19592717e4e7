"""A demo ecosystem built on the fly: a tiny Python core and three connectors in git.

Used by the tests and the benchmarks (and by anyone who wants to see canary
work offline): `canary demo DIR` writes it and prints the matrix path.

The core `democore` 1.0.0 has `Room.server_id`; 2.0.0 renames it to
`Room.message_server_id` (the shape of elizaOS's serverId break). Designed
outcomes per connector ref (baseline 1.0.0 / candidate 2.0.0):

  alpha@main   pass / fail   regressed (reads room.server_id)
  alpha@next   pass / pass   ok        (reads either name)
  beta@main    pass / pass   ok        (does not touch rooms)
  beta@broken  fail / fail   broken    (a test that always fails)
  gamma@main   fail / pass   fixed     (already on message_server_id)
  gamma@v1     pass / fail   regressed (optional tier)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import git

CORE_V1 = '''
"""democore 1.0.0"""
__version__ = "1.0.0"


class Room:
    def __init__(self, name, server_id):
        self.name = name
        self.server_id = server_id


def make_room(name, server_id):
    return Room(name, server_id)
'''

CORE_V2 = '''
"""democore 2.0.0: server_id renamed to message_server_id."""
__version__ = "2.0.0"


class Room:
    def __init__(self, name, message_server_id):
        self.name = name
        self.message_server_id = message_server_id


def make_room(name, message_server_id):
    return Room(name, message_server_id)
'''

READ_OLD = "def server_of(room):\n    return room.server_id\n"
READ_EITHER = (
    "def server_of(room):\n    return getattr(room, 'message_server_id', None) or getattr(room, 'server_id', None)\n"
)
READ_NEW = "def server_of(room):\n    return room.message_server_id\n"
NO_READ = "def server_of(room):\n    return 'n/a'\n"

TEST_SERVER = """
import unittest
import democore
from {module} import server_of


class ServerTest(unittest.TestCase):
    def test_server_of_room(self):
        room = democore.make_room("general", "guild-10")
        self.assertEqual(server_of(room), {expected!r}, "No server ID found 10")


if __name__ == "__main__":
    unittest.main()
"""

ALWAYS_FAILS = """
import unittest


class Broken(unittest.TestCase):
    def test_always_fails(self):
        self.fail("this branch is broken on every core")
"""

# connector -> ref -> (module body, expected, extra failing test?)
CONNECTORS = {
    "alpha": {"main": (READ_OLD, "guild-10", False), "next": (READ_EITHER, "guild-10", False)},
    "beta": {"main": (NO_READ, "n/a", False), "broken": (NO_READ, "n/a", True)},
    "gamma": {"main": (READ_NEW, "guild-10", False), "v1": (READ_OLD, "guild-10", False)},
}

DESIGNED = {
    ("alpha", "main"): ("pass", "fail"),
    ("alpha", "next"): ("pass", "pass"),
    ("beta", "main"): ("pass", "pass"),
    ("beta", "broken"): ("fail", "fail"),
    ("gamma", "main"): ("fail", "pass"),
    ("gamma", "v1"): ("pass", "fail"),
}


@dataclass
class Demo:
    root: Path
    matrix: Path
    wheels: Path
    core_repo: Path
    connectors: dict


def _git(repo: Path) -> git.Repo:
    r = git.Repo.init(repo, initial_branch="main")
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Demo")
        cw.set_value("user", "email", "demo@example.invalid")
        cw.set_value("commit", "gpgsign", "false")
    return r


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def _pyproject(name: str, version: str, deps: list[str]) -> str:
    dep_list = ", ".join(f'"{d}"' for d in deps)
    return (
        f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{dep_list}]\n'
    )


def builder_python(root: Path) -> Path:
    """A virtualenv seeded with setuptools (offline), to build wheels without an index."""
    venv = root / ".builder"
    if not (venv / "bin" / "python").exists():
        subprocess.run(
            [sys.executable, "-m", "virtualenv", "--quiet", "--no-periodic-update", str(venv)],
            check=True,
            capture_output=True,
        )
    return venv / "bin" / "python"


def build_core(root: Path) -> tuple[Path, Path]:
    """The core in git (tags v1.0.0, v2.0.0) and both versions as wheels in a find-links dir."""
    repo_dir, wheels = root / "democore", root / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    repo = _git(repo_dir)
    for version, body in (("1.0.0", CORE_V1), ("2.0.0", CORE_V2)):
        _write(repo_dir / "pyproject.toml", _pyproject("democore", version, []))
        _write(repo_dir / "democore" / "__init__.py", body)
        repo.git.add(A=True)
        repo.index.commit(f"democore {version}")
        repo.create_tag(f"v{version}", message=f"democore {version}")
        subprocess.run(
            [
                str(builder_python(root)),
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--disable-pip-version-check",
                "--wheel-dir",
                str(wheels),
                str(repo_dir),
            ],
            check=True,
            capture_output=True,
        )
    return repo_dir, wheels


def build_connector(root: Path, name: str, refs: dict) -> Path:
    repo_dir = root / "connectors" / name
    repo = _git(repo_dir)
    module = f"{name}_connector"
    first = True
    for ref, (body, expected, broken) in refs.items():
        if first:
            first = False
        else:
            repo.git.checkout("-b", ref, "main")
        _write(repo_dir / "pyproject.toml", _pyproject(f"demo-{name}", "0.1.0", ["democore>=1"]))
        _write(repo_dir / module / "__init__.py", body)
        _write(repo_dir / "tests" / "test_server.py", TEST_SERVER.format(module=module, expected=expected))
        if broken:
            _write(repo_dir / "tests" / "test_broken.py", ALWAYS_FAILS)
        repo.git.add(A=True)
        repo.index.commit(f"{name} {ref}")
    repo.git.checkout("main")
    return repo_dir


def matrix_yaml(root: Path, wheels: Path, connectors: dict) -> str:
    tiers = {"alpha": "required", "beta": "required", "gamma": "optional"}
    lines = [
        "# yaml-language-server: $schema=matrix/schemas/matrix.schema.json",
        "version: 1",
        "core:",
        "  name: democore",
        "  ecosystem: pypi",
        '  versions: ["1.0.0", "2.0.0"]',
        '  baseline: "1.0.0"',
        "  index:",
        f"    find_links: [{str(wheels)!r}]",
        "    no_index: true",
        "settings:",
        "  retries: 1",
        "connectors:",
    ]
    for name, refs in CONNECTORS.items():
        lines += [
            f"  - name: {name}",
            f"    package: demo-{name}",
            f"    tier: {tiers[name]}",
            "    git:",
            f"      url: {str(connectors[name])!r}",
            f"      refs: [{', '.join(refs)}]",
            '    install: [["{python}", -m, pip, install, --quiet, --no-build-isolation, "{checkout}"]]',
            '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]',
            "    timeout: 120",
        ]
    return "\n".join(lines) + "\n"


def build(root: Path) -> Demo:
    root = Path(root).absolute()
    root.mkdir(parents=True, exist_ok=True)
    core_repo, wheels = build_core(root)
    connectors = {name: build_connector(root, name, refs) for name, refs in CONNECTORS.items()}
    matrix = root / "matrix.yaml"
    matrix.write_text(matrix_yaml(root, wheels, connectors))
    return Demo(root, matrix, wheels, core_repo, connectors)


if __name__ == "__main__":  # pragma: no cover
    demo = build(Path(sys.argv[1] if len(sys.argv) > 1 else ".canary/demo"))
    print(demo.matrix)
