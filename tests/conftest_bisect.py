"""The bisection ecosystem (tests/bisect_eco.py) and one real `canary run` of it with
`settings.bisect: true`, shared by the tests that only read what that run wrote."""

from __future__ import annotations

import pytest

from tests.conftest import canary


@pytest.fixture(scope="session")
def bisect_run(tmp_path_factory):
    from canary.matrix.store import Store
    from tests import bisect_eco

    eco = bisect_eco.build(tmp_path_factory.mktemp("bisect-eco"))
    proc = canary(
        "run",
        "-c",
        str(eco.matrix),
        "--progress",
        "plain",
        "--report",
        "none",
        cwd=eco.root,
        env=eco.env(),
        timeout=1800,
    )
    runs = Store(eco.home / "runs").runs()
    assert runs, proc.stderr
    return {"eco": eco, "proc": proc, "run": runs[-1]}
