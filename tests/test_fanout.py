"""CI fan-out: `canary ci-matrix` splits the planned cells into jobs, `canary merge` gathers them."""

from __future__ import annotations

import json
import re
import shutil

import jsonschema
import pytest

from tests.conftest_verdicts import BASE, CAND, Spec, make_run
from canary.cli import main
from canary.kernel.errors import UserError
from canary.matrix.fanout import artifact_name, ci_matrix, shards
from canary.matrix.model import Cell, CoreSpec, cell_id
from canary.matrix.store import RunDir

# What GitHub refuses in an artifact name: " : < > | * ? \r \n \ /  (we allow even less).
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,90}$")

MATRIX = """\
core:
  name: '@elizaos/core'
  ecosystem: npm
  versions: ['1.6.4', '1.7.0']
  baseline: '1.6.4'
connectors:
  - name: discord
    package: '@elizaos/plugin-discord'
    npm: {versions: ['1.0.0', 'feature/x+y']}
    test: [[node, -e, '0']]
  - name: telegram
    package: '@elizaos/plugin-telegram'
    npm: {versions: ['1.0.0']}
    test: [[node, -e, '0']]
"""


def cells(n: int) -> list[Cell]:
    core = CoreSpec(label="1.7.0", kind="registry", version="1.7.0")
    return [
        Cell(
            id=cell_id(f"plugin-{i}", "feature/x:y", "1.7.0"),
            core=core,
            connector=f"plugin-{i}",
            package=f"@x/plugin-{i}",
            ref="feature/x:y",
            source_kind="git",
            tier="required",
            role="candidate",
            tags=(),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("text", ["a/b", 'q"u:o<t>e|s*?', "x" * 300, "@@@", "core-1.7.0+build.5", "a\\b\nc"])
def test_artifact_names_are_safe(text):
    assert SAFE_NAME.match(artifact_name(text))


def test_long_names_stay_distinct():
    a, b = artifact_name("p" * 200 + "1"), artifact_name("p" * 200 + "2")
    assert a != b and len(a) <= 90


@pytest.mark.parametrize("n,max_jobs", [(0, 3), (1, 1), (5, 5), (7, 3), (256, 256), (300, 256), (1000, 7)])
def test_shards_cover_every_cell_once_balanced(n, max_jobs):
    ids = [f"c{i}" for i in range(n)]
    groups = shards(ids, max_jobs)
    assert [i for g in groups for i in g] == ids
    assert len(groups) == min(n, max_jobs)
    if groups:
        sizes = [len(g) for g in groups]
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_ci_matrix_one_entry_per_cell_then_shards():
    cs = cells(5)
    per_cell = ci_matrix(cs, max_jobs=256)["include"]
    assert [e["cells"] for e in per_cell] == [c.id for c in cs]
    assert all(SAFE_NAME.match(e["name"]) for e in per_cell)
    assert len({e["name"] for e in per_cell}) == 5
    jsonschema.validate(ci_matrix(cells(300)), ci_schema())
    sharded = ci_matrix(cs, max_jobs=2)["include"]
    assert [e["name"] for e in sharded] == ["shard-1-of-2", "shard-2-of-2"]
    assert " ".join(e["cells"] for e in sharded).split() == [c.id for c in cs]
    with pytest.raises(UserError, match="at least 1"):
        ci_matrix(cs, max_jobs=0)
    with pytest.raises(UserError, match="duplicate"):
        ci_matrix(cs + cs[:1])


def ci_schema() -> dict:
    from importlib import resources

    return json.loads(resources.files("canary.matrix").joinpath("schemas/ci-matrix.schema.json").read_text())


def test_cli_ci_matrix_from_the_matrix_file(tmp_path, capsys):
    # canary.matrix.config + canary.matrix.plan: exact versions need no registry.
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(MATRIX)
    assert main(["ci-matrix", "-c", str(matrix)]) == 0
    out = capsys.readouterr().out
    assert "\n" not in out.strip()  # one line: it goes into $GITHUB_OUTPUT
    jsonschema.validate(json.loads(out), ci_schema())
    include = json.loads(out)["include"]
    assert len(include) == 6 and all(SAFE_NAME.match(e["name"]) for e in include)
    assert "discord@feature_x+y--core-1.7.0" in [e["cells"] for e in include]
    assert main(["ci-matrix", "-c", str(matrix), "--max-jobs", "4"]) == 0
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, ci_schema())
    include = doc["include"]
    assert len(include) == 4 and sum(len(e["cells"].split()) for e in include) == 6
    assert main(["ci-matrix", "-c", str(matrix), "--cells", "telegram*"]) == 0
    assert [e["cells"] for e in json.loads(capsys.readouterr().out)["include"]] == [
        "telegram@1.0.0--core-1.6.4",
        "telegram@1.0.0--core-1.7.0",
    ]
    assert main(["ci-matrix", "-c", str(tmp_path / "nope.yaml")]) == 2


# ---------------------------------------------------------------- merge

SPECS = [
    Spec("discord", BASE, ["pass"], logs=["ok\n"]),
    Spec("discord", CAND, ["fail"], logs=["No server ID\n"]),
    Spec("telegram", BASE, ["pass"], logs=["ok\n"]),
    Spec("telegram", CAND, ["pass"], logs=["ok\n"]),
]


def write_plan(path, specs=SPECS):
    # The shape of `canary plan --json`: Cell.to_dict() per cell (core as a mapping).
    path.write_text(
        json.dumps(
            {
                "schema": "canary/plan/v1",
                "matrix": "matrix.yaml",
                "core": "@elizaos/core",
                "ecosystem": "npm",
                "cells": [
                    {
                        "id": s.id,
                        "core": {"label": s.core, "kind": "registry", "version": s.core},
                        "connector": s.connector,
                        "package": f"@elizaos/{s.connector}",
                        "ref": s.ref,
                        "source": "npm",
                        "tier": s.tier,
                        "role": s.role,
                        "tags": [],
                        "nox": f'nox -s "{s.id}"',
                    }
                    for s in specs
                ],
            }
        )
    )
    return path


def jobs(tmp_path, groups):
    """One store per CI job, laid out as download-artifact leaves it: artifacts/<name>/<run-id>/."""
    root = tmp_path / "artifacts"
    for i, group in enumerate(groups):
        make_run(root / f"shard-{i + 1}", group)
    return root


GREEN = (
    SPECS[:1]
    + [Spec("discord", CAND, ["fail", "pass"], logs=["still fine\n", "second\n"], junit=["<testsuite/>", None])]
    + SPECS[2:]
)


def test_merge_with_a_result_removed_is_error_missing_exit_3(tmp_path, capsys):
    plan = write_plan(tmp_path / "plan.json", GREEN)
    root = jobs(tmp_path, [GREEN[:2], GREEN[2:]])
    assert main(["merge", str(root), "--plan", str(plan), "--out", str(tmp_path / "complete")]) == 0
    capsys.readouterr()
    for shard, name, n in (("shard-1", "discord@1.0.0", 2), ("shard-2", "telegram@1.0.0", 0)):
        doc = {"schema": "canary/exposure/v1", "migration": "m", "connectors": {name: {"findings": n}}}
        (next((root / shard).glob("*/cells")).parent / "exposure.json").write_text(json.dumps(doc))
    lost = next((root / "shard-2").glob("*/cells")) / f"{SPECS[3].id}.json"
    lost.unlink()
    out = tmp_path / "merged"
    assert main(["merge", str(root), "--plan", str(plan), "--out", str(out), "--json"]) == 3
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    by = {v["cell_id"]: v for v in data["verdicts"]}
    assert by[SPECS[3].id]["verdict"] == "error" and by[SPECS[3].id]["reason"].startswith("missing")
    assert by[SPECS[3].id]["status"] is None
    assert data["decision"] == "inconclusive"
    assert f"missing: no job reported planned cell {SPECS[3].id}" in captured.err
    # One run: every planned cell in run.json, results and logs copied, run ids rewritten.
    merged = RunDir(out)
    record = merged.read_run()
    assert [c.id for c in record.cells] == [s.id for s in SPECS] and record.exit_code == 3
    results = merged.read_cells()
    assert sorted(results) == sorted(s.id for s in SPECS[:3])
    assert {r.run_id for r in results.values()} == {"merged"}
    assert (record.core_name, record.ecosystem, record.baseline, record.candidates) == (
        "@elizaos/core",
        "npm",
        BASE,
        [CAND],
    )
    flaky = results[SPECS[1].id]
    assert [(out / a.log).read_text() for a in flaky.attempts] == ["still fine\n", "second\n"]
    assert (out / flaky.attempts[0].junit).read_text() == "<testsuite/>"
    assert by[SPECS[1].id]["verdict"] == "flaky"
    # Static exposure (one exposure.json per job) is merged too.
    # (through canary.matrix.exposure.Exposure: the jobs' short entries come back with every field)
    merged_exposure = json.loads((out / "exposure.json").read_text())["connectors"]
    assert {k: e["findings"] for k, e in merged_exposure.items()} == {"discord@1.0.0": 2, "telegram@1.0.0": 0}
    assert merged_exposure["discord@1.0.0"]["places"] == {} and merged_exposure["discord@1.0.0"]["verification"] is None
    # The merged run is an ordinary run: `canary verdicts` agrees.
    assert main(["verdicts", str(out)]) == 3


def test_merge_regression_and_green(tmp_path, capsys):
    plan = write_plan(tmp_path / "plan.json")
    root = jobs(tmp_path, [SPECS[:1], SPECS[1:3], SPECS[3:]])
    store = tmp_path / "store"
    assert (
        main(
            [
                "merge",
                str(root / "shard-1"),
                str(root / "shard-2"),
                str(root / "shard-3"),
                "--plan",
                str(plan),
                "--store",
                str(store),
            ]
        )
        == 1
    )
    out = capsys.readouterr().out
    assert "regressed *" in out and SPECS[1].id in out
    assert len(list(store.iterdir())) == 1  # a new run in the store
    green = [s for s in SPECS if s.connector == "telegram"]
    plan2 = write_plan(tmp_path / "plan2.json", green)
    assert (
        main(
            ["merge", str(root / "shard-2"), str(root / "shard-3"), "--plan", str(plan2), "--out", str(tmp_path / "m2")]
        )
        == 0
    )


def test_merge_against_the_matrix_file_and_its_waivers(tmp_path, capsys):
    matrix = tmp_path / "matrix.yaml"
    matrix.write_text(MATRIX.replace("'1.0.0', 'feature/x+y'", "'1.0.0'"))
    specs = [Spec(s.connector, s.core, s.statuses) for s in SPECS]
    root = jobs(tmp_path, [specs])
    assert main(["merge", str(root), "-c", str(matrix), "--out", str(tmp_path / "m")]) == 1
    capsys.readouterr()
    (tmp_path / "waivers.yaml").write_text("- {cell: 'discord@*', reason: known serverId break}\n")
    assert main(["merge", str(root), "-c", str(matrix), "--out", str(tmp_path / "m2")]) == 0
    assert "regressed (waived)" in capsys.readouterr().out


def test_merge_corrupt_duplicate_and_unplanned_results(tmp_path, capsys):
    plan = write_plan(tmp_path / "plan.json", SPECS[2:])
    root = jobs(tmp_path, [SPECS[2:3], SPECS[2:]])
    first, second = sorted(root.glob("shard-*/*"))
    # Job 1 reported telegram baseline as a fail; job 2 (a re-run, finished later) as a pass.
    older = json.loads((first / "cells" / f"{SPECS[2].id}.json").read_text())
    older["status"], older["finished_at"] = "fail", "2026-11-21T07:00:00+00:00"
    (first / "cells" / f"{SPECS[2].id}.json").write_text(json.dumps(older))
    (second / "cells" / f"{SPECS[3].id}.json").write_text('{"cell_id": ')  # a torn upload
    shutil.copy(tmp_path / "plan.json", first / "cells" / "not-a-cell.json")
    make_run(root / "shard-3", SPECS[:1])  # a cell this plan does not hold
    assert main(["merge", str(root), "--plan", str(plan), "--out", str(tmp_path / "m")]) == 3
    err = capsys.readouterr().err
    assert f"two results for {SPECS[2].id}" in err
    assert "unreadable cell result" in err and f"missing: no job reported planned cell {SPECS[3].id}" in err
    assert f"ignored: {SPECS[0].id} is not a planned cell" in err
    kept = RunDir(tmp_path / "m").read_cell(SPECS[2].id)
    assert kept.status == "pass"


def test_merge_bad_input_is_exit_2(tmp_path, capsys, monkeypatch):
    plan = write_plan(tmp_path / "plan.json")
    root = jobs(tmp_path, [SPECS])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert main(["merge", str(root), "--plan", str(plan), "--out", str(tmp_path / "full")]) == 2
    assert "not empty" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CANARY_MATRIX", raising=False)
    assert main(["merge", str(root)]) == 2
    assert "-c matrix.yaml or --plan" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"cells": [{"id": "x"}]}')
    assert main(["merge", str(root), "--plan", str(tmp_path / "bad.json")]) == 2
    assert "bad.json" in capsys.readouterr().err
    assert main(["merge", str(tmp_path / "nowhere"), "--plan", str(plan)]) == 2


# ---------------------------------------------------------------- plan -> ci-matrix -> jobs -> merge -> report


@pytest.mark.slow
def test_one_job_per_cell_then_merge_keeps_diff_exposure_and_digest(demo, tmp_path):
    """The CI path with real cells: every job runs one cell into its own store (no job sees a
    baseline next to its candidate), `canary merge` gathers them. The merged run keeps the
    plan's matrix digest, every job's exposure and one compat diff computed by the merge; a
    job whose candidate cell failed never reports `green`."""
    from tests.conftest import canary

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    matrix = checkout / "matrix.yaml"
    matrix.write_text(
        demo.matrix.read_text() + "exclude:\n  - {connector: beta}\n  - {connector: gamma}\n"
        "compat: {diff: true, language: py}\n"
    )
    env = {"CANARY_HOME": str(tmp_path / "home")}
    plan = canary("plan", "--json", "-c", "matrix.yaml", cwd=checkout, env=env)
    assert plan.returncode == 0, plan.stderr
    (tmp_path / "plan.json").write_text(plan.stdout)
    digest = json.loads(plan.stdout)["matrix_digest"]
    fan = canary("ci-matrix", "--plan", str(tmp_path / "plan.json"), "--max-jobs", "4", cwd=checkout, env=env)
    include = json.loads(fan.stdout)["include"]
    assert len(include) == 4
    logs = {}
    for entry in include:
        job_env = {"CANARY_HOME": str(tmp_path / "jobs" / entry["name"] / "home")}
        proc = canary(
            "run",
            "-c",
            "matrix.yaml",
            "--cells",
            *entry["cells"].split(),
            "--store",
            str(tmp_path / "artifacts" / entry["name"]),
            "--report",
            "none",
            "--progress",
            "plain",
            cwd=checkout,
            env=job_env,
        )
        logs[entry["cells"]] = proc.stdout + proc.stderr
        assert not list((tmp_path / "artifacts" / entry["name"]).glob("*/compat-diff.json")), "diff computed per job"
    failing = logs["alpha@main--core-2.0.0"]
    assert "green" not in failing and "1 fail" in failing and "not judged" in failing, failing
    merged = tmp_path / "merged"
    proc = canary(
        "merge",
        str(tmp_path / "artifacts"),
        "--plan",
        str(tmp_path / "plan.json"),
        "--out",
        str(merged),
        cwd=checkout,
        env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    record = json.loads((merged / "run.json").read_text())
    assert record["matrix_digest"] == digest and digest
    diff = json.loads((merged / "compat-diff.json").read_text())
    assert any("server_id" in c["symbol"] for c in diff["changes"]), diff["changes"]
    assert (merged / "compat" / "1.0.0..2.0.0.json").is_file()  # the step where alpha@main regressed (issue 15)
    report = canary(
        "report", str(merged), "--format", "md,json", "--out", str(tmp_path / "report"), cwd=checkout, env=env
    )
    assert report.returncode == 0, report.stderr
    md = (tmp_path / "report" / "report.md").read_text()
    assert "Breaking changes (" in md and "server_id" in md
