"""Accepted breaks: a baseline file keyed by rule id and symbol path, with reason and expiry.

    accepted:
      - rule: TS002            # id (or rule name)
        symbol: World.serverId # exact path or glob
        reason: "announced in 1.6.5 release notes"
        expires: 2026-12-31    # optional; after that day the break counts again

YAML or JSON (JSON is YAML). An accepted change stays in the output with `accepted`
set, and is left out of the severity counts and of `--fail-on`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fnmatch import fnmatchcase

from canary.kernel.errors import UserError


@dataclass
class Accepted:
    rule: str
    symbol: str
    reason: str
    expires: dt.date | None
    line: int

    def matches(self, change) -> bool:
        return (self.rule in (change.rule, change.name)) and (
            change.symbol == self.symbol or fnmatchcase(change.symbol, self.symbol)
        )


def load_baseline(path: str | None) -> list[Accepted]:
    if not path:
        return []
    import yaml

    from canary.kernel.yamlpos import compose_file

    root = compose_file(path, "baseline")
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise UserError("expected a mapping with key 'accepted'", file=path, line=root.start_mark.line + 1)
    entries_node = None
    for k, v in root.value:
        if k.value == "accepted":
            entries_node = v
        else:
            raise UserError(f"unknown key '{k.value}'", file=path, line=k.start_mark.line + 1, key=k.value)
    if entries_node is None:
        return []
    if not isinstance(entries_node, yaml.SequenceNode):
        raise UserError("expected a list", file=path, line=entries_node.start_mark.line + 1, key="accepted")
    out = []
    for i, item in enumerate(entries_node.value):
        line = item.start_mark.line + 1
        if not isinstance(item, yaml.MappingNode):
            raise UserError("expected a mapping", file=path, line=line, key=f"accepted[{i}]")
        fields = {k.value: v for k, v in item.value}
        for required in ("rule", "symbol", "reason"):
            if required not in fields or not str(fields[required].value).strip():
                raise UserError(f"missing '{required}'", file=path, line=line, key=f"accepted[{i}].{required}")
        unknown = set(fields) - {"rule", "symbol", "reason", "expires"}
        if unknown:
            raise UserError(
                f"unknown key '{sorted(unknown)[0]}'", file=path, line=line, key=f"accepted[{i}].{sorted(unknown)[0]}"
            )
        expires = None
        if "expires" in fields:
            raw = str(fields["expires"].value)
            try:
                expires = dt.date.fromisoformat(raw)
            except ValueError as exc:
                raise UserError(
                    f"expires must be a date YYYY-MM-DD, not '{raw}'",
                    file=path,
                    line=fields["expires"].start_mark.line + 1,
                    key=f"accepted[{i}].expires",
                ) from exc
        out.append(
            Accepted(
                rule=str(fields["rule"].value),
                symbol=str(fields["symbol"].value),
                reason=str(fields["reason"].value),
                expires=expires,
                line=line,
            )
        )
    return out


def apply_baseline(changes: list, entries: list[Accepted], today: dt.date | None = None) -> list[dict]:
    """Mark accepted changes; return notes about expired and unused entries."""
    today = today or dt.date.today()
    notes = []
    used = set()
    for change in changes:
        for i, e in enumerate(entries):
            if not e.matches(change):
                continue
            used.add(i)
            if e.expires is not None and e.expires < today:
                continue
            change.accepted = {"reason": e.reason, "expires": e.expires.isoformat() if e.expires else None}
            break
    for i, e in enumerate(entries):
        if e.expires is not None and e.expires < today:
            notes.append(
                {
                    "kind": "expired",
                    "rule": e.rule,
                    "symbol": e.symbol,
                    "line": e.line,
                    "message": f"accepted break {e.rule} {e.symbol} expired on {e.expires.isoformat()}",
                }
            )
        elif i not in used:
            notes.append(
                {
                    "kind": "unused",
                    "rule": e.rule,
                    "symbol": e.symbol,
                    "line": e.line,
                    "message": f"accepted break {e.rule} {e.symbol} matches no change",
                }
            )
    return notes
