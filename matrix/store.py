"""The results store: `<store>/<run-id>/run.json` and `<store>/<run-id>/cells/<cell-id>.json`.

Every file is written atomically (a temporary file in the same directory, fsync,
then rename), so a reader, a second process or a run killed half way never sees
a partial document. Run ids are created with an exclusive mkdir, so two runs on
one store never share a directory.
"""

from __future__ import annotations

import datetime as _dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from canary.kernel.atomic import write_json_atomic
from canary.kernel.errors import UserError
from canary.kernel.locks import exclusive
from canary.kernel.redact import redact_data
from canary.matrix.results import CellResult, RunRecord

__all__ = ["DEFAULT_STORE", "now_iso", "read_json", "RunDir", "Store", "open_run"]

DEFAULT_STORE = Path(".canary") / "runs"


def now_iso() -> str:
    """The current UTC time as ISO 8601, to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def read_json(path: Path) -> dict:
    """A JSON document from `path`; a broken file is an error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("file not found", file=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"corrupt JSON: {exc.msg}", file=str(path), line=exc.lineno, column=exc.colno) from None


@dataclass
class RunDir:
    """One run's directory and its documents."""

    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def cells_dir(self) -> Path:
        return self.path / "cells"

    @property
    def logs_dir(self) -> Path:
        return self.path / "logs"

    @property
    def run_file(self) -> Path:
        return self.path / "run.json"

    def cell_file(self, cell_id: str) -> Path:
        return self.cells_dir / f"{cell_id}.json"

    def log_file(self, cell_id: str, attempt: int = 1) -> Path:
        suffix = "" if attempt == 1 else f".attempt{attempt}"
        return self.logs_dir / f"{cell_id}{suffix}.log"

    def read_run(self) -> RunRecord:
        return RunRecord.from_dict(read_json(self.run_file))

    def write_run(self, record: RunRecord) -> None:
        with exclusive(self.path / ".run.lock"):
            write_json_atomic(self.run_file, redact_data(record.to_dict()))

    def write_cell(self, result: CellResult) -> None:
        write_json_atomic(self.cell_file(result.cell_id), redact_data(result.to_dict()))

    def read_cell(self, cell_id: str) -> CellResult | None:
        path = self.cell_file(cell_id)
        if not path.exists():
            return None
        return CellResult.from_dict(read_json(path))

    def read_cells(self, strict: bool = True) -> dict[str, CellResult]:
        """All cell results by id. strict=False skips corrupt files instead of raising."""
        out: dict[str, CellResult] = {}
        if not self.cells_dir.is_dir():
            return out
        for path in sorted(self.cells_dir.glob("*.json")):
            try:
                result = CellResult.from_dict(read_json(path))
            except (UserError, KeyError, TypeError) as exc:
                if strict:
                    if isinstance(exc, UserError):
                        raise
                    raise UserError(f"not a cell result: missing or wrong field {exc}", file=str(path)) from None
                continue
            out[result.cell_id] = result
        return out


class Store:
    """The run store: run directories under a root (by default $CANARY_HOME/runs)."""

    def __init__(self, root: Path | str = DEFAULT_STORE) -> None:
        self.root = Path(root)

    def new_run(self) -> RunDir:
        self.root.mkdir(parents=True, exist_ok=True)
        # Microseconds in the id: runs started within one second still sort in creation order
        # (`latest()`, history in reports), the random suffix keeps two processes apart.
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        while True:
            path = self.root / f"{stamp}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            (path / "cells").mkdir()
            (path / "logs").mkdir()
            return RunDir(path)

    def run(self, run_id: str) -> RunDir:
        path = self.root / run_id
        if not (path / "run.json").exists():
            known = ", ".join(r.run_id for r in self.runs()[-5:]) or "none"
            raise UserError(f"no run '{run_id}' in {self.root} (recent runs: {known})")
        return RunDir(path)

    def runs(self) -> list[RunDir]:
        """Runs in this store, oldest first."""
        if not self.root.is_dir():
            return []
        return [RunDir(p) for p in sorted(self.root.iterdir()) if (p / "run.json").exists()]

    def latest(self) -> RunDir:
        """The newest run, leaving out reproductions of single cells (`kind: repro`): a nox
        re-run of one cell must never stand in for the run of the matrix."""
        runs = self.runs()
        if not runs:
            raise UserError(f"no runs in {self.root}; run `canary run` first")
        for run in reversed(runs):
            if _kind(run) != "repro":
                return run
        return runs[-1]

    def latest_complete(self, matrix_path: str | None = None) -> RunDir | None:
        """The newest run of the whole matrix (not partial, not a reproduction), of the matrix
        file `matrix_path` when given (else of the newest run's matrix); None when there is none."""
        runs = self.runs()
        if not runs:
            return None
        if matrix_path is None:
            matrix_path = _matrix_path(self.latest())
        for run in reversed(runs):
            try:
                record = run.read_run()
            except UserError:
                continue
            if record.complete_release and (record.matrix_path or record.matrix_file) == matrix_path:
                return run
        return None


def _record(run: RunDir) -> RunRecord | None:
    try:
        return run.read_run()
    except (UserError, KeyError, TypeError):
        return None


def _kind(run: RunDir) -> str:
    record = _record(run)
    return record.kind if record else "release"


def _matrix_path(run: RunDir) -> str | None:
    record = _record(run)
    return (record.matrix_path or record.matrix_file) if record else None


def open_run(ref: str | None, store: Path | str = DEFAULT_STORE) -> RunDir:
    """A run by directory path, by id in the store, or the latest when ref is None."""
    if ref is None:
        return Store(store).latest()
    path = Path(ref)
    if (path / "run.json").exists():
        return RunDir(path)
    return Store(store).run(ref)
