"""Bisection (issue 15 item 3): the search itself, then real runs of tests/bisect_eco.py (a core in
git with ten commits between good and bad, three connectors breaking in different commits)."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

from canary.matrix import bisect
from canary.matrix.bisect import Probe, max_probes, search
from tests import bisect_eco
from tests.conftest import canary


def _probe_with_break(labels, first_bad, errors=(), calls=None):
    def probe(i):
        if calls is not None:
            calls.append(i)
        if i in errors:
            return Probe(labels[i], f"cell-{i}", "error", "skipped", "error: install failed")
        return Probe(labels[i], f"cell-{i}", "pass" if i < first_bad else "fail", "good" if i < first_bad else "bad")

    return probe


def test_max_probes_is_ceil_log2_plus_one():
    assert [max_probes(n) for n in (0, 1, 2, 3, 8, 9, 10)] == [0, 1, 2, 3, 4, 5, 5]
    for n in range(1, 200):
        assert max_probes(n) == math.ceil(math.log2(n)) + 1


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 10, 31, 33])
def test_search_finds_every_break_within_the_bound(n):
    labels = [f"v{i}" for i in range(n + 1)]  # n versions in between, then the known bad one
    for first_bad in range(n + 1):
        calls = []
        lo, hi, probes = search(labels, _probe_with_break(labels, first_bad, calls=calls), max_probes(n))
        assert (lo, hi) == (first_bad - 1, first_bad)
        assert len(probes) == len(calls) <= math.ceil(math.log2(n)) + 1
        assert n not in calls  # the known bad version is never run again


def test_an_error_probe_is_skipped_to_its_neighbour_and_the_note_says_so():
    labels = [f"v{i}" for i in range(11)]
    calls = []
    lo, hi, probes = search(labels, _probe_with_break(labels, 7, errors={4}, calls=calls), max_probes(10))
    assert calls[0] == 4 and calls[1] in (3, 5)  # the middle, then its neighbour
    assert probes[0].verdict == "skipped" and f"neighbour {labels[calls[1]]} tested instead" in probes[0].note
    assert (lo, hi) == (6, 7)


def test_only_skipped_versions_left_is_not_conclusive():
    labels = [f"v{i}" for i in range(4)]  # 3 in between, the break at v2, v1 cannot be tested
    lo, hi, probes = search(labels, _probe_with_break(labels, 2, errors={1}), max_probes(3))
    assert hi == 2 and lo == 0  # v1 stays untested between the last good and the first bad
    assert [p.verdict for p in probes].count("skipped") == 1


# ---------------------------------------------------------------- real runs (slow)


def _searches(run) -> dict[str, dict]:
    doc = json.loads((run.path / "bisect.json").read_text())
    return {s["connector"]: s for s in doc["searches"]}


@pytest.mark.slow
def test_git_bisection_names_the_breaking_commit_within_the_bound(bisect_run):
    eco, run = bisect_run["eco"], bisect_run["run"]
    searches = _searches(run)
    expected = {"alpha": bisect_eco.RENAME, "beta": bisect_eco.BETA_BREAK, "gamma": bisect_eco.GAMMA_BREAK}
    for connector, index in expected.items():
        s = searches[connector]
        n = len(s["between"])
        assert s["ecosystem"] == "git" and n == len(eco.commits) >= 8
        assert s["between"] == [eco.label(i) for i in range(n)]  # first-parent order, oldest first
        assert s["first_bad"] == eco.label(index) and s["last_good"] == eco.label(index - 1), connector
        assert s["conclusive"] is True
        assert len(s["probes"]) <= s["max_probes"] == math.ceil(math.log2(n)) + 1
    # `canary run` says it in one line (the explanation's groups say the rest)
    said = next(line for line in bisect_run["proc"].stdout.splitlines() if line.startswith("bisect: "))
    assert f"alpha@main {eco.label(bisect_eco.RENAME)}" in said and "(first bad: " in said


@pytest.mark.slow
def test_probes_are_cells_of_the_run_that_never_count_in_the_decision(bisect_run):
    run = bisect_run["run"]
    record = json.loads((run.path / "run.json").read_text())
    probes = [c for c in record["cells"] if c["role"] == "bisect"]
    probe_ids = {p["cell_id"] for s in _searches(run).values() for p in s["probes"]}
    assert {c["id"] for c in probes} == probe_ids
    assert all((run.path / "cells" / f"{cid}.json").is_file() for cid in probe_ids)
    verdicts = json.loads((run.path / "verdicts.json").read_text())
    assert not {v["cell_id"] for v in verdicts["verdicts"]} & probe_ids
    assert verdicts["decision"] == "regressed" and verdicts["counts"]["regressed"] == 3


@pytest.mark.slow
def test_an_error_probe_is_skipped_and_the_answer_says_so(bisect_run):
    eco, s = bisect_run["eco"], _searches(bisect_run["run"])["gamma"]
    skipped = [p for p in s["probes"] if p["verdict"] == "skipped"]
    assert [p["label"] for p in skipped] == [eco.label(bisect_eco.UNAVAILABLE)]
    assert skipped[0]["status"] == "error" and "tested instead" in skipped[0]["note"]
    assert f"skipped (error): {eco.label(bisect_eco.UNAVAILABLE)}" in s["note"]


@pytest.mark.slow
def test_a_flaky_probe_is_retried_and_counted_good(bisect_run):
    eco, run = bisect_run["eco"], bisect_run["run"]
    s = _searches(run)["beta"]
    flaky = next(p for p in s["probes"] if p["label"] == eco.label(bisect_eco.FLAKY))
    assert flaky["status"] == "flaky" and flaky["verdict"] == "good" and "retried" in flaky["note"]
    result = json.loads((run.path / "cells" / f"{flaky['cell_id']}.json").read_text())
    assert [a["status"] for a in result["attempts"]] == ["fail", "pass"]
    assert "flaky, retried and counted as good" in s["note"]


@pytest.mark.slow
def test_bisect_json_validates_against_its_schema(bisect_run):
    doc = json.loads((bisect_run["run"].path / "bisect.json").read_text())
    jsonschema.Draft202012Validator(bisect.schema()).validate(doc)
    assert doc["schema"] == "canary/bisect/v1" and len(doc["searches"]) == 3
    # One owner: the file reads back through BisectDocument to the same bytes.
    path = bisect_run["run"].path / "bisect.json"
    assert json.dumps(bisect.read(path).to_dict(), indent=2) + "\n" == path.read_text()


@pytest.mark.slow
def test_the_compat_diff_of_the_found_step_names_the_rename(bisect_run):
    run = bisect_run["run"]
    s = _searches(run)["alpha"]
    from canary.matrix.steps import step_diff_path

    diff = json.loads(step_diff_path(run.path, s["last_good"], s["first_bad"]).read_text())
    assert diff["schema"] == "canary/compat-diff/v1"
    assert any(c["symbol"] == "democore.Room.server_id" for c in diff["changes"])


@pytest.mark.slow
def test_cli_bisect_reads_back_its_probes_and_errors_are_one_line(bisect_run):
    eco, run = bisect_run["eco"], bisect_run["run"]
    before = sorted(p.name for p in (run.path / "cells").iterdir())
    proc = canary("bisect", "alpha@main--core-git_v2.0.0", "--run", str(run.path), "--json", env=eco.env())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["searches"][0]["first_bad"] == eco.label(bisect_eco.RENAME)
    assert sorted(p.name for p in (run.path / "cells").iterdir()) == before  # nothing ran again
    for cell, words in (("nope@main--core-git_v2.0.0", "no cell"), ("alpha@main--core-git_v1.0.0", "not regressed")):
        proc = canary("bisect", cell, "--run", str(run.path), env=eco.env())
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_probes_are_cached_like_any_cell(bisect_run):
    """A run of alpha's cells only (a CI shard's shape) does not bisect by itself; `canary bisect`
    on it runs the same probes, and every one comes from the result cache."""
    eco = bisect_run["eco"]
    proc = canary(
        "run",
        "-c",
        str(eco.matrix),
        "--cells",
        "alpha*",
        "--progress",
        "plain",
        "--report",
        "none",
        cwd=eco.root,
        env=eco.env(),
        timeout=900,
    )
    from canary.matrix.store import Store

    run = Store(eco.home / "runs").runs()[-1]
    assert run.path != bisect_run["run"].path, proc.stderr
    assert not (run.path / "bisect.json").exists()
    proc = canary("bisect", "alpha@main--core-git_v2.0.0", "--progress", "plain", env=eco.env(), timeout=900)
    assert proc.returncode == 0, proc.stderr
    s = _searches(run)["alpha"]
    assert s["first_bad"] == eco.label(bisect_eco.RENAME)
    for p in s["probes"]:
        result = json.loads((run.path / "cells" / f"{p['cell_id']}.json").read_text())
        assert result["cached_from"] == bisect_run["run"].run_id, p


def test_settings_bisect_is_off_by_default_and_checked(tmp_path):
    from canary.kernel.errors import UserError
    from canary.matrix import config

    base = (
        "version: 1\ncore: {name: democore, ecosystem: pypi, versions: ['1.0.0', '2.0.0']}\n"
        "connectors:\n  - {name: a, package: a, pypi: {versions: ['1.0']}, test: [[python, -V]]}\n"
    )
    assert config.loads(base).settings.bisect is False
    assert config.loads(base + "settings: {bisect: true}\n").settings.bisect is True
    with pytest.raises(UserError) as err:
        config.loads(base + "settings: {bisect: sometimes}\n", str(tmp_path / "matrix.yaml"))
    assert "matrix.yaml:5:20: key 'settings.bisect'" in str(err.value)


def _wheel(dest, name: str, version: str) -> None:
    """A minimal valid wheel: what a find-links index serves."""
    import zipfile

    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(dest / f"{name}-{version}-py3-none-any.whl", "w") as zf:
        zf.writestr(f"{name}/__init__.py", f"__version__ = {version!r}\n")
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")


def test_pypi_versions_between_come_from_the_configured_index_in_pep440_order(tmp_path):
    from canary.kernel.home import Home
    from canary.matrix import config
    from canary.matrix.plan import resolve_core_versions

    links = tmp_path / "links"
    links.mkdir()
    published = ["0.9.0", "1.0.0", "1.5.0rc1", "1.5.0", "1.10.0", "2.0.0rc1", "2.0.0", "2.0.1"]
    for v in published:
        _wheel(links, "bisectcore", v)
    matrix = config.loads(
        "version: 1\ncore:\n  name: bisectcore\n  ecosystem: pypi\n  versions: ['1.0.0', '2.0.0']\n"
        f"  index: {{find_links: [{str(links)!r}], no_index: true}}\n"
        "connectors:\n  - {name: a, package: a, pypi: {versions: ['1.0']}, test: [[python, -V]]}\n"
    )
    specs, baseline = resolve_core_versions(matrix)
    ecosystem, inside = bisect.between(matrix, baseline, specs[-1], Home(tmp_path / "home"))
    # prereleases included, 1.10 after 1.5 (not text order), nothing outside the step
    assert (ecosystem, [s.label for s in inside]) == ("pypi", ["1.5.0rc1", "1.5.0", "1.10.0", "2.0.0rc1"])


@pytest.mark.slow
def test_reports_of_a_run_with_probes_show_only_the_matrix_cells(bisect_run, tmp_path):
    eco, run = bisect_run["eco"], bisect_run["run"]
    proc = canary("report", str(run.path), "--out", str(tmp_path), "--format", "json,html", env=eco.env())
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "report.json").read_text())
    ids = {c["id"] for c in doc["cells"]}
    assert len(ids) == 6 and not any(i.endswith("--bisect") for i in ids)
    assert "--bisect" not in (tmp_path / "index.html").read_text()
