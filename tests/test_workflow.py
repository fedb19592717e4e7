"""The example GitHub Actions workflow: valid for GitHub, and its steps really work in sequence.

GitHub itself is not reachable here, so the jobs are played locally by a small runner below:
`run:` steps run in bash exactly as written (with the workflow's env and the matrix values
substituted); the `uses:` actions are stood in for (checkout: copy the matrix file into the
job's workspace; setup-python/node: the machine's own; upload/download-artifact: copies
through a local artifacts directory). That stand-in is the only mock, and it exists because
there is no Actions runner on this machine.
"""

from __future__ import annotations

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
VENV_BIN = Path(sys.executable).parent


def load_workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_validates_against_githubs_schema(tmp_path):
    exe = VENV_BIN / "check-jsonschema"
    proc = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The schema is strict enough to catch a slip: a misspelt key fails it.
    bad = WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1)
    bad_file = tmp_path / "canary.yml"
    bad_file.write_text(bad)
    proc = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", str(bad_file)],
                          capture_output=True, text=True)
    assert proc.returncode == 1


def test_workflow_shape_plan_cells_gather():
    jobs = load_workflow()["jobs"]
    assert list(jobs) == ["plan", "cells", "gather"]
    assert jobs["cells"]["needs"] == "plan"
    assert jobs["cells"]["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    assert jobs["cells"]["strategy"]["fail-fast"] is False
    assert set(jobs["gather"]["needs"]) == {"plan", "cells"}
    scripts = {name: "\n".join(s.get("run", "") for s in job["steps"]) for name, job in jobs.items()}
    assert "canary ci-matrix" in scripts["plan"] and "canary run --cells" in scripts["cells"]
    assert "canary merge" in scripts["gather"] and "canary report" in scripts["gather"]
    uses = [s.get("uses", "") for s in jobs["gather"]["steps"]]
    assert any(u.startswith("actions/download-artifact@") for u in uses)


# ---------------------------------------------------------------- a local stand-in for the runner

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(expr: str, ctx: dict):
    """The few expression forms the workflow uses: a.b.c, fromJSON(x), x || 'literal'.

    Anything else fails the test, so the workflow cannot grow an expression this runner
    would silently get wrong.
    """
    expr = expr.strip()
    if "||" in expr:
        left, right = expr.split("||", 1)
        return evaluate(left, ctx) or evaluate(right, ctx)
    m = re.fullmatch(r"'([^']*)'", expr)
    if m:
        return m.group(1)
    m = re.fullmatch(r"fromJSON\((.*)\)", expr)
    if m:
        return json.loads(evaluate(m.group(1), ctx))
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

    def job(self, name: str, workspace: str, matrix: dict | None = None, needs: dict | None = None,
            expect: dict | None = None) -> dict:
        """Run one job's steps in order; returns {"outputs", "steps", "codes", "workspace"}."""
        spec = self.workflow["jobs"][name]
        ws = self.root / workspace
        ws.mkdir(parents=True)
        ctx = {"matrix": matrix or {}, "needs": needs or {}, "inputs": {}, "steps": {}, "env": {},
               "github": {"sha": "0" * 40}}
        env = dict(os.environ, CI="true", GITHUB_ACTIONS="true")
        for key, value in self.workflow.get("env", {}).items():
            env[key] = str(substitute(value, ctx))
        env.update(self.env)
        ctx["env"] = env
        summary = ws / "step-summary.md"
        codes, logs = {}, {}
        for i, step in enumerate(spec["steps"]):
            label = step.get("name") or step.get("uses") or f"step {i}"
            if "uses" in step:
                self._action(step, ws, ctx)
                continue
            if step.get("name") == "Install canary":
                continue  # the dev venv (on PATH below) already holds an editable install
            out_file = ws / f".github-output-{i}"
            out_file.touch()
            step_env = dict(env)
            step_env.update({k: str(substitute(v, ctx)) for k, v in step.get("env", {}).items()})
            step_env.update(GITHUB_OUTPUT=str(out_file), GITHUB_STEP_SUMMARY=str(summary),
                            PATH=f"{VENV_BIN}{os.pathsep}{env['PATH']}")
            script = substitute(step["run"], ctx)
            # GitHub's default shell on Linux runners: bash --noprofile --norc -eo pipefail {0}
            proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                  cwd=ws, env=step_env, capture_output=True, text=True, timeout=600)
            codes[label] = proc.returncode
            logs[label] = proc.stdout + proc.stderr
            want = (expect or {}).get(label, 0)
            assert proc.returncode == want, f"{name}/{label}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
            if "id" in step:
                ctx["steps"][step["id"]] = {"outputs": outputs}
        job_outputs = {k: substitute(v, ctx) for k, v in spec.get("outputs", {}).items()}
        return {"outputs": job_outputs, "codes": codes, "logs": logs, "workspace": ws, "summary": summary}

    def _action(self, step: dict, ws: Path, ctx: dict) -> None:
        action = step["uses"].split("@")[0]
        args = {k: substitute(v, ctx) for k, v in step.get("with", {}).items()}
        if action == "actions/checkout":
            for f in self.checkout_files:
                shutil.copy(f, ws / f.name)
        elif action in ("actions/setup-python", "actions/setup-node"):
            pass  # Python 3.11 and Node 20 are this machine's own
        elif action == "actions/cache":
            pass  # no cache between the local jobs: every cell really runs
        elif action == "actions/upload-artifact":
            dest = self.artifacts / args["name"]
            paths = [p.strip() for p in args["path"].splitlines() if p.strip()]
            for p in paths:
                src = ws / p
                if not src.exists():
                    continue
                # One path: its contents form the artifact; several: each keeps its own name.
                target = dest if len(paths) == 1 else dest / src.name
                shutil.copytree(src, target, dirs_exist_ok=True) if src.is_dir() else shutil.copy(src, target)
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
    from matrix.cli import build_parser

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
    planned = json.loads((runner.artifacts / "plan" / "plan.json").read_text())["cells"]
    assert " ".join(e["cells"] for e in matrix["include"]).split() == [c["id"] for c in planned]
    assert len(planned) == 4

    for entry in matrix["include"]:
        job = runner.job("cells", f"ws-{entry['name']}", matrix=entry)
        uploaded = (runner.artifacts / f"cells-{entry['name']}").glob("*/cells/*.json")
        assert sorted(p.stem for p in uploaded) == sorted(entry["cells"].split()), job["logs"]

    # The gate exits 1: alpha@main reads room.server_id, which core 2.0.0 renamed.
    gather = runner.job("gather", "ws-gather", expect={"Gate (0 green, 1 regression, 3 inconclusive)": 1})
    merged = gather["workspace"] / "merged"
    verdicts = json.loads(subprocess.run(
        [str(VENV_BIN / "canary"), "verdicts", str(merged), "--json"], capture_output=True, text=True,
        cwd=gather["workspace"]).stdout)
    by = {v["cell_id"]: v["verdict"] for v in verdicts["verdicts"]}
    assert by == {"alpha@main--core-1.0.0": "ok", "alpha@main--core-2.0.0": "regressed",
                  "alpha@next--core-1.0.0": "ok", "alpha@next--core-2.0.0": "ok"}
    assert any((gather["workspace"] / "report").iterdir())
    assert gather["summary"].read_text().strip()
    assert (runner.artifacts / "canary-report" / "merged" / "run.json").is_file()

    # A job that lost a result: that cell is `error: missing` and the gate says inconclusive (3).
    lost = next(runner.artifacts.glob("cells-shard-1-of-2/*/cells/alpha@main--core-2.0.0.json"))
    lost.unlink()
    gather = runner.job("gather", "ws-gather-2", expect={"Gate (0 green, 1 regression, 3 inconclusive)": 3})
    record = json.loads((gather["workspace"] / "merged" / "run.json").read_text())
    assert record["exit_code"] == 3
