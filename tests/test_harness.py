"""The matrix harness end to end on the demo ecosystem: real git repos, real virtualenvs, real pip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema

from canary.demo import DESIGNED
from tests.conftest import ROOT, canary


def test_plan_lists_twelve_cells_with_nox_lines(demo):
    proc = canary("plan", "-c", str(demo.matrix), "--json", cwd=demo.root)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    cells = plan["cells"]
    assert len(cells) == 12
    ids = {c["id"] for c in cells}
    assert "alpha@main--core-2.0.0" in ids
    one = next(c for c in cells if c["id"] == "gamma@v1--core-2.0.0")
    assert one["tier"] == "optional" and one["role"] == "candidate" and one["core"]["version"] == "2.0.0"
    assert set(one["tags"]) >= {"optional", "gamma", "core-2.0.0", "candidate"}
    assert one["nox"].endswith('-s "gamma@v1--core-2.0.0"')
    schema = json.loads((ROOT / "matrix" / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(plan, schema)


def test_run_writes_twelve_results_with_the_designed_statuses(demo_run):
    run = demo_run["run"]
    assert demo_run["proc"].returncode == 1, demo_run["proc"].stderr  # alpha@main regressed and is required
    results = run.read_cells()
    assert len(results) == 12
    for (connector, ref), (base, cand) in DESIGNED.items():
        for core, expected in (("1.0.0", base), ("2.0.0", cand)):
            r = results[f"{connector}@{ref}--core-{core}"]
            assert r.status == expected, (r.cell_id, r.reason)
            # Truth of a cell: the core the environment loads is the one in the label.
            assert r.core.resolved == core == r.core.label
            assert r.core.digest.startswith("sha256:")
            assert len(r.connector.commit) == 40
            assert r.attempts[0].commands and all(c.argv for c in r.attempts[0].commands)
            assert (run.path / r.log).is_file()


def test_results_and_run_match_their_published_schemas(demo_run):
    run = demo_run["run"]
    cell_schema = json.loads((ROOT / "matrix" / "schemas" / "cell-result.schema.json").read_text())
    run_schema = json.loads((ROOT / "matrix" / "schemas" / "run.schema.json").read_text())
    jsonschema.validate(json.loads(run.run_file.read_text()), run_schema)
    for path in run.cells_dir.glob("*.json"):
        jsonschema.validate(json.loads(path.read_text()), cell_schema)


def test_regressed_cell_is_retried_and_explained(demo_run):
    r = demo_run["run"].read_cell("alpha@main--core-2.0.0")
    assert len(r.attempts) == 2 and all(a.status == "fail" for a in r.attempts)
    assert "has no attribute 'server_id'" in r.reason
    log = (demo_run["run"].path / r.log).read_text()
    assert "[force-core]" in log or "verified: democore 2.0.0" in log


def test_no_secret_reaches_a_cell(demo, tmp_path):
    """A connector that prints its whole environment must not see the caller's token."""
    matrix = demo.matrix.read_text().replace(
        '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]',
        '    test: [["{python}", -c, "import os; print(sorted(os.environ.items()))"]]',
        1,
    )
    path = tmp_path / "m.yaml"
    path.write_text(matrix)
    proc = canary(
        "run",
        "-c",
        str(path),
        "--cells",
        "alpha@main--core-1.0.0",
        "--report",
        "none",
        env={"CANARY_HOME": str(tmp_path / "h"), "GITHUB_TOKEN": "ghp_leak_me_not", "NPM_TOKEN": "npm_leak_me_not"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    logs = "".join(p.read_text() for p in (tmp_path / "h" / "runs").glob("*/logs/*.log"))
    assert "PATH" in logs and "GITHUB_TOKEN" not in logs and "ghp_leak_me_not" not in logs and "NPM_TOKEN" not in logs


def test_nox_line_reproduces_a_failing_cell_alone(demo, demo_run):
    r = demo_run["run"].read_cell("gamma@v1--core-2.0.0")
    assert r.status == "fail"
    env = {**os.environ, "CANARY_HOME": str(demo_run["home"])}
    nox = shutil.which("nox", path=str(Path(os.sys.executable).parent)) or "nox"
    line = r.nox.replace("nox -f", f"{nox} -f", 1)
    proc = subprocess.run(line, shell=True, cwd=demo.root, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "[1/1] fail     gamma@v1--core-2.0.0" in out  # this one cell ran, and failed
    assert "AttributeError: 'Room' object has no attribute 'server_id'" in out
    assert "[1/1]" in out and "[2/" not in out
    assert "cells: 1 fail" in out


def test_missing_branch_is_an_error_naming_the_line(demo, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(demo.matrix.read_text().replace("refs: [main, next]", "refs: [main, nxet]"))
    proc = canary("plan", "-c", str(path), env={"CANARY_HOME": str(tmp_path / "h")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "ref 'nxet' does not exist" in proc.stderr and "did you mean 'next'?" in proc.stderr
    assert "key 'connectors[0].git.refs[1]'" in proc.stderr and f"{path}:" in proc.stderr


def test_range_that_matches_no_release_is_an_error(demo, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(demo.matrix.read_text().replace('versions: ["1.0.0", "2.0.0"]', 'versions: ["1.0.0", ">=3"]'))
    proc = canary("plan", "-c", str(path), "--no-check-refs")
    assert proc.returncode == 2, proc.stderr
    assert "range '>=3' matches no published release of democore" in proc.stderr
    assert "newest published: 1.0.0, 2.0.0" in proc.stderr and ":6:" in proc.stderr


def test_range_resolves_against_the_index(demo, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(demo.matrix.read_text().replace('versions: ["1.0.0", "2.0.0"]', 'versions: ["1.0.0", ">=1.5"]'))
    proc = canary("plan", "-c", str(path), "--json", "--no-check-refs")
    assert proc.returncode == 0, proc.stderr
    assert sorted({c["core"]["label"] for c in json.loads(proc.stdout)["cells"]}) == ["1.0.0", "2.0.0"]


def test_git_cores_skip_and_timeout(demo, tmp_path):
    """Core versions from git refs record their commit; skip and a hung test give their statuses."""
    text = f"""
core:
  name: democore
  ecosystem: pypi
  versions:
    - {{git: {str(demo.core_repo)!r}, ref: v1.0.0}}
    - {{git: {str(demo.core_repo)!r}, ref: v2.0.0}}
  index: {{find_links: [{str(demo.wheels)!r}], no_index: true}}
settings: {{retries: 0}}
compat: {{diff: true}}
connectors:
  - name: alpha
    package: demo-alpha
    git: {{url: {str(demo.connectors["alpha"])!r}, refs: [main]}}
    install: [["{{python}}", -m, pip, install, --quiet, --no-build-isolation, "{{checkout}}"]]
    test: [["{{python}}", -m, unittest, discover, -s, tests]]
  - name: slow
    package: demo-beta
    git: {{url: {str(demo.connectors["beta"])!r}, refs: [main]}}
    install: [["{{python}}", -m, pip, install, --quiet, --no-build-isolation, "{{checkout}}"]]
    test: [["{{python}}", -c, "import time; print('working', flush=True); time.sleep(30)"]]
    timeout: 3
    tier: optional
"""
    path = tmp_path / "git.yaml"
    path.write_text(text)
    home = tmp_path / "h"
    proc = canary("run", "-c", str(path), "--report", "html", "-j", "2", env={"CANARY_HOME": str(home)})
    from canary.matrix.store import Store

    results = Store(home / "runs").latest().read_cells()
    assert set(results) == {
        "alpha@main--core-git_v1.0.0",
        "alpha@main--core-git_v2.0.0",
        "slow@main--core-git_v1.0.0",
        "slow@main--core-git_v2.0.0",
    }, proc.stderr
    v1, v2 = results["alpha@main--core-git_v1.0.0"], results["alpha@main--core-git_v2.0.0"]
    assert (v1.status, v2.status) == ("pass", "fail")
    assert v1.core.resolved == "1.0.0" and v2.core.resolved == "2.0.0"
    assert v1.core.commit != v2.core.commit and len(v1.core.commit) == 40
    slow = results["slow@main--core-git_v1.0.0"]
    assert slow.status == "timeout" and "timed out after 3s" in slow.reason
    assert proc.returncode == 1  # alpha regressed on v2.0.0 (required)
    # The breaking change that explains the regression is found and reaches the report.
    run = Store(home / "runs").latest()
    diff = json.loads((run.path / "compat-diff.json").read_text())
    renamed = {c["symbol"]: c["renamed_to"] for c in diff["changes"]}
    assert renamed.get("democore.Room.server_id") == "message_server_id", renamed
    assert "breaking changes:" in proc.stdout
    html = (run.path / "report" / "index.html").read_text()
    assert "democore.Room.server_id" in html


def test_skip_condition_gives_skipped(demo, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(
        demo.matrix.read_text().replace(
            "    tier: optional\n",
            '    tier: optional\n    skip: [{core: ">=2", reason: "gamma is not ported to 2.x"}]\n',
            1,
        )
    )
    home = tmp_path / "h"
    canary(
        "run", "-c", str(path), "--cells", "gamma@main--core-2.0.0", "--report", "none", env={"CANARY_HOME": str(home)}
    )
    from canary.matrix.store import Store

    r = Store(home / "runs").latest().read_cell("gamma@main--core-2.0.0")
    assert r.status == "skipped" and r.reason == "gamma is not ported to 2.x"


def test_missing_dependency_is_an_infrastructure_error_naming_it(demo, tmp_path):
    """A path connector that needs a package the index does not have: `error`, never `fail`; exit 3."""
    conn = tmp_path / "needy"
    (conn / "needy").mkdir(parents=True)
    (conn / "needy" / "__init__.py").write_text("")
    (conn / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "needy"\nversion = "0.1.0"\ndependencies = ["democore>=1", "no-such-dependency-xyz>=1"]\n'
    )
    (conn / "tests").mkdir()
    text = f"""
core:
  name: democore
  ecosystem: pypi
  versions: ["1.0.0", "2.0.0"]
  index: {{find_links: [{str(demo.wheels)!r}], no_index: true}}
connectors:
  - name: needy
    path: {str(conn)!r}
    install: [["{{python}}", -m, pip, install, --no-build-isolation, "{{checkout}}"]]
    test: [["{{python}}", -c, "import needy"]]
"""
    path = tmp_path / "m.yaml"
    path.write_text(text)
    home = tmp_path / "h"
    proc = canary("run", "-c", str(path), "--report", "none", env={"CANARY_HOME": str(home)})
    from canary.matrix.store import Store

    results = Store(home / "runs").latest().read_cells()
    assert {r.status for r in results.values()} == {"error"}
    for r in results.values():
        assert "no-such-dependency-xyz" in r.reason and r.reason.startswith("install:"), r.reason
    assert proc.returncode == 3, proc.stdout  # inconclusive: errors in required cells
    assert "error (required)" in proc.stdout
