"""The plan and the exposure documents each have one class in their producer (issue 14 item 3):
`canary.matrix.plan.PlanDocument` and `canary.matrix.exposure.Exposure`. Real documents written by
real commands validate against the schema beside the producer and read back byte for byte; a wrong
field is one error naming the file and the key."""

from __future__ import annotations

import copy
import json
import shutil

import jsonschema
import pytest

from canary.cli import main
from canary.kernel.errors import UserError
from canary.matrix import config
from canary.matrix.exposure import ConnectorExposure, Exposure, exposure_schema, load_exposure
from canary.matrix.model import CoreSpec
from canary.matrix.plan import PlanDocument, PlanEntry, load_plan, plan, plan_document, plan_schema
from tests.conftest import canary

# ---------------------------------------------------------------- the plan


@pytest.fixture(scope="module")
def plan_json(demo):
    """`canary plan --json` of the demo matrix, as the CI action writes it into plan.json."""
    proc = canary("plan", "--json", "--no-check-refs", "-c", str(demo.matrix), cwd=demo.root)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_real_plan_validates_and_reads_back_byte_for_byte(demo, plan_json):
    doc = json.loads(plan_json)
    jsonschema.Draft202012Validator(plan_schema()).validate(doc)
    read = PlanDocument.from_dict(doc)
    assert json.dumps(read.to_dict(), indent=2) + "\n" == plan_json
    assert PlanDocument.from_dict(read.to_dict()) == read
    matrix = config.load(str(demo.matrix))
    assert read == plan_document(matrix, plan(matrix))
    assert read.matrix_digest == matrix.digest and len(read.matrix_digest) == 64
    assert (read.baseline, read.candidates) == ("1.0.0", ["2.0.0"])
    assert {c.runner for c in read.cells} == {"local"}


def test_a_merge_plans_the_cells_a_run_plans(demo_run, plan_json, tmp_path):
    """The cells `canary merge --plan` writes into run.json are those `canary run` writes."""
    path = tmp_path / "plan.json"
    path.write_text(plan_json)
    assert load_plan(path).planned_cells() == demo_run["run"].read_run().cells


def test_every_field_of_a_plan_round_trips():
    entry = PlanEntry(
        id="alpha@feature_x--core-git_main",
        core=CoreSpec(label="git:main", kind="git", url="/srv/core.git", ref="main", subdir="packages/core"),
        connector="alpha",
        package="demo-alpha",
        ref="feature/x",
        source="git",
        tier="optional",
        role="candidate",
        tags=["optional", "alpha", "core-git:main", "candidate"],
        nox='nox -s "alpha@feature_x--core-git_main"',
        expectation="expect_fail",
        expectation_reason="known break, issue 12",
        runner="docker node:20-bookworm-slim",
    )
    old = PlanEntry(**{**entry.__dict__, "id": "beta@1--core-1", "runner": None, "expectation": None})
    doc = PlanDocument(matrix="m.yaml", core="democore", ecosystem="npm", cells=[entry, old], matrix_digest="ab" * 32)
    data = doc.to_dict()
    jsonschema.Draft202012Validator(plan_schema()).validate(data)
    assert PlanDocument.from_dict(json.loads(json.dumps(data))) == doc
    assert "runner" not in data["cells"][1]  # a plan written before runners reads back as it was


def _plan_with(doc: dict, path: list, value) -> dict:
    doc = copy.deepcopy(doc)
    *parents, last = path
    target = doc
    for p in parents:
        target = target[p]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize(
    "path,value,message",
    [
        (
            ["cells", 0, "tier"],
            "mandatory",
            "key 'cells[0].tier': expected one of 'required', 'optional', not 'mandatory'",
        ),
        (["cells", 1, "id"], KeyError, "key 'cells[1].id': missing"),
        (["cells", 0, "core", "kind"], "svn", "key 'cells[0].core.kind': expected one of"),
        (["cells", 0, "tags"], "required", "key 'cells[0].tags': expected a list, not 'required'"),
        (["matrix_digest"], 5, "key 'matrix_digest': expected a string, not 5"),
        (["schema"], "canary/run/v1", "key 'schema': not a plan document: schema 'canary/run/v1'"),
    ],
)
def test_a_plan_with_a_wrong_field_is_one_error_naming_it(plan_json, tmp_path, capsys, path, value, message):
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps(_plan_with(json.loads(plan_json), path, value)))
    with pytest.raises(UserError) as exc:
        load_plan(bad)
    assert f"{bad}: {message}" in str(exc.value)
    # The CLI readers say it in one line, exit 2 (the old reader took any tier, tags or digest).
    assert main(["ci-matrix", "--plan", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and message in err, err


# ---------------------------------------------------------------- exposure


FULL = Exposure(
    migration="elizaos-server-id",
    connectors={
        "plugin-discord@1.3.3": ConnectorExposure(
            key="plugin-discord@1.3.3",
            findings=3,
            by_rule={"server-id-read": 3},
            by_symbol={"Room.serverId": 2, "serverId": 1},
            files=["src/service.ts"],
            places={"Room.serverId": ["src/service.ts:10", "src/service.ts:22"], "serverId": ["src/a.ts:1"]},
            verification={"status": "verified", "core": "1.7.0", "line": "passes after the fix", "edits": 3},
        ),
        "plugin-discord@1.3.8": ConnectorExposure(key="plugin-discord@1.3.8", findings=0),
        "plugin-telegram@1.6.4": ConnectorExposure(
            key="plugin-telegram@1.6.4", findings=1, by_symbol={"serverId": 1}, verification="unverified"
        ),
    },
)


def test_every_field_of_an_exposure_round_trips():
    data = FULL.to_dict()
    jsonschema.Draft202012Validator(exposure_schema()).validate(data)
    assert Exposure.from_dict(json.loads(json.dumps(data))) == FULL
    assert list(data["connectors"]["plugin-discord@1.3.8"]) == [
        "findings",
        "by_rule",
        "by_symbol",
        "files",
        "places",
        "verification",
    ]


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"findings": "4"}, "key 'connectors.alpha@main.findings': expected an integer, not '4'"),
        ({"findings": 1, "by_symbol": {"x": "1"}}, "key 'connectors.alpha@main.by_symbol.x': expected an integer"),
        ({"findings": 1, "places": {"x": "a.py:1"}}, "key 'connectors.alpha@main.places.x': expected a list"),
        ({"findings": 1, "verification": 3}, "key 'connectors.alpha@main.verification': expected an object"),
        ("many", "key 'connectors.alpha@main': expected an object"),
    ],
)
def test_an_exposure_with_a_wrong_field_is_one_error_naming_it(demo_run, tmp_path, capsys, entry, message):
    """The old reader took a `places` that was no list (and dropped it) and any verification."""
    run_dir = tmp_path / "run"
    shutil.copytree(demo_run["run"].path, run_dir)
    doc = {"schema": "canary/exposure/v1", "migration": "m", "connectors": {"alpha@main": entry}}
    (run_dir / "exposure.json").write_text(json.dumps(doc))
    with pytest.raises(UserError) as exc:
        load_exposure(run_dir)
    assert f"{run_dir / 'exposure.json'}: {message}" in str(exc.value)
    assert main(["report", str(run_dir), "--format", "md", "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_merge_unites_the_jobs_exposure_first_job_first():
    first = Exposure("m", {"a@1": ConnectorExposure("a@1", 1), "b@1": ConnectorExposure("b@1", 2)})
    second = Exposure("m", {"b@1": ConnectorExposure("b@1", 9), "c@1": ConnectorExposure("c@1", 0)})
    merged = first.merged(second)
    assert list(merged.connectors) == ["a@1", "b@1", "c@1"] and merged.connectors["b@1"].findings == 2


# ---------------------------------------------------------------- run.json and the cell results


def test_a_real_run_record_and_its_cell_results_validate_and_read_back_byte_for_byte(demo_run):
    """run.json (RunRecord) and each `cells/*.json` (CellResult), as `canary run` wrote them."""
    from pathlib import Path

    from canary.matrix.results import CellResult, RunRecord

    run = demo_run["run"]
    schemas = Path(config.__file__).parent / "schemas"
    text = run.run_file.read_text()
    jsonschema.Draft202012Validator(json.loads((schemas / "run.schema.json").read_text())).validate(json.loads(text))
    assert json.dumps(RunRecord.from_dict(json.loads(text)).to_dict(), indent=2) + "\n" == text
    cell_schema = jsonschema.Draft202012Validator(json.loads((schemas / "cell-result.schema.json").read_text()))
    cells = sorted(run.path.glob("cells/*.json"))
    assert len(cells) == len(run.read_run().cells)
    for path in cells:
        text = path.read_text()
        cell_schema.validate(json.loads(text))
        assert json.dumps(CellResult.from_dict(json.loads(text)).to_dict(), indent=2) + "\n" == text, path.name


# ---------------------------------------------------------------- verdicts.json

EXPLANATION_KEYS = ("group", "first_bad", "probable_causes", "fixes")


def _verdicts_schema() -> dict:
    from importlib import resources

    return json.loads(resources.files("canary.matrix").joinpath("schemas/verdicts.schema.json").read_text())


def test_a_real_verdicts_file_validates_and_reads_back_byte_for_byte(demo_run):
    """verdicts.json as `canary run` wrote it (explained: group, first_bad, causes, fixes per cell)
    goes through `Summary` and back to the same bytes; `counts` and `label` are recomputed."""
    from canary.matrix.verdicts import Summary, read_summary

    path = demo_run["run"].path / "verdicts.json"
    text = path.read_text()
    doc = json.loads(text)
    jsonschema.Draft202012Validator(_verdicts_schema()).validate(doc)
    summary = read_summary(path)
    assert json.dumps(summary.to_dict(), indent=2) + "\n" == text
    assert Summary.from_dict(summary.to_dict()) == summary
    assert summary.run_id == demo_run["run"].path.name and summary.counts() == doc["counts"]
    regressed = [v for v in summary.verdicts if v.verdict == "regressed"]
    assert regressed and all(v.explanation is not None and v.explanation.first_bad for v in regressed)


def test_a_verdicts_file_without_the_explanation_stays_without_it(demo_run):
    """A run that was not explained (no group, first_bad, ... keys) reads back without gaining them."""
    from canary.matrix.verdicts import Summary

    doc = json.loads((demo_run["run"].path / "verdicts.json").read_text())
    for v in doc["verdicts"]:
        for key in EXPLANATION_KEYS:
            v.pop(key, None)
    summary = Summary.from_dict(copy.deepcopy(doc))
    assert all(v.explanation is None for v in summary.verdicts)
    assert json.dumps(summary.to_dict(), indent=2) == json.dumps(doc, indent=2)
    jsonschema.Draft202012Validator(_verdicts_schema()).validate(summary.to_dict())


def test_every_field_of_a_verdict_round_trips():
    from canary.matrix.verdicts import CellExplanation, Summary, Verdict

    v = Verdict(
        cell_id="alpha@main--core-2.0.0",
        connector="alpha",
        ref="main",
        core="2.0.0",
        tier="required",
        role="candidate",
        verdict="unsupported",
        status="fail",
        reason="regressed: core outside the connector's declared range",
        baseline_cell="alpha@main--core-1.0.0",
        baseline_status="pass",
        attempts=2,
        waived=True,
        waiver={"cell": "alpha@*", "reason": "r", "issue": "#1", "expires": None},
        newly_failing_tests=["t::a"],
        outside_range=True,
        judged="regressed",
        explanation=CellExplanation("g1", "2.0.0", [{"rule": "PY001"}], [{"kind": "waiver"}]),
    )
    data = v.to_dict()
    assert data["label"] == "regressed (outside declared range)"
    assert list(data)[-5:] == ["label", *EXPLANATION_KEYS]  # where annotating the file put them
    assert Verdict.from_dict(data) == v
    summary = Summary("r1", "1.0.0", ["2.0.0"], [v], 3, "inconclusive", warnings=["w"], partial=True, selection=["a*"])
    assert Summary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary
    assert summary.to_dict()["counts"]["unsupported"] == 1


def test_a_document_that_is_not_verdicts_is_one_error_naming_it(plan_json, tmp_path):
    from canary.matrix.verdicts import read_summary

    path = tmp_path / "verdicts.json"
    path.write_text(plan_json)
    with pytest.raises(UserError) as err:
        read_summary(path)
    assert err.value.file == str(path) and err.value.key == "schema"


def test_the_ci_action_annotates_from_the_summary(demo_run):
    """The CI action's `::error` lines come from the `Summary` read back, one per blocking cell."""
    from canary.ci_action import workflow_annotations
    from canary.matrix.verdicts import read_summary

    summary = read_summary(demo_run["run"].path / "verdicts.json")
    lines = workflow_annotations(summary)
    blocking = [v.cell_id for v in summary.verdicts if v.blocking]
    assert blocking and [line for line in lines if line.startswith("::error")] == [
        line for line in lines if any(cell in line for cell in blocking)
    ]
    assert len([line for line in lines if line.startswith("::error")]) == len(blocking)


# ---------------------------------------------------------------- bisect.json


def test_a_bisect_document_round_trips_and_is_what_the_steps_read(tmp_path):
    """bisect.json has one owner (canary.matrix.bisect.BisectDocument): `write` merges through it
    and canary.matrix.steps reads it through it."""
    from canary.matrix import bisect, steps
    from canary.matrix.store import RunDir

    probe = bisect.Probe("2.0.0rc1", "alpha@main--core-2.0.0rc1", "fail", "bad", "")
    alpha = bisect.Search("alpha", "main", "pypi", "1.0.0", "2.0.0rc1", ["2.0.0rc1"], [probe], 2, True, "first bad")
    beta = bisect.Search("beta", "v1", "git", "1.0.0", None, [], [], 0, False, "no versions")
    run = RunDir(tmp_path)
    path = bisect.write(run, [alpha])
    bisect.write(run, [beta])  # another step: the earlier search stays
    text = path.read_text()
    jsonschema.Draft202012Validator(bisect.schema()).validate(json.loads(text))
    doc = bisect.read(path)
    assert doc.searches == [alpha, beta]
    assert json.dumps(doc.to_dict(), indent=2) + "\n" == text
    answers = steps.read_bisect(tmp_path)
    assert answers[("alpha", "main")] == steps.BisectAnswer("alpha", "main", "1.0.0", "2.0.0rc1", True, "first bad", 1)
    assert not hasattr(steps, "BISECT_SCHEMA")  # one constant for the id: bisect.SCHEMA
    path.write_text(json.dumps({"schema": "canary/bisect/v0", "searches": []}))
    with pytest.raises(UserError):
        bisect.read(path)
    assert steps.read_bisect(tmp_path) == {}  # advisory: the matrix's own step explains
