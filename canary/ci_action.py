"""The steps of the reusable GitHub Action (action.yml): plan, cells, gather.

action.yml only sets up Python, installs canary from the action's own directory and calls
`python -m canary.ci_action <step>`; every decision lives here, so the tests run the very
same steps on a local core repository (tests/test_action.py).

  plan     the matrix with the core under test (this checkout) added as a candidate, planned
           once: plan.json, and the job matrix as the step output `matrix`
  cells    one job's cells into its own results store (exit 0 whatever the cells did: the
           verdict belongs to `gather`, which sees every job)
  gather   merge the jobs' stores (the compat diff is computed there, once), report, step
           summary, annotations for regressed cells, SARIF of the diff and of the lint with
           paths relative to the repository root, the PR comment body, the sticky comment,
           and the step output `exit-code` (0 green, 1 regressed, 3 inconclusive)

Inputs arrive as INPUT_* environment variables (what action.yml passes), outputs go to
$GITHUB_OUTPUT, the Markdown to $GITHUB_STEP_SUMMARY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from canary.kernel.atomic import write_text_atomic
from canary.kernel.ghactions import escape as gh_escape
from canary.kernel.exitcodes import ExitCode
from canary.matrix.fanout import DIFF_FILE
from canary.matrix.verdicts import Summary, read_summary

MARKER = "<!-- canary:report -->"  # finds the sticky comment again; invisible on GitHub
DERIVED_MATRIX = ".canary-action.matrix.yaml"


# A run's own answers (green, regressed, inconclusive): the job goes on to report them.
_VERDICT_CODES = (ExitCode.OK, ExitCode.REGRESSED, ExitCode.INCONCLUSIVE)


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"INPUT_{name.upper().replace('-', '_')}", default).strip() or default


def set_output(name: str, value: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{name}={value}\n")
    print(f"{name}={value}")


# ---------------------------------------------------------------- plan


def matrix_with_core_under_test(matrix_file: Path, core_path: str, label: str) -> Path:
    """The user's matrix plus the checkout as one more candidate core (`{path: ..., label: ...}`),
    written beside it so that its relative paths and waivers.yaml still apply."""
    from canary.matrix.config import load

    load(str(matrix_file))  # a bad matrix is one line naming file:line:column, exit 2
    if not core_path:
        return matrix_file
    data = yaml.safe_load(matrix_file.read_text(encoding="utf-8"))
    versions = data.setdefault("core", {}).setdefault("versions", [])
    path = str(Path(core_path).resolve())
    if not any(
        isinstance(v, dict) and str(Path(str(v.get("path", ""))).resolve()) == path
        for v in versions
        if isinstance(v, dict) and "path" in v
    ):
        versions.append({"path": path, "label": label})
    out = matrix_file.parent / DERIVED_MATRIX
    write_text_atomic(
        out, "# written by the canary action from " + matrix_file.name + "\n" + yaml.safe_dump(data, sort_keys=False)
    )
    return out


def derived_matrix() -> Path:
    """Each job derives the same file again (a job starts from a fresh checkout); the plan's
    matrix digest proves in `merge` that it is the same."""
    return matrix_with_core_under_test(Path(env("matrix", "matrix.yaml")), env("core-path"), env("core-label", "pr"))


def step_plan(out: Path) -> int:
    matrix = derived_matrix()
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.json"
    code = _capture(["plan", "--json", "-c", str(matrix)], plan_file)
    if code:
        return code
    matrix_json = out / "ci-matrix.json"
    code = _capture(["ci-matrix", "--plan", str(plan_file), "--max-jobs", env("max-jobs", "256")], matrix_json)
    if code:
        return code
    set_output("matrix", matrix_json.read_text().strip())
    return ExitCode.OK


def _capture(argv: list[str], dest: Path) -> int:
    """Run a canary command in this process with its stdout into dest."""
    import contextlib
    import io

    from canary.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(argv)
    write_text_atomic(dest, buf.getvalue())
    return code


# ---------------------------------------------------------------- cells


def step_cells(store: Path) -> int:
    from canary.cli import main

    cells = env("cells").split()
    if not cells:
        print("canary: error: no cells for this job (input `cells`)", file=sys.stderr)
        return ExitCode.USAGE
    argv = [
        "run",
        "-c",
        str(derived_matrix()),
        "--cells",
        *cells,
        "--store",
        str(store),
        "--report",
        "none",
        "--progress",
        "plain",
    ]
    if env("jobs"):
        argv += ["-j", env("jobs")]
    code = main(argv)
    # 1 (a cell failed) and 3 (an error) are results, judged by `gather` with every job's cells.
    return ExitCode.OK if code in _VERDICT_CODES else code


# ---------------------------------------------------------------- gather


def step_gather(shards: Path, plan_file: Path, out: Path) -> int:
    from canary.cli import main

    merged, report_dir, sarif_dir = out / "merged", out / "report", out / "sarif"
    shards.mkdir(parents=True, exist_ok=True)
    derived_matrix()
    code = main(["merge", str(shards), "--plan", str(plan_file), "--out", str(merged)])
    if code not in _VERDICT_CODES:
        return code
    formats = env("formats", "html,md,junit,json")
    if "md" not in formats.split(","):
        formats += ",md"  # the step summary and the PR comment are the Markdown
    if main(["report", str(merged), "--out", str(report_dir), "--format", formats, "--github-summary"]) != 0:
        return ExitCode.USAGE
    _capture(["verdicts", str(merged), "--json"], out / "verdicts.json")  # the waivers of the run's matrix apply
    summary = read_summary(out / "verdicts.json")
    for line in workflow_annotations(summary):
        print(line)
    sarif_dir.mkdir(parents=True, exist_ok=True)
    diff_file = merged / DIFF_FILE
    if diff_file.is_file():
        from canary.compat.document import load_diff
        from canary.compat.render import sarif

        write_text_atomic(sarif_dir / "diff.sarif", sarif(load_diff(diff_file).to_dict()))
    if env("lint-paths") and env("migration"):
        lint = [
            "lint",
            *env("lint-paths").split(),
            "-m",
            env("migration"),
            "--format",
            "sarif",
            "--fail-on",
            "never",
            "--output",
            str(sarif_dir / "lint.sarif"),
        ]
        main(lint)
    body = comment_body((report_dir / "report.md").read_text(encoding="utf-8"))
    write_text_atomic(out / "comment.md", body)
    if env("comment", "true") == "true":
        sticky_comment(body)
    set_output("exit-code", str(code))
    set_output("report", str(report_dir))
    return ExitCode.OK


def workflow_annotations(summary: Summary) -> list[str]:
    """One `::error` per blocking regression, `::warning` per inconclusive required cell."""
    lines = []
    for v in summary.verdicts:
        reason = v.reason.splitlines()[0] if v.reason else ""
        if v.blocking:
            lines.append(
                f"::error title={gh_escape('canary: regressed ' + v.cell_id, True)}::"
                f"{gh_escape(v.cell_id + ' regressed against the baseline' + (': ' + reason if reason else ''))}"
            )
        elif v.inconclusive:
            lines.append(
                f"::warning title={gh_escape('canary: inconclusive ' + v.cell_id, True)}::"
                f"{gh_escape(v.cell_id + ': ' + (reason or v.verdict))}"
            )
    return lines


def comment_body(markdown: str) -> str:
    return f"{MARKER}\n{markdown}"


# ---------------------------------------------------------------- the sticky PR comment


def pull_request_number() -> int | None:
    event = os.environ.get("GITHUB_EVENT_PATH")
    if not event or not Path(event).is_file():
        return None
    data = json.loads(Path(event).read_text(encoding="utf-8"))
    number = (data.get("pull_request") or {}).get("number")
    return int(number) if number else None


def _api(method: str, url: str, token: str, payload: dict | None = None):
    req = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(payload).encode() if payload else None,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def sticky_comment(body: str) -> str:
    """Create the report comment on the pull request, or update the one that carries MARKER.
    Returns what happened: created, updated, or skipped (why)."""
    pr, token = pull_request_number(), os.environ.get("GITHUB_TOKEN", "")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if pr is None or not token or not repo:
        print("canary: PR comment skipped (not a pull request, or no token)", file=sys.stderr)
        return "skipped"
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    try:
        existing = None
        page = 1
        while existing is None:
            comments = _api("GET", f"{api}/repos/{repo}/issues/{pr}/comments?per_page=100&page={page}", token)
            if not comments:
                break
            existing = next((c for c in comments if MARKER in (c.get("body") or "")), None)
            page += 1
        if existing is not None:
            _api("PATCH", f"{api}/repos/{repo}/issues/comments/{existing['id']}", token, {"body": body})
            print(f"canary: updated the report comment on #{pr}", file=sys.stderr)
            return "updated"
        _api("POST", f"{api}/repos/{repo}/issues/{pr}/comments", token, {"body": body})
        print(f"canary: commented the report on #{pr}", file=sys.stderr)
        return "created"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # A fork's read-only token cannot comment: the report is still in the step summary.
        print(f"::warning title=canary::could not comment on #{pr}: {gh_escape(str(exc))}")
        return "skipped"


# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m canary.ci_action", description="The canary GitHub Action's steps (see action.yml)."
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("plan", help="plan the cells with the core under test; output `matrix`")
    p.add_argument("--out", default="canary-plan")
    p = sub.add_parser("cells", help="run this job's cells (input `cells`) into a store")
    p.add_argument("--store", default="canary-shard")
    p = sub.add_parser("gather", help="merge, report, summary, annotations, SARIF, PR comment")
    p.add_argument("--shards", default="canary-shards")
    p.add_argument("--plan", default="canary-plan/plan.json")
    p.add_argument("--out", default="canary-out")
    args = parser.parse_args(argv)
    from canary.kernel.errors import UserError

    try:
        if args.step == "plan":
            return step_plan(Path(args.out))
        if args.step == "cells":
            return step_cells(Path(args.store))
        return step_gather(Path(args.shards), Path(args.plan), Path(args.out))
    except UserError as exc:
        print(f"canary: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE


if __name__ == "__main__":
    sys.exit(main())
