"""The waiver ledger file (waivers.yaml beside matrix.yaml) and `canary verdicts` on the command line."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from tests.conftest_verdicts import BASE, CAND, Spec, make_run
from canary.cli import main
from canary.kernel.errors import UserError
from canary.matrix.model import Waiver
from canary.matrix.waivers import load_beside, load_waivers

LEDGER = """\
# known regressions
waivers:
  - cell: "discord@*--core-1.7.*"
    reason: reads room.serverId
    issue: https://example.invalid/issues/12
    expires: 2026-12-31
  - cell: "telegram@*"
    reason: flaky network test
"""


def test_load_waivers_file(tmp_path):
    path = tmp_path / "waivers.yaml"
    path.write_text(LEDGER)
    assert load_waivers(path) == (
        Waiver(
            cell="discord@*--core-1.7.*",
            reason="reads room.serverId",
            issue="https://example.invalid/issues/12",
            expires="2026-12-31",
        ),
        Waiver(cell="telegram@*", reason="flaky network test", issue="", expires=None),
    )
    (tmp_path / "matrix.yaml").write_text("core: {}\n")
    assert len(load_beside(tmp_path / "matrix.yaml")) == 2
    # A bare list works too; no file beside a matrix means no waivers.
    path.write_text("- {cell: 'a*', reason: r}\n")
    assert load_waivers(path) == (Waiver(cell="a*", reason="r"),)
    assert load_beside(tmp_path / "sub" / "matrix.yaml") == ()


@pytest.mark.parametrize(
    "text,line,key,words",
    [
        (LEDGER.replace("    issue:", "    isue:"), 5, "waivers[0].isue", "unknown waiver key 'isue'"),
        (LEDGER.replace("2026-12-31", "31/12/2026"), 6, "waivers[0].expires", "not an ISO date"),
        (LEDGER.replace("    reason: flaky network test\n", ""), 7, "waivers[1].reason", "missing 'reason'"),
        ("waivers:\n  - cell: [a, b]\n    reason: x\n", 2, "waivers[0].cell", "expected a text value"),
        ("waiver:\n  - cell: a\n", 1, "waiver", "unknown key 'waiver'"),
        ("waivers: {cell: a}\n", 1, "waivers", "expected a list"),
        ("waivers:\n  - cell: a\n   reason: b\n", 3, None, "invalid YAML"),
    ],
)
def test_bad_waivers_file_names_file_line_key(tmp_path, text, line, key, words):
    path = tmp_path / "waivers.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_waivers(path)
    err = info.value
    assert (err.file, err.line, err.key) == (str(path), line, key)
    assert words in err.message
    assert str(err).startswith(f"{path}:{line}:")


def _schema():
    return json.loads(resources.files("canary.matrix").joinpath("schemas/verdicts.schema.json").read_text())


def test_cli_verdicts_json_table_and_exit_codes(tmp_path, capsys):
    specs = [Spec("discord", BASE, ["pass"]), Spec("discord", CAND, ["fail"], reason="No server ID found 10")]
    run = make_run(tmp_path / "store", specs)

    assert main(["verdicts", str(run.path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, _schema())
    assert data["decision"] == "regressed" and data["counts"]["regressed"] == 1

    assert main(["verdicts", run.run_id, "--store", str(tmp_path / "store")]) == 1
    out = capsys.readouterr().out
    assert "regressed *" in out and specs[1].id in out and "No server ID found 10" in out
    assert "regressed (exit 1)" in out

    # A waiver file given on the command line unblocks; an expired one is reported instead.
    ledger = tmp_path / "w.yaml"
    ledger.write_text("- {cell: 'discord@*', reason: known, issue: '#12', expires: 2026-12-31}\n")
    assert main(["verdicts", str(run.path), "--waivers", str(ledger), "--today", "2026-11-21"]) == 0
    assert "regressed (waived)" in capsys.readouterr().out
    assert main(["verdicts", str(run.path), "--waivers", str(ledger), "--today", "2027-01-01", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [w["cell"] for w in data["expired_waivers"]] == ["discord@*"]


def test_cli_verdicts_reads_waivers_beside_the_runs_matrix(tmp_path, capsys):
    matrix = tmp_path / "proj" / "matrix.yaml"
    matrix.parent.mkdir()
    matrix.write_text(
        "core:\n  name: '@elizaos/core'\n  ecosystem: npm\n  versions: ['1.6.4', '1.7.0']\n  baseline: '1.6.4'\n"
        "connectors:\n  - name: discord\n    package: '@elizaos/plugin-discord'\n    npm: {versions: ['1.0.0']}\n"
        "    test: [[node, -e, '0']]\n"
    )
    (matrix.parent / "waivers.yaml").write_text("waivers:\n  - {cell: 'discord@*', reason: known}\n")
    specs = [Spec("discord", BASE, ["pass"]), Spec("discord", CAND, ["fail"])]
    run = make_run(tmp_path / "store", specs)
    record = run.read_run()
    record.matrix_file = str(matrix)
    run.write_run(record)
    code = main(["verdicts", str(run.path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "regressed (waived)" in out


def test_cli_verdicts_bad_input_is_exit_2(tmp_path, capsys):
    assert main(["verdicts", "nope", "--store", str(tmp_path)]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
    run = make_run(tmp_path / "store", [Spec("discord", BASE, ["pass"])])
    (run.cells_dir / "broken.json").write_text('{\n  "cell_id": \n')
    assert main(["verdicts", str(run.path)]) == 2
    err = capsys.readouterr().err
    assert "broken.json:3" in err


@pytest.mark.slow
def test_verdicts_of_a_real_demo_run(demo_run, tmp_path, capsys):
    """The designed outcomes of the demo ecosystem (canary.demo), judged from a real run."""
    from canary.demo import DESIGNED

    run = demo_run["run"]
    assert main(["verdicts", str(run.path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    jsonschema.validate(data, _schema())
    by = {(v["connector"], v["ref"], v["role"]): v for v in data["verdicts"]}
    expected = {"pass/fail": "regressed", "pass/pass": "ok", "fail/fail": "broken", "fail/pass": "fixed"}
    for (connector, ref), (base, cand) in DESIGNED.items():
        assert by[(connector, ref, "candidate")]["verdict"] == expected[f"{base}/{cand}"], (connector, ref)
        assert by[(connector, ref, "baseline")]["verdict"] == ("ok" if base == "pass" else "broken")
    blocking = sorted(v["cell_id"] for v in data["verdicts"] if v["blocking"])
    assert blocking == ["alpha@main--core-2.0.0"]  # gamma@v1 regresses too, but gamma is optional
    assert by[("alpha", "main", "candidate")]["attempts"] == 2  # settings.retries: 1

    # A waiver for the regression turns the gate green, and says nothing is removable yet.
    ledger = tmp_path / "waivers.yaml"
    ledger.write_text("- {cell: 'alpha@main--*', reason: server_id renamed, issue: '#1', expires: 2099-01-01}\n")
    assert main(["verdicts", str(run.path), "--waivers", str(ledger), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removable_waivers"] == []


def test_cli_verdicts_defaults_to_the_latest_run_of_canary_home(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    make_run(tmp_path / "home" / "runs", [Spec("discord", BASE, ["pass"]), Spec("discord", CAND, ["pass"])])
    monkeypatch.chdir(tmp_path)
    assert main(["verdicts"]) == 0
    assert "green (exit 0): 2 ok" in capsys.readouterr().out
