"""Execution: run planned cells, write one CellResult per cell, never lose one.

The one interface is `execute(matrix, cells, options) -> RunOutcome`. Inside:
baseline cells run first (candidates need them to tell a regression from a
red connector), a candidate that regresses is re-run to tell flaky from
broken, unchanged cells are served from a content-addressed result cache,
and cells run on a pool of `jobs` workers. Every result is written atomically
as soon as it is known, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable
from pathlib import Path

from canary import __version__
from canary.kernel import mounts, reaper, runlock
from canary.matrix import failures, sources
from canary.matrix import waivers as _waivers
from canary.kernel.atomic import write_json_atomic, write_text_atomic
from canary.matrix.cellenv import cell_env
from canary.matrix.context import CellContext
from canary.kernel.digest import value_sha256
from canary.kernel.errors import InfrastructureError, UserError
from canary.kernel.home import Home
from canary.kernel.locks import exclusive
from canary.matrix.exposure import EXPOSURE_FILE, ConnectorExposure, Exposure, load_exposure
from canary.matrix.model import Cell, Matrix
from canary.matrix.proc import Outcome
from canary.matrix.progress import Progress
from canary.matrix.schedule import longest_first, previous_durations
from canary.kernel.redact import redact, redact_data, secret_values
from canary.matrix.results import Attempt, CellResult, ConnectorRecord, CoreRecord, PlannedCell, RunRecord, Status
from canary.matrix import runners
from canary.matrix.store import RunDir, Store, now_iso, read_json
from canary.matrix.verdicts import Summary, classify

__all__ = [
    "JUNIT_MAX_BYTES",
    "FAILURE_LINE",
    "EXCEPTION_LINE",
    "failure_reason",
    "RunOptions",
    "RunOutcome",
    "planned",
    "new_record",
    "provenance",
    "execute",
]

JUNIT_MAX_BYTES = 32 << 20
FAILURE_LINE = re.compile(r"(error|Error|ERROR|FAIL|fail(ed|ure)|assert|exception)")
# What a test sees when it reaches for the network in a container without one.
NETWORK_ERROR = re.compile(
    r"Network is unreachable|ENETUNREACH|Temporary failure in name resolution|EAI_AGAIN"
    r"|Name or service not known|ENOTFOUND|Connection refused|ECONNREFUSED"
)
# "SomethingError: message" says more than "test_x ... ERROR": prefer it.
EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+(?:Error|Exception)|AssertionError|Error)\b:? .+")


def failure_reason(tail: list[str]) -> str:
    """The most telling line of a failing command's output."""
    for pattern in (EXCEPTION_LINE, FAILURE_LINE):
        hits = [ln.strip() for ln in tail if pattern.search(ln) and not ln.lstrip().startswith("File ")]
        if hits:
            return hits[-1][:300] if pattern is EXCEPTION_LINE else hits[0][:300]
    return ""


@dataclass
class RunOptions:
    """How to run the cells: parallel jobs, retries, cache, and the hooks the app wires in."""

    jobs: int = 1
    retries: int | None = None  # None: the matrix's settings.retries
    use_cache: bool = True
    keep_work: bool = False
    progress: str = "auto"  # auto | rich | plain | none
    aa_check: bool = False  # run every baseline cell twice
    argv: list[str] = field(default_factory=list)
    # What the run covers (run.json `partial`, `selection`, `planned_total`, `kind`): a run of
    # some cells, or a reproduction, must never pass for a run of the matrix.
    selection: list[str] = field(default_factory=list)
    planned_total: int | None = None
    kind: str = "release"
    # Static exposure is measured by the codemods part, which the harness does not import (the
    # app wires it in, canary.cli_run): lint(paths, migration) -> findings as dicts, and
    # verify_fix(target, migration, matrix_file, connector) -> a verification with .sentence().
    lint: Callable[[list[str], str], list[dict]] | None = None
    verify_fix: Callable[..., Any] | None = None


@dataclass
class RunOutcome:
    """What a run produced: its directory, its record and the verdicts' summary."""

    run: RunDir
    record: RunRecord
    summary: Summary
    reaped: int = 0  # processes left running by a killed canary on this store, killed at the start


def planned(cells: list[Cell], matrix_file: str) -> list[PlannedCell]:
    """The planned-cell entries of run.json for `cells`."""
    return [
        PlannedCell(c.id, c.tier, c.role, c.connector, c.ref, c.core.label, c.nox_command(matrix_file)) for c in cells
    ]


def new_record(matrix: Matrix, cells: list[Cell], run: RunDir, options: RunOptions) -> RunRecord:
    """A new run record (run.json) for `cells` of `matrix`, before any cell runs."""
    baseline = next((c.core.label for c in cells if c.role == "baseline"), None)
    record = RunRecord(
        run_id=run.run_id,
        matrix_file=matrix.file,
        matrix_digest=matrix.digest,
        started_at=now_iso(),
        cells=planned(cells, matrix.file),
        argv=options.argv,
        tool_version=__version__,
        core_name=matrix.core.name,
        ecosystem=matrix.core.ecosystem,
        baseline=baseline,
        candidates=sorted({c.core.label for c in cells if c.role == "candidate"}),
        partial=options.planned_total is not None and len(cells) < options.planned_total,
        selection=list(options.selection),
        planned_total=options.planned_total,
        kind=options.kind,
        **provenance(matrix.file),
    )
    return record


def provenance(matrix_file: str) -> dict:
    """Where the run came from: the matrix file's absolute path and the digest of the
    waivers.yaml beside it (the matrix's own digest is `matrix.digest`), so that `promote`
    can tell when the file it reads waivers from is not the one the run used."""
    from canary.kernel.digest import file_sha256

    waivers_file = _waivers.beside(matrix_file)
    return {
        "matrix_path": str(Path(matrix_file).resolve()),
        "waivers_digest": file_sha256(waivers_file) if waivers_file.is_file() else None,
    }


def execute(
    matrix: Matrix,
    cells: list[Cell],
    options: RunOptions,
    store: Store | None = None,
    resume: RunDir | None = None,
    home: Home | None = None,
) -> RunOutcome:
    """Run `cells` (cached results reused unless told not to), judge them, and return the outcome."""
    home = home or Home.default()
    store = store or Store(home.runs)
    if resume is not None:
        # Exclusive per run: a second resume (or a resume of a run still going) stops here, exit 2.
        with runlock.hold(resume.path, "resume"):
            reaped = reaper.reap_left_behind(store.root, own_run=resume.path)
            reaped += runners.reap_left_behind(matrix, store.root, resume.path)
            outcome = _execute(matrix, cells, options, resume, home, resumed=True)
    else:
        # Before the run exists: an engine every cell needs and cannot reach stops here (exit 2).
        containers = runners.reap_left_behind(matrix, store.root, None)
        run = store.new_run()
        with runlock.hold(run.path, "run"):
            reaped = reaper.reap_left_behind(store.root, own_run=run.path) + containers
            outcome = _execute(matrix, cells, options, run, home, resumed=False)
    outcome.reaped = reaped
    return outcome


def _execute(
    matrix: Matrix, cells: list[Cell], options: RunOptions, run: RunDir, home: Home, resumed: bool
) -> RunOutcome:
    if resumed:
        record = run.read_run()
        planned_ids = {p.id for p in record.cells}
        done = set(run.read_cells(strict=False))
        cells = [c for c in cells if c.id in planned_ids and c.id not in done]
        record.state = "running"
        run.write_run(record)
    else:
        record = new_record(matrix, cells, run, options)
        run.write_run(record)
    retries = matrix.settings.retries if options.retries is None else options.retries
    worker = _Worker(matrix, run, home, options, retries)
    progress = Progress(len(cells), options.progress if options.progress != "none" else "quiet")
    worker.progress = progress
    # Longest cells first within the baseline-first order (matrix/schedule.py): the workers finish together.
    durations = previous_durations(run.path.parent, str(Path(matrix.file).resolve()), exclude=run.run_id)
    ordered = longest_first(cells, durations)
    try:
        for group in (
            [c for c in ordered if c.role == "baseline"],
            [c for c in ordered if c.role != "baseline"],
        ):
            if options.jobs <= 1:
                for cell in group:
                    worker.run_cell(cell)
            else:
                with ThreadPoolExecutor(max_workers=options.jobs) as pool:
                    list(pool.map(worker.run_cell, group))
    except KeyboardInterrupt:
        record.state = "interrupted"
        run.write_run(record)
        raise
    finally:
        progress.close()
        worker.janitor.shutdown(wait=True)
    summary = classify(run, record, waivers=_waivers.combine(matrix.waivers, _waivers.load_beside(matrix.file)))
    write_json_atomic(run.path / "verdicts.json", redact_data(summary.to_dict(), worker.secrets))
    record.state, record.finished_at, record.exit_code = "complete", now_iso(), summary.exit_code
    run.write_run(record)
    return RunOutcome(run, record, summary)


class _Worker:
    def __init__(self, matrix: Matrix, run: RunDir, home: Home, options: RunOptions, retries: int) -> None:
        self.matrix, self.run, self.home, self.options, self.retries = matrix, run, home, options, retries
        # One runner per connector (runner: local | docker); an unknown pair is a UserError here.
        self.runners = {c.name: runners.for_connector(matrix, c) for c in matrix.connectors}
        # The caller's secrets and those a connector's own `env:` hands its cell (a token, a proxy URL
        # with credentials): the cell may print them, nothing it leaves behind may hold them.
        self.secrets = secret_values(os.environ, *(c.env for c in matrix.connectors))
        self.progress: Progress | None = None
        self._exposure_lock = threading.Lock()
        self.janitor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="canary-cleanup")
        self._exposure_done: set[str] = set()

    # -- one cell -----------------------------------------------------------
    def run_cell(self, cell: Cell) -> CellResult:
        if self.progress:
            self.progress.start(cell.id)
        started = time.monotonic()
        # Named in the run directory while it runs: if canary is killed, the next run kills what it left.
        mark = reaper.mark_running(self.run.path, cell.id, reaper.token_for(self.run.run_id, cell.id))
        try:
            result = self._run_cell(cell)
        finally:
            mark.unlink(missing_ok=True)
        result.duration_s = round(time.monotonic() - started, 3)
        result.finished_at = now_iso()
        result = CellResult.from_dict(redact_data(result.to_dict(), self.secrets))
        self.run.write_cell(result)
        if self.progress:
            note = result.reason[:100] if result.status != Status.PASS else ""
            note = f"(cached) {note}".strip() if result.cached_from else note
            self.progress.finish(cell.id, result.status, result.duration_s, note)
        return result

    def _context(self, cell: Cell, log) -> CellContext:
        connector = self.matrix.connector(cell.connector)
        env, keys = cell_env(connector.env, connector.pass_env)
        cell_dir = self.home.root / "work" / self.run.run_id / cell.id
        if cell_dir.exists():  # left by a killed run of this cell: start clean
            mounts.unmount_under(cell_dir)
            shutil.rmtree(cell_dir, ignore_errors=True)
        return CellContext(
            cell=cell,
            matrix=self.matrix,
            connector=connector,
            home=self.home,
            run_id=self.run.run_id,
            cell_dir=self.home.work(self.run.run_id, cell.id),
            log=log,
            env=env,
            secrets=self.secrets,
            core_record=CoreRecord(self.matrix.core.name, cell.core.label, cell.core.kind, requested=cell.core.version),
            connector_record=ConnectorRecord(connector.name, connector.package, connector.source.kind, cell.ref),
            process_token=reaper.token_for(self.run.run_id, cell.id),
            run_path=self.run.path,
        )

    def _base_result(self, cell: Cell, cx: CellContext) -> CellResult:
        return CellResult(
            run_id=self.run.run_id,
            cell_id=cell.id,
            tier=cell.tier,
            role=cell.role,
            core=cx.core_record,
            connector=cx.connector_record,
            status=Status.ERROR,
            expectation=cell.expectation,
            tags=list(cell.tags),
            env_keys=sorted(cx.env),
            started_at=now_iso(),
            runner=self.runners[cell.connector].NAME,
            tool_version=__version__,
            nox=cell.nox_command(self.matrix.file),
        )

    def _run_cell(self, cell: Cell) -> CellResult:
        log_path = self.run.log_file(cell.id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w", encoding="utf-8") as log:
            cx = self._context(cell, log)
            result = self._base_result(cell, cx)
            attempt = Attempt(1, Status.ERROR, log=str(log_path.relative_to(self.run.path)), started_at=now_iso())
            result.attempts.append(attempt)
            log.write(f"# cell {cell.id}: {cell.package} {cell.ref} on {self.matrix.core.name} {cell.core.label}\n")
            if cell.expectation == "skip":
                attempt.status = result.status = Status.SKIPPED
                attempt.reason = result.reason = cell.expectation_reason or "skipped by the matrix"
                return result
            t0 = time.monotonic()
            try:
                cx.core_artifact = sources.materialize_core(cx)
                cx.core_record.digest = cx.core_artifact.digest
                cx.core_record.commit = cx.core_artifact.commit
                cx.core_record.tree, cx.core_record.diff_digest = cx.core_artifact.tree, cx.core_artifact.diff_digest
                cx.checkout = sources.identify_connector(cx)
                self._record_checkout(cx)
                key = self._cache_key(cx)
                result.cache_key = key
                cached = self._from_cache(key, result, attempt) if self.options.use_cache else None
                if cached is not None:
                    self._exposure(cx, need_checkout=True)
                    return cached
                sources.checkout_connector(cx)
                # Static exposure reads the connector's own files, before any install moves them
                # under node_modules (which linters skip) or an install error ends the cell.
                self._exposure(cx)
                self.runners[cell.connector].prepare(cx)
                for argv in cx.connector.setup:
                    cx.run("setup", list(argv), cwd=cx.checked_out.path, infra=True)
                self._test(cx, attempt)
                attempt.duration_s = round(time.monotonic() - t0, 3)
                result.status, result.reason = attempt.status, attempt.reason
                if result.status in (Status.FAIL, Status.TIMEOUT) and self._should_retry(cell):
                    self._retry(cx, result)
                elif cell.role == "baseline" and self.options.aa_check:
                    # A/A check: the same baseline twice; differing outcomes mean the cell is flaky on its own.
                    self._retry(cx, result, until_pass=False, extra=1)
                if result.status in (Status.PASS, Status.FAIL):
                    result.unsupported = cx.unsupported
                    self._store_cache(key, result)
            except InfrastructureError as exc:
                attempt.status = result.status = Status.ERROR
                attempt.reason = result.reason = exc.reason
                attempt.commands = attempt.commands or list(cx.commands)
                _record_failure(attempt, _infrastructure_kind(exc, attempt, cx))
                log.write(f"!! infrastructure error: {exc.reason}\n")
            except OSError as exc:
                reason = (
                    "no space left on device"
                    if getattr(exc, "errno", None) == 28
                    else f"{exc.strerror or exc}: {exc.filename or ''}".strip(": ")
                )
                attempt.status = result.status = Status.ERROR
                attempt.reason = result.reason = reason
                attempt.commands = attempt.commands or list(cx.commands)
                _record_failure(
                    attempt,
                    failures.FailureKind.NO_SPACE
                    if getattr(exc, "errno", None) == 28
                    else failures.FailureKind.ENVIRONMENT,
                )
                log.write(f"!! infrastructure error: {reason}\n")
            finally:
                if not attempt.commands:
                    attempt.commands = list(cx.commands)
                if not attempt.duration_s:
                    attempt.duration_s = round(time.monotonic() - t0, 3)
                result.unsupported = cx.unsupported
                result.processes_killed = cx.processes_killed
                result.sandbox = dict(cx.sandbox)
                if not self.options.keep_work:
                    self._cleanup(cx)
                else:  # a kept cell keeps its files; an overlay's merged view is remade by the logged `mount`
                    mounts.unmount_under(cx.cell_dir)
        return result

    def _record_checkout(self, cx: CellContext) -> None:
        co = cx.checked_out
        rec = cx.connector_record
        rec.commit, rec.digest, rec.version = co.commit, co.digest, co.version

    def _test(self, cx: CellContext, attempt: Attempt) -> None:
        first_test = len(cx.commands)
        status, reason = Status.PASS, ""
        failed: Outcome | None = None
        for argv in cx.connector.test:
            out = cx.run("test", list(argv), cwd=cx.checked_out.path)
            failed = out
            if out.record.timed_out:
                if out.output_lines == 0:
                    status, reason = Status.ERROR, f"timeout with no output after {out.record.duration_s:.0f}s"
                else:
                    status, reason = Status.TIMEOUT, f"timed out after {out.record.duration_s:.0f}s"
                break
            if out.record.exit_code in cx.connector.infra_exit_codes:
                # The test harness itself could not start (a smoke scenario that cannot build its
                # runtime): the connector was not exercised, so this is not its failure.
                status = Status.ERROR
                reason = f"test set-up: {failure_reason(out.tail) or f'exit {out.record.exit_code}'}"
                break
            if out.record.exit_code != 0:
                status = Status.FAIL
                reason = failure_reason(out.tail) or f"{Path(out.record.argv[0]).name} exited {out.record.exit_code}"
                if (cx.sandbox.get("network") or {}).get("test") == "none" and NETWORK_ERROR.search(
                    "\n".join(out.tail)
                ):
                    reason += " (the network is off while tests run: runner docker)"
                break
            failed = None
        attempt.status, attempt.reason = status, reason
        attempt.commands = cx.commands[first_test:] if attempt.number > 1 else list(cx.commands)
        if failed is not None:  # recorded now, while the failing command and its output are at hand
            _record_failure(
                attempt,
                failures.command_kind(
                    "test",
                    failed.record.exit_code,
                    failed.record.timed_out,
                    "\n".join(failed.tail),
                    printed=failed.output_lines > 0,
                    infra_exit=failed.record.exit_code in cx.connector.infra_exit_codes,
                ),
            )
        if cx.connector.junit:
            junit = Path(cx.expand(str(cx.checked_out.path / cx.connector.junit)))
            if junit.is_file():
                dest = self.run.path / "junit" / f"{cx.cell.id}.attempt{attempt.number}.xml"
                # The connector's own file: its test names and messages may carry a secret it was given.
                with open(junit, "rb") as fh:
                    text = fh.read(JUNIT_MAX_BYTES).decode("utf-8", "replace")
                write_text_atomic(dest, redact(text, self.secrets))
                attempt.junit = str(dest.relative_to(self.run.path))

    # -- retries: tell flaky from regressed ----------------------------------
    def _should_retry(self, cell: Cell) -> bool:
        if cell.role == "baseline" or self.retries <= 0:
            return False
        base = next(
            (
                p
                for p in self.run.read_run().cells
                if p.role == "baseline" and p.connector == cell.connector and p.ref == cell.ref
            ),
            None,
        )
        # No baseline in this run (a CI shard, or one cell run alone): retry anyway, since a
        # flaky cell is cheaper to re-run than to report as a regression after the merge.
        base_result = self.run.read_cell(base.id) if base is not None else None
        return base_result is None or base_result.status == Status.PASS

    def _retry(self, cx: CellContext, result: CellResult, until_pass: bool = True, extra: int | None = None) -> None:
        for n in range(2, (self.retries if extra is None else extra) + 2):
            log_path = self.run.log_file(cx.cell.id, n)
            with open(log_path, "w", encoding="utf-8") as log:
                cx.log = log
                attempt = Attempt(n, Status.ERROR, log=str(log_path.relative_to(self.run.path)), started_at=now_iso())
                t0 = time.monotonic()
                self._test(cx, attempt)
                attempt.duration_s = round(time.monotonic() - t0, 3)
                result.attempts.append(attempt)
            if until_pass and attempt.status == Status.PASS:
                break

    # -- static exposure ------------------------------------------------------
    def _exposure(self, cx: CellContext, need_checkout: bool = False) -> None:
        migration = self.matrix.exposure_migration
        key = f"{cx.connector.name}@{cx.cell.ref}"
        if not migration or self.options.lint is None:
            return
        with self._exposure_lock:
            if key in self._exposure_done:
                return
            self._exposure_done.add(key)
        identity = value_sha256(
            [
                migration,
                __version__,
                cx.connector_record.commit,
                cx.connector_record.digest,
                cx.connector.source.subdir,
                self.matrix.exposure_verify,
                "places",
            ]
        )  # entries without places predate them
        cache = self.home.results_cache / f"exposure-{identity}.json"
        entry = _cached_exposure(cache, key)
        if entry is None:
            try:
                if need_checkout:
                    sources.checkout_connector(cx)
                checkout = cx.checked_out
                findings = self.options.lint([str(checkout.path)], migration)
            except Exception as exc:  # exposure is advisory: a lint problem must not fail the cell
                cx.note(f"static exposure not measured: {exc}")
                return
            entry = ConnectorExposure(
                key=key,
                findings=len(findings),
                by_rule=_count(f.get("rule") for f in findings),
                by_symbol=_count(f.get("symbol") or f.get("rule") for f in findings),
                files=sorted({os.path.relpath(f["file"], checkout.path) for f in findings if f.get("file")}),
                places=_places(findings, checkout.path),
                verification="unverified" if any(f.get("fix") for f in findings) else None,
            )
            if self.matrix.exposure_verify and entry.verification and self.options.verify_fix:
                entry.verification = self._verify_fix(cx, migration)
            write_json_atomic(cache, entry.to_dict())
        with exclusive(self.run.path / ".exposure.lock"):
            doc = load_exposure(self.run.path) or Exposure(migration=migration)
            doc.connectors[key] = entry
            write_json_atomic(self.run.path / EXPOSURE_FILE, doc.to_dict())
        cx.note(f"static exposure: {entry.findings} place(s) touch symbols changed by {migration}")

    def _verify_fix(self, cx: CellContext, migration: str) -> dict:
        """exposure.verify: the connector with the migration's fix applied, run in its own cell
        on the newest candidate core (canary.codemods.verify, as `canary fix --verify`)."""
        verify_fix = self.options.verify_fix
        if verify_fix is None:  # _exposure asks only when the app wired a verifier in
            return {"status": "error", "line": "no fix verifier"}
        target = cx.checked_out.artifact or cx.checked_out.path
        try:
            v = verify_fix(str(target), migration, self.matrix.file, cx.connector.name)
        except Exception as exc:  # advisory, like the exposure itself
            return {"status": "error", "line": str(exc)[:300]}
        cx.note(f"fix verification: {v.sentence()}")
        return {"status": v.status, "core": v.core, "line": v.line, "edits": v.edits}

    # -- result cache ---------------------------------------------------------
    def _cache_key(self, cx: CellContext) -> str:
        c = cx.connector
        return value_sha256(
            {
                "core": [cx.core_record.name, cx.core_under_test.digest, cx.core_under_test.commit],
                "companions": [(x.name, x.version) for x in self.matrix.core.companions],
                "connector": [c.package, cx.cell.ref, cx.connector_record.commit, cx.connector_record.digest],
                "commands": [c.install, c.setup, c.test],
                "env": c.env,
                "pass_env": c.pass_env,
                "runner": self.runners[c.name].NAME,
                "runner_identity": self.runners[c.name].identity(cx),
                "tool": __version__,
                "index": self.matrix.core.index,
                "retries": self.retries,
                "aa": self.options.aa_check and cx.cell.role == "baseline",
            }
        )

    def _cache_paths(self, key: str) -> tuple[Path, Path]:
        root = self.home.results_cache
        return root / f"{key}.json", root / f"{key}.log"

    def _from_cache(self, key: str, result: CellResult, attempt: Attempt) -> CellResult | None:
        data_path, log_path = self._cache_paths(key)
        if not data_path.exists():
            return None
        try:
            cached = CellResult.from_dict(read_json(data_path))
        except Exception:  # a damaged cache entry is a miss, not a failure
            return None
        cached.run_id, cached.cached_from = self.run.run_id, cached.run_id
        cached.cell_id, cached.tier, cached.role, cached.nox = result.cell_id, result.tier, result.role, result.nox
        cached.started_at = result.started_at
        for i, a in enumerate(cached.attempts, start=1):
            dest = self.run.log_file(result.cell_id, i)
            src = log_path.with_suffix(f".{i}.log") if i > 1 else log_path
            if src.exists():
                shutil.copyfile(src, dest)
            a.log = str(dest.relative_to(self.run.path))
        return cached

    def _store_cache(self, key: str, result: CellResult) -> None:
        data_path, log_path = self._cache_paths(key)
        for i, a in enumerate(result.attempts, start=1):
            src = self.run.path / a.log
            if src.exists():
                shutil.copyfile(src, log_path if i == 1 else log_path.with_suffix(f".{i}.log"))
        write_json_atomic(data_path, redact_data(result.to_dict(), self.secrets))

    def _cleanup(self, cx: CellContext) -> None:
        try:
            sources.release(cx)
        except Exception:  # cleanup must never turn a result into a crash
            pass
        # Deleting an environment (thousands of files) is not the cell's work: move it aside at
        # once and delete it in the background while the next cell runs.
        mounts.unmount_under(cx.cell_dir)  # an overlay view (npm templates): the cell's layer goes, the template stays
        trash = self.home.root / "trash" / f"{self.run.run_id}-{cx.cell.id}"
        try:
            trash.parent.mkdir(parents=True, exist_ok=True)
            os.rename(cx.cell_dir, trash)
        except OSError:
            trash = cx.cell_dir
        self.janitor.submit(shutil.rmtree, trash, True)


def _places(findings: list[dict], root, per_symbol: int = 5) -> dict[str, list[str]]:
    """The first `file:line` places per symbol: what a report shows beside a probable cause."""
    out: dict[str, list[str]] = {}
    for f in findings:
        key = f.get("symbol") or f.get("rule")
        where = out.setdefault(key, []) if key else None
        if where is not None and f.get("file") and len(where) < per_symbol:
            where.append(f"{os.path.relpath(f['file'], root)}:{f.get('line', 0)}")
    return out


def _cached_exposure(cache: Path, key: str) -> ConnectorExposure | None:
    """The exposure of a connector ref measured before (same migration, commit, tool), if readable."""
    if not cache.exists():
        return None
    try:
        return ConnectorExposure.from_dict(key, read_json(cache), str(cache))
    except UserError:  # a torn or foreign cache file: measure again
        return None


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        if v:
            out[v] = out.get(v, 0) + 1
    return out


def _record_failure(attempt: Attempt, kind: failures.FailureKind) -> None:
    """Record on the attempt why it failed and which of its commands failed (the last that did)."""
    attempt.failure = str(kind)
    attempt.failed_command = next(
        (
            i
            for i in range(len(attempt.commands) - 1, -1, -1)
            if attempt.commands[i].timed_out or attempt.commands[i].exit_code not in (0, None)
        ),
        None,
    )


def _infrastructure_kind(exc: InfrastructureError, attempt: Attempt, cx: CellContext) -> failures.FailureKind:
    """The kind of a set-up failure: the raiser's own (a core mismatch), else the failing command's."""
    if exc.kind:
        return failures.FailureKind(exc.kind)
    cmd = next((c for c in reversed(attempt.commands) if c.timed_out or c.exit_code not in (0, None)), None)
    text = f"{exc.reason}\n{exc.detail}"
    if cmd is not None:
        return failures.command_kind(cmd.phase, cmd.exit_code, cmd.timed_out, text)
    # Nothing ran and failed: fetching the core or the connector (clone, download, unpack) failed.
    return failures.output_kind("materialize", text) or failures.FailureKind.MATERIALIZE
