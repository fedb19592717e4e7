"""The `canary/compat-diff/v1` document (compat-diff.json, `canary diff --format json`): its one owner.

`canary.compat.report.build` makes a `CompatDiff`; every reader (reports, explain, the pipeline's step
diffs, `canary merge --diff`) goes through `CompatDiff.from_dict` / `load_diff`. Schema:
compat/schemas/diff.schema.json (canary.compat.SCHEMA_FILE). `to_dict` writes the keys in the order the format has
always had, so a written file stays byte-for-byte what it was.

Read defensively: the file may be hand-written (`canary report --diff FILE`), so only what a reader
needs is required (`changes`, each with `rule` and `symbol`) and a malformed one is a UserError that
names the file and the key, never a traceback. A side may be a bare label string (`"old": "1.6.4"`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canary.compat.diff import Change
from canary.compat.rules import Severity
from canary.kernel.errors import UserError
from canary.matrix.store import read_json

__all__ = ["SCHEMA", "CompatDiff", "DiffSide", "load_diff"]

SCHEMA = "canary/compat-diff/v1"


@dataclass
class DiffSide:
    """One end of the diff as the document records it (compat.sources.Side is the live one)."""

    spec: str
    kind: str  # npm | pypi | git | path ('' for a bare label)
    name: str | None = None
    version: str | None = None
    commit: str | None = None
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "commit": self.commit,
            "path": self.path,
        }

    @classmethod
    def from_dict(cls, data: object) -> DiffSide | None:
        if isinstance(data, str):  # a bare label: what a hand-written diff may give
            return cls(spec=data, kind="", version=data)
        if not isinstance(data, dict):
            return None

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        return cls(
            spec=text("spec") or "",
            kind=text("kind") or "",
            name=text("name"),
            version=text("version"),
            commit=text("commit"),
            path=text("path") or "",
        )


@dataclass
class CompatDiff:
    """The breaking changes between two versions, with their summary and the semver verdict."""

    language: str
    old: DiffSide | None
    new: DiffSide | None
    changes: list[Change]
    summary: dict[str, int] | None = None
    semver: dict[str, Any] | None = None
    baseline_notes: list[dict[str, Any]] | None = None  # optional in the schema: left out when absent
    counts: dict[str, int] | None = None  # likewise
    file: str | None = field(default=None, compare=False)  # where it was read from; not part of the document

    @property
    def old_label(self) -> str | None:
        """The old side's version (or a bare label), for headings like `1.6.4 -> 1.7.2`."""
        return self.old.version if self.old else None

    @property
    def new_label(self) -> str | None:
        return self.new.version if self.new else None

    def blocking(self, fail_on: str) -> list[Change]:
        """The changes that fail `canary diff --fail-on LEVEL`: at or above the level, not accepted."""
        levels = (Severity.ERR,) if fail_on == Severity.ERR else (Severity.ERR, Severity.WARN)
        return [c for c in self.changes if c.severity in levels and not c.accepted]

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "language": self.language,
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
            "changes": [c.to_dict() for c in self.changes],
            "summary": self.summary,
            "semver": self.semver,
        }
        if self.baseline_notes is not None:
            doc["baseline_notes"] = self.baseline_notes
        if self.counts is not None:
            doc["counts"] = self.counts
        return doc

    @classmethod
    def from_dict(cls, data: object, file: str = "<diff>") -> CompatDiff:
        _expect(isinstance(data, dict), "a compat diff must be a JSON object", file, "$")
        assert isinstance(data, dict)
        schema = data.get("schema")
        _expect(schema in (None, SCHEMA), f"unknown schema {schema!r}, expected {SCHEMA}", file, "schema")
        raw = data.get("changes")
        _expect(isinstance(raw, list), "missing or not a list", file, "changes")
        assert isinstance(raw, list)
        language = data.get("language")
        language = language if isinstance(language, str) else ""
        changes = []
        for i, c in enumerate(raw):
            _expect(isinstance(c, dict), "a change must be an object", file, f"changes[{i}]")
            for name in ("rule", "symbol"):
                value = c.get(name)
                _expect(isinstance(value, str) and bool(value), "missing or not a string", file, f"changes[{i}].{name}")
            changes.append(Change.from_dict(c, language))
        return cls(
            language=language,
            old=DiffSide.from_dict(data.get("old")),
            new=DiffSide.from_dict(data.get("new")),
            changes=changes,
            summary=_dict_or_none(data.get("summary")),
            semver=_dict_or_none(data.get("semver")),
            baseline_notes=data["baseline_notes"] if isinstance(data.get("baseline_notes"), list) else None,
            counts=_dict_or_none(data.get("counts")),
            file=file,
        )


def load_diff(path: Path | str) -> CompatDiff:
    """A compat diff file (compat-diff.json, `canary diff --format json`, a step diff)."""
    return CompatDiff.from_dict(read_json(Path(path)), file=str(path))


def _dict_or_none(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _expect(cond: bool, message: str, file: str, key: str) -> None:
    if not cond:
        raise UserError(message, file=file, key=key)
