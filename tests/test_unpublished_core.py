"""A core that no index has (built from git) must satisfy the connectors' declared dependency on it.

Real git repositories, real virtualenvs, a real `canary run`: `heldcore` exists only as a git
repository; the connector declares `heldcore>=1.0`. Before the core is forced, pip must resolve
that dependency from the built wheel (a find-links directory holding only the core under test),
and the post-install check still proves which core the connector loads.
"""

from __future__ import annotations

import json

import pytest

from canary.demo import _git, _pyproject, _write
from tests.conftest import canary

CORE = '''
"""heldcore {version}"""
__version__ = "{version}"
{body}
'''
GREET = "\n\ndef greet(name):\n    return 'hello ' + name\n"
CONNECTOR_TEST = """
import unittest
from heldplug import hello


class T(unittest.TestCase):
    def test_hello(self):
        self.assertEqual(hello(), "hello world")
"""


def build_repos(root):
    core_dir = root / "heldcore"
    repo = _git(core_dir)
    for version, body, tag in (("1.0.0", GREET, "v1.0.0"), ("1.1.0", "", "candidate")):
        _write(core_dir / "pyproject.toml", _pyproject("heldcore", version, []))
        _write(core_dir / "heldcore" / "__init__.py", CORE.format(version=version, body=body))
        repo.git.add(A=True)
        repo.index.commit(f"heldcore {version}")
        repo.create_tag(tag)
    plug_dir = root / "heldplug"
    plug = _git(plug_dir)
    _write(plug_dir / "pyproject.toml", _pyproject("heldplug", "0.1.0", ["heldcore>=1.0"]))
    _write(
        plug_dir / "heldplug" / "__init__.py",
        "from heldcore import greet\n\n\ndef hello():\n    return greet('world')\n",
    )
    _write(plug_dir / "tests" / "test_hello.py", CONNECTOR_TEST)
    plug.git.add(A=True)
    plug.index.commit("heldplug")
    return core_dir, plug_dir


@pytest.mark.slow
def test_connector_depending_on_a_git_only_core(tmp_path):
    core_dir, plug_dir = build_repos(tmp_path)
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(f"""\
version: 1
core:
  name: heldcore
  ecosystem: pypi
  versions:
    - {{git: {str(core_dir)!r}, ref: v1.0.0, label: base}}
    - {{git: {str(core_dir)!r}, ref: candidate, label: pr}}
  baseline: base
  index: {{no_index: true}}
settings: {{retries: 0}}
connectors:
  - name: heldplug
    package: heldplug
    git: {{url: {str(plug_dir)!r}, refs: [main]}}
    install: [["{{python}}", -m, pip, install, --no-build-isolation, "{{checkout}}"]]
    test: [["{{python}}", -m, unittest, discover, -s, tests, -v]]
    timeout: 120
""")
    home = tmp_path / "home"
    proc = canary(
        "run",
        "-c",
        str(matrix),
        "--progress",
        "plain",
        "--report",
        "none",
        cwd=tmp_path,
        env={"CANARY_HOME": str(home)},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = canary("verdicts", "--store", str(home / "runs"), "--json", cwd=tmp_path)
    by = {v["cell_id"]: v for v in json.loads(out.stdout)["verdicts"]}
    assert {k: v["verdict"] for k, v in by.items()} == {
        "heldplug@main--core-base": "ok",
        "heldplug@main--core-pr": "regressed",
    }, out.stdout
    run = sorted((home / "runs").iterdir())[-1]
    log = (run / "logs" / "heldplug@main--core-base.log").read_text()
    assert "verified: heldcore 1.0.0 installed from heldcore-1.0.0" in log
    cand = json.loads((run / "cells" / "heldplug@main--core-pr.json").read_text())
    assert cand["status"] == "fail" and cand["core"]["resolved"] == "1.1.0"


NPM_CHECK = (
    "import('@canary-fake/held-plugin').then(m => { const out = m.hello();"
    " console.log(out); if (out !== 'hello world') process.exit(1); })"
)


@pytest.mark.slow
def test_npm_connector_depending_on_a_never_published_core(fake_npm, tmp_path):
    """The npm twin: the core exists only in git (the fake registry has no such package), the
    connector declares it as a dependency; the packed core tarball + overrides satisfy it."""
    from tests.conftest_npm import write_package

    core = tmp_path / "held-core"
    repo = _git(core)
    write_package(core, "@canary-fake/held-core", "1.0.0", {}, "export const greet = (n) => 'hello ' + n;\n")
    repo.git.add(A=True)
    repo.index.commit("core 1.0.0")
    repo.create_tag("v1.0.0")
    write_package(core, "@canary-fake/held-core", "1.1.0", {}, "export const welcome = (n) => n;\n")
    repo.git.add(A=True)
    repo.index.commit("core 1.1.0: greet removed")
    repo.create_tag("candidate")
    plug = tmp_path / "held-plugin"
    prepo = _git(plug)
    write_package(
        plug,
        "@canary-fake/held-plugin",
        "0.1.0",
        {"@canary-fake/held-core": "^1.0.0"},
        "import { greet } from '@canary-fake/held-core';\nexport const hello = () => greet('world');\n",
    )
    prepo.git.add(A=True)
    prepo.index.commit("plugin")
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(f"""\
version: 1
core:
  name: "@canary-fake/held-core"
  ecosystem: npm
  versions:
    - {{git: {str(core)!r}, ref: v1.0.0, label: base}}
    - {{git: {str(core)!r}, ref: candidate, label: pr}}
  baseline: base
settings: {{retries: 0}}
connectors:
  - name: held
    package: "@canary-fake/held-plugin"
    git: {{url: {str(plug)!r}, refs: [main]}}
    test: [node, -e, {json.dumps(NPM_CHECK)}]
""")
    home = tmp_path / "home"
    proc = canary(
        "run",
        "-c",
        str(matrix),
        "--progress",
        "plain",
        "--report",
        "none",
        cwd=tmp_path,
        env={"CANARY_HOME": str(home), **fake_npm.env()},
    )
    out = canary("verdicts", "--store", str(home / "runs"), "--json", cwd=tmp_path)
    by = {v["cell_id"]: v["verdict"] for v in json.loads(out.stdout)["verdicts"]}
    assert by == {"held@main--core-base": "ok", "held@main--core-pr": "regressed"}, proc.stdout + proc.stderr
    assert proc.returncode == 1
