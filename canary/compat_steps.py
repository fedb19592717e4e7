"""The compat diff of two core versions of a matrix, for `canary run` (baseline -> newest), `canary
merge`, and one step of a regression (`<run>/compat/<old>..<new>.json`, bisection).

One path to canary.compat.compare: the matrix's own index (find-links, no-index) for the sides pip
fetches, and a warning instead of a failure, since a diff is advisory.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from canary.kernel.errors import UserError
from canary.kernel.redact import redact
from canary.matrix.model import CoreSpec, Matrix, slug

__all__ = ["compare_cores", "step_diff_path", "write_step_diff"]


def compare_cores(matrix: Matrix, old: CoreSpec, new: CoreSpec) -> dict | None:
    """The canary/compat-diff/v1 document of old -> new, or None (with a warning) when it cannot be made."""
    from canary import compat
    from canary.matrix.coresides import side
    from canary.matrix.registry import pip_index_env

    try:
        with _environ(pip_index_env(matrix.core.index) if matrix.core.ecosystem == "pypi" else {}):
            return compat.compare(side(matrix, old), side(matrix, new),
                                  language=matrix.compat.get("language"), config_file=matrix.compat.get("config"))
    except (UserError, OSError, RuntimeError, ValueError) as exc:
        print(redact(f"canary: warning: no compat diff of {old.label} -> {new.label}: {exc}"), file=sys.stderr)
        return None


def step_diff_path(run_path: Path, old_label: str, new_label: str) -> Path:
    return Path(run_path) / "compat" / f"{slug(old_label)}..{slug(new_label)}.json"


def write_step_diff(matrix: Matrix, old: CoreSpec, new: CoreSpec, run_path: Path) -> Path | None:
    """`<run>/compat/<old>..<new>.json`, computed once per pair (an existing file is the same diff)."""
    from canary.matrix.store import write_json_atomic

    path = step_diff_path(run_path, old.label, new.label)
    if path.exists():
        return path
    doc = compare_cores(matrix, old, new)
    if doc is None:
        return None
    write_json_atomic(path, doc)
    return path


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
