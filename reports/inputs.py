"""Optional inputs beside the run: a compat diff (`--diff FILE`) and the static exposure file.

Both are read defensively: a missing optional file is simply absent, a malformed one
is a UserError that names the file and the key, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from canary.kernel.errors import UserError
from canary.matrix.store import RunDir, read_json

DIFF_SCHEMA = "canary/compat-diff/v1"
EXPOSURE_SCHEMA = "canary/exposure/v1"
EXPOSURE_FILE = "exposure.json"


@dataclass
class Change:
    rule: str
    severity: str
    symbol: str
    message: str
    renamed_to: str | None = None
    kind: str = ""


@dataclass
class Diff:
    file: str
    old: str | None
    new: str | None
    changes: list[Change]


@dataclass
class ConnectorExposure:
    key: str  # "<connector>@<ref>"
    findings: int
    by_rule: dict[str, int] = field(default_factory=dict)
    by_symbol: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    places: dict[str, list[str]] = field(default_factory=dict)  # symbol -> first "file:line" places
    verification: dict | str | None = None  # exposure.verify: the fixed connector's cell, or "unverified"

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


@dataclass
class Exposure:
    file: str
    migration: str | None
    connectors: dict[str, ConnectorExposure]


def _expect(cond: bool, message: str, file: str, key: str) -> None:
    if not cond:
        raise UserError(message, file=file, key=key)


def load_diff(path: Path | str) -> Diff:
    path = Path(path)
    data = read_json(path)
    f = str(path)
    _expect(isinstance(data, dict), "a compat diff must be a JSON object", f, "$")
    schema = data.get("schema")
    _expect(schema in (None, DIFF_SCHEMA), f"unknown schema {schema!r}, expected {DIFF_SCHEMA}", f, "schema")
    changes = data.get("changes")
    _expect(isinstance(changes, list), "missing or not a list", f, "changes")
    out = []
    for i, c in enumerate(changes):
        _expect(isinstance(c, dict), "a change must be an object", f, f"changes[{i}]")
        for name in ("rule", "symbol"):
            _expect(isinstance(c.get(name), str) and c.get(name), "missing or not a string", f, f"changes[{i}].{name}")
        out.append(
            Change(
                rule=c["rule"],
                severity=str(c.get("severity") or "unknown"),
                symbol=c["symbol"],
                message=str(c.get("message") or ""),
                renamed_to=c.get("renamed_to"),
                kind=str(c.get("kind") or ""),
            )
        )
    old, new = data.get("old"), data.get("new")
    # `old`/`new` may be a label string or an object with a version; keep what reads well.
    old = old.get("version") or old.get("label") if isinstance(old, dict) else old
    new = new.get("version") or new.get("label") if isinstance(new, dict) else new
    return Diff(file=f, old=old, new=new, changes=out)


def load_exposure(run: RunDir) -> Exposure | None:
    path = run.path / EXPOSURE_FILE
    if not path.exists():
        return None
    data = read_json(path)
    f = str(path)
    _expect(isinstance(data, dict), "exposure must be a JSON object", f, "$")
    schema = data.get("schema")
    _expect(schema in (None, EXPOSURE_SCHEMA), f"unknown schema {schema!r}, expected {EXPOSURE_SCHEMA}", f, "schema")
    conns = data.get("connectors", {})
    _expect(isinstance(conns, dict), "must be an object keyed by <connector>@<ref>", f, "connectors")
    out = {}
    for key, entry in conns.items():
        where = f"connectors.{key}"
        _expect(isinstance(entry, dict), "must be an object", f, where)
        for name in ("by_rule", "by_symbol"):
            value = entry.get(name, {})
            _expect(
                isinstance(value, dict) and all(isinstance(n, int) for n in value.values()),
                "must map names to integer counts",
                f,
                f"{where}.{name}",
            )
        findings = entry.get("findings", sum(entry.get("by_rule", {}).values()))
        _expect(isinstance(findings, int), "must be an integer", f, f"{where}.findings")
        out[key] = ConnectorExposure(
            key=key,
            findings=findings,
            by_rule=dict(entry.get("by_rule", {})),
            by_symbol=dict(entry.get("by_symbol", {})),
            files=list(entry.get("files", [])),
            places={str(k): [str(p) for p in v] for k, v in (entry.get("places") or {}).items() if isinstance(v, list)},
            verification=entry.get("verification"),
        )
    return Exposure(file=f, migration=data.get("migration"), connectors=out)
