"""The promotion's evidence: an in-toto Statement v1 with the test-result predicate.

The subject is the release tag's commit; the predicate lists every candidate cell
with its verdict, and the run/cell documents it was judged from (by digest) as its
configuration. The bytes depend only on the inputs (no clock), so promoting twice
with the same run gives the same digest and file name: that is what makes a second
`--confirm` a no-op. Schema: canary/promote/schemas/evidence.schema.json.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from canary.kernel.errors import UserError
from canary.matrix.results import CellResult, RunRecord
from canary.matrix.store import RunDir
from canary.matrix.verdicts import Summary, Verdict

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
SIGN_NAMESPACE = "canary-promote"

_PASSED = ("ok", "fixed")


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _label(v: Verdict) -> str:
    text = f"{v.cell_id}: {v.label}"
    if v.waived:
        text += " (waived)"
    return text


def classify_tests(verdicts: list[Verdict]) -> tuple[list[str], list[str], list[str]]:
    """(passed, warned, failed) entries for the candidate cells.

    Passed: ok, fixed. Failed: an unwaived regression, break or error in a required
    cell (a promotion never happens with one). Everything else is a warning:
    waived, flaky, skipped, unsupported, and any non-green optional cell.
    """
    passed, warned, failed = [], [], []
    for v in verdicts:
        if v.role != "candidate":
            continue
        if v.verdict in _PASSED and not v.waived:
            passed.append(_label(v))
        elif v.tier == "required" and not v.waived and v.verdict in ("regressed", "broken", "error"):
            failed.append(_label(v))
        else:
            warned.append(_label(v))
    return passed, warned, failed


def statement(
    *,
    release_tag: str,
    prerelease_tag: str,
    version: str,
    commit: str,
    artifact_digest: str | None,
    run: RunDir,
    record: RunRecord,
    results: dict[str, CellResult],
    summary: Summary,
) -> dict[str, Any]:
    subject_digest = {"gitCommit": commit}
    if artifact_digest:
        subject_digest["sha256"] = artifact_digest
    configuration = [
        {
            "name": "run.json",
            "digest": {"sha256": _sha256_file(run.run_file)},
            "annotations": {
                "runId": record.run_id,
                "startedAt": record.started_at,
                "finishedAt": record.finished_at or "",
                "baseline": record.baseline or "",
                "candidates": ", ".join(record.candidates),
            },
        }
    ]
    if record.matrix_digest:
        algo, _, hexdigest = record.matrix_digest.rpartition(":")
        configuration.append({"name": record.matrix_file or "matrix.yaml", "digest": {algo or "sha256": hexdigest}})
    for cell_id in sorted(results):
        path = run.cell_file(cell_id)
        if path.is_file():
            configuration.append({"name": f"cells/{cell_id}.json", "digest": {"sha256": _sha256_file(path)}})
    passed, warned, failed = classify_tests(summary.verdicts)
    result = "FAILED" if failed else "WARNED" if warned else "PASSED"
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {
                "name": release_tag,
                "digest": subject_digest,
                "annotations": {"prereleaseTag": prerelease_tag, "version": version},
            }
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "result": result,
            "configuration": configuration,
            "passedTests": passed,
            "warnedTests": warned,
            "failedTests": failed,
        },
    }


def encode(doc: dict[str, Any]) -> tuple[bytes, str]:
    """The file's bytes and their sha256 (hex)."""
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return data, hashlib.sha256(data).hexdigest()


def file_name(release_tag: str, digest: str) -> str:
    safe = release_tag.replace("/", "_").replace("@", "_")
    return f"{safe}-{digest[:16]}.intoto.json"


def check_sign_key(key: Path) -> str | None:
    """None when the key can sign without a prompt, else why not."""
    if not key.is_file():
        return f"{key}: no such key file"
    proc = subprocess.run(
        ["ssh-keygen", "-y", "-P", "", "-f", str(key)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    if proc.returncode != 0:
        return f"{key}: not a usable unencrypted private key ({proc.stderr.strip() or 'ssh-keygen -y failed'})"
    return None


def sign(path: Path, key: Path) -> Path:
    """`ssh-keygen -Y sign` (offline): writes `<file>.sig` beside the file."""
    proc = subprocess.run(
        ["ssh-keygen", "-Y", "sign", "-n", SIGN_NAMESPACE, "-f", str(key), str(path)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    if proc.returncode != 0:
        raise UserError(f"ssh-keygen -Y sign failed: {proc.stderr.strip()}", file=str(path), key="--sign-key")
    return path.with_name(path.name + ".sig")
