"""Verdicts: crater-style comparison of every candidate cell with its baseline cell."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from tests.conftest_verdicts import BASE, CAND, Spec, junit_xml, make_run
from canary.matrix.model import Waiver
from canary.matrix.results import CommandRecord
from canary.matrix.verdicts import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSED, classify


def schema() -> dict:
    return json.loads(resources.files("canary.matrix").joinpath("schemas/verdicts.schema.json").read_text())


def judge(tmp_path, specs, planned_only=(), **kw):
    run = make_run(tmp_path / "store", specs, planned_only)
    summary = classify(run, **kw)
    jsonschema.validate(summary.to_dict(), schema())
    return summary, {v.cell_id: v for v in summary.verdicts}


def pair(name, base_statuses, cand_statuses, **cand_kw):
    return [Spec(name, BASE, base_statuses), Spec(name, CAND, cand_statuses, **cand_kw)]


def test_regressed_broken_fixed_ok(tmp_path):
    specs = (
        pair("discord", ["pass"], ["fail"], reason="No server ID found 10")
        + pair("telegram", ["fail"], ["fail"])
        + pair("twitter", ["fail"], ["pass"])
        + pair("sql", ["pass"], ["pass"])
    )
    summary, by = judge(tmp_path, specs)
    assert [by[s.id].verdict for s in specs] == ["ok", "regressed", "broken", "broken", "broken", "fixed", "ok", "ok"]
    regressed = by[specs[1].id]
    assert regressed.blocking and regressed.reason == "No server ID found 10"
    assert regressed.baseline_cell == specs[0].id and regressed.baseline_status == "pass"
    assert summary.exit_code == EXIT_REGRESSED and summary.decision == "regressed"
    assert summary.counts()["broken"] == 3


def test_broken_alone_is_green(tmp_path):
    summary, _ = judge(tmp_path, pair("telegram", ["fail"], ["fail"]))
    assert summary.exit_code == EXIT_OK and summary.decision == "green"


def test_fail_then_pass_is_flaky_with_two_attempts(tmp_path):
    specs = pair("discord", ["pass"], ["fail", "pass"])
    summary, by = judge(tmp_path, specs)
    v = by[specs[1].id]
    assert (v.verdict, v.attempts) == ("flaky", 2)
    assert "attempt 1" in v.reason and "attempt 2" in v.reason
    assert summary.exit_code == EXIT_OK


def test_every_retry_failing_stays_regressed(tmp_path):
    specs = pair("discord", ["pass"], ["fail", "fail", "fail"])
    _, by = judge(tmp_path, specs)
    assert (by[specs[1].id].verdict, by[specs[1].id].attempts) == ("regressed", 3)


def test_missing_dependency_is_error_and_inconclusive(tmp_path):
    # The executor calls it `error` itself (canary.matrix.infra) ...
    a = pair("farcaster", ["error"], ["error"], reason="dependency not in registry: @farcaster/hub-nodejs")
    a[0].reason = a[1].reason
    # ... and a `fail` whose install step could not download a dependency is one too.
    install = [[CommandRecord(phase="install", argv=["npm", "install"], exit_code=1, duration_s=1.0)]]
    b = pair(
        "discord", ["pass"], ["fail"], logs=["npm error code E404\nnpm error 404 Not Found - GET x"], commands=install
    )
    summary, by = judge(tmp_path, a + b)
    assert by[a[1].id].verdict == "error" and by[a[1].id].inconclusive
    assert by[b[1].id].verdict == "error" and "missing dependency" in by[b[1].id].reason
    assert not any(v.verdict == "regressed" for v in summary.verdicts)
    assert summary.exit_code == EXIT_INCONCLUSIVE and summary.decision == "inconclusive"


def test_404_in_test_output_is_a_real_failure(tmp_path):
    # The same words printed by a test (not an install step) are the connector's business.
    test_cmd = [[CommandRecord(phase="test", argv=["npm", "test"], exit_code=1, duration_s=1.0)]]
    specs = pair("discord", ["pass"], ["fail"], logs=["GET /api 404 Not Found\nexpected 200"], commands=test_cmd)
    _, by = judge(tmp_path, specs)
    assert by[specs[1].id].verdict == "regressed"


@pytest.mark.parametrize(
    "reason,log",
    [
        ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", "tests running\n"),
        ("exit 1", "writing snapshot\nError: ENOSPC: no space left on device, write\n"),
        ("exit 1", "Traceback (most recent call last):\nMemoryError\n"),
    ],
)
def test_out_of_memory_or_disk_is_error(tmp_path, reason, log):
    specs = pair("discord", ["pass"], ["fail"], reason=reason, logs=[log])
    summary, by = judge(tmp_path, specs)
    assert by[specs[1].id].verdict == "error"
    assert by[specs[1].id].reason.startswith("infrastructure:")
    assert summary.exit_code == EXIT_INCONCLUSIVE


def test_sigkill_of_a_test_run_is_error(tmp_path):
    killed = [[CommandRecord(phase="test", argv=["npm", "test"], exit_code=-9, duration_s=3.0)]]
    specs = pair("discord", ["pass"], ["fail"], reason="exit -9", logs=["running 12 tests\n"], commands=killed)
    _, by = judge(tmp_path, specs)
    assert by[specs[1].id].verdict == "error" and "SIGKILL" in by[specs[1].id].reason


def test_timeout_without_output_is_error_with_output_is_regression(tmp_path):
    silent = pair("discord", ["pass"], ["timeout"], reason="timed out after 600s", logs=[""])
    talking = pair("telegram", ["pass"], ["timeout"], reason="timed out after 600s", logs=["test 1 ok\ntest 2 ..."])
    # The harness's own lines around a silent command (as canary.matrix.proc writes them) are not output.
    framed = pair(
        "twitter",
        ["pass"],
        ["timeout"],
        reason="timed out after 600s",
        logs=[
            "# cell\n\n$ [install] npm ci\n    (cwd /w, timeout 600s)\nadded 3 packages\n-> exit 0 in 1.00s\n"
            "\n$ [test] npm test\n    (cwd /w, timeout 600s)\n!! timed out after 600s: process group killed\n"
            "-> exit -9 in 600.00s\n"
        ],
    )
    framed_talking = pair(
        "slack",
        ["pass"],
        ["timeout"],
        reason="timed out after 600s",
        logs=["$ [test] npm test\n    (cwd /w, timeout 600s)\nrunning 3 tests\n!! timed out after 600s\n"],
    )
    _, by = judge(tmp_path, silent + talking + framed + framed_talking)
    assert by[silent[1].id].verdict == "error" and "no output" in by[silent[1].id].reason
    assert by[talking[1].id].verdict == "regressed"
    assert by[framed[1].id].verdict == "error" and by[framed_talking[1].id].verdict == "regressed"


def test_infrastructure_on_the_baseline_never_makes_a_regression(tmp_path):
    specs = pair("discord", ["error"], ["fail"])
    specs[0].reason = "git: could not read from remote repository"
    summary, by = judge(tmp_path, specs)
    assert by[specs[0].id].verdict == "error"
    assert by[specs[1].id].verdict == "error" and "no usable baseline" in by[specs[1].id].reason
    assert summary.exit_code == EXIT_INCONCLUSIVE


def test_no_baseline_planned_is_skipped_but_a_lost_baseline_is_inconclusive(tmp_path):
    alone = [Spec("discord", CAND, ["fail"])]  # the plan has no discord baseline at all
    summary, by = judge(tmp_path, alone)
    assert by[alone[0].id].verdict == "skipped" and "no baseline cell planned" in by[alone[0].id].reason
    assert summary.exit_code == EXIT_OK
    lost_base = pair("discord", ["pass"], ["fail"])
    summary, by = judge(tmp_path / "b", lost_base[1:], planned_only=lost_base[:1])
    assert by[lost_base[1].id].verdict == "error" and "no usable baseline" in by[lost_base[1].id].reason
    assert summary.exit_code == EXIT_INCONCLUSIVE


def test_missing_result_is_error_missing(tmp_path):
    specs = pair("discord", ["pass"], ["pass"])
    lost = pair("telegram", ["pass"], ["pass"])
    summary, by = judge(tmp_path, specs + lost[:1], planned_only=lost[1:])
    v = by[lost[1].id]
    assert (v.verdict, v.status) == ("error", None) and v.reason.startswith("missing")
    assert summary.exit_code == EXIT_INCONCLUSIVE


def test_optional_cells_never_decide(tmp_path):
    specs = pair("discord", ["pass"], ["fail"], tier="optional") + pair("x", ["pass"], ["error"], tier="optional")
    specs[0].tier = specs[2].tier = "optional"
    summary, by = judge(tmp_path, specs)
    assert by[specs[1].id].verdict == "regressed" and not by[specs[1].id].blocking
    assert summary.exit_code == EXIT_OK


def test_unsupported_core_is_reported_not_blocking(tmp_path):
    specs = pair("discord", ["pass"], ["fail"], unsupported=True)
    summary, by = judge(tmp_path, specs)
    assert by[specs[1].id].verdict == "unsupported" and "declared range" in by[specs[1].id].reason
    assert summary.exit_code == EXIT_OK


def test_matrix_expectations_soften_a_regression(tmp_path):
    flaky = pair("discord", ["pass"], ["fail"], expectation="flaky")
    expected = pair("telegram", ["pass"], ["fail"], expectation="expect_fail")
    summary, by = judge(tmp_path, flaky + expected)
    assert by[flaky[1].id].verdict == "flaky" and by[expected[1].id].verdict == "broken"
    assert summary.exit_code == EXIT_OK


def test_aa_check_unstable_baseline(tmp_path):
    # A/A: the baseline ran twice and disagreed with itself.
    specs = pair("discord", ["pass", "fail"], ["fail"]) + pair("telegram", ["pass", "pass"], ["fail"])
    summary, by = judge(tmp_path, specs)
    assert by[specs[0].id].verdict == "flaky" and "A/A" in by[specs[0].id].reason
    assert by[specs[1].id].verdict == "flaky" and "unstable" in by[specs[1].id].reason
    # A stable A/A pair changes nothing.
    assert by[specs[2].id].verdict == "ok" and by[specs[3].id].verdict == "regressed"
    assert summary.exit_code == EXIT_REGRESSED


def test_newly_failing_tests_from_junit(tmp_path):
    base = junit_xml({"voice::joins": "pass", "voice::leaves": "pass", "text::sends": "fail", "x::skips": "skipped"})
    cand1 = junit_xml({"voice::joins": "fail", "voice::leaves": "error", "text::sends": "fail", "x::skips": "fail"})
    cand2 = junit_xml({"voice::joins": "fail", "voice::leaves": "pass", "text::sends": "fail", "x::skips": "fail"})
    specs = [
        Spec("discord", BASE, ["pass"], junit=[base]),
        Spec("discord", CAND, ["fail", "fail"], junit=[cand1, cand2]),
    ]
    _, by = judge(tmp_path, specs)
    # voice::leaves failed once then passed: flaky, not newly failing; text::sends failed before;
    # x::skips was skipped on the baseline.
    assert by[specs[1].id].newly_failing_tests == ["voice::joins"]


def test_junit_shapes_from_different_runners():
    from canary.matrix.junit import parse

    # A bare <testsuite> root (jest-junit, bun), a `file` attribute instead of classname
    # (vitest), nested suites, and one id reported twice (its worst status wins).
    text = """<testsuite name="top">
      <testcase name="a" classname="m.T"/>
      <testcase name="b" file="src/x.test.ts"><skipped/></testcase>
      <testsuite name="inner"><testcase name="c"><error/></testcase></testsuite>
      <testcase name="a" classname="m.T"><failure/></testcase>
    </testsuite>"""
    assert parse(text) == {"m.T::a": "fail", "src/x.test.ts::b": "skipped", "inner::c": "error"}


def test_corrupt_junit_is_not_fatal(tmp_path):
    specs = [Spec("discord", BASE, ["pass"], junit=["<testsuite"]), Spec("discord", CAND, ["fail"], junit=["<x/>"])]
    _, by = judge(tmp_path, specs)
    assert by[specs[1].id].verdict == "regressed" and by[specs[1].id].newly_failing_tests == []


# ---------------------------------------------------------------- waivers


def test_waiver_unblocks_a_regression(tmp_path):
    specs = pair("discord", ["pass"], ["fail"])
    w = Waiver(cell="discord@*--core-1.7.*", reason="serverId", issue="#12", expires="2026-12-31")
    summary, by = judge(tmp_path, specs, waivers=[w], today="2026-11-21")
    v = by[specs[1].id]
    assert v.verdict == "regressed" and v.waived and not v.blocking
    assert v.waiver == {"cell": w.cell, "reason": "serverId", "issue": "#12", "expires": "2026-12-31"}
    assert summary.exit_code == EXIT_OK and summary.expired_waivers == [] and summary.removable_waivers == []


def test_expired_waiver_no_longer_applies_and_is_reported(tmp_path):
    specs = pair("discord", ["pass"], ["fail"])
    w = Waiver(cell="discord@*", reason="serverId", issue="#12", expires="2026-11-20")
    summary, by = judge(tmp_path, specs, waivers=[w], today="2026-11-21")
    assert not by[specs[1].id].waived and by[specs[1].id].blocking
    assert summary.exit_code == EXIT_REGRESSED
    assert [e["cell"] for e in summary.expired_waivers] == ["discord@*"]
    assert summary.expired_waivers[0]["cells"] == [s.id for s in specs]
    # The expiry day itself still counts.
    summary, _ = judge(tmp_path / "b", specs, waivers=[w], today="2026-11-20")
    assert summary.exit_code == EXIT_OK


def test_waived_cell_that_passes_again_is_removable(tmp_path):
    specs = pair("discord", ["pass"], ["pass"]) + pair("telegram", ["pass"], ["fail"])
    ws = [Waiver(cell="discord@*", reason="fixed upstream"), Waiver(cell="telegram@*", reason="still broken")]
    summary, _ = judge(tmp_path, specs, waivers=ws)
    assert [r["cell"] for r in summary.removable_waivers] == ["discord@*"]
    assert "can be removed" in summary.removable_waivers[0]["note"]


def test_waiver_covers_infrastructure_error_but_not_a_missing_result(tmp_path):
    err = pair("farcaster", ["pass"], ["error"], reason="dependency not in registry")
    lost = pair("discord", ["pass"], ["pass"])
    ws = [Waiver(cell="farcaster@*", reason="dep unpublished"), Waiver(cell="discord@*", reason="x")]
    summary, by = judge(tmp_path, err + lost[:1], planned_only=lost[1:], waivers=ws)
    assert by[err[1].id].waived and not by[err[1].id].inconclusive
    assert not by[lost[1].id].waived and by[lost[1].id].inconclusive
    assert summary.exit_code == EXIT_INCONCLUSIVE
