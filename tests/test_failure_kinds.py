"""Failure kinds are recorded on the attempt when the executor knows them (issue 14 item 4);
verdicts read the record, and results written before the field still read (one fallback)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from canary.kernel.errors import CoreMismatch, InfrastructureError
from canary.matrix import failures
from canary.matrix.failures import FailureKind
from canary.matrix.npm_artifacts import npm_failure
from canary.matrix.results import CellResult, CommandRecord
from canary.matrix.store import Store
from canary.matrix.verdicts import classify
from tests.conftest import canary
from tests.conftest_verdicts import BASE, CAND, Spec, make_run


def pair(name, base_statuses, cand_statuses, **cand_kw):
    return [Spec(name, BASE, base_statuses), Spec(name, CAND, cand_statuses, **cand_kw)]


def judge(tmp_path, specs, edit=None):
    """Verdicts of a run of `specs`; `edit` rewrites some cell results as a newer executor writes them."""
    run = make_run(tmp_path / "store", specs)
    for cell_id, change in (edit or {}).items():
        run.write_cell(change(run.read_cell(cell_id)))
    summary = classify(run)
    return summary, {v.cell_id: v for v in summary.verdicts}


def test_a_real_run_records_the_kind_and_the_failing_command(demo_run):
    """The demo's failing cells (alpha@main and gamma@v1 on 2.0.0, beta@broken, gamma@main on 1.0.0)
    fail in a test command: the attempt says so and points at that command."""
    run = demo_run["run"]
    schema = json.loads((Path(failures.__file__).parent / "schemas" / "cell-result.schema.json").read_text())
    failed = []
    for path in sorted((run.path / "cells").glob("*.json")):
        doc = json.loads(path.read_text())
        jsonschema.validate(doc, schema)
        for attempt in doc["attempts"]:
            if attempt["status"] == "pass":
                assert attempt.get("failure") is None and attempt.get("failed_command") is None
                continue
            failed.append(doc["cell_id"])
            assert attempt["failure"] == "test-failed", (doc["cell_id"], attempt)
            cmd = attempt["commands"][attempt["failed_command"]]
            assert cmd["phase"] == "test" and cmd["exit_code"] not in (0, None)
    assert len(set(failed)) == 5


def test_verdicts_read_the_record_not_the_log(tmp_path):
    """A recorded test failure stays a test failure even when its log mentions a full disk (a test
    that checks its own ENOSPC handling); the same result without the record is read from the log."""
    test_cmd = [[CommandRecord(phase="test", argv=["pytest"], exit_code=1, duration_s=1.0)]]
    log = "test_write_handles_full_disk: expected 'No space left on device'\n1 failed\n"
    recorded = pair("discord", ["pass"], ["fail"], logs=[log], commands=test_cmd)
    legacy = pair("telegram", ["pass"], ["fail"], logs=[log], commands=test_cmd)

    def record(result: CellResult) -> CellResult:
        result.attempts[-1].failure, result.attempts[-1].failed_command = FailureKind.TEST_FAILED, 0
        return result

    _, by = judge(tmp_path, recorded + legacy, edit={recorded[1].id: record})
    assert by[recorded[1].id].verdict == "regressed"
    assert by[legacy[1].id].verdict == "error" and by[legacy[1].id].reason.startswith("infrastructure: no space")


def test_a_recorded_infrastructure_kind_makes_an_error_without_any_log(tmp_path):
    test_cmd = [[CommandRecord(phase="test", argv=["npm", "test"], exit_code=1, duration_s=1.0)]]
    specs = pair("discord", ["pass"], ["fail"], logs=[""], commands=test_cmd)

    def record(result: CellResult) -> CellResult:
        result.attempts[-1].failure, result.attempts[-1].failed_command = FailureKind.OOM, 0
        return result

    summary, by = judge(tmp_path, specs, edit={specs[1].id: record})
    assert by[specs[1].id].verdict == "error" and "out of memory" in by[specs[1].id].reason
    assert summary.decision == "inconclusive"


NOTARGET = ["npm error code ETARGET", "npm error notarget No matching version found for @elizaos/core@^9.9.9."]


def test_the_npm_path_and_the_generic_path_agree_on_the_kind():
    """Two tables used to disagree: for npm's ETARGET line matrix/infra.py said "no matching version in
    registry" and matrix/npm_artifacts.py "dependency not in registry"; and "Disk quota exceeded" was
    out of memory-or-disk for verdicts but an unnamed install failure for both. One table now names both."""
    assert npm_failure("install", 1, NOTARGET).kind == FailureKind.MISSING_DEPENDENCY
    assert failures.command_kind("install", 1, False, "\n".join(NOTARGET)) == FailureKind.MISSING_DEPENDENCY
    quota = ["npm error code EDQUOT", "npm error Disk quota exceeded, write"]
    assert npm_failure("install", 1, quota).kind == FailureKind.NO_SPACE
    assert failures.command_kind("install", 1, False, "\n".join(quota)) == FailureKind.NO_SPACE


@pytest.mark.parametrize(
    "phase,code,timed_out,output,printed,kind",
    [
        ("test", 1, False, "AssertionError: 1 != 2", True, FailureKind.TEST_FAILED),
        ("test", 1, False, "GET /api 404 Not Found", True, FailureKind.TEST_FAILED),  # a test's 404 is its own
        ("install", 1, False, "npm error 404 Not Found - GET x", True, FailureKind.MISSING_DEPENDENCY),
        ("install", 1, False, "getaddrinfo ENOTFOUND registry.invalid", True, FailureKind.NETWORK),
        ("test", -9, False, "running 12 tests", True, FailureKind.OOM),
        ("test", 1, False, "FATAL ERROR: Reached heap limit", True, FailureKind.OOM),
        ("test", None, True, "test 1 ok", True, FailureKind.TIMEOUT),
        ("test", None, True, "", False, FailureKind.TIMEOUT_NO_OUTPUT),
        ("materialize", 128, False, "fatal: repository not found", True, FailureKind.MATERIALIZE),
    ],
)
def test_command_kind(phase, code, timed_out, output, printed, kind):
    assert failures.command_kind(phase, code, timed_out, output, printed=printed) == kind


def test_pip_that_cannot_reach_its_index_is_the_network_not_a_missing_package(tmp_path):
    """A real pip against an index nobody listens on ends with "No matching distribution found", the
    words of a package the index lacks; its connection errors above say the index was not reached.
    The table used to try the missing dependency first and told a user with a registry down that
    their dependency does not exist."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port that was free a moment ago: nothing answers on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "six",
            "--no-deps",
            "-d",
            str(tmp_path),
            "--retries",
            "1",
            "--timeout",
            "2",
            "--index-url",
            f"http://127.0.0.1:{port}/simple",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_NO_INDEX": ""},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "No matching distribution found" in output, output
    assert failures.command_kind("install", proc.returncode, False, output) == FailureKind.NETWORK
    # The same words without a connection error are a package the index does not have.
    lacking = "\n".join(line for line in output.splitlines() if "connection" not in line.lower())
    assert failures.command_kind("install", 1, False, lacking) == FailureKind.MISSING_DEPENDENCY


def test_npm_is_judged_by_its_final_error_code_not_by_a_retried_warning():
    e404_after_retry = [
        "npm warn retry will retry, error on last attempt: Error: read ECONNRESET",
        "npm error code E404",
        "npm error 404 Not Found - GET http://127.0.0.1:1/@elizaos%2fnope - Not found",
    ]
    assert npm_failure("install", 1, e404_after_retry).kind == FailureKind.MISSING_DEPENDENCY
    refused = ["npm error code ECONNREFUSED", "npm error errno ECONNREFUSED"]
    assert npm_failure("install", 1, refused).kind == FailureKind.NETWORK


def test_raisers_that_know_the_kind_say_it():
    assert CoreMismatch("core mismatch: x").kind == FailureKind.CORE_MISMATCH
    assert InfrastructureError("git: no such ref").kind == ""
    assert failures.infrastructure(FailureKind.CORE_MISMATCH) and not failures.infrastructure("test-failed")


# npm out of disk after a retried read: the retry's ECONNRESET is not why it failed.
NOSPC_AFTER_RETRY = [
    "npm warn retry will retry, error on last attempt: Error: read ECONNRESET",
    "npm error code ENOSPC",
    "npm error syscall write",
    "npm error nospc ENOSPC: no space left on device, write",
]
HEAP = [
    "<--- Last few GCs --->",
    "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
]


@pytest.mark.parametrize(
    "lines,kind,reason",
    [
        (NOSPC_AFTER_RETRY, FailureKind.NO_SPACE, "install: no space left on device"),
        (HEAP, FailureKind.OOM, "install: out of memory"),
        (NOTARGET, FailureKind.MISSING_DEPENDENCY, "install: dependency not in registry: @elizaos/core@^9.9.9"),
    ],
)
def test_the_npm_reason_words_the_recorded_kind(lines, kind, reason):
    """explain_npm used its own regexes: for NOSPC_AFTER_RETRY it said "registry unreachable
    (ECONNRESET)" while the recorded kind was no-space, and it had no words for a heap exhaustion."""
    exc = npm_failure("install", 1, lines)
    assert exc.kind == kind
    assert exc.reason == reason


def test_a_set_up_command_killed_by_sigkill_says_out_of_memory_like_its_record(demo, tmp_path):
    """A real run whose install command is killed by SIGKILL, as the OOM killer does, without a word.
    The attempt records `oom`; matrix/infra.py's own regexes found nothing in the output and said
    "install failed (exit -9): resolving", so the reason and the record disagreed."""
    conn = tmp_path / "heavy"
    (conn / "tests").mkdir(parents=True)
    path = tmp_path / "m.yaml"
    path.write_text(
        f"""
core:
  name: democore
  ecosystem: pypi
  versions: ["1.0.0"]
  index: {{find_links: [{str(demo.wheels)!r}], no_index: true}}
connectors:
  - name: heavy
    path: {str(conn)!r}
    install: [[sh, -c, "echo resolving; kill -9 $$"]]
    test: [[sh, -c, "exit 0"]]
"""
    )
    home = tmp_path / "h"
    proc = canary("run", "-c", str(path), "--report", "none", env={"CANARY_HOME": str(home)})
    (result,) = Store(home / "runs").latest().read_cells().values()
    attempt = result.attempts[-1]
    assert result.status == "error", proc.stdout
    assert attempt.failure == FailureKind.OOM
    assert attempt.commands[attempt.failed_command].phase == "install"
    assert result.reason == "install: out of memory (killed by SIGKILL)"
