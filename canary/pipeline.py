"""`canary run` as explicit steps: plan -> start diff -> execute -> judge -> bisect -> diff -> report -> explain.

Each step reads and fills one `RunState`; `run_pipeline` calls them in order, and the command line
(canary.cli_run) only turns arguments into a `RunRequest` and prints what `announce` is given.
Static exposure is measured inside `execute`, per connector ref, while the cell's checkout exists
(the codemods lint is wired in here through `RunOptions.lint`, since the harness does not import
codemods). To add a step: write `def step_x(state) -> None`, add it to `STEPS` in its place.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

from canary.kernel.errors import UserError
from canary.kernel.exitcodes import ExitCode
from canary.kernel.home import Home
from canary.kernel.redact import redact
from canary.matrix import config, sources, waivers
from canary.matrix.execute import RunOptions, RunOutcome, execute
from canary.matrix.fanout import DIFF_FILE
from canary.matrix.model import Cell, Matrix
from canary.matrix.plan import plan, select
from canary.matrix.progress import step
from canary.matrix.results import CellResult, Status
from canary.matrix.store import RunDir, Store, open_run

if TYPE_CHECKING:
    from canary.compat.document import CompatDiff

__all__ = ["RunRequest", "RunState", "STEPS", "run_pipeline", "compat_diff", "candidates_without_baseline"]


@dataclass
class RunRequest:
    """What `canary run` was asked to do (its options, already parsed)."""

    config: str | None = None
    store: str | None = None
    cells: list[str] = field(default_factory=list)
    jobs: int | None = None
    retries: int | None = None
    use_cache: bool = True
    resume: str | None = None
    aa_check: bool | None = None
    exit_by_status: bool = False
    keep_work: bool = False
    progress: str = "auto"
    report: str = "html,md,junit,json"
    argv: list[str] = field(default_factory=list)


@dataclass
class RunState:
    """Everything the steps produce, in the order they produce it."""

    request: RunRequest
    announce: Callable[[list[str]], object]
    home: Home = field(default_factory=Home.default)
    # Set by step_plan and step_execute; reading them earlier is an AttributeError, not a None.
    matrix: Matrix = field(init=False)
    planned: list[Cell] = field(default_factory=list)  # the whole matrix
    cells: list[Cell] = field(default_factory=list)  # the selection this run executes
    unjudged: list[Cell] = field(default_factory=list)  # candidates whose baseline is not selected
    outcome: RunOutcome = field(init=False)
    results: dict[str, CellResult] = field(default_factory=dict)
    diff_job: DiffJob | None = None  # the compat diff, computed while the cells run
    diff_file: Path | None = None
    step_diffs: dict[tuple[str, str], Path] = field(default_factory=dict)  # (old, new) -> <run>/compat/old..new.json
    explanation: object | None = None  # canary.reports.explain.Explanation
    report_dir: Path | None = None
    exit_code: int = 0
    reaped: int = 0

    @property
    def run(self) -> RunDir:
        return self.outcome.run

    @property
    def step_mode(self) -> str:
        return "quiet" if self.request.progress == "none" else self.request.progress


def step_plan(state: RunState) -> None:
    """Load matrix.yaml, plan every cell, select the requested ones, check that git refs exist."""
    req = state.request
    state.matrix = config.load(req.config)
    state.planned = plan(state.matrix)
    if req.resume is None:
        sources.check_refs(state.matrix, state.home)
    state.cells = select(state.planned, req.cells or None)
    state.unjudged = candidates_without_baseline(state.planned, state.cells)


def step_execute(state: RunState) -> None:
    """Run the cells (cache, retries, static exposure) into a run directory of the store."""
    req, matrix = state.request, state.matrix
    store = Store(req.store) if req.store else Store(state.home.runs)
    resume = open_run(req.resume, store.root) if req.resume else None
    options = RunOptions(
        selection=list(req.cells),
        planned_total=len(state.planned),
        kind="repro" if req.exit_by_status else "release",
        jobs=req.jobs or matrix.settings.jobs,
        retries=req.retries,
        use_cache=req.use_cache,
        keep_work=req.keep_work,
        progress=req.progress,
        argv=req.argv,
        aa_check=matrix.settings.aa_check if req.aa_check is None else req.aa_check,
        lint=_lint_findings,
        verify_fix=_verify_fix,
    )
    if options.jobs < 1:
        raise UserError("--jobs must be at least 1")
    state.outcome = execute(matrix, state.cells, options, store=store, resume=resume, home=state.home)
    state.results = state.run.read_cells()
    state.reaped = state.outcome.reaped


def step_judge(state: RunState) -> None:
    """The decision (made by canary.matrix.verdicts when the run was recorded), as lines and an exit code."""
    summary = state.outcome.summary
    unjudged_ids = {c.id for c in state.unjudged}
    lines: list[str] = []
    if state.request.exit_by_status or state.unjudged:
        statuses = _counts(r.status for r in state.results.values())
        line = f"run {state.run.run_id}: cells: {statuses}"
        if state.unjudged:
            # A CI shard: a candidate compared with no baseline would read "green" here while it
            # failed; its verdict belongs to `canary merge`, which sees every job's cells.
            line += (
                f"; not judged here: {len(state.unjudged)} candidate cell(s) whose baseline is not in this run "
                "(`canary merge` judges the whole matrix)"
            )
            judged = _counts(v.verdict for v in summary.verdicts if v.cell_id not in unjudged_ids)
            if judged:
                line += f"; judged: {judged}"
        lines.append(line)
    else:
        lines.append(summary.sentence)
        lines.append(f"run {state.run.run_id}: {summary.decision} ({_counts(v.verdict for v in summary.verdicts)})")
    if not explains(state):  # else the root-cause groups at the end name these cells
        lines += [f"  regressed (required): {v.cell_id}: {v.reason}" for v in summary.blocking]
    lines += [f"  error (required): {v.cell_id}: {v.reason}" for v in summary.inconclusive]
    lines += [f"  warning: {w}" for w in summary.warnings]
    lines.append(f"results: {state.run.path}")
    state.announce(lines)
    if state.request.exit_by_status:
        state.exit_code = _status_code({r.status for r in state.results.values()})
    elif state.unjudged and summary.exit_code == 0:
        # Never exit 0 ("green") for a job whose unjudged cells failed.
        state.exit_code = _status_code({r.status for cid, r in state.results.items() if cid in unjudged_ids})
    else:
        state.exit_code = summary.exit_code


def step_start_diff(state: RunState) -> None:
    """Start the compat diff baseline -> newest candidate (advisory) while the cells run: it needs
    no cell's result, and it fetches through the cells' artifact cache (each tarball once, under
    its lock). A run of some cells (a CI shard) leaves it to `canary merge`: once, not per job."""
    if not state.matrix.compat.get("diff") or state.request.cells:
        return
    labels = sorted({c.core.label for c in state.cells if c.role == "candidate"})
    state.diff_job = DiffJob(state.matrix, labels)


def step_diff(state: RunState) -> None:
    """Wait for the compat diff started before the cells and write it into the run; then the diff of
    each step where a regression first appears (`<run>/compat/<old>..<new>.json`)."""
    if state.diff_job is None:
        return
    with step("compat diff: baseline -> newest candidate", state.step_mode):
        doc = state.diff_job.result()
        state.diff_file = write_compat_diff(doc, state.run.path) if doc is not None else None
    pairs = regression_steps(state)
    if pairs:
        with step(f"compat diff of {len(pairs)} step(s) where a regression first appears", state.step_mode):
            from canary.compat_steps import step_diffs

            state.step_diffs = step_diffs(state.matrix, pairs, state.run.path, state.home)
    if state.diff_file:
        state.announce([f"breaking changes: {state.diff_file}"])


def step_bisect(state: RunState) -> None:
    """settings.bisect: the first bad version (or commit) of each blocking regression, found with
    probe cells in this run (canary.matrix.bisect), and the compat diff of its step. A run of some
    cells (a CI shard) leaves it to `canary bisect`: `canary merge` keeps only planned cells."""
    blocking = [v.cell_id for v in state.outcome.summary.blocking]
    if not state.matrix.settings.bisect or not blocking or state.request.cells:
        return
    from canary.bisection import bisect_and_diff
    from canary.kernel.errors import InfrastructureError

    try:
        with step(f"bisect: {len(blocking)} blocking regression(s)", state.step_mode):
            searches, _lines = bisect_and_diff(
                state.matrix,
                state.run,
                blocking,
                state.home,
                use_cache=state.request.use_cache,
                progress=state.request.progress,
            )
    except (UserError, InfrastructureError) as exc:  # advisory: the verdicts stand without it
        state.announce([f"warning: no bisection: {getattr(exc, 'reason', None) or exc}"])
        return
    # One line here: the explanation's groups say each first bad version; `canary bisect` says more.
    found = ", ".join(
        f"{s.connector}@{s.ref} {s.first_bad}{'' if s.conclusive else ' (not conclusive)'}"
        for s in searches
        if s.first_bad
    )
    state.announce([f"bisect: {state.run.path / 'bisect.json'}" + (f" (first bad: {found})" if found else "")])


def step_explain(state: RunState) -> None:
    """Why the run regressed: root-cause groups, probable causes, fixes (canary.reports.explain), as
    `<run>/explain.json`, as fields of `<run>/verdicts.json`, and as the run's last lines."""
    from canary.reports import explain as _explain

    if not explains(state):
        return
    summary = state.outcome.summary
    try:
        explanation = _explain.explain(state.run, summary, state.outcome.record, state.results)
        _explain.write(explanation, state.run.path)
        annotate_verdicts(state.run.path, explanation)
    except (UserError, OSError, ValueError, KeyError) as exc:  # advisory, like the diff: the verdicts stand
        print(redact(f"canary: warning: no explanation of the regressions: {exc}"), file=sys.stderr)
        return
    state.explanation = explanation
    from canary.reports.text import explanation_lines

    lines = explanation_lines(explanation)
    if lines:
        state.announce(lines)


def explains(state: RunState) -> bool:
    """A shard or a reproduction of single cells is not explained: `canary merge` sees the whole matrix."""
    return not (state.request.cells or state.unjudged or state.request.exit_by_status)


def step_report(state: RunState) -> None:
    """The report formats asked for (html, md, junit, json, badges) under `<run>/report/`."""
    formats = state.request.report
    if not formats or formats == "none":
        return
    from canary.reports import render_all

    matrix = state.matrix
    with step(f"report: {formats}", state.step_mode):
        written = render_all(
            state.run.path,
            [f.strip() for f in formats.split(",") if f.strip()],
            state.run.path / "report",
            waivers=waivers.combine(matrix.waivers, waivers.load_beside(matrix.file)),
        )
    html = written.get("html") if isinstance(written, dict) else None
    state.report_dir = Path(html) if html else state.run.path / "report"
    state.announce([f"report: {state.report_dir}"])


STEPS: tuple[Callable[[RunState], None], ...] = (
    step_plan,
    step_start_diff,
    step_execute,
    step_judge,
    step_bisect,
    step_diff,
    step_report,
    step_explain,
)


def run_pipeline(request: RunRequest, announce: Callable[[list[str]], object] = lambda lines: None) -> RunState:
    state = RunState(request=request, announce=announce)
    for run_step in STEPS:
        run_step(state)
    return state


def _counts(values) -> str:
    counts: dict[str, int] = {}
    for v in values:
        counts[str(v)] = counts.get(str(v), 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def _lint_findings(paths: list[str], migration: str) -> list[dict]:
    from canary.codemods.lint import lint_paths

    return lint_paths(paths, migration).to_dict().get("findings", [])


def _verify_fix(target: str, migration: str, matrix_file: str, connector: str):
    from canary.codemods.verify import verify_fix

    return verify_fix(target, migration, matrix_file, connector)


def _status_code(statuses: set[str]) -> int:
    if Status.ERROR in statuses:
        return ExitCode.INCONCLUSIVE
    return ExitCode.REGRESSED if statuses & {Status.FAIL, Status.TIMEOUT} else ExitCode.OK


def candidates_without_baseline(planned: list, selected: list) -> list:
    """Selected candidate cells whose baseline cell (same connector ref) the plan has but the
    selection left out: their verdict cannot be decided by this run."""
    chosen = {c.id for c in selected}
    baselines = {(c.connector, c.ref): c.id for c in planned if c.role == "baseline"}
    return [c for c in selected if c.role == "candidate" and baselines.get((c.connector, c.ref)) not in (None, *chosen)]


class DiffJob:
    """The compat diff in a thread of its own, or, when it needs the process environment changed
    (a PyPI matrix's own index as PIP_* variables, which cells starting meanwhile would inherit),
    computed when its result is asked for. A daemon thread: an interrupted run does not wait for it."""

    def __init__(self, matrix: Matrix, candidate_labels: list[str]) -> None:
        self._compute = lambda: compute_compat_diff(matrix, candidate_labels)
        self._done = threading.Event()
        self._doc: CompatDiff | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if not _diff_environ(matrix):
            self._thread = threading.Thread(target=self._run, name="canary-compat-diff", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._doc = self._compute()
        except BaseException as exc:  # handed to the caller of result(), as if it had run there
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> CompatDiff | None:
        if self._thread is None:
            self._run()
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._doc


def _diff_environ(matrix: Matrix) -> dict[str, str]:
    from canary.matrix.registry import pip_index_env

    # The matrix's own index (find-links, no-index) for the sides pip fetches.
    return pip_index_env(matrix.core.index) if matrix.core.ecosystem == "pypi" else {}


def compute_compat_diff(matrix: Matrix, candidate_labels: list[str]) -> CompatDiff | None:
    """Baseline core against the newest candidate, for the report (a canary/compat-diff/v1
    document). Advisory: a failure is a warning and None, never a failed run."""
    from canary.compat_steps import compare_cores
    from canary.matrix.coresides import newest_candidate
    from canary.matrix.plan import resolve_core_versions

    specs, baseline = resolve_core_versions(matrix)
    candidate = newest_candidate(matrix, candidate_labels, specs)
    if candidate is None:
        return None
    return compare_cores(matrix, baseline, candidate)


def write_compat_diff(doc: CompatDiff, run_path: Path) -> Path:
    from canary.kernel.atomic import write_json_atomic

    path = run_path / DIFF_FILE
    write_json_atomic(path, doc.to_dict())
    return path


def compat_diff(matrix, candidate_labels: list[str], run_path: Path) -> Path | None:
    """The compat diff computed and written into `run_path` at once (`canary merge`, once for the
    gathered CI jobs; `canary run` computes it while its cells run, DiffJob)."""
    doc = compute_compat_diff(matrix, candidate_labels)
    return write_compat_diff(doc, run_path) if doc is not None else None


def regression_steps(state: RunState) -> list[tuple[str, str]]:
    """The steps (last good, first bad) where a regression first appears, bisection's when it ran."""
    return regression_pairs(state.matrix, state.outcome.summary, state.outcome.record, state.run.path)


def regression_pairs(matrix, summary, record, run_path: Path) -> list[tuple[str, str]]:
    from canary.matrix.steps import attribute_run, step_pairs

    cores = list(dict.fromkeys([*record.candidates, *(p.core for p in record.cells)]))
    return step_pairs(attribute_run(summary.verdicts, matrix.core.ecosystem, record.baseline, cores, run_path))


def annotate_verdicts(run_path: Path, explanation) -> None:
    """verdicts.json gains group, first_bad, probable_causes and fixes per cell (schema canary/verdicts/v1)."""
    from canary.kernel.atomic import write_json_atomic
    from canary.matrix.verdicts import CellExplanation, read_summary

    path = run_path / "verdicts.json"
    if not path.is_file():
        return
    # The file, not the run's Summary in memory: the file is the redacted one.
    summary = read_summary(path)
    for v in summary.verdicts:
        v.explanation = CellExplanation.from_dict(explanation.for_cell(v.cell_id))
    write_json_atomic(path, summary.to_dict())
