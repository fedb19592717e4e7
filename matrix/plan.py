"""Planning: the matrix becomes a list of cells (core version x connector ref).

Ranges are resolved against the registry here; include/exclude and citgm-style
skip/flaky/expect_fail are applied; every cell gets a stable id, tags and the
nox line that runs it alone.

The plan document (`canary plan --json`, schema `canary/plan/v1`, matrix/schemas/plan.schema.json)
is `PlanDocument`: `plan_document` writes it, `PlanDocument.from_dict` / `load_plan` read it
(`canary ci-matrix --plan`, `canary merge --plan`, the CI action), each reader through the class.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from canary.kernel.errors import UserError
from canary.kernel.jsonfields import Fields
from canary.matrix import runners
from canary.matrix.model import Cell, Connector, CoreSpec, Matrix, Role, cell_id
from canary.matrix.results import PlannedCell
from canary.matrix.store import read_json
from canary.matrix.registry import available_versions
from canary.matrix.versions import is_prerelease, satisfies, sort_versions


def resolve_core_versions(matrix: Matrix) -> tuple[list[CoreSpec], CoreSpec]:
    """The core versions to test (ranges and `latest` resolved) and the baseline among them."""
    core = matrix.core
    out: list[CoreSpec] = []
    for spec in core.versions:
        if isinstance(spec, CoreSpec):
            out.append(spec)
            continue
        rng = spec["range"]
        published = available_versions(core.ecosystem, core.name, core.index)
        matching = [
            v
            for v in published
            if satisfies(core.ecosystem, v, rng) and (spec.get("prereleases") or not is_prerelease(core.ecosystem, v))
        ]
        matching = sort_versions(core.ecosystem, matching)
        if spec.get("latest"):
            matching = matching[-spec["latest"] :]
        if not matching:
            newest = ", ".join(sort_versions(core.ecosystem, published)[-5:]) or "none found"
            raise matrix.error(
                f"range {rng!r} matches no published release of {core.name}",
                spec["path"],
                hint=f"newest published: {newest}",
            )
        out.extend(CoreSpec(label=v, kind="registry", version=v) for v in matching if v not in {s.label for s in out})
    baseline = core.baseline
    wanted = core.index.get("_baseline_label")
    if baseline is None and wanted:
        baseline = next((s for s in out if s.label == wanted), None)
        if baseline is None:
            raise matrix.error(
                f"baseline {wanted!r} is not one of the resolved core versions ({', '.join(s.label for s in out)})",
                ("core", "baseline"),
            )
    return out, baseline or out[0]


def _version_of(spec: CoreSpec) -> str | None:
    return spec.version if spec.kind == "registry" else None


def _expectation(connector: Connector, ref: str, core: CoreSpec, ecosystem: str) -> tuple[str | None, str]:
    version = _version_of(core)
    if version is None:
        return None, ""
    for kind in ("skip", "expect_fail", "flaky"):
        for cond in getattr(connector, kind):
            if cond.refs and ref not in cond.refs:
                continue
            if satisfies(ecosystem, version, cond.core):
                return kind, cond.reason
    return None, ""


def _matches(selector: dict, connector: str, ref: str, core: str) -> bool:
    return all(
        fnmatch.fnmatchcase(value, selector[key])
        for key, value in (("connector", connector), ("ref", ref), ("core", core))
        if key in selector
    )


def make_cell(matrix: Matrix, connector: Connector, ref: str, core: CoreSpec, baseline: CoreSpec) -> Cell:
    """The cell of one connector ref against one core version, with its role and expectation."""
    role: Role = "baseline" if core.label == baseline.label else "candidate"
    expectation, reason = _expectation(connector, ref, core, matrix.core.ecosystem)
    tags = (connector.tier, connector.name, f"core-{core.label}", role)
    return Cell(
        id=cell_id(connector.name, ref, core.label),
        core=core,
        connector=connector.name,
        package=connector.package,
        ref=ref,
        source_kind=connector.source.kind,
        tier=connector.tier,
        role=role,
        tags=tags,
        expectation=expectation,
        expectation_reason=reason,
    )


def plan(matrix: Matrix) -> list[Cell]:
    """Every cell of the matrix: each connector ref against each core version."""
    cores, baseline = resolve_core_versions(matrix)
    cells: list[Cell] = []
    for connector in matrix.connectors:
        for ref in connector.source.refs:
            for core in cores:
                if any(_matches(sel, connector.name, ref, core.label) for sel in matrix.exclude):
                    continue
                cells.append(make_cell(matrix, connector, ref, core, baseline))
    if not cells and matrix.exclude:
        raise matrix.error(
            "`exclude` removes every cell of the matrix", ("exclude",), hint="an omitted field matches everything"
        )
    triples = {(c.connector, c.ref, c.core.label) for c in cells}
    for i, sel in enumerate(matrix.include):
        missing = [k for k in ("connector", "ref", "core") if k not in sel]
        if missing:
            raise matrix.error(
                f"an include entry needs connector, ref and core (missing {', '.join(missing)})", ("include", i)
            )
        connector = matrix.connector(sel["connector"])
        core = next((c for c in cores if c.label == sel["core"]), None) or CoreSpec(
            label=sel["core"], kind="registry", version=sel["core"]
        )
        cell = make_cell(matrix, connector, sel["ref"], core, baseline)
        if (cell.connector, cell.ref, cell.core.label) not in triples:
            cells.append(cell)
            triples.add((cell.connector, cell.ref, cell.core.label))
    return unique_ids(cells)


def unique_ids(cells: list[Cell]) -> list[Cell]:
    """Cell ids unique by construction. Slugs can collide (`feature/x` and `feature_x` both give
    `feature_x`): then every colliding cell gets a short hash of its own connector, ref and core
    after the ref, so no result file is shared and a failing ref never turns green."""
    by_id: dict[str, list[Cell]] = {}
    for c in cells:
        by_id.setdefault(c.id, []).append(c)
    out = []
    for c in cells:
        if len(by_id[c.id]) > 1:
            c = replace(c, id=cell_id(c.connector, c.ref, c.core.label, disambiguate=True))
        out.append(c)
    return out


def check_published(matrix: Matrix) -> None:
    """Exact core versions (listed or named by an `include`) exist in the registry: asked once, at plan
    time, so an unpublished one is an error at its line (exit 2), not a cell `error` later."""
    core = matrix.core
    wanted: list[tuple[str | None, tuple[str | int, ...]]] = [
        (s.version, ("core", "versions", i))
        for i, s in enumerate(core.versions)
        if isinstance(s, CoreSpec) and s.kind == "registry"
    ]
    listed = {s.label for s in core.versions if isinstance(s, CoreSpec)}
    wanted += [
        (sel["core"], ("include", i, "core"))
        for i, sel in enumerate(matrix.include)
        if "core" in sel and sel["core"] not in listed
    ]
    if not wanted:
        return
    published = set(available_versions(core.ecosystem, core.name, core.index))
    for version, path in wanted:
        if version not in published:
            newest = ", ".join(sort_versions(core.ecosystem, list(published))[-5:]) or "none found"
            where = "listed in core.versions" if path[0] == "include" else "published"
            raise matrix.error(
                f"{core.name} {version} is not published (nor {where})"
                if path[0] == "include"
                else f"{core.name} {version} is not published",
                path,
                hint=f"newest published: {newest}",
            )


def select(cells: list[Cell], patterns: list[str] | None) -> list[Cell]:
    """Cells whose id or a tag matches one of the patterns (fnmatch)."""
    if not patterns:
        return cells
    chosen = [c for c in cells if any(fnmatch.fnmatchcase(c.id, p) or p in c.tags for p in patterns)]
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(c.id, p) or p in c.tags for c in cells)]
    if unknown:
        raise UserError(f"no planned cell matches {', '.join(map(repr, unknown))}", hint="see `canary plan`")
    return chosen


# ---------------------------------------------------------------- the plan document

PLAN_SCHEMA = "canary/plan/v1"
_CORE_KINDS = ("registry", "git", "path")
_CORE_TEXT = ("version", "url", "ref", "path", "subdir")


def _core_from(f: Fields) -> CoreSpec:
    extra = {name: f.get(name, str, default=None) for name in _CORE_TEXT}
    return CoreSpec(label=f.get("label", str), kind=f.choice("kind", _CORE_KINDS), **extra)


@dataclass
class PlanEntry:
    """One cell of the plan document: the planned cell, the nox line that runs it alone and where it runs."""

    id: str
    core: CoreSpec
    connector: str
    package: str
    ref: str
    source: str  # git | pypi | npm | path
    tier: str
    role: str
    tags: list[str]
    nox: str
    expectation: str | None = None  # skip | flaky | expect_fail
    expectation_reason: str = ""
    runner: str | None = None  # `local` or `docker <image>`; None in plans written before runners

    @classmethod
    def of(cls, cell: Cell, matrix_file: str | None = None, runner: str | None = None) -> PlanEntry:
        """The entry of a planned cell."""
        return cls(
            id=cell.id,
            core=cell.core,
            connector=cell.connector,
            package=cell.package,
            ref=cell.ref,
            source=cell.source_kind,
            tier=cell.tier,
            role=cell.role,
            tags=list(cell.tags),
            nox=cell.nox_command(matrix_file),
            expectation=cell.expectation,
            expectation_reason=cell.expectation_reason,
            runner=runner,
        )

    def to_dict(self) -> dict[str, Any]:
        # The key order `canary plan --json` has always printed (Cell.to_dict, then the runner).
        out: dict[str, Any] = {
            "id": self.id,
            "core": self.core.to_dict(),
            "connector": self.connector,
            "package": self.package,
            "ref": self.ref,
            "source": self.source,
            "tier": self.tier,
            "role": self.role,
            "tags": list(self.tags),
            "expectation": self.expectation,
            "expectation_reason": self.expectation_reason,
            "nox": self.nox,
        }
        if self.runner is not None:
            out["runner"] = self.runner
        return out

    @classmethod
    def from_fields(cls, f: Fields) -> PlanEntry:
        return cls(
            id=f.get("id", str),
            core=_core_from(f.fields("core")),
            connector=f.get("connector", str),
            package=f.get("package", str),
            ref=f.get("ref", str),
            source=f.choice("source", ("git", "pypi", "npm", "path")),
            tier=f.choice("tier", ("required", "optional")),
            role=f.choice("role", ("baseline", "candidate", "bisect")),
            tags=f.strings("tags"),
            nox=f.get("nox", str),
            expectation=f.choice("expectation", (None, "skip", "flaky", "expect_fail"), default=None),
            expectation_reason=f.get("expectation_reason", str, default=""),
            runner=f.get("runner", str, default=None),
        )

    def planned(self) -> PlannedCell:
        """The cell as run.json plans it."""
        return PlannedCell(
            id=self.id,
            tier=self.tier,
            role=self.role,
            connector=self.connector,
            ref=self.ref,
            core=self.core.label,
            nox=self.nox,
        )


@dataclass
class PlanDocument:
    """The plan document (`canary plan --json`): the cells to run and the matrix they came from.

    `matrix_digest` (sha256 of the matrix file) travels with the plan into a CI merge, which writes
    it into the merged run.json and compares it with the matrix before computing a compat diff.
    """

    matrix: str  # the matrix file, as given
    core: str  # the core's package name
    ecosystem: str  # pypi | npm
    cells: list[PlanEntry] = field(default_factory=list)
    matrix_digest: str = ""  # "" in plans written before the field
    schema: str = PLAN_SCHEMA

    @property
    def baseline(self) -> str | None:
        """The baseline core's label (None: no baseline cell planned)."""
        return next((c.core.label for c in self.cells if c.role == "baseline"), None)

    @property
    def candidates(self) -> list[str]:
        """The candidate cores' labels, in plan order."""
        return list(dict.fromkeys(c.core.label for c in self.cells if c.role == "candidate"))

    def planned_cells(self) -> list[PlannedCell]:
        """The cells as run.json plans them."""
        return [c.planned() for c in self.cells]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "matrix": self.matrix,
            "core": self.core,
            "ecosystem": self.ecosystem,
            "matrix_digest": self.matrix_digest,
            "cells": [c.to_dict() for c in self.cells],
        }

    @classmethod
    def from_dict(cls, data: object, file: str = "") -> PlanDocument:
        """The plan of a `canary plan --json` document; a wrong field is a UserError naming it."""
        f = Fields(data, file)
        schema = f.get("schema", str)
        if schema != PLAN_SCHEMA:
            raise UserError(
                f"not a plan document: schema {schema!r}, expected {PLAN_SCHEMA!r}",
                file=file or None,
                key="schema",
                hint="write one with `canary plan --json`",
            )
        return cls(
            matrix=f.get("matrix", str),
            core=f.get("core", str),
            ecosystem=f.choice("ecosystem", ("pypi", "npm")),
            cells=[PlanEntry.from_fields(c) for c in f.items("cells")],
            matrix_digest=f.get("matrix_digest", str, default=""),
        )


def plan_document(matrix: Matrix, cells: list[Cell]) -> PlanDocument:
    """The plan document of `cells` planned from `matrix` (each with the runner of its connector)."""
    return PlanDocument(
        matrix=matrix.file,
        core=matrix.core.name,
        ecosystem=matrix.core.ecosystem,
        matrix_digest=matrix.digest,
        cells=[PlanEntry.of(c, matrix.file, runners.describe(matrix, matrix.connector(c.connector))) for c in cells],
    )


def load_plan(path: Path | str) -> PlanDocument:
    """The plan document in a file written by `canary plan --json`."""
    return PlanDocument.from_dict(read_json(Path(path)), str(path))


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of the plan document (matrix/schemas/plan.schema.json)."""
    text = resources.files("canary.matrix").joinpath("schemas/plan.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


__all__ = [
    "plan",
    "select",
    "check_published",
    "resolve_core_versions",
    "make_cell",
    "replace",
    "PLAN_SCHEMA",
    "PlanEntry",
    "PlanDocument",
    "plan_document",
    "load_plan",
    "plan_schema",
]
