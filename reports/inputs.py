"""An optional input beside the run: a compat diff (`--diff FILE`).

Read defensively: a malformed one is a UserError that names the file and the key, never a
traceback. (The static exposure file is canary.matrix.exposure's `Exposure`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from canary.kernel.errors import UserError
from canary.matrix.store import read_json

DIFF_SCHEMA = "canary/compat-diff/v1"


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
