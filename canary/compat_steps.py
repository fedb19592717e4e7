"""The compat diffs of core versions of a matrix: baseline -> newest for `canary run` and `canary
merge`, and the step of each regression (`<run>/compat/<old>..<new>.json`, named by
canary.matrix.steps.step_diff_path), whether the step comes from the matrix's own cores or from
bisection.

One path to canary.compat.compare: the matrix's own index (find-links, no-index) for the sides pip
fetches, and a warning instead of a failure, since a diff is advisory. Step diffs of published
versions are cached per pair in the home's result cache (the same two versions give the same diff).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from canary import __version__
from canary.compat.document import CompatDiff
from canary.kernel.digest import value_sha256
from canary.kernel.errors import UserError
from canary.kernel.home import Home
from canary.kernel.redact import redact
from canary.matrix.model import CoreSpec, Matrix
from canary.matrix.steps import step_diff_path

__all__ = ["compare_cores", "compare_sides", "step_diffs", "write_step_diff"]


def compare_sides(matrix: Matrix, old: str, new: str, label: str) -> CompatDiff | None:
    """The canary/compat-diff/v1 document of two sides (`npm:`, `pypi:`, `git:` specs or paths), or
    None with a warning when it cannot be made."""
    from canary import compat
    from canary.matrix.sources import for_core

    try:
        with _environ(for_core(matrix).fetch_env(matrix.core.index)):
            return compat.compare(
                old, new, language=matrix.compat.get("language"), config_file=matrix.compat.get("config")
            )
    except (UserError, OSError, RuntimeError, ValueError) as exc:
        print(redact(f"canary: warning: no compat diff of {label}: {exc}"), file=sys.stderr)
        return None


def compare_cores(matrix: Matrix, old: CoreSpec, new: CoreSpec) -> CompatDiff | None:
    from canary.matrix.coresides import side

    return compare_sides(matrix, side(matrix, old), side(matrix, new), f"{old.label} -> {new.label}")


def step_diffs(
    matrix: Matrix, pairs: list[tuple[str, str]], run_path: Path, home: Home, extra: dict[str, CoreSpec] | None = None
) -> dict[tuple[str, str], Path]:
    """The compat diff of each step (old label, new label) as `<run>/compat/<old>..<new>.json`.
    Labels are the matrix's cores, `extra` specs (bisection's commits), or published versions."""
    from canary.matrix.coresides import side
    from canary.matrix.plan import resolve_core_versions
    from canary.compat.document import load_diff
    from canary.kernel.atomic import write_json_atomic

    specs, _baseline = resolve_core_versions(matrix)
    sides = {s.label: side(matrix, s) for s in [*specs, *(extra or {}).values()]}
    out = {}
    for old, new in pairs:
        path = step_diff_path(run_path, old, new)
        if path.is_file():  # written by `canary bisect`, or by an earlier pass over this run
            out[(old, new)] = path
            continue
        pair = (sides.get(old) or _registry_side(matrix, old), sides.get(new) or _registry_side(matrix, new))
        cache = (
            home.results_cache / f"compat-step-{value_sha256([__version__, *pair, matrix.compat.get('language')])}.json"
        )
        # A git ref or a directory can change under the same name: only published pairs are cached.
        cacheable = not any(s.startswith(("git:", "/", ".")) for s in pair)
        doc = load_diff(cache) if cacheable and cache.is_file() else None
        if doc is None:
            doc = compare_sides(matrix, *pair, label=f"{old} -> {new}")
            if doc is None:
                continue
            if cacheable:
                write_json_atomic(cache, doc.to_dict())
        write_json_atomic(path, doc.to_dict())
        out[(old, new)] = path
    return out


def write_step_diff(
    matrix: Matrix, old: CoreSpec, new: CoreSpec, run_path: Path, home: Home | None = None
) -> Path | None:
    """`<run>/compat/<old>..<new>.json` for one step bisection found (its ends need not be matrix cores)."""
    done = step_diffs(
        matrix, [(old.label, new.label)], run_path, home or Home.default(), extra={old.label: old, new.label: new}
    )
    return done.get((old.label, new.label))


def _registry_side(matrix: Matrix, label: str) -> str:
    """A published version between two matrix cores (not itself in the matrix)."""
    from canary.matrix.sources import for_core

    return for_core(matrix).side(matrix.core.name, label)


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
