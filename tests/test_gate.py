"""The gate cannot be fooled (issue 11): real git repositories, real `canary run`, `verdicts`,
`report` and `promote` through the command line, one scenario per cause.

The ecosystem (tests/gate_eco.py): democore v1.0.0 (baseline) and the PEP 440 prerelease
v2.1.0b1 (candidate) built from git; alpha regresses on the candidate, beta is ok, gamma
declares `democore<2` and fails on the candidate (regressed outside its declared range).
The result cache is shared by every test (one CANARY_HOME), each test writes its runs to its
own store, so a matrix is really run once and later runs of unchanged cells are cache hits.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from canary import demo
from canary.matrix.store import RunDir, Store
from tests import gate_eco
from tests.conftest_reports import first_sentence, parse_html
from tests.gate_eco import BASE_LABEL, CAND_LABEL, PRE, canary, git

pytestmark = pytest.mark.slow

ALPHA_CAND = f"alpha@main--core-{CAND_LABEL.replace(':', '_')}"
GAMMA_CAND = f"gamma@main--core-{CAND_LABEL.replace(':', '_')}"
BETA_BASE = f"beta@main--core-{BASE_LABEL.replace(':', '_')}"


class Gate:
    def __init__(self, root: Path):
        self.eco = gate_eco.build(root)
        self.root, self.home = root, root / "home"
        self.gamma = gate_eco.build_connector(root, "gamma", demo.READ_OLD, "guild-10", declared="democore<2")
        self.core_versions = [
            f"{{git: {str(self.eco.core)!r}, ref: v1.0.0}}",
            f"{{git: {str(self.eco.core)!r}, ref: {PRE}}}",
        ]
        self.full = self.write_matrix("matrix.yaml", ["alpha", "beta", "gamma"])
        self.green = self.write_matrix("green.yaml", ["beta", "gamma"])

    def connectors(self, names):
        urls = {**self.eco.connectors, "gamma": self.gamma}
        return [{"name": n, "url": urls[n]} for n in names]

    def write_matrix(
        self, name: str, connectors, extra: str = "", core_versions=None, directory: Path | None = None
    ) -> Path:
        path = (directory or self.root) / name
        path.write_text(
            gate_eco.matrix_text(core_versions or self.core_versions, BASE_LABEL, self.connectors(connectors), extra)
        )
        return path

    def env(self) -> dict:
        return {"CANARY_HOME": str(self.home)}

    def run(
        self, matrix: Path | str, store: Path, *extra: str, cwd: Path | None = None
    ) -> tuple[subprocess.CompletedProcess, RunDir]:
        proc = canary(
            "run",
            "-c",
            str(matrix),
            "--store",
            str(store),
            "--progress",
            "none",
            "--report",
            "none",
            *extra,
            cwd=cwd or self.root,
            env=self.env(),
        )
        runs = Store(store).runs()
        assert runs, proc.stdout + proc.stderr
        return proc, runs[-1]

    def promote(self, store: Path, *extra: str, cwd: Path | None = None) -> tuple[int, dict]:
        proc = canary(
            "promote",
            PRE,
            "--repo",
            str(self.eco.core),
            "--store",
            str(store),
            "--json",
            *extra,
            cwd=cwd or self.root,
            env=self.env(),
        )
        assert proc.stdout, proc.stderr
        return proc.returncode, json.loads(proc.stdout)


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    g = Gate(tmp_path_factory.mktemp("gate"))
    g.full_proc, g.full_run = g.run(g.full, g.root / "store-full")
    g.green_proc, g.green_run = g.run(g.green, g.root / "store-green")
    return g


def check(out: dict, name: str) -> dict:
    return next(c for c in out["checks"] if c["name"] == name)


def verdicts_json(run: RunDir) -> dict:
    proc = canary("verdicts", str(run.path), "--json")
    return json.loads(proc.stdout)


def copy_run(run: RunDir, store: Path) -> RunDir:
    store.mkdir(parents=True, exist_ok=True)
    dest = store / run.run_id
    shutil.copytree(run.path, dest)
    return RunDir(dest)


# ------------------------------------------------------------------ cause 1: prerelease cores


def test_prerelease_candidate_is_judged_against_the_declared_range(gate):
    """A connector declaring democore>=1 is in range on 2.1.0b1: its failure is a regression."""
    assert gate.full_proc.returncode == 1, gate.full_proc.stdout + gate.full_proc.stderr
    by_id = {v["cell_id"]: v for v in verdicts_json(gate.full_run)["verdicts"]}
    assert by_id[ALPHA_CAND]["verdict"] == "regressed" and by_id[ALPHA_CAND]["blocking"]
    code, out = gate.promote(gate.root / "store-full", "--run", gate.full_run.run_id)
    assert code == 1 and out["decision"] == "refused"
    assert ALPHA_CAND in check(out, "verdicts")["cells"]
    # issue 15: the refusal names the cause of each refused cell (its group, probable cause or "no
    # matching change", and its fix)
    detail = next(d for d in check(out, "verdicts")["details"] if d.startswith(ALPHA_CAND))
    assert "; group 1 (" in detail and ("probable cause: [" in detail or "no matching change" in detail), detail


def test_unsupported_cell_that_regressed_is_shown_everywhere(gate, tmp_path):
    """gamma declares democore<2: outside the range on 2.1.0b1, it never blocks, but its failure
    after a passing baseline reads "regressed (outside declared range)" in every output."""
    label = "regressed (outside declared range)"
    run = gate.green_run
    assert gate.green_proc.returncode == 0
    assert f"warning: {GAMMA_CAND}: {label}" in gate.green_proc.stdout
    v = {x["cell_id"]: x for x in verdicts_json(run)["verdicts"]}[GAMMA_CAND]
    assert (v["verdict"], v["label"], v["blocking"]) == ("unsupported", label, False)
    table = canary("verdicts", str(run.path)).stdout
    assert re.search(rf"^{re.escape(label)}\s+{re.escape(GAMMA_CAND)}", table, re.M), table
    out = tmp_path / "report"
    assert canary("report", str(run.path), "--out", str(out)).returncode == 0
    report = json.loads((out / "report.json").read_text())
    assert next(c for c in report["cells"] if c["id"] == GAMMA_CAND)["label"] == label
    assert any(GAMMA_CAND in w for w in report["warnings"])
    assert label in (out / "report.md").read_text()
    assert label in (out / "index.html").read_text()
    junit = ET.parse(out / "junit.xml").getroot()
    case = next(
        c
        for c in junit.iter("testcase")  # a testcase holds no properties (Jenkins schema)
        if c.findtext("system-out", "").startswith(f"cell {GAMMA_CAND}:")
    )
    assert label in case.find("skipped").get("message")
    assert "regressed" in (out / "badges" / "gamma.svg").read_text()
    code, promo = gate.promote(gate.root / "store-green", "--run", run.run_id)
    assert code == 0, promo
    verdicts = check(promo, "verdicts")
    assert GAMMA_CAND in verdicts["cells"] and any(label in d for d in verdicts["details"])


# ------------------------------------------------------------------ cause 2: partial runs


def test_partial_run_never_reads_as_promotable(gate, tmp_path):
    store = tmp_path / "store"
    complete = copy_run(gate.green_run, store)
    proc, partial = gate.run(gate.green, store, "--cells", "beta*")
    record = json.loads((partial.path / "run.json").read_text())
    assert (record["partial"], record["selection"], record["planned_total"]) == (True, ["beta*"], 4)
    assert proc.stdout.startswith("Partial run"), proc.stdout
    # verdicts and the report of the latest run say so in their first line, never "can be promoted"
    table = canary("verdicts", "--store", str(store), env=gate.env()).stdout
    assert table.splitlines()[0].startswith("Partial run") and "can be promoted" not in table
    out = tmp_path / "report"
    canary("report", str(partial.path), "--out", str(out))
    h1 = first_sentence(parse_html((out / "index.html").read_text()).find("h1").text())
    assert h1.startswith("Partial run") and "can be promoted:" not in h1
    assert (out / "report.md").read_text().splitlines()[0].startswith("### ◐ canary: Partial run")
    # promote refuses the partial run, and by default takes the latest complete run of the matrix
    code, out_partial = gate.promote(store, "--run", partial.run_id)
    assert code == 3 and check(out_partial, "coverage")["outcome"] == "inconclusive"
    code, out_default = gate.promote(store)
    assert out_default["run_id"] == complete.run_id and code == 0, out_default


def test_reproduction_of_one_cell_never_shadows_the_release_run(gate, tmp_path):
    store = tmp_path / "store"
    release = copy_run(gate.full_run, store)
    proc, repro = gate.run(gate.full, store, "--cells", BETA_BASE, "--exit-by-status")  # what `nox -s` runs
    assert proc.returncode == 0 and json.loads((repro.path / "run.json").read_text())["kind"] == "repro"
    latest = json.loads(canary("verdicts", "--store", str(store), "--json").stdout)
    assert latest["run_id"] == release.run_id and latest["decision"] == "regressed"
    code, out = gate.promote(store)
    assert out["run_id"] == release.run_id and code == 1


# ------------------------------------------------------------------ cause 3: dirty cores


def test_dirty_path_core_is_recorded_and_refused(gate, tmp_path):
    checkout = tmp_path / "core-checkout"
    subprocess.run(["git", "clone", "-q", str(gate.eco.core), str(checkout)], check=True)
    git(checkout, "checkout", "-q", PRE)
    versions = [gate.core_versions[0], f"{{path: {str(checkout)!r}}}"]
    matrix = gate.write_matrix("path.yaml", ["beta"], core_versions=versions, directory=tmp_path)
    cand = "beta@main--core-path_core-checkout"
    store = tmp_path / "store"
    proc, clean = gate.run(matrix, store)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert clean.read_cell(cand).core.tree == "clean"
    code, out = gate.promote(store, "--run", clean.run_id)
    assert code == 0, out
    init = checkout / "democore" / "__init__.py"
    init.write_text(init.read_text() + "\nPATCHED = True  # not committed\n")
    proc, dirty = gate.run(matrix, store)
    core = dirty.read_cell(cand).core
    assert core.tree == "dirty" and len(core.diff_digest or "") == 64
    assert core.commit == git(gate.eco.core, "rev-parse", f"{PRE}^{{commit}}")  # HEAD alone looks right
    code, out = gate.promote(store, "--run", dirty.run_id)
    assert code == 1 and cand in check(out, "core")["cells"] and "dirty" in check(out, "core")["details"][0]
    report = tmp_path / "report"
    canary("report", str(dirty.path), "--out", str(report))
    assert "dirty" in next((report / "cells").glob("beta@main--core-path*.html")).read_text()


# ------------------------------------------------------------------ cause 4: where the run came from


def test_promote_uses_the_runs_own_matrix_file_or_refuses(gate, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    waiver = "waivers:\n  - {cell: '" + ALPHA_CAND + "', reason: 'tracked', expires: '2099-01-01'}\n"
    gate.write_matrix("matrix.yaml", ["alpha", "beta"], extra=waiver, directory=project)
    store = tmp_path / "store"
    proc, run = gate.run("matrix.yaml", store, cwd=project)  # a relative -c, as a user types it
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((run.path / "run.json").read_text())
    assert record["matrix_path"] == str(project / "matrix.yaml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out = gate.promote(store, cwd=elsewhere)
    assert code == 0 and check(out, "verdicts")["outcome"] == "pass", out  # the waiver still applies
    # the matrix file changed since the run: its waivers are not the ones the run was judged with
    saved = (project / "matrix.yaml").read_text()
    (project / "matrix.yaml").write_text(saved + "# edited\n")
    code, out = gate.promote(store, cwd=elsewhere)
    assert code == 3 and "not the matrix the run used" in check(out, "matrix")["message"]
    (project / "matrix.yaml").write_text(saved)
    (project / "waivers.yaml").write_text("waivers: []\n")
    code, out = gate.promote(store, cwd=elsewhere)
    assert code == 3 and "changed since the run" in check(out, "matrix")["message"]
    (project / "waivers.yaml").unlink()
    # gone: inconclusive, unless --matrix names a file with the run's digest
    shutil.move(project / "matrix.yaml", elsewhere / "moved.yaml")
    code, out = gate.promote(store, cwd=elsewhere)
    assert code == 3 and "not found" in check(out, "matrix")["message"]
    code, out = gate.promote(store, "--matrix", str(elsewhere / "moved.yaml"), cwd=elsewhere)
    assert code == 0, out


# ------------------------------------------------------------------ cause 5: cell id collisions


def test_refs_whose_slugs_collide_get_their_own_cells(gate, tmp_path):
    repo = gate_eco.build_connector(
        tmp_path,
        "delta",
        demo.NO_READ,
        "n/a",
        branches={"feature/x": (demo.READ_OLD, "guild-10"), "feature_x": (demo.READ_EITHER, "guild-10")},
    )
    text = gate_eco.matrix_text(
        gate.core_versions, BASE_LABEL, [{"name": "delta", "url": repo, "refs": ["feature/x", "feature_x"]}]
    )
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(text)
    plan = json.loads(canary("plan", "-c", str(matrix), "--json", "--no-check-refs").stdout)
    ids = [c["id"] for c in plan["cells"]]
    assert len(set(ids)) == len(ids) == 4, ids
    proc, run = gate.run(matrix, tmp_path / "store")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    regressed = [v for v in verdicts_json(run)["verdicts"] if v["verdict"] == "regressed"]
    assert [(v["ref"], v["core"]) for v in regressed] == [("feature/x", CAND_LABEL)]
    assert len(list(run.cells_dir.glob("*.json"))) == 4


def test_a_ref_listed_twice_is_a_config_error(gate, tmp_path):
    text = gate_eco.matrix_text(
        gate.core_versions, BASE_LABEL, [{"name": "beta", "url": gate.eco.connectors["beta"], "refs": ["main", "main"]}]
    )
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(text)
    proc = canary("plan", "-c", str(matrix), "--no-check-refs")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "refs: [main, main]" in t)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert re.search(rf"{re.escape(str(matrix))}:{line}:\d+: key 'connectors\[0\]\.git\.refs\[1\]'", proc.stderr), (
        proc.stderr
    )


# ------------------------------------------------------------------ cause 6: exit 1 means regressed


def test_unexpected_error_is_exit_4_with_a_log_not_a_verdict(gate, tmp_path):
    run = copy_run(gate.full_run, tmp_path / "store")
    data = json.loads(run.run_file.read_text())
    data["cells"][0] = {"id": data["cells"][0]["id"]}  # a torn record: required fields gone
    run.run_file.write_text(json.dumps(data))
    home = tmp_path / "home"
    proc = canary("verdicts", str(run.path), env={"CANARY_HOME": str(home)})
    assert proc.returncode == 4, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    log = Path(re.search(r"traceback: (\S+)\)", proc.stderr).group(1))
    assert log.parent == home / "logs" and "Traceback" in log.read_text()


def test_misspelt_git_url_is_never_exit_1(gate, tmp_path):
    text = gate.full.read_text().replace(str(gate.eco.connectors["alpha"]), str(gate.eco.connectors["alpha"]) + "-typo")
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(text)
    proc = canary("run", "-c", str(matrix), "--store", str(tmp_path / "s"), env=gate.env())
    assert proc.returncode in (2, 4) and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("written", ["2026-02-30", "'2026-02-30'", "2026-13-01"])
def test_waiver_date_that_does_not_exist_is_exit_2_at_its_line(gate, tmp_path, written):
    extra = f"waivers:\n  - cell: 'alpha*'\n    reason: x\n    expires: {written}\n"
    matrix = gate.write_matrix("matrix.yaml", ["alpha"], extra=extra, directory=tmp_path)
    line = len(matrix.read_text().splitlines())
    for argv in (
        ["plan", "-c", str(matrix), "--no-check-refs"],
        ["run", "-c", str(matrix), "--store", str(tmp_path / "s")],
    ):
        proc = canary(*argv, env=gate.env())
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert f"{matrix}:{line}:14: key 'waivers[0].expires'" in proc.stderr


# ------------------------------------------------------------------ cause 8: the installed core is checked

SHADOW = (
    "import site, sys; open(site.getsitepackages()[0] + '/000shadow.pth', 'w')"
    ".write('import sys; sys.path.insert(0, %r)\\n' % sys.argv[1])"
)


def test_python_runner_catches_an_environment_that_loads_another_core(gate, tmp_path):
    """The connector's install drops democore 1.0.0 in front of sys.path: the cell on 2.1.0b1
    must be an error naming the mismatch, never a pass on the wrong core."""
    old_wheel = next(gate.home.glob("cache/artifacts/pypi-built/democore/*/democore-1.0.0-*.whl"))
    extra_install = (
        f'    install: [["{{python}}", -m, pip, install, --quiet, --no-deps, --no-build-isolation, "{{checkout}}"],\n'
        f'              ["{{python}}", -m, pip, install, --quiet, --no-deps, --target, "{{cell_dir}}/shadow", {str(old_wheel)!r}],\n'
        f'              ["{{python}}", -c, {json.dumps(SHADOW)}, "{{cell_dir}}/shadow"]]\n'
    )
    text = gate_eco.matrix_text(gate.core_versions, BASE_LABEL, gate.connectors(["beta"]))
    text = re.sub(r"    install: .*\n", lambda m: extra_install, text)
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(text)
    proc, run = gate.run(matrix, tmp_path / "store", "--no-cache")
    cand = run.read_cell(f"beta@main--core-{CAND_LABEL.replace(':', '_')}")
    assert cand.status == "error" and "core mismatch" in cand.reason, (cand.status, cand.reason)
    assert cand.core.resolved == "1.0.0"
    assert proc.returncode == 3


# ------------------------------------------------------------------ every output says the same thing

PROMOTE = {
    "green": ("promotable", 0),
    "regressed": ("refused", 1),
    "inconclusive": ("inconclusive", 3),
    "partial": ("inconclusive", 3),
}


def outputs(run: RunDir, store: Path, gate: Gate, out: Path) -> dict:
    """What each output says about one run: the decision and the first sentence."""
    said = {}
    doc = json.loads(canary("verdicts", str(run.path), "--json").stdout)
    said["verdicts --json"] = (doc["decision"], doc["sentence"])
    table = canary("verdicts", str(run.path)).stdout
    said["verdicts"] = (re.search(r"^(\w+) \(exit \d\)", table, re.M).group(1), table.splitlines()[0])
    canary("report", str(run.path), "--out", str(out))
    report = json.loads((out / "report.json").read_text())
    said["report.json"] = (report["decision"], report["headline"])
    html = parse_html((out / "index.html").read_text())
    h1 = html.find("h1")
    said["html"] = (h1.attrs["class"].removeprefix("d-"), " ".join(h1.text().split()))
    md_first = (out / "report.md").read_text().splitlines()[0]
    said["report.md"] = (
        re.search(r"decision \*\*(\w+)\*\*", (out / "report.md").read_text()).group(1),
        md_first.split("canary: ", 1)[1],
    )
    junit = ET.parse(out / "junit.xml").getroot()
    props = {p.get("name"): p.get("value") for p in junit.find("testsuite/properties")}
    said["junit"] = (props["canary.decision"], props["canary.sentence"])
    badge = ET.parse(out / "badges" / "decision.svg").getroot().find("{http://www.w3.org/2000/svg}title").text
    from canary.reports.badges import DECISION_STATUS

    decision = doc["decision"]
    said["badge"] = (decision if badge.endswith(DECISION_STATUS[decision]) else badge, doc["sentence"])
    code, promo = gate.promote(store, "--run", run.run_id)
    said["promote"] = (
        decision if (promo["decision"], code) == PROMOTE[decision] else promo["decision"],
        doc["sentence"],
    )
    return said


@pytest.mark.parametrize("scenario", ["regressed", "green", "partial", "inconclusive"])
def test_every_output_says_the_same_thing(gate, tmp_path, scenario):
    store = tmp_path / "store"
    run_proc = None
    if scenario == "regressed":
        run, run_proc = copy_run(gate.full_run, store), gate.full_proc
    elif scenario == "green":
        run, run_proc = copy_run(gate.green_run, store), gate.green_proc
    elif scenario == "partial":
        run_proc, run = gate.run(gate.green, store, "--cells", "gamma*")
    else:  # a required cell's result is gone: inconclusive
        run = copy_run(gate.green_run, store)
        (run.cells_dir / f"{BETA_BASE.replace('git_v1.0.0', 'git_v2.1.0b1')}.json").unlink()
    said = outputs(run, store, gate, tmp_path / "report")
    if run_proc is not None:
        first = run_proc.stdout.splitlines()[0]
        said["run"] = (re.search(r"^run \S+: (\w+)", run_proc.stdout, re.M).group(1), first)
    decisions = {k: d for k, (d, _) in said.items()}
    sentences = {k: s for k, (_, s) in said.items()}
    assert set(decisions.values()) == {scenario}, decisions
    assert len(set(sentences.values())) == 1, sentences
    sentence = next(iter(sentences.values()))
    assert ("can be promoted:" in sentence) == (scenario == "green"), sentence


STRAY_CORE = (
    "const fs = require('fs'); const d = 'node_modules/@canary-fake/plugin/node_modules/@canary-fake/core';"
    " fs.mkdirSync(d, {recursive: true});"
    " fs.writeFileSync(d + '/package.json', JSON.stringify({name: '@canary-fake/core', version: '9.9.9', main: 'index.js'}));"
    " fs.writeFileSync(d + '/index.js', 'exports.VERSION = \"9.9.9\";');"
)


def test_node_runner_catches_a_connector_that_loads_another_core(fake_npm, tmp_path):
    """The connector's install leaves it its own copy of the core (9.9.9): the check inside the
    cell must see what the connector really loads and make the cell an error, never a pass."""
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(
        "version: 1\ncore:\n  name: '@canary-fake/core'\n  ecosystem: npm\n  versions: ['2.0.0', '1.0.0']\n"
        "  baseline: '2.0.0'\nsettings: {retries: 0}\nconnectors:\n  - name: plugin\n    package: '@canary-fake/plugin'\n"
        "    npm: {versions: ['0.1.0']}\n"
        "    install: [[npm, install, --no-audit, --no-fund, --no-package-lock, --ignore-scripts],\n"
        f"              [node, -e, {json.dumps(STRAY_CORE)}]]\n"
        "    test: [node, -e, '0']\n"
    )
    env = {"CANARY_HOME": str(tmp_path / "home"), **fake_npm.env()}
    proc = canary("run", "-c", str(matrix), "--progress", "none", "--report", "none", cwd=tmp_path, env=env)
    run = Store(tmp_path / "home" / "runs").latest()
    for cid in ("plugin@0.1.0--core-2.0.0", "plugin@0.1.0--core-1.0.0"):
        result = run.read_cell(cid)
        assert result.status == "error" and "core mismatch" in result.reason, (cid, result.status, result.reason)
        assert "9.9.9" in result.reason
    assert proc.returncode == 3, proc.stdout + proc.stderr
