"""YAML with positions: load a document and know the line and column of every key path.

jsonschema reports errors by path (`connectors/1/tset`); people need
`matrix.yaml:14:5`. Composing the node tree once gives both the data and a
map from path to mark.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

from canary.kernel.errors import UserError

__all__ = [
    "Path",
    "Positions",
    "dotted",
    "MAX_BYTES",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_NODES",
    "CONTROL",
    "decode",
    "check_text",
    "compose_checked",
    "load_yaml",
    "compose_text",
    "read_text",
    "compose_file",
]

Path: TypeAlias = tuple[str | int, ...]  # a key path: keys and list indexes


@dataclass
class Positions:
    """Line and column of every key path of a YAML document, for errors that name file:line:column."""

    file: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, column) of the value
    key_marks: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, column) of the key

    def at(self, path: Path, key: bool = False) -> tuple[int | None, int | None]:
        table = self.key_marks if key else self.marks
        path = tuple(path)
        while path:
            if path in table:
                return table[path]
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get((), (None, None))

    def error(self, message: str, path: Path, key: bool = False, hint: str | None = None) -> UserError:
        line, col = self.at(path, key=key)
        return UserError(message, file=self.file, line=line, column=col, key=dotted(path) or None, hint=hint)


def dotted(path: Path) -> str:
    """A key path as people write it: `connectors[1].test`."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _walk(node: yaml.Node, path: Path, pos: Positions) -> None:
    pos.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            pos.key_marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, path + (key,), pos)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), pos)


def _plain(value: Any) -> Any:
    """YAML dates become ISO strings: the schema speaks JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


# Limits checked before anything is built from the text: a few hundred bytes of nested aliases
# ("billion laughs") expand to 10^9 nodes, and deep nesting exhausts the composer's recursion.
MAX_BYTES = 1 << 20
MAX_ALIASES = 100
MAX_DEPTH = 64
MAX_NODES = 100_000
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def decode(file: str, data: bytes) -> str:
    """UTF-8 text of a YAML file, or a UserError at the first byte that is not (size checked first)."""
    if len(data) > MAX_BYTES:
        raise UserError(
            f"the file is larger than {MAX_BYTES} bytes, the most a YAML input may have", file=file, line=1, column=1
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data[: exc.start].decode("utf-8", "replace"), exc.start)
        raise UserError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded (save the file as UTF-8)",
            file=file,
            line=line,
            column=col,
        ) from None


def check_text(file: str, text: str) -> None:
    """Refuse what the YAML composer must never see: control bytes, too many aliases, deep nesting."""
    bad = CONTROL.search(text)
    if bad:
        line, col = _line_col(text, bad.start())
        raise UserError(
            f"control character U+{ord(bad.group()):04X} is not allowed in a YAML file",
            file=file,
            line=line,
            column=col,
        )
    aliases = depth = 0
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.AliasToken):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise _at(file, token, f"more than {MAX_ALIASES} aliases (*name): refused to expand them")
            elif isinstance(
                token,
                (
                    yaml.FlowSequenceStartToken,
                    yaml.FlowMappingStartToken,
                    yaml.BlockSequenceStartToken,
                    yaml.BlockMappingStartToken,
                ),
            ):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _at(file, token, f"nested more than {MAX_DEPTH} levels deep")
            elif isinstance(token, (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(file, exc) from None
    except yaml.YAMLError as exc:
        raise UserError(f"not valid YAML: {exc}", file=file, line=1, column=1) from None


def _at(file: str, token: yaml.Token, message: str) -> UserError:
    return UserError(message, file=file, line=token.start_mark.line + 1, column=token.start_mark.column + 1)


def _yaml_error(file: str, exc: yaml.MarkedYAMLError, prefix: str = "not valid YAML") -> UserError:
    mark = exc.problem_mark or exc.context_mark
    return UserError(
        f"{prefix}: {exc.problem or exc.context}",
        file=file,
        line=mark.line + 1 if mark else 1,
        column=mark.column + 1 if mark else 1,
    )


def _expanded_size(node: yaml.Node, memo: dict[int, int], limit: int) -> int:
    """Nodes after expanding every alias (shared nodes counted each time they are used)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = limit + 1  # a recursive alias (a node containing itself) is over any limit
    if isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo, limit) + _expanded_size(v, memo, limit) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(v, memo, limit) for v in node.value)
    else:
        size = 1
    memo[key] = min(size, limit + 1)
    return memo[key]


def _duplicate_key(node: yaml.Node, file: str) -> None:
    """YAML keeps the last of two equal keys silently; in a config that is always a mistake."""
    stack = [node]
    seen_nodes: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen_nodes:
            continue
        seen_nodes.add(id(n))
        if isinstance(n, yaml.MappingNode):
            keys: dict[str, int] = {}
            for key_node, value_node in n.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if key_node.value in keys:
                        first = keys[key_node.value]
                        raise UserError(
                            f"duplicate key {key_node.value!r} (first at line {first})",
                            file=file,
                            line=key_node.start_mark.line + 1,
                            column=key_node.start_mark.column + 1,
                        )
                    keys[key_node.value] = key_node.start_mark.line + 1
                stack.extend((key_node, value_node))
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def compose_checked(file: str, text: str, prefix: str = "not valid YAML") -> yaml.Node | None:
    """The node tree of a YAML text after every limit above; errors name file:line:column."""
    check_text(file, text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(file, exc, prefix) from None
    except yaml.YAMLError as exc:
        raise UserError(f"{prefix}: {exc}", file=file, line=1, column=1) from None
    if node is None:
        return None
    if _expanded_size(node, {}, MAX_NODES) > MAX_NODES:
        raise UserError(f"expands to more than {MAX_NODES} nodes through aliases: refused", file=file, line=1, column=1)
    _duplicate_key(node, file)
    return node


def load_yaml(file: str, text: str) -> tuple[object, Positions]:
    """The data of a YAML text (dates as ISO strings) and the positions of its key paths."""
    pos = Positions(file)
    node = compose_checked(file, text)
    if node is None:
        return None, pos
    try:
        loader = yaml.SafeLoader(text)
        try:
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(file, exc) from None
    _walk(node, (), pos)
    return _plain(data), pos


def compose_text(text: str, file: str) -> yaml.Node | None:
    """The node tree of a YAML text (positions kept); a syntax error names file:line:column."""
    return compose_checked(file, text, prefix="invalid YAML")


def read_text(path: str | os.PathLike[str], what: str = "file") -> str:
    """A YAML file's text: size capped, UTF-8 checked; an unreadable file is a UserError at 1:1."""
    file = str(path)
    try:
        with open(file, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{what} not found", file=file) from None
    except IsADirectoryError:
        raise UserError(f"is a directory, not a {what}", file=file, line=1, column=1) from None
    except OSError as exc:
        raise UserError(f"cannot read {what}: {exc.strerror or exc}", file=file, line=1, column=1) from None
    return decode(file, data)


def compose_file(path: str | os.PathLike[str], what: str = "file") -> yaml.Node | None:
    """Read and compose a YAML file; a missing or unreadable file is a UserError naming it."""
    return compose_text(read_text(path, what), str(path))
