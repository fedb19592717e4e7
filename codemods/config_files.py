"""Key renames in TOML, YAML and JSON files that keep comments, order and formatting.

Each format locates the key first and then edits only the key's own text:
- YAML: PyYAML's composer gives every key node its exact source span;
- JSON: ast-grep's JSON grammar gives every pair's key node (comments allowed);
- TOML: tomlkit renames the key in its style-preserving document.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import os
import re
from dataclasses import dataclass

from ast_grep_py import SgRoot

from canary.codemods.migration import ConfigRename

FORMATS = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}


@dataclass
class KeyHit:
    """One key to rename: its path, its 1-based position and its character span (if known)."""

    rename: ConfigRename
    path: list[str]
    line: int
    column: int
    start: int | None = None
    end: int | None = None


def format_of(path: str, rename: ConfigRename) -> str | None:
    return rename.format or FORMATS.get(os.path.splitext(path)[1].lower())


def wants(rename: ConfigRename, relpath: str) -> bool:
    rel = relpath.replace(os.sep, "/")
    base = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(base, g) for g in rename.files)


def path_matches(pattern: list[str], path: list[str]) -> bool:
    """Dotted-key glob: '*' is exactly one level, '**' any number of levels."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(path_matches(rest, path[i:]) for i in range(len(path) + 1))
    if not path:
        return False
    return (head == "*" or head == path[0]) and path_matches(rest, path[1:])


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


# --- YAML ---------------------------------------------------------------------------------


def _yaml_hits(text: str, renames: list[ConfigRename]) -> list[KeyHit]:
    import yaml  # here: most lint runs read no YAML config, and yaml takes ~13 ms to import

    root = yaml.compose(text)
    hits: list[KeyHit] = []

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    kpath = path + [str(key.value)]
                    for r in renames:
                        if path_matches(r.path, kpath):
                            hits.append(
                                KeyHit(
                                    r,
                                    kpath,
                                    key.start_mark.line + 1,
                                    key.start_mark.column + 1,
                                    key.start_mark.index,
                                    key.end_mark.index,
                                )
                            )
                    walk(value, kpath)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + [str(i)])

    if root is not None:
        walk(root, [])
    return hits


# --- JSON ---------------------------------------------------------------------------------


def _json_key_text(node) -> str:
    raw = node.text()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.strip("\"'")


def _json_hits(text: str, renames: list[ConfigRename]) -> list[KeyHit]:
    root = SgRoot(text, "json").root()
    hits: list[KeyHit] = []

    def walk(node, path):
        kind = node.kind()
        if kind == "object":
            for pair in node.named_children():
                if pair.kind() != "pair":
                    continue
                key = pair.field("key")
                value = pair.field("value")
                kpath = path + [_json_key_text(key)]
                rng = key.range()
                for r in renames:
                    if path_matches(r.path, kpath):
                        hits.append(
                            KeyHit(r, kpath, rng.start.line + 1, rng.start.column + 1, rng.start.index, rng.end.index)
                        )
                if value is not None:
                    walk(value, kpath)
        elif kind == "array":
            items = [c for c in node.named_children() if c.kind() != "comment"]
            for i, item in enumerate(items):
                walk(item, path + [str(i)])
        else:
            for child in node.named_children():
                if child.kind() in ("object", "array"):
                    walk(child, path)

    walk(root, [])
    return hits


def _rename_span(text: str, hit: KeyHit) -> tuple[int, int, str]:
    """The edit for a key with a known span, keeping its quote style."""
    if hit.start is None or hit.end is None:  # JSON and YAML hits carry their span; TOML ones are renamed in place
        raise ValueError(f"no position recorded for the key {'.'.join(hit.path)}")
    old = text[hit.start : hit.end]
    new = hit.rename.rename_to
    if len(old) >= 2 and old[0] in "\"'" and old[-1] == old[0]:
        return hit.start + 1, hit.end - 1, new
    return hit.start, hit.end, new


# --- TOML ---------------------------------------------------------------------------------


def _toml_walk(container, path, renames, found):
    import tomlkit  # here, not at the top: most lint runs read no TOML, and tomlkit takes ~40 ms to import

    for key in list(container.keys()):
        kpath = path + [str(key)]
        for r in renames:
            if path_matches(r.path, kpath):
                found.append((container, key, r, kpath))
        value = container[key]
        if isinstance(value, (tomlkit.items.Table, tomlkit.items.InlineTable)):
            _toml_walk(value, kpath, renames, found)
        elif isinstance(value, tomlkit.items.AoT):
            for i, table in enumerate(value):
                _toml_walk(table, kpath + [str(i)], renames, found)


def _toml_position(text: str, key: str, after: int) -> tuple[int, int, int]:
    """Line, column and offset of the next `key =` at or after `after` (tomlkit keeps no positions)."""
    k = re.escape(key)
    m = re.compile(rf"(?<![\w\-\"'])(?:{k}|\"{k}\"|'{k}')\s*=").search(text, after)
    if not m:
        return 1, 1, after
    starts = _line_starts(text)
    line = bisect.bisect_right(starts, m.start())
    return line, m.start() - starts[line - 1] + 1, m.end()


def _toml_rename(text: str, renames: list[ConfigRename]) -> tuple[list[KeyHit], str]:
    import tomlkit

    doc = tomlkit.parse(text)
    found: list = []
    _toml_walk(doc, [], renames, found)
    hits = []
    offsets: dict[str, int] = {}
    for _container, key, rename, kpath in found:
        line, col, offsets[key] = _toml_position(text, key, offsets.get(key, 0))
        hits.append(KeyHit(rename, kpath, line, col))
    for container, key, rename, _ in found:
        body = container.value if isinstance(container, tomlkit.items.Table) else container
        if isinstance(body, tomlkit.items.InlineTable):
            body = body.value
        if rename.rename_to in body:
            continue  # both keys present: renaming would lose data, report only
        # Container._replace keeps the item (value, comment, trivia) and its position.
        body._replace(key, rename.rename_to, body[key])
    return hits, tomlkit.dumps(doc)


# --- entry points -------------------------------------------------------------------------


def _parses(text: str, fmt: str) -> bool:
    try:
        if fmt == "toml":
            import tomlkit

            tomlkit.parse(text)
        elif fmt == "yaml":
            import yaml

            yaml.safe_load(text)
        else:
            return not SgRoot(text, "json").root().find(kind="ERROR")
    except Exception:  # any parser error means "does not parse"
        return False
    return True


def scan_config(text: str, fmt: str, renames: list[ConfigRename]) -> tuple[list[KeyHit], str]:
    """(keys to rename, the text with them renamed). Raises ValueError if the file does not parse."""
    if not _parses(text, fmt):
        raise ValueError(f"not valid {fmt.upper()}")
    if fmt == "toml":
        return _toml_rename(text, renames)
    hits = _yaml_hits(text, renames) if fmt == "yaml" else _json_hits(text, renames)
    edits = sorted((_rename_span(text, h) for h in hits), reverse=True)
    new = text
    for start, end, repl in edits:
        new = new[:start] + repl + new[end:]
    return hits, new


def parses(text: str, fmt: str) -> bool:
    return _parses(text, fmt)
