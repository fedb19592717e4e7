"""Bisection on the default elizaOS matrix (needs the npm registry): `@elizaos/core` publishes
1.6.5-alpha.1 between 1.6.4 and 1.6.5, and plugin-discord 1.3.3 regresses on 1.6.5. The search
must test the prerelease and name the first bad version; which one is bad is read from the probe
cell itself, never assumed.

Its own run of two cells and `canary bisect` (the command's own search, not the default run's),
in a home of its own that installs from the artifact, npm and template caches the elizaOS
registry tests share (tests/conftest_elizaos.py); every cell and probe executes."""

from __future__ import annotations

import json

import pytest

from canary.matrix.store import Store
from tests.conftest import ROOT, canary

pytestmark = [pytest.mark.registry, pytest.mark.slow]

GOOD, BAD = "plugin-discord@1.3.3--core-1.6.4", "plugin-discord@1.3.3--core-1.6.5"


@pytest.fixture(scope="module")
def discord_bisect(elizaos_warm_home):
    home = elizaos_warm_home("bisect-registry-home")
    env = {"CANARY_HOME": str(home)}
    ran = canary(
        "run",
        "-c",
        str(ROOT / "matrix.yaml"),
        "--cells",
        GOOD,
        BAD,
        "--progress",
        "plain",
        "--report",
        "none",
        env=env,
        timeout=1800,
    )
    runs = Store(home / "runs").runs()
    assert runs, ran.stderr
    assert ran.returncode == 1, ran.stderr[-2000:]
    proc = canary("bisect", BAD, "--run", str(runs[-1].path), "--progress", "plain", env=env, timeout=1800)
    return {"proc": proc, "run": runs[-1], "env": env}


def test_the_prerelease_between_is_probed_and_the_first_bad_named_from_its_result(discord_bisect):
    run = discord_bisect["run"]
    assert discord_bisect["proc"].returncode == 0, discord_bisect["proc"].stderr[-2000:]
    doc = json.loads((run.path / "bisect.json").read_text())
    (s,) = [s for s in doc["searches"] if (s["connector"], s["ref"]) == ("plugin-discord", "1.3.3")]
    assert s["ecosystem"] == "npm"
    assert "1.6.5-alpha.1" in s["between"]
    assert not {"1.6.4", "1.6.5"} & set(s["between"])
    assert not [v for v in s["between"] if v.startswith("1.6.4-")]  # 1.6.4's prereleases come before 1.6.4
    probe = next(p for p in s["probes"] if p["label"] == "1.6.5-alpha.1")
    result = json.loads((run.path / "cells" / f"{probe['cell_id']}.json").read_text())
    assert result["role"] == "bisect" and result["core"]["label"] == "1.6.5-alpha.1"
    assert len(s["probes"]) <= s["max_probes"]
    if probe["verdict"] == "bad":
        assert result["status"] == "fail"
        assert (s["last_good"], s["first_bad"]) == ("1.6.4", "1.6.5-alpha.1")
    else:
        assert probe["verdict"] == "good" and result["status"] == "pass"
        assert s["first_bad"] == "1.6.5"
    assert s["conclusive"] is True
    assert f"first bad for plugin-discord@1.3.3: {s['first_bad']}" in discord_bisect["proc"].stdout
    diff = run.path / "compat" / f"{s['last_good']}..{s['first_bad']}.json"
    assert json.loads(diff.read_text())["schema"] == "canary/compat-diff/v1"


def test_cli_bisect_of_the_same_cell_reads_the_answer_back(discord_bisect):
    run = discord_bisect["run"]
    before = sorted(p.name for p in (run.path / "cells").iterdir())
    proc = canary("bisect", BAD, "--run", str(run.path), "--json", env=discord_bisect["env"], timeout=600)
    assert proc.returncode == 0, proc.stderr
    (s,) = json.loads(proc.stdout)["searches"]
    assert "1.6.5-alpha.1" in s["between"] and s["conclusive"]
    assert sorted(p.name for p in (run.path / "cells").iterdir()) == before
