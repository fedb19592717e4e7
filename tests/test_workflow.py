"""The example workflow and the reusable action: valid for GitHub, hardened, and working in sequence.

GitHub itself is not reachable here, so the jobs are played locally by a small runner below:
`run:` steps run in bash exactly as written (with the workflow's env, the matrix values and the
composite action's inputs substituted); `uses: ./` runs action.yml's own steps the same way; the
other `uses:` actions are stood in for (checkout: copy the matrix file into the job's workspace;
setup-python/node: the machine's own; cache: nothing; upload/download-artifact: copies through a
local artifacts directory; upload-sarif: the file must exist and be SARIF). That stand-in is the
only mock, and it exists because there is no Actions runner on this machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "canary.yml"
ACTION = ROOT / "action.yml"
VENV_BIN = Path(sys.executable).parent


def load_workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_and_action_validate_against_githubs_schemas(tmp_path):
    exe = VENV_BIN / "check-jsonschema"
    for schema, path in (("vendor.github-workflows", WORKFLOW), ("vendor.github-actions", ACTION)):
        proc = subprocess.run([str(exe), "--builtin-schema", schema, str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # The schema is strict enough to catch a slip: a misspelt key fails it.
    bad = WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1)
    bad_file = tmp_path / "canary.yml"
    bad_file.write_text(bad)
    proc = subprocess.run(
        [str(exe), "--builtin-schema", "vendor.github-workflows", str(bad_file)], capture_output=True, text=True
    )
    assert proc.returncode == 1


def _zizmor(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            str(VENV_BIN / "zizmor"),
            "--offline",
            "--no-progress",
            "--min-severity",
            "medium",
            "--format",
            "json",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
    )


def test_zizmor_finds_nothing_at_medium_or_above(tmp_path):
    proc = _zizmor(WORKFLOW, ACTION)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout or "[]") == []
    # And it does look: the workflow as it was (tags, credentials kept) has findings.
    bad = WORKFLOW.read_text().replace("@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "@v4")
    bad = bad.replace("        with:\n          persist-credentials: false\n", "")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    bad_file = tmp_path / ".github" / "workflows" / "canary.yml"
    bad_file.write_text(bad)
    found = {f["ident"] for f in json.loads(_zizmor(bad_file).stdout or "[]")}
    assert {"unpinned-uses", "artipacked"} <= found, found


def _uses(doc: dict) -> list[str]:
    steps = [s for job in doc.get("jobs", {}).values() for s in job.get("steps", [])]
    steps += doc.get("runs", {}).get("steps", [])
    return [s["uses"] for s in steps if "uses" in s]


def test_hygiene_pins_credentials_permissions_concurrency_timeouts():
    workflow, action = load_workflow(), yaml.safe_load(ACTION.read_text())
    for uses in _uses(workflow) + _uses(action):
        assert uses == "./" or re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), uses
    for job in workflow["jobs"].values():
        assert job["timeout-minutes"] <= 60 and "permissions" in job
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    assert workflow["permissions"] == {}
    assert "pull_request.number" in workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is True
    writes = {
        name: [k for k, v in job["permissions"].items() if v == "write"] for name, job in workflow["jobs"].items()
    }
    assert writes == {"plan": [], "cells": [], "gather": ["pull-requests", "security-events"]}
    caches = [s["with"] for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/cache@")]
    assert any("package-lock.json" in c["key"] for c in caches) and any("lock.outputs" in c["key"] for c in caches)
    canary_cache = next(c for c in caches if ".canary" in c["path"])
    assert "!.canary/work" in canary_cache["path"] and "github.sha" not in canary_cache["key"]


def test_workflow_uses_the_action_in_three_modes():
    jobs = load_workflow()["jobs"]
    assert list(jobs) == ["plan", "cells", "gather"]
    assert jobs["cells"]["needs"] == "plan"
    assert jobs["cells"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["cells"]["strategy"]["fail-fast"] is False
    assert set(jobs["gather"]["needs"]) == {"plan", "cells"}
    modes = {name: [s["with"]["mode"] for s in job["steps"] if s.get("uses") == "./"] for name, job in jobs.items()}
    assert modes == {"plan": ["plan"], "cells": ["cells"], "gather": ["gather"]}
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    assert {"matrix", "core-path", "jobs", "formats"} <= set(action["inputs"])
    scripts = "\n".join(s.get("run", "") for s in action["runs"]["steps"])
    for step in ("plan", "cells", "gather"):
        assert f"python -m canary.ci_action {step}" in scripts


# ---------------------------------------------------------------- a local stand-in for the runner

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _split(expr: str, op: str) -> list[str] | None:
    """Split at a top-level operator (outside quotes and parentheses)."""
    depth, quote, parts, last, i = 0, False, [], 0, 0
    while i < len(expr):
        ch = expr[i]
        if ch == "'":
            quote = not quote
        elif not quote and ch in "(":
            depth += 1
        elif not quote and ch in ")":
            depth -= 1
        elif not quote and depth == 0 and expr.startswith(op, i):
            parts.append(expr[last:i])
            last = i + len(op)
            i += len(op)
            continue
        i += 1
    return parts + [expr[last:]] if parts else None


def evaluate(expr: str, ctx: dict):
    """The expression forms the workflow and the action use: a.b.c, 'literal', fromJSON(x),
    x || y, x && y, x == y, x != y, always(), hashFiles(...).

    Anything else fails the test, so the files cannot grow an expression this runner
    would silently get wrong.
    """
    expr = expr.strip()
    for op, fold in (
        ("||", lambda vals: next((v for v in vals if v), vals[-1])),
        ("&&", lambda vals: next((v for v in vals if not v), vals[-1])),
    ):
        parts = _split(expr, op)
        if parts:
            return fold([evaluate(p, ctx) for p in parts])
    for op in ("==", "!="):
        parts = _split(expr, op)
        if parts:
            left, right = (evaluate(p, ctx) for p in parts)
            return (left == right) == (op == "==")
    if expr == "always()":
        return True
    m = re.fullmatch(r"'([^']*)'", expr)
    if m:
        return m.group(1)
    m = re.fullmatch(r"fromJSON\((.*)\)", expr)
    if m:
        return json.loads(evaluate(m.group(1), ctx))
    m = re.fullmatch(r"hashFiles\((.*)\)", expr)
    if m:
        ws = Path(ctx["github"]["workspace"])
        files = [
            f
            for arg in _split(m.group(1), ",") or [m.group(1)]
            for f in sorted(ws.glob(str(evaluate(arg, ctx)).lstrip("!")))
            if f.is_file()
        ]
        return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest() if files else ""
    if re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)+", expr):
        value = ctx
        for part in expr.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value
    raise AssertionError(f"expression the local runner does not know: {expr}")


def substitute(text, ctx: dict):
    if not isinstance(text, str):
        return text
    whole = _EXPR.fullmatch(text.strip())
    if whole:
        value = evaluate(whole.group(1), ctx)
        return value if not isinstance(value, (str, type(None))) else ("" if value is None else value)
    return _EXPR.sub(lambda m: str(evaluate(m.group(1), ctx) or ""), text)


class LocalRunner:
    def __init__(self, root: Path, checkout: list[Path], env: dict):
        self.root = root
        self.artifacts = root / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.checkout_files = checkout
        self.env = env
        self.workflow = load_workflow()

    def job(
        self,
        name: str,
        workspace: str,
        matrix: dict | None = None,
        needs: dict | None = None,
        expect: dict | None = None,
    ) -> dict:
        """Run one job's steps in order; returns {"outputs", "codes", "logs", "workspace", "summary"}."""
        spec = self.workflow["jobs"][name]
        ws = self.root / workspace
        ws.mkdir(parents=True)
        ctx = {
            "matrix": matrix or {},
            "needs": needs or {},
            "inputs": {},
            "steps": {},
            "env": {},
            "github": {"sha": "0" * 40, "workspace": str(ws), "action_path": str(ROOT), "token": "local-token"},
            "runner": {"os": "Linux", "temp": str(ws / ".runner-temp")},
        }
        env = dict(os.environ, CI="true", GITHUB_ACTIONS="true")
        for key, value in self.workflow.get("env", {}).items():
            env[key] = str(substitute(value, ctx))
        env.update(self.env)
        ctx["env"] = env
        run = {
            "ws": ws,
            "summary": ws / "step-summary.md",
            "codes": {},
            "logs": {},
            "expect": expect or {},
            "job": name,
            "sarif": [],
        }
        self._steps(spec["steps"], ctx, env, run)
        job_outputs = {k: substitute(v, ctx) for k, v in spec.get("outputs", {}).items()}
        return {
            "outputs": job_outputs,
            "codes": run["codes"],
            "logs": run["logs"],
            "workspace": ws,
            "summary": run["summary"],
            "sarif": run["sarif"],
        }

    def _steps(self, steps: list, ctx: dict, env: dict, run: dict) -> None:
        ws = run["ws"]
        for i, step in enumerate(steps):
            label = step.get("name") or step.get("uses") or f"step {i}"
            if "if" in step and not evaluate(str(step["if"]).replace("${{", "").replace("}}", ""), ctx):
                continue
            if step.get("uses") == "./":
                outputs = self._composite(step, ctx, env, run)
                if "id" in step:
                    ctx["steps"][step["id"]] = {"outputs": outputs}
                continue
            if "uses" in step:
                self._action(step, ws, ctx, run)
                continue
            if step.get("name") == "Install canary":
                continue  # the dev venv (on PATH below) already holds an editable install
            out_file = ws / f".github-output-{len(run['codes'])}-{i}"
            out_file.touch()
            step_env = dict(env)
            step_env.update({k: str(substitute(v, ctx)) for k, v in step.get("env", {}).items()})
            step_env.update(
                GITHUB_OUTPUT=str(out_file),
                GITHUB_STEP_SUMMARY=str(run["summary"]),
                PATH=f"{VENV_BIN}{os.pathsep}{env['PATH']}",
            )
            script = substitute(step["run"], ctx)
            # GitHub's default shell on Linux runners: bash --noprofile --norc -eo pipefail {0}
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=ws,
                env=step_env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            run["codes"][label] = proc.returncode
            run["logs"][label] = proc.stdout + proc.stderr
            want = run["expect"].get(label, 0)
            assert proc.returncode == want, (
                f"{run['job']}/{label}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
            outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
            if "id" in step:
                ctx["steps"][step["id"]] = {"outputs": outputs}

    def _composite(self, step: dict, outer: dict, env: dict, run: dict) -> dict:
        """`uses: ./`: action.yml's steps with its inputs (defaults, then `with:`)."""
        action = yaml.safe_load((ROOT / "action.yml").read_text())
        inputs = {k: substitute(str(v.get("default", "")), outer) for k, v in action["inputs"].items()}
        for k, v in step.get("with", {}).items():
            assert k in inputs, f"action.yml has no input {k!r}"
            inputs[k] = substitute(v, outer)
        ctx = dict(outer, inputs=inputs, steps={})
        self._steps(action["runs"]["steps"], ctx, env, run)
        return {k: substitute(v["value"], ctx) for k, v in action.get("outputs", {}).items()}

    def _action(self, step: dict, ws: Path, ctx: dict, run: dict) -> None:
        action = step["uses"].split("@")[0]
        args = {k: substitute(v, ctx) for k, v in step.get("with", {}).items()}
        if action == "actions/checkout":
            for f in self.checkout_files:
                shutil.copy(f, ws / f.name)
        elif action in ("actions/setup-python", "actions/setup-node"):
            pass  # Python 3.11 and Node 20 are this machine's own
        elif action == "actions/cache":
            assert ".canary/work" not in args["path"].replace("!.canary/work", ""), "cell work dirs cached"
            assert "github.sha" not in json.dumps(step["with"]), "a cache key per commit saves a cache per commit"
        elif action == "github/codeql-action/upload-sarif":
            doc = json.loads((ws / args["sarif_file"]).read_text())
            assert doc["version"] == "2.1.0"
            run["sarif"].append((args["category"], doc))
        elif action == "actions/upload-artifact":
            dest = self.artifacts / args["name"]
            paths = [p.strip() for p in args["path"].splitlines() if p.strip()]
            for p in paths:
                src = ws / p
                if not src.exists():
                    continue
                # One path: its contents form the artifact; several: each keeps its own name.
                target = dest if len(paths) == 1 else dest / src.name
                if src.is_dir():
                    shutil.copytree(src, target, dirs_exist_ok=True)
                else:  # a file keeps its name inside the artifact
                    dest.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, dest / src.name)
        elif action == "actions/download-artifact":
            dest = ws / args.get("path", ".")
            if "name" in args:
                shutil.copytree(self.artifacts / args["name"], dest, dirs_exist_ok=True)
            else:
                for art in sorted(self.artifacts.iterdir()):
                    if fnmatchcase(art.name, args["pattern"]):
                        shutil.copytree(art, dest / art.name, dirs_exist_ok=True)
        else:
            raise AssertionError(f"action the local runner does not know: {step['uses']}")


# ---------------------------------------------------------------- the whole workflow, locally


def _have_commands() -> str | None:
    from canary.cli import build_parser

    sub = next(a for a in build_parser()._actions if getattr(a, "choices", None))
    missing = [c for c in ("plan", "run", "report", "ci-matrix", "merge", "verdicts") if c not in sub.choices]
    return f"canary {', '.join(missing)} not there yet" if missing else None


@pytest.fixture
def four_cells(demo, tmp_path):
    """The shared demo matrix cut to four cells (alpha@main regresses, alpha@next stays green):
    two shards of two with MAX_JOBS=2. A copy, so the session's demo stays as it is."""
    matrix = tmp_path / "checkout" / "matrix.yaml"
    matrix.parent.mkdir()
    matrix.write_text(demo.matrix.read_text() + "exclude:\n  - {connector: beta}\n  - {connector: gamma}\n")
    return matrix


@pytest.mark.slow
def test_workflow_runs_locally_plan_two_shards_merge_report(four_cells, tmp_path):
    reason = _have_commands()
    if reason:
        pytest.fail(reason)
    runner = LocalRunner(tmp_path, checkout=[four_cells], env={"MAX_JOBS": "2"})

    plan = runner.job("plan", "ws-plan")
    matrix = json.loads(plan["outputs"]["matrix"])
    assert [e["name"] for e in matrix["include"]] == ["shard-1-of-2", "shard-2-of-2"]
    planned = json.loads((runner.artifacts / "canary-plan" / "plan.json").read_text())["cells"]
    assert " ".join(e["cells"] for e in matrix["include"]).split() == [c["id"] for c in planned]
    assert len(planned) == 4

    for entry in matrix["include"]:
        job = runner.job("cells", f"ws-{entry['name']}", matrix=entry)
        uploaded = (runner.artifacts / f"canary-cells-{entry['name']}").glob("*/cells/*.json")
        assert sorted(p.stem for p in uploaded) == sorted(entry["cells"].split()), job["logs"]

    # The gate exits 1: alpha@main reads room.server_id, which core 2.0.0 renamed.
    gate = "Gate (0 green, 1 regression, 3 inconclusive)"
    gather = runner.job("gather", "ws-gather", expect={gate: 1})
    merged = gather["workspace"] / "canary-out" / "merged"
    verdicts = json.loads(
        subprocess.run(
            [str(VENV_BIN / "canary"), "verdicts", str(merged), "--json"],
            capture_output=True,
            text=True,
            cwd=gather["workspace"],
        ).stdout
    )
    by = {v["cell_id"]: v["verdict"] for v in verdicts["verdicts"]}
    assert by == {
        "alpha@main--core-1.0.0": "ok",
        "alpha@main--core-2.0.0": "regressed",
        "alpha@next--core-1.0.0": "ok",
        "alpha@next--core-2.0.0": "ok",
    }
    assert (gather["workspace"] / "canary-out" / "report" / "junit.xml").is_file()
    assert gather["summary"].read_text().strip()
    assert (runner.artifacts / "canary-report" / "merged" / "run.json").is_file()
    assert (runner.artifacts / "canary-junit" / "junit.xml").is_file()
    assert "::error title=canary%3A regressed alpha@main--core-2.0.0::" in gather["logs"]["Merge, report, comment"]

    # A job that lost a result: that cell is `error: missing` and the gate says inconclusive (3).
    lost = next(runner.artifacts.glob("canary-cells-shard-1-of-2/*/cells/alpha@main--core-2.0.0.json"))
    lost.unlink()
    gather = runner.job("gather", "ws-gather-2", expect={gate: 3})
    record = json.loads((gather["workspace"] / "canary-out" / "merged" / "run.json").read_text())
    assert record["exit_code"] == 3
