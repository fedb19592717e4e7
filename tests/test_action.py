"""The reusable action's steps, run locally on a core repository whose core is on no index.

GitHub cannot be reached here: the steps of action.yml are the `python -m canary.ci_action`
calls it makes, run in order as the jobs would (plan once, one `cells` job per matrix entry with
its own checkout state and CANARY_HOME, then `gather`). GitHub's REST API for the sticky PR
comment is MOCKED by a small HTTP server on 127.0.0.1 (the only stand-in): it keeps the comments
of one pull request and answers list / create / update like the real endpoints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from canary.demo import _git, _pyproject, _write

ROOT = Path(__file__).resolve().parents[1]

CORE = '"""heldcore {version}"""\n__version__ = "{version}"\n{body}'
GREET = "\n\ndef greet(name):\n    return 'hello ' + name\n"
PLUG = "import heldcore\n\n\ndef hello():\n    return heldcore.greet('world')\n"
PLUG_TEST = (
    "import unittest\nfrom heldplug import hello\n\n\nclass T(unittest.TestCase):\n"
    "    def test_hello(self):\n        self.assertEqual(hello(), 'hello world')\n"
)
MIGRATION = """\
id: heldcore-greet
version: "1.0.0"
core: ">=1.1"
package: heldcore
title: "heldcore 1.1 removes greet"
renames:
  - {id: heldcore-greet-removed, language: python, kind: attribute, old: greet}
"""


class FakeGitHub(BaseHTTPRequestHandler):
    """MOCK of GitHub's issue-comments API for one repository and pull request."""

    comments: list = []
    calls: list = []

    def _send(self, code, data):
        body = json.dumps(data).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def do_GET(self):  # noqa: N802
        self.calls.append(("GET", self.path, self.headers.get("Authorization")))
        page = int(self.path.split("page=")[-1]) if "page=" in self.path else 1
        self._send(200, self.comments[(page - 1) * 100 : page * 100])

    def do_POST(self):  # noqa: N802
        self.calls.append(("POST", self.path, self.headers.get("Authorization")))
        comment = {"id": 1000 + len(self.comments), "body": self._body()["body"]}
        self.comments.append(comment)
        self._send(201, comment)

    def do_PATCH(self):  # noqa: N802
        self.calls.append(("PATCH", self.path, self.headers.get("Authorization")))
        cid = int(self.path.rsplit("/", 1)[1])
        comment = next(c for c in self.comments if c["id"] == cid)
        comment["body"] = self._body()["body"]
        self._send(200, comment)

    def log_message(self, *args):
        pass


@pytest.fixture
def github_api():
    FakeGitHub.comments = [{"id": 7, "body": "an unrelated review comment"}]
    FakeGitHub.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", FakeGitHub
    server.shutdown()


def core_and_connector(root: Path) -> tuple[Path, Path]:
    """heldcore: v1.0.0 tagged (on no index: git only); the PR's checkout removes greet.
    heldplug: declares heldcore>=1.0 and calls heldcore.greet."""
    core = root / "heldcore"
    repo = _git(core)
    _write(core / "pyproject.toml", _pyproject("heldcore", "1.0.0", []))
    _write(core / "heldcore" / "__init__.py", CORE.format(version="1.0.0", body=GREET))
    repo.git.add(A=True)
    repo.index.commit("heldcore 1.0.0")
    repo.create_tag("v1.0.0")
    plug = root / "heldplug"
    prepo = _git(plug)
    _write(plug / "pyproject.toml", _pyproject("heldplug", "0.1.0", ["heldcore>=1.0"]))
    _write(plug / "heldplug" / "__init__.py", PLUG)
    _write(plug / "tests" / "test_hello.py", PLUG_TEST)
    prepo.git.add(A=True)
    prepo.index.commit("heldplug")
    (core / "ci").mkdir()
    (core / "ci" / "heldcore-greet.yaml").write_text(MIGRATION)
    (core / "matrix.yaml").write_text(f"""\
version: 1
core:
  name: heldcore
  ecosystem: pypi
  versions: [{{git: {str(core)!r}, ref: v1.0.0, label: "1.0.0"}}]
  baseline: "1.0.0"
  index: {{no_index: true}}
settings: {{retries: 0}}
exposure: {{migration: ci/heldcore-greet.yaml}}
compat: {{diff: true, language: py}}
connectors:
  - name: heldplug
    package: heldplug
    git: {{url: {str(plug)!r}, refs: [main]}}
    install: [["{{python}}", -m, pip, install, --no-build-isolation, "{{checkout}}"]]
    test: [["{{python}}", -m, unittest, discover, -s, tests, -v]]
    timeout: 120
""")
    # The pull request: greet removed (the build under test is this working tree, never published).
    _write(core / "pyproject.toml", _pyproject("heldcore", "1.1.0", []))
    _write(
        core / "heldcore" / "__init__.py",
        CORE.format(version="1.1.0", body="\n\ndef welcome(name):\n    return name\n"),
    )
    repo.git.add(A=True)
    repo.index.commit("remove greet")  # the PR's commit, what actions/checkout gives the jobs
    return core, plug


def step(name: str, cwd: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "canary.ci_action", name, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc


@pytest.mark.slow
def test_action_steps_on_a_git_only_core_to_merged_report_and_sticky_comment(tmp_path, github_api):
    api, fake = github_api
    core, _ = core_and_connector(tmp_path)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 5}}))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    base_env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        CI="true",
        GITHUB_ACTIONS="true",
        INPUT_MATRIX="matrix.yaml",
        INPUT_CORE_PATH=".",
        INPUT_CORE_LABEL="pr",
        INPUT_FORMATS="html,md,junit,json",
        INPUT_LINT_PATHS="heldcore",
        INPUT_MIGRATION="ci/heldcore-greet.yaml",
    )

    def job_env(name: str) -> dict:
        out = tmp_path / f"{name}.output"
        out.touch()
        return dict(
            base_env,
            CANARY_HOME=str(tmp_path / f"home-{name}"),
            GITHUB_OUTPUT=str(out),
            GITHUB_STEP_SUMMARY=str(tmp_path / f"{name}.summary.md"),
        )

    def outputs(name: str) -> dict:
        text = (tmp_path / f"{name}.output").read_text()
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    proc = step("plan", core, job_env("plan"), "--out", str(tmp_path / "artifacts" / "plan"))
    assert proc.returncode == 0, proc.stderr
    include = json.loads(outputs("plan")["matrix"])["include"]
    assert [e["cells"] for e in include] == ["heldplug@main--core-1.0.0", "heldplug@main--core-pr"]

    logs = {}
    for entry in include:
        env = dict(job_env(entry["name"]), INPUT_CELLS=entry["cells"])
        proc = step("cells", core, env, "--store", str(tmp_path / "artifacts" / f"cells-{entry['name']}"))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        logs[entry["cells"]] = proc.stdout + proc.stderr
    assert "green" not in logs["heldplug@main--core-pr"] and "1 fail" in logs["heldplug@main--core-pr"]

    gather_env = dict(
        job_env("gather"),
        GITHUB_TOKEN="test-token-not-real",
        GITHUB_REPOSITORY="acme/heldcore",
        GITHUB_API_URL=api,
        GITHUB_EVENT_PATH=str(event),
    )
    out = tmp_path / "out"
    proc = step(
        "gather",
        core,
        gather_env,
        "--shards",
        str(tmp_path / "artifacts"),
        "--plan",
        str(tmp_path / "artifacts" / "plan" / "plan.json"),
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs("gather")["exit-code"] == "1"
    verdicts = {v["cell_id"]: v["verdict"] for v in json.loads((out / "verdicts.json").read_text())["verdicts"]}
    assert verdicts == {"heldplug@main--core-1.0.0": "ok", "heldplug@main--core-pr": "regressed"}
    # Annotation for the regressed cell.
    assert "::error title=canary%3A regressed heldplug@main--core-pr::" in proc.stdout
    # The merged run: the diff (computed once, in gather), the exposure of every job, the digest.
    merged = out / "merged"
    diff = json.loads((merged / "compat-diff.json").read_text())
    assert any(c["symbol"].endswith("greet") for c in diff["changes"]), diff["changes"]
    exposure = json.loads((merged / "exposure.json").read_text())
    assert exposure["connectors"]["heldplug@main"]["findings"] == 1
    plan = json.loads((tmp_path / "artifacts" / "plan" / "plan.json").read_text())
    assert json.loads((merged / "run.json").read_text())["matrix_digest"] == plan["matrix_digest"]
    # SARIF: diff findings relative to the repository root (the checkout is the root here).
    sarif = json.loads((out / "sarif" / "diff.sarif").read_text())
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
        if r.get("locations")
    ]
    assert uris and all(u.startswith("heldcore/") for u in uris), uris
    assert json.loads((out / "sarif" / "lint.sarif").read_text())["runs"][0]["tool"]["driver"]["version"]
    # Report, step summary and the PR comment body: regression, breaking change, exposure.
    body = (out / "comment.md").read_text()
    assert body.startswith("<!-- canary:report -->")
    assert "heldplug@main on core pr" in body and "greet" in body and "Breaking changes" in body
    assert (tmp_path / "gather.summary.md").read_text().strip()
    assert (out / "report" / "junit.xml").is_file()
    # One sticky comment: created, then updated on the next push, never duplicated.
    ours = [c for c in fake.comments if "<!-- canary:report -->" in c["body"]]
    assert len(ours) == 1 and ours[0]["body"] == body
    assert all(auth == "Bearer test-token-not-real" for _, _, auth in fake.calls)
    assert "test-token-not-real" not in proc.stdout + proc.stderr
    out2 = tmp_path / "out2"
    proc = step(
        "gather",
        core,
        gather_env,
        "--shards",
        str(tmp_path / "artifacts"),
        "--plan",
        str(tmp_path / "artifacts" / "plan" / "plan.json"),
        "--out",
        str(out2),
    )
    assert proc.returncode == 0, proc.stderr
    assert [c["id"] for c in fake.comments if "<!-- canary:report -->" in c["body"]] == [ours[0]["id"]]
    assert [m for m, _, _ in fake.calls].count("POST") == 1 and "PATCH" in [m for m, _, _ in fake.calls]
    assert len(fake.comments) == 2  # the unrelated comment and ours


def test_plan_step_on_a_bad_matrix_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "matrix.yaml").write_text("core: [\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INPUT_")}
    proc = step("plan", tmp_path, dict(env, INPUT_MATRIX="matrix.yaml"), "--out", str(tmp_path / "plan"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.strip().startswith("canary: error: matrix.yaml:2:1:") and len(proc.stderr.strip().splitlines()) == 1
    )
