"""The exposure document: how many places of each connector ref touch symbols a migration changes.

`<run>/exposure.json` (schema `canary/exposure/v1`, matrix/schemas/exposure.schema.json) is written
by the executor (canary.matrix.execute, with the lint the app hands it as `RunOptions.lint`), once per
connector ref, while the ref's checkout exists; `canary merge` unites the jobs' documents; reports and
the explanation read it. Every one of them goes through `Exposure`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from canary.kernel.errors import UserError
from canary.kernel.jsonfields import Fields
from canary.matrix.store import RunDir, read_json

__all__ = ["EXPOSURE_SCHEMA", "EXPOSURE_FILE", "ConnectorExposure", "Exposure", "load_exposure", "exposure_schema"]

EXPOSURE_SCHEMA = "canary/exposure/v1"
EXPOSURE_FILE = "exposure.json"


def _counts(f: Fields, name: str) -> dict[str, int]:
    value: dict[str, Any] = f.get(name, dict, default={})
    for k, n in value.items():
        if isinstance(n, bool) or not isinstance(n, int):
            raise UserError(f"expected an integer count, not {n!r:.60}", file=f.file or None, key=f"{f.path(name)}.{k}")
    return dict(value)


@dataclass
class ConnectorExposure:
    """The static exposure of one connector ref (a `connectors` entry, keyed `<connector>@<ref>`)."""

    key: str  # "<connector>@<ref>": the entry's key in the document, not a field of the entry
    findings: int
    by_rule: dict[str, int] = field(default_factory=dict)
    by_symbol: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # relative to the connector's checkout
    places: dict[str, list[str]] = field(default_factory=dict)  # symbol -> first "file:line" places
    # exposure.verify: "unverified" (a fix exists, not run), the fixed connector's cell
    # ({status, core, line, edits}, or {status: error, line}), None (no fix to verify).
    verification: dict[str, Any] | str | None = None

    def touches(self, symbol: str) -> int:
        """Places that touch `symbol`: exact key, or a qualified/unqualified form of it.

        The diff may say `World.serverId` while the lint counted `serverId` (or the
        reverse), so a dotted suffix on either side counts as the same symbol.
        """
        if symbol in self.by_symbol:
            return int(self.by_symbol[symbol])
        total = 0
        for key, n in self.by_symbol.items():
            if key.endswith("." + symbol) or symbol.endswith("." + key):
                total += int(n)
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": self.findings,
            "by_rule": dict(self.by_rule),
            "by_symbol": dict(self.by_symbol),
            "files": list(self.files),
            "places": {k: list(v) for k, v in self.places.items()},
            "verification": self.verification,
        }

    @classmethod
    def from_dict(cls, key: str, data: object, file: str = "", where: str = "") -> ConnectorExposure:
        """An entry; `where` is its key path in the document (for errors)."""
        f = Fields(data, file, where or key)
        by_rule = _counts(f, "by_rule")
        places = f.get("places", dict, default={})
        for symbol in places:
            Fields(places, file, f.path("places")).strings(symbol)
        return cls(
            key=key,
            # Entries of the first writers had no `findings`: the sum of their rules' counts.
            findings=f.get("findings", int, default=sum(by_rule.values())),
            by_rule=by_rule,
            by_symbol=_counts(f, "by_symbol"),
            files=f.strings("files", default=[]),
            places={str(k): list(v) for k, v in places.items()},
            verification=f.get("verification", dict, str, type(None), default=None),
        )


@dataclass
class Exposure:
    """The exposure document of a run: the migration linted for and an entry per connector ref."""

    migration: str | None
    connectors: dict[str, ConnectorExposure] = field(default_factory=dict)
    schema: str = EXPOSURE_SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "migration": self.migration,
            "connectors": {k: e.to_dict() for k, e in self.connectors.items()},
        }

    @classmethod
    def from_dict(cls, data: object, file: str = "") -> Exposure:
        """The document; a wrong field is a UserError naming the file and the key."""
        f = Fields(data, file)
        schema = f.get("schema", str, type(None), default=None)
        if schema not in (None, EXPOSURE_SCHEMA):
            raise UserError(f"unknown schema {schema!r}, expected {EXPOSURE_SCHEMA}", file=file or None, key="schema")
        conns = f.get("connectors", dict, default={})
        return cls(
            migration=f.get("migration", str, type(None), default=None),
            connectors={
                str(k): ConnectorExposure.from_dict(str(k), v, file, f"connectors.{k}") for k, v in conns.items()
            },
        )

    def merged(self, other: Exposure) -> Exposure:
        """This document with the entries of `other` it lacks (a CI merge: the first job's entry wins)."""
        connectors = dict(self.connectors)
        for key, entry in other.connectors.items():
            connectors.setdefault(key, entry)
        return Exposure(migration=self.migration, connectors=connectors, schema=self.schema)


def load_exposure(run: RunDir | Path) -> Exposure | None:
    """The exposure document of a run (its RunDir or directory), None when the run has none."""
    path = (run.path if isinstance(run, RunDir) else Path(run)) / EXPOSURE_FILE
    if not path.exists():
        return None
    return Exposure.from_dict(read_json(path), str(path))


def exposure_schema() -> dict[str, Any]:
    """The JSON Schema of the exposure document (matrix/schemas/exposure.schema.json)."""
    schema: dict[str, Any] = json.loads(
        resources.files("canary.matrix").joinpath("schemas/exposure.schema.json").read_text()
    )
    return schema
