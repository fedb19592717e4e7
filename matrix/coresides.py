"""A core version as a `canary diff` side (npm:, pypi:, git:, or a directory)."""

from __future__ import annotations

from canary.matrix.model import CoreSpec, Matrix
from canary.matrix.sources import for_core
from canary.matrix.versions import sort_versions

__all__ = ["side", "newest_candidate"]


def side(matrix: Matrix, spec: CoreSpec) -> str:
    """The compat-diff side spec (npm:name@version, pypi:name==version, or a path) of a core version."""
    name = matrix.core.name
    if spec.kind == "registry":
        return for_core(matrix).side(name, spec.version or "")
    if spec.kind == "git":
        return f"git:{spec.url}@{spec.ref}" + (f":{spec.subdir}" if spec.subdir else "")
    if spec.path is None:  # the matrix loader gives every `path` core its directory
        raise ValueError(f"core {spec.label}: no path")
    return spec.path


def newest_candidate(matrix: Matrix, labels: list[str], specs: list[CoreSpec]) -> CoreSpec | None:
    """The candidate a release manager asks about: the newest registry version, else the last listed."""
    by_label = {s.label: s for s in specs}
    candidates = [by_label[label] for label in labels if label in by_label]
    registry = [s for s in candidates if s.kind == "registry"]
    if registry:
        newest = sort_versions(matrix.core.ecosystem, [s.version for s in registry if s.version is not None])[-1]
        return next(s for s in registry if s.version == newest)
    return candidates[-1] if candidates else None
