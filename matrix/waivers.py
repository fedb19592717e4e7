"""The waiver ledger: known regressions that must not block a promotion, each with an expiry.

A waiver names cells by an fnmatch pattern over cell ids (`plugin-discord@1.3.3--core-*`),
says why (reason), where it is tracked (issue) and until when it holds (expires, an ISO
date; the waiver applies up to and including that day). Waivers come from the `waivers:`
key of matrix.yaml (loaded by canary.matrix.config) or from `waivers.yaml` beside it, loaded here.

waivers.yaml is either a list of waivers or a mapping with one key `waivers` holding it:

    waivers:
      - cell: "plugin-discord@1.3.3--core-1.7.*"
        reason: reads room.serverId, removed in core 1.6.5
        issue: https://example.invalid/issues/12
        expires: 2026-12-31
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
from pathlib import Path

import yaml

from canary.kernel.errors import UserError
from canary.kernel.yamlpos import compose_file
from canary.matrix.model import Waiver

__all__ = [
    "WAIVERS_FILE",
    "parse_date",
    "is_expired",
    "matches",
    "waiver_dict",
    "waivers_from_node",
    "load_waivers",
    "beside",
    "load_beside",
    "for_matrix",
    "combine",
]

WAIVERS_FILE = "waivers.yaml"
_KEYS = ("cell", "reason", "issue", "expires")
_REQUIRED = ("cell", "reason")


def parse_date(value: str | _dt.date | None) -> _dt.date | None:
    """A date from an ISO string (None and dates pass through)."""
    if value is None or isinstance(value, _dt.date):
        return value
    return _dt.date.fromisoformat(value)


def is_expired(waiver: Waiver, today: _dt.date | str | None = None) -> bool:
    """Whether a waiver's expiry date is before `today`."""
    if not waiver.expires:
        return False
    expires = parse_date(waiver.expires)
    return expires is not None and expires < (parse_date(today) or _dt.date.today())


def matches(waiver: Waiver, cell_id: str) -> bool:
    # fnmatchcase: cell ids are case-sensitive everywhere else (files, nox sessions).
    """Whether a waiver covers a cell id (fnmatch, case-sensitive)."""
    return fnmatch.fnmatchcase(cell_id, waiver.cell)


def waiver_dict(waiver: Waiver) -> dict:
    """A waiver as a JSON-able dict."""
    return {"cell": waiver.cell, "reason": waiver.reason, "issue": waiver.issue, "expires": waiver.expires}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _err(message: str, file: str, node: yaml.Node, key: str, hint: str | None = None) -> UserError:
    return UserError(message, file=file, line=_line(node), column=node.start_mark.column + 1, key=key, hint=hint)


def waivers_from_node(node: yaml.Node | None, file: str, key: str = "waivers") -> tuple[Waiver, ...]:
    """Waivers from a composed YAML node (a sequence of mappings).

    Shared with canary.matrix.config so a `waivers:` key in matrix.yaml is checked the same way;
    every error names file, line and the key path (`waivers[2].expires`).
    """
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return ()
    if not isinstance(node, yaml.SequenceNode):
        raise _err("expected a list of waivers", file, node, key)
    out = []
    for i, item in enumerate(node.value):
        where = f"{key}[{i}]"
        if not isinstance(item, yaml.MappingNode):
            raise _err("expected a mapping with cell, reason, issue, expires", file, item, where)
        fields: dict[str, str] = {}
        for knode, vnode in item.value:
            name = knode.value
            if name not in _KEYS:
                raise _err(
                    f"unknown waiver key '{name}'",
                    file,
                    knode,
                    f"{where}.{name}",
                    hint="known keys: " + ", ".join(_KEYS),
                )
            if not isinstance(vnode, yaml.ScalarNode) or vnode.tag.endswith(":null"):
                raise _err("expected a text value", file, vnode, f"{where}.{name}")
            fields[name] = str(vnode.value).strip()
            if name == "expires":
                try:
                    _dt.date.fromisoformat(fields[name])
                except ValueError:
                    raise _err(
                        f"not an ISO date: '{vnode.value}'", file, vnode, f"{where}.{name}", hint="write YYYY-MM-DD"
                    ) from None
            elif name == "cell" and not fields[name]:
                raise _err("empty cell pattern", file, vnode, f"{where}.{name}")
        for name in _REQUIRED:
            if not fields.get(name):
                raise _err(f"missing '{name}'", file, item, f"{where}.{name}")
        out.append(
            Waiver(
                cell=fields["cell"],
                reason=fields["reason"],
                issue=fields.get("issue", ""),
                expires=fields.get("expires"),
            )
        )
    return tuple(out)


def load_waivers(path: Path | str) -> tuple[Waiver, ...]:
    """Waivers from a waivers.yaml file (a list, or a mapping with the key `waivers`)."""
    file = str(path)
    root = compose_file(path, "waivers file")
    if root is None:
        return ()
    if isinstance(root, yaml.MappingNode):
        node = None
        for knode, vnode in root.value:
            if knode.value != "waivers":
                raise _err(f"unknown key '{knode.value}'", file, knode, knode.value, hint="expected 'waivers'")
            node = vnode
        return waivers_from_node(node, file)
    return waivers_from_node(root, file, key="waivers")


def beside(matrix_file: Path | str) -> Path:
    """The waivers file next to a matrix file."""
    return Path(matrix_file).resolve().parent / WAIVERS_FILE


def load_beside(matrix_file: Path | str) -> tuple[Waiver, ...]:
    """The waivers.yaml next to a matrix file, or none when there is no such file."""
    path = beside(matrix_file)
    return load_waivers(path) if path.is_file() else ()


def for_matrix(
    matrix_file: Path | str | None, extra: list[Path | str] | tuple = (), required: bool = False
) -> tuple[Waiver, ...]:
    """Every waiver that applies to a run of this matrix: its `waivers:` key, the waivers.yaml
    beside it, then extra waivers files. A matrix file that does not exist (a run copied from
    another machine) contributes none, unless `required`."""
    groups: list[tuple[Waiver, ...]] = []
    if matrix_file and (Path(matrix_file).is_file() or required):
        from canary.matrix.config import load  # late: config imports the model, not this module

        groups.append(load(matrix_file).waivers)
        groups.append(load_beside(matrix_file))
    groups.extend(load_waivers(f) for f in extra)
    return combine(*groups)


def combine(*groups: tuple[Waiver, ...]) -> tuple[Waiver, ...]:
    """Waivers from several sources, first occurrence kept (the same waiver twice counts once)."""
    seen: dict[Waiver, None] = {}
    for group in groups:
        for w in group:
            seen.setdefault(w, None)
    return tuple(seen)
