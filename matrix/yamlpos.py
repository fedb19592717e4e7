"""YAML with positions: load a document and know the line and column of every key path.

jsonschema reports errors by path (`connectors/1/tset`); people need
`matrix.yaml:14:5`. Composing the node tree once gives both the data and a
map from path to mark.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import yaml

from .errors import UserError

Path = tuple  # of str | int


@dataclass
class Positions:
    file: str
    marks: dict = field(default_factory=dict)  # path -> (line, column) of the value
    key_marks: dict = field(default_factory=dict)  # path -> (line, column) of the key

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
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _walk(node, path: Path, pos: Positions):
    pos.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            pos.key_marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _walk(value_node, path + (key,), pos)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), pos)


def _plain(value):
    """YAML dates become ISO strings: the schema speaks JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


def load_yaml(file: str, text: str) -> tuple[object, Positions]:
    pos = Positions(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise UserError(
            f"not valid YAML: {exc.problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    if node is not None:
        _walk(node, (), pos)
    return _plain(data), pos


def compose_text(text: str, file: str) -> yaml.Node | None:
    """The node tree of a YAML text (positions kept); a syntax error names file:line:column."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise UserError(f"invalid YAML: {exc.problem}", file=file, line=mark.line + 1 if mark else None,
                        column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise UserError(f"invalid YAML: {exc}", file=file) from None


def compose_file(path, what: str = "file") -> yaml.Node | None:
    """Read and compose a YAML file; a missing or unreadable file is a UserError naming it."""
    file = str(path)
    try:
        with open(file, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise UserError(f"{what} not found", file=file) from None
    except OSError as exc:
        raise UserError(f"cannot read {what}: {exc.strerror}", file=file) from None
    return compose_text(text, file)
