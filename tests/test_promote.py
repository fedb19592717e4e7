"""canary promote on real git repositories and real run directories.

Every scenario builds a core repository with a prerelease tag, connector repositories
(their branches are what the freshness check asks `git ls-remote` about), a matrix.yaml
and a run directory written with the shared result dataclasses, then runs the CLI
entry point and checks the decision, the exit code and what was (not) written.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from canary.cli import main
from canary.matrix.model import cell_id
from canary.matrix.results import (
    Attempt,
    CellResult,
    CommandRecord,
    ConnectorRecord,
    CoreRecord,
    PlannedCell,
    RunRecord,
)
from canary.matrix.store import RunDir

PRE = "v1.7.1-beta.2"
BASE = "1.7.0"
CAND = f"git:{PRE}"
CONNECTORS = {"discord": "required", "telegram": "required", "twitter": "optional"}


# ------------------------------------------------------------------ fixtures: git, repos, runs


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch):
    # Tests must not depend on (or write to) the machine's git configuration.
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Release Manager")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "rm@example.invalid")
    monkeypatch.delenv("CANARY_NPM", raising=False)


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def init_repo(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return git(path, "rev-parse", "HEAD")


def commit(path: Path, name: str, text: str, env: dict | None = None) -> str:
    (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", f"change {name}", env=env)
    return git(path, "rev-parse", "HEAD")


PYPROJECT = """[project]
name = "core"  # the core under test
version = "1.7.1b2"
dependencies = []

[tool.other]
keep = "me"
"""


@dataclass
class World:
    root: Path
    core: Path
    tag_commit: str
    store: Path
    run: RunDir
    matrix: Path
    connectors: dict[str, Path]
    connector_commits: dict[str, str]

    def cli(self, *extra: str, run: bool = True) -> int:
        argv = ["promote", PRE, "--repo", str(self.core), "--store", str(self.store)]
        if run:
            argv += ["--run", self.run.run_id]
        return main([*argv, *extra])

    def cid(self, connector: str, core: str = CAND) -> str:
        return cell_id(connector, "main", core)


@dataclass
class Cells:
    """What each candidate cell records; the baseline always passed on 1.7.0."""

    status: dict[str, list[str]] = field(default_factory=dict)  # connector -> attempt statuses
    core_commit: str | None = None  # default: the tag's commit
    core_digest: str | None = None
    missing: tuple[str, ...] = ()
    started: _dt.datetime | None = None


def make_world(
    tmp_path: Path,
    cells: Cells | None = None,
    waivers: list[dict] | None = None,
    tag: str = PRE,
    tag_env: dict | None = None,
) -> World:
    cells = cells or Cells()
    core = tmp_path / "core"
    init_repo(core, {"pyproject.toml": PYPROJECT, "README.md": "core\n"})
    head = commit(core, "index.ts", "export const v = 2;\n")
    git(core, "tag", "-a", tag, "-m", f"prerelease {tag}", env=tag_env)
    connectors, commits = {}, {}
    for name in CONNECTORS:
        connectors[name] = tmp_path / f"plugin-{name}"
        commits[name] = init_repo(connectors[name], {"index.ts": f"// {name}\n"})
    matrix = tmp_path / "matrix.yaml"
    lines = [
        "core:",
        "  name: '@elizaos/core'",
        "  ecosystem: npm",
        f"  versions: ['{BASE}', {{git: core, ref: '{PRE}'}}]",
        f"  baseline: '{BASE}'",
        "connectors:",
    ]
    for name, tier in CONNECTORS.items():
        lines += [
            f"  - name: {name}",
            f"    package: '@elizaos/plugin-{name}'",
            f"    git: {{url: plugin-{name}, refs: [main]}}",
            "    test: [[node, -e, '0']]",
            f"    tier: {tier}",
        ]
    if waivers:
        lines.append("waivers:")
        for w in waivers:
            lines.append("  - " + json.dumps(w))
    matrix.write_text("\n".join(lines) + "\n")

    store = tmp_path / "runs"
    run = RunDir(store / "20261121T070000Z-abc123")
    started = cells.started or _dt.datetime.now(_dt.UTC) - _dt.timedelta(minutes=30)
    planned, results = [], []
    for name, tier in CONNECTORS.items():
        for core_label, role in ((BASE, "baseline"), (CAND, "candidate")):
            pid = cell_id(name, "main", core_label)
            planned.append(PlannedCell(id=pid, tier=tier, role=role, connector=name, ref="main", core=core_label))
            if role == "candidate" and name in cells.missing:
                continue
            statuses = cells.status.get(name, ["pass"]) if role == "candidate" else ["pass"]
            if role == "candidate":
                core_rec = CoreRecord(
                    name="@elizaos/core",
                    label=CAND,
                    kind="git",
                    requested=PRE,
                    resolved="1.7.1-beta.2",
                    digest=cells.core_digest,
                    commit=cells.core_commit or head,
                )
            else:
                core_rec = CoreRecord(
                    name="@elizaos/core", label=BASE, kind="registry", requested=BASE, resolved=BASE, digest="ab" * 32
                )
            attempts = [
                Attempt(
                    number=i,
                    status=s,
                    reason="" if s == "pass" else "AssertionError: No server ID found 10",
                    commands=[
                        CommandRecord(
                            phase="test", argv=["node", "-e", "0"], exit_code=0 if s == "pass" else 1, duration_s=0.1
                        )
                    ],
                )
                for i, s in enumerate(statuses, 1)
            ]
            results.append(
                CellResult(
                    run_id=run.run_id,
                    cell_id=pid,
                    tier=tier,
                    role=role,
                    core=core_rec,
                    connector=ConnectorRecord(
                        name=name, package=f"@elizaos/plugin-{name}", source="git", ref="main", commit=commits[name]
                    ),
                    status=statuses[-1] if statuses[-1] != "pass" or len(statuses) == 1 else "pass",
                    reason=attempts[-1].reason,
                    attempts=attempts,
                )
            )
    from canary.matrix import config

    record = RunRecord(
        run_id=run.run_id,
        matrix_file=str(matrix),
        matrix_digest=config.load(matrix).digest,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=(started + _dt.timedelta(minutes=5)).isoformat(timespec="seconds"),
        cells=planned,
        state="complete",
        core_name="@elizaos/core",
        ecosystem="npm",
        baseline=BASE,
        candidates=[CAND],
    )
    run.cells_dir.mkdir(parents=True)
    run.write_run(record)
    for r in results:
        run.write_cell(r)
    return World(tmp_path, core, head, store, run, matrix, connectors, commits)


def snapshot(world: World) -> dict:
    """Git refs + work tree of the core repo, and a hash of every file under the test root."""
    files = {}
    for path in sorted(world.root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(world.root).parts:
            files[str(path.relative_to(world.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "refs": git(world.core, "for-each-ref", "--format=%(refname) %(objectname)"),
        "status": git(world.core, "status", "--porcelain", "--untracked-files=all"),
        "files": files,
    }


def run_json(world: World, capsys, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = world.cli("--json", *extra)
    out = json.loads(capsys.readouterr().out)
    jsonschema.validate(out, schema("promotion.schema.json"))
    assert out["exit_code"] == code
    return code, out


def check(out: dict, name: str) -> dict:
    return next(c for c in out["checks"] if c["name"] == name)


def schema(name: str) -> dict:
    return json.loads(resources.files("canary.promote").joinpath(f"schemas/{name}").read_text())


def assert_refused_wrote_nothing(world, capsys, expected_code, *extra):
    """Dry run and --confirm both give the code and leave every file and ref as it was."""
    before = snapshot(world)
    code, out = run_json(world, capsys, *extra)
    assert code == expected_code
    code2, out2 = run_json(world, capsys, "--confirm", *extra)
    assert code2 == expected_code
    assert out2["decision"] == out["decision"] and out2["dry_run"] is False
    assert all(a["state"] in ("planned", "no-op") for a in out2["actions"])
    assert snapshot(world) == before
    jsonschema.validate(out2, schema("promotion.schema.json"))
    return out2


# ------------------------------------------------------------------ the ten scenarios of the issue


def test_all_green_promotes_once_and_second_confirm_changes_nothing(tmp_path, capsys):
    w = make_world(tmp_path)
    before = snapshot(w)
    code, out = run_json(w, capsys, "--pyproject", str(w.core / "pyproject.toml"))
    assert code == 0 and out["decision"] == "promotable" and out["dry_run"] is True
    assert snapshot(w) == before, "a dry run writes nothing"
    assert {c["name"]: c["outcome"] for c in out["checks"]} == {
        "tag": "pass",
        "release-tag": "pass",
        "matrix": "pass",
        "coverage": "pass",
        "core": "pass",
        "freshness": "pass",
        "results": "pass",
        "verdicts": "pass",
        "flaky": "pass",
        "waivers": "pass",
        "soak": "skip",
    }
    assert "unchanged" in check(out, "freshness")["message"]

    code, out = run_json(w, capsys, "--pyproject", str(w.core / "pyproject.toml"), "--confirm")
    assert code == 0 and out["decision"] == "promoted"
    assert [a["state"] for a in out["actions"]] == ["done"] * 4
    # the release tag: annotated, on the prerelease's commit, naming the evidence by digest
    assert git(w.core, "rev-parse", "v1.7.1^{commit}") == w.tag_commit
    assert git(w.core, "cat-file", "-t", "v1.7.1") == "tag"
    message = git(w.core, "tag", "-l", "--format=%(contents)", "v1.7.1")
    evidence = Path(out["evidence_path"])
    digest = hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert out["evidence_digest"] == f"sha256:{digest}"
    assert f"sha256:{digest}" in message and evidence.name in message
    assert evidence.parent == w.core / "reports" / "promotions"
    doc = json.loads(evidence.read_text())
    jsonschema.validate(doc, schema("evidence.schema.json"))
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == "https://in-toto.io/attestation/test-result/v0.1"
    assert doc["subject"][0]["name"] == "v1.7.1" and doc["subject"][0]["digest"] == {"gitCommit": w.tag_commit}
    assert doc["predicate"]["result"] == "PASSED"
    assert sorted(doc["predicate"]["passedTests"]) == sorted(f"{w.cid(n)}: ok" for n in CONNECTORS)
    assert doc["predicate"]["failedTests"] == [] and doc["predicate"]["warnedTests"] == []
    names = [c["name"] for c in doc["predicate"]["configuration"]]
    assert "run.json" in names and f"cells/{w.cid('discord')}.json" in names
    # the version bump keeps the rest of the file (comments, other tables)
    assert (w.core / "pyproject.toml").read_text() == PYPROJECT.replace('"1.7.1b2"', '"1.7.1"')
    changelog = (w.core / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog\n\n## v1.7.1 (") and PRE in changelog and digest in changelog

    after_first = snapshot(w)
    code, out = run_json(w, capsys, "--pyproject", str(w.core / "pyproject.toml"), "--confirm")
    assert code == 0 and out["decision"] == "promoted"
    assert [a["state"] for a in out["actions"]] == ["no-op"] * 4
    assert snapshot(w) == after_first, "a second --confirm changes nothing"


def test_regressed_required_cell_refuses(tmp_path, capsys):
    w = make_world(tmp_path, Cells(status={"discord": ["fail"]}))
    out = assert_refused_wrote_nothing(w, capsys, 1)
    assert out["decision"] == "refused"
    verdicts = check(out, "verdicts")
    assert verdicts["outcome"] == "refuse" and verdicts["cells"] == [w.cid("discord")]
    assert "regressed" in verdicts["message"]
    assert not git(w.core, "tag", "-l", "v1.7.1")


def test_regressed_optional_cell_only_promotes_with_a_warning(tmp_path, capsys):
    w = make_world(tmp_path, Cells(status={"twitter": ["fail"]}))
    code, out = run_json(w, capsys)
    assert code == 0 and out["decision"] == "promotable"
    assert any(w.cid("twitter") in d and "optional" in d for d in check(out, "verdicts")["details"])
    code, out = run_json(w, capsys, "--confirm")
    assert code == 0 and out["decision"] == "promoted"
    doc = json.loads(Path(out["evidence_path"]).read_text())
    assert doc["predicate"]["result"] == "WARNED"
    assert doc["predicate"]["warnedTests"] == [f"{w.cid('twitter')}: regressed"]


def test_run_of_another_commit_refuses_naming_the_cells(tmp_path, capsys):
    w = make_world(tmp_path, Cells(core_commit="1" * 40))
    out = assert_refused_wrote_nothing(w, capsys, 1)
    core = check(out, "core")
    assert core["outcome"] == "refuse"
    assert sorted(core["cells"]) == sorted(w.cid(n) for n in CONNECTORS)
    assert "111111111111" in " ".join(core["details"]) and w.tag_commit[:12] in core["message"]


def test_missing_required_cell_is_inconclusive(tmp_path, capsys):
    w = make_world(tmp_path, Cells(missing=("telegram",)))
    out = assert_refused_wrote_nothing(w, capsys, 3)
    assert out["decision"] == "inconclusive"
    results = check(out, "results")
    assert results["outcome"] == "inconclusive" and results["cells"] == [w.cid("telegram")]


def test_expired_waiver_refuses(tmp_path, capsys):
    waiver = {"cell": "discord@main--core-*", "reason": "serverId rename", "expires": "2020-01-01"}
    w = make_world(tmp_path, Cells(status={"discord": ["fail"]}), waivers=[waiver])
    out = assert_refused_wrote_nothing(w, capsys, 1)
    waivers = check(out, "waivers")
    assert waivers["outcome"] == "refuse" and "2020-01-01" in waivers["details"][0]
    assert w.cid("discord") in waivers["cells"]


def test_release_tag_already_on_the_same_commit_is_a_no_op(tmp_path, capsys):
    w = make_world(tmp_path)
    git(w.core, "tag", "-a", "v1.7.1", w.tag_commit, "-m", "made by hand")
    code, out = run_json(w, capsys, "--confirm")
    assert code == 0 and out["decision"] == "promoted"
    assert "already exists" in check(out, "release-tag")["message"]
    tag = next(a for a in out["actions"] if a["name"] == "tag")
    assert tag["state"] == "no-op"
    assert git(w.core, "tag", "-l", "--format=%(contents)", "v1.7.1") == "made by hand", "never moved or rewritten"


def test_release_tag_on_another_commit_refuses(tmp_path, capsys):
    w = make_world(tmp_path)
    other = commit(w.core, "later.ts", "later\n")
    git(w.core, "tag", "-a", "v1.7.1", other, "-m", "wrong commit")
    out = assert_refused_wrote_nothing(w, capsys, 1)
    release = check(out, "release-tag")
    assert (
        release["outcome"] == "refuse" and other[:12] in release["message"] and w.tag_commit[:12] in release["message"]
    )
    assert git(w.core, "rev-parse", "v1.7.1^{commit}") == other


def test_tag_that_is_not_a_prerelease_refuses(tmp_path, capsys):
    w = make_world(tmp_path, tag="v1.7.0")
    before = snapshot(w)
    for extra in ((), ("--confirm",)):
        capsys.readouterr()
        code = main(["promote", "v1.7.0", "--repo", str(w.core), "--store", str(w.store), "--json", *extra])
        out = json.loads(capsys.readouterr().out)
        assert code == 1 and out["decision"] == "refused"
        assert "not a prerelease" in check(out, "tag")["message"]
    assert snapshot(w) == before


def test_corrupt_result_file_is_inconclusive_and_named(tmp_path, capsys):
    w = make_world(tmp_path)
    bad = w.run.cell_file(w.cid("telegram"))
    bad.write_text('{"run_id": "x",\n  "cell_id": \n')
    out = assert_refused_wrote_nothing(w, capsys, 3)
    results = check(out, "results")
    assert results["outcome"] == "inconclusive" and f"{bad}:3" in results["message"]


# ------------------------------------------------------------------ more checks


def test_expired_waiver_on_no_cell_of_the_run_is_only_listed(tmp_path, capsys):
    waiver = {"cell": "slack@*", "reason": "old", "expires": "2020-01-01"}
    w = make_world(tmp_path, waivers=[waiver])
    code, out = run_json(w, capsys)
    assert code == 0 and "remove it" in check(out, "waivers")["details"][0]


def test_missing_prerelease_tag_refuses(tmp_path, capsys):
    w = make_world(tmp_path)
    before = snapshot(w)
    capsys.readouterr()
    code = main(["promote", "v1.7.1-beta.3", "--repo", str(w.core), "--store", str(w.store), "--json", "--confirm"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and "no tag 'v1.7.1-beta.3'" in check(out, "tag")["message"]
    assert snapshot(w) == before


def test_not_a_git_repository_is_a_usage_error(tmp_path, capsys):
    w = make_world(tmp_path)
    capsys.readouterr()
    assert main(["promote", PRE, "--repo", str(tmp_path / "runs"), "--store", str(w.store)]) == 2
    assert "not a git repository" in capsys.readouterr().err


def test_waived_regression_promotes_and_is_listed(tmp_path, capsys):
    waiver = {"cell": "discord@main--core-*", "reason": "serverId rename", "expires": "2999-12-31"}
    w = make_world(tmp_path, Cells(status={"discord": ["fail"]}), waivers=[waiver])
    code, out = run_json(w, capsys, "--confirm")
    assert code == 0 and out["decision"] == "promoted"
    doc = json.loads(Path(out["evidence_path"]).read_text())
    assert doc["predicate"]["warnedTests"] == [f"{w.cid('discord')}: regressed (waived)"]


def test_flaky_required_cell_needs_allow_flaky(tmp_path, capsys):
    w = make_world(tmp_path, Cells(status={"telegram": ["fail", "pass"]}))
    out = assert_refused_wrote_nothing(w, capsys, 1)
    assert check(out, "flaky")["outcome"] == "refuse" and check(out, "flaky")["cells"] == [w.cid("telegram")]
    code, out = run_json(w, capsys, "--allow-flaky", "1")
    assert code == 0 and check(out, "flaky")["outcome"] == "pass"


def test_moved_connector_branch_makes_the_run_stale(tmp_path, capsys):
    w = make_world(tmp_path)
    new = commit(w.connectors["discord"], "index.ts", "// changed after the run\n")
    out = assert_refused_wrote_nothing(w, capsys, 3)
    fresh = check(out, "freshness")
    assert fresh["outcome"] == "inconclusive"
    assert any(new[:12] in d and w.connector_commits["discord"][:12] in d for d in fresh["details"])
    assert w.cid("discord") in fresh["cells"] and w.cid("telegram") not in fresh["cells"]


def test_unreachable_remote_falls_back_on_run_age(tmp_path, capsys):
    old = _dt.datetime.now(_dt.UTC) - _dt.timedelta(days=3)
    w = make_world(tmp_path, Cells(started=old))
    for name, path in w.connectors.items():
        path.rename(path.with_name(path.name + "-gone"))  # the remote is no longer reachable
    out = assert_refused_wrote_nothing(w, capsys, 3)
    fresh = check(out, "freshness")
    assert fresh["outcome"] == "inconclusive" and "--max-age 24h" in fresh["message"]
    code, out = run_json(w, capsys, "--max-age", "4d")
    assert code == 0 and check(out, "freshness")["outcome"] == "pass"
    assert "not checkable" in check(out, "freshness")["message"]


def test_matrix_file_gone_is_inconclusive_unless_matrix_names_a_copy(tmp_path, capsys):
    # Issue 11 cause 4: without the run's matrix, its waivers and connector urls are unknown.
    w = make_world(tmp_path)
    copy = tmp_path / "elsewhere" / "matrix.yaml"
    copy.parent.mkdir()
    copy.write_text(w.matrix.read_text().replace("plugin-", str(tmp_path / "plugin-")))
    w.matrix.unlink()
    code, out = run_json(w, capsys)
    assert code == 3 and check(out, "matrix")["outcome"] == "inconclusive"
    assert "not found" in check(out, "matrix")["message"]
    # A file with other content (here: absolute urls) is not the run's matrix either.
    code, out = run_json(w, capsys, "--matrix", str(copy))
    assert code == 3 and "not the matrix the run used" in check(out, "matrix")["message"]


def test_to_must_be_the_release(tmp_path, capsys):
    w = make_world(tmp_path)
    out = assert_refused_wrote_nothing(w, capsys, 1, "--to", "1.8.0")
    assert "--to 1.8.0 is not the release" in check(out, "tag")["message"]
    code, _ = run_json(w, capsys, "--to", "v1.7.1")
    assert code == 0


def test_soak_time_since_the_prerelease_tag(tmp_path, capsys):
    w = make_world(tmp_path)
    out = assert_refused_wrote_nothing(w, capsys, 1, "--soak", "2d")
    assert "--soak 2d" in check(out, "soak")["message"]

    old_tag = tmp_path / "old"
    old_tag.mkdir()
    long_ago = {"GIT_COMMITTER_DATE": "2020-01-01T00:00:00+00:00"}
    w2 = make_world(old_tag, tag_env=long_ago)
    code, out = run_json(w2, capsys, "--soak", "2d")
    assert code == 0 and check(out, "soak")["outcome"] == "pass"


def test_artifact_digest_instead_of_commit(tmp_path, capsys):
    digest = "ef" * 32
    # The executor records digests with their algorithm prefix.
    w = make_world(tmp_path, Cells(core_commit="2" * 40, core_digest=f"sha256:{digest}"))
    code, out = run_json(w, capsys)
    assert code == 1 and check(out, "core")["outcome"] == "refuse"
    code, out = run_json(w, capsys, "--digest", f"sha256:{digest}", "--confirm")
    assert code == 0 and check(out, "core")["outcome"] == "pass"
    doc = json.loads(Path(out["evidence_path"]).read_text())
    assert doc["subject"][0]["digest"] == {"gitCommit": w.tag_commit, "sha256": digest}


def test_core_label_selects_one_candidate_of_several(tmp_path, capsys):
    w = make_world(tmp_path)
    record = w.run.read_run()
    other = cell_id("discord", "main", "1.7.2")
    record.cells.append(
        PlannedCell(id=other, tier="required", role="candidate", connector="discord", ref="main", core="1.7.2")
    )
    w.run.write_run(record)
    result = w.run.read_cell(w.cid("discord"))
    result.cell_id, result.core = (
        other,
        CoreRecord(name="@elizaos/core", label="1.7.2", kind="registry", digest="sha256:" + "12" * 32),
    )
    w.run.write_cell(result)
    code, out = run_json(w, capsys)
    assert code == 1 and check(out, "core")["cells"] == [other]
    code, out = run_json(w, capsys, "--core", CAND)
    assert code == 0 and check(out, "core")["message"].startswith("all 3 candidate cells")
    capsys.readouterr()
    assert w.cli("--core", "9.9.9") == 2
    assert "candidate cores: 1.7.2, git:v1.7.1-beta.2" in capsys.readouterr().err


def test_pep440_prerelease(tmp_path, capsys):
    w = make_world(tmp_path, tag="1.7.1rc1")
    capsys.readouterr()
    code = main(
        [
            "promote",
            "1.7.1rc1",
            "--repo",
            str(w.core),
            "--store",
            str(w.store),
            "--json",
            "--confirm",
            "--pyproject",
            str(w.core / "pyproject.toml"),
            "--no-changelog",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    # The run's candidate cells recorded the commit, which the PEP 440 tag points at too.
    assert code == 0 and out["release_tag"] == "1.7.1" and out["version"] == "1.7.1"
    assert git(w.core, "rev-parse", "1.7.1^{commit}") == w.tag_commit
    assert 'version = "1.7.1"' in (w.core / "pyproject.toml").read_text()
    assert not (w.core / "CHANGELOG.md").exists()


# ------------------------------------------------------------------ npm, signing, output

FAKE_NPM = """#!/bin/sh
# Stands in for the npm registry client: records its argv, answers `dist-tag ls` from a file.
printf '%s\\n' "$*" >> "{log}"
if [ "$1 $2" = "dist-tag ls" ]; then cat "{state}" 2>/dev/null; exit 0; fi
if [ "$1 $2" = "dist-tag add" ]; then echo "$4: ${{3##*@}}" > "{state}"; echo "+$4: $3"; exit 0; fi
exit 1
"""


def test_npm_dist_tag_runs_only_with_confirm_and_once(tmp_path, capsys):
    w = make_world(tmp_path)
    log, state = tmp_path / "npm-argv.log", tmp_path / "npm-state"
    fake = tmp_path / "fake-npm"
    fake.write_text(FAKE_NPM.format(log=log, state=state))
    fake.chmod(0o755)
    args = ("--npm-package", "@elizaos/core", "--npm-command", str(fake))
    capsys.readouterr()
    assert w.cli(*args) == 0
    text = capsys.readouterr().out
    assert f"$ {fake} dist-tag add @elizaos/core@1.7.1 latest" in text, "the dry run prints the command"
    assert not log.exists(), "the dry run runs nothing"
    code, out = run_json(w, capsys, *args, "--confirm")
    assert code == 0 and next(a for a in out["actions"] if a["name"] == "npm")["state"] == "done"
    assert log.read_text().splitlines() == ["dist-tag ls @elizaos/core", "dist-tag add @elizaos/core@1.7.1 latest"]
    code, out = run_json(w, capsys, *args, "--confirm")
    assert code == 0 and next(a for a in out["actions"] if a["name"] == "npm")["state"] == "no-op"
    assert log.read_text().splitlines()[2:] == ["dist-tag ls @elizaos/core"], "no second add"


def test_failing_npm_command_reports_failure_and_rerun_finishes(tmp_path, capsys, monkeypatch):
    w = make_world(tmp_path)
    fake = tmp_path / "broken-npm"
    fake.write_text("#!/bin/sh\n# Stands in for a registry that rejects the request.\necho 'E401 auth' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CANARY_NPM", str(fake))
    code, out = run_json(w, capsys, "--npm-package", "@elizaos/core", "--confirm")
    assert code == 3 and out["decision"] == "failed"
    npm = next(a for a in out["actions"] if a["name"] == "npm")
    assert npm["state"] == "failed" and "E401" in npm["note"]
    assert git(w.core, "rev-parse", "v1.7.1^{commit}") == w.tag_commit, "the earlier actions stay done"


def test_signed_evidence_and_tag(tmp_path, capsys):
    w = make_world(tmp_path)
    key = tmp_path / "keys" / "release"
    key.parent.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rm", "-f", str(key)], check=True)
    allowed = tmp_path / "keys" / "allowed_signers"
    allowed.write_text(f"rm@example.invalid {key.with_suffix('.pub').read_text()}")
    code, out = run_json(w, capsys, "--sign-key", str(key), "--confirm")
    assert code == 0 and out["decision"] == "promoted"
    evidence = Path(out["evidence_path"])
    sig = evidence.with_name(evidence.name + ".sig")
    with open(evidence, "rb") as fh:
        verify = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                str(allowed),
                "-I",
                "rm@example.invalid",
                "-n",
                "canary-promote",
                "-s",
                str(sig),
            ],
            stdin=fh,
            capture_output=True,
            text=True,
        )
    assert verify.returncode == 0, verify.stderr
    tag_verify = subprocess.run(
        ["git", "-C", str(w.core), "-c", f"gpg.ssh.allowedSignersFile={allowed}", "tag", "-v", "v1.7.1"],
        capture_output=True,
        text=True,
    )
    assert tag_verify.returncode == 0 and "Good" in tag_verify.stderr
    before = snapshot(w)
    code, out = run_json(w, capsys, "--sign-key", str(key), "--confirm")
    assert code == 0 and {a["state"] for a in out["actions"]} == {"no-op"}
    assert snapshot(w) == before
    # tampering is detected
    evidence.write_text(evidence.read_text().replace("PASSED", "FAILED"))
    with open(evidence, "rb") as fh:
        bad = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                str(allowed),
                "-I",
                "rm@example.invalid",
                "-n",
                "canary-promote",
                "-s",
                str(sig),
            ],
            stdin=fh,
            capture_output=True,
        )
    assert bad.returncode != 0


def test_missing_sign_key_refuses_before_writing(tmp_path, capsys):
    w = make_world(tmp_path)
    out = assert_refused_wrote_nothing(w, capsys, 1, "--sign-key", str(tmp_path / "nokey"))
    assert "no such key file" in check(out, "sign-key")["message"]


def test_text_output_lists_checks_and_plan(tmp_path, capsys):
    w = make_world(tmp_path, Cells(status={"discord": ["fail"]}))
    capsys.readouterr()
    assert w.cli() == 1
    text = capsys.readouterr().out
    assert "[NO] verdicts" in text and w.cid("discord") in text
    assert "decision: REFUSED (exit 1)" in text and "dry run: nothing written" in text


def test_bad_duration_is_a_usage_error(tmp_path, capsys):
    w = make_world(tmp_path)
    capsys.readouterr()
    assert w.cli("--max-age", "soon") == 2
    assert "key '--max-age'" in capsys.readouterr().err


def test_latest_run_is_used_by_default(tmp_path, capsys):
    w = make_world(tmp_path)
    capsys.readouterr()
    assert w.cli("--json", run=False) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == w.run.run_id


def test_no_run_at_all_is_inconclusive(tmp_path, capsys):
    w = make_world(tmp_path)
    capsys.readouterr()
    code = main(["promote", PRE, "--repo", str(w.core), "--store", str(tmp_path / "empty"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 3 and "no runs" in check(out, "results")["message"]
