"""One CANARY_HOME for the registry tests on the real elizaOS packages (needs the npm registry).

The default matrix, the bisection test and the elizaOS cells all install the same packages:
@elizaos/core 1.6.4 .. 1.7.2 with plugin-sql, and the connectors of the root matrix.yaml. Each
test used to fill an empty home of its own: packing the same tarballs, downloading the same
dependency trees into its own npm cache and building the same npm templates. Now they share:

- `elizaos_home`: the session's home. `elizaos_run` (the default matrix) runs in it directly.
- `elizaos_warm_home(name)`: a home of the test's own (runs, result cache, work directories),
  whose artifact, npm and template caches are the shared home's. Whichever test comes first
  fills them; the others install from them. The result cache is NOT shared: every cell of those
  runs executes, so no assertion reads an outcome another test's run produced.

CANARY_TEST_ELIZAOS_HOME=<dir> names the shared home (reused across sessions: the default run's
cells come from its result cache). The homes live under pytest's per-process temporary
directory, so pytest-xdist workers each have their own (nothing is shared across processes).
No test here asserts anything about a cold home: those keep an empty home of their own
(tests/test_compat_registry.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# What a run only reads or adds to under a lock: tarballs, npm's content-addressed cache, templates.
SHARED_CACHES = (("cache", "artifacts"), ("cache", "npm"), ("cache", "npm-templates"))


@pytest.fixture(scope="session")
def elizaos_home(tmp_path_factory) -> Path:
    """The shared CANARY_HOME for the elizaOS registry tests (see the module docstring)."""
    named = os.environ.get("CANARY_TEST_ELIZAOS_HOME")
    return Path(named).absolute() if named else tmp_path_factory.mktemp("elizaos-home")


@pytest.fixture(scope="session")
def elizaos_warm_home(elizaos_home, tmp_path_factory):
    """`make(name)`: a new CANARY_HOME whose artifact, npm and template caches are the shared home's."""

    def make(name: str) -> Path:
        home = tmp_path_factory.mktemp(name)
        for parts in SHARED_CACHES:
            shared = elizaos_home.joinpath(*parts)
            shared.mkdir(parents=True, exist_ok=True)
            link = home.joinpath(*parts)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(shared, target_is_directory=True)
        return home

    return make


@pytest.fixture(scope="session")
def elizaos_run(elizaos_home):
    """One `canary run` of the root matrix.yaml (the default elizaOS matrix) in the shared home."""
    from canary.matrix.store import Store
    from tests.conftest import ROOT, canary

    proc = canary("run", "--progress", "none", cwd=ROOT, env={"CANARY_HOME": str(elizaos_home)}, timeout=3600)
    runs = Store(elizaos_home / "runs").runs()
    assert runs, proc.stderr[-2000:]
    return {"proc": proc, "run": runs[-1]}
