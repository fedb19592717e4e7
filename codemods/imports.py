"""Imports a fix needs: a conversion such as `stringToUuid(x)` is only a fix once the
file imports `stringToUuid`.

`ensure_imports` adds each missing name to an existing value import from its module
(`import { a } from 'm'` -> `import { a, name } from 'm'`, `const { a } = require('m')`
likewise), or adds a new import after the file's last top-level import (a `require`
in CommonJS files). `import type { ... }` is not a value import and is left as it is.
"""

from __future__ import annotations


from ast_grep_py import SgNode, SgRoot


def _module_of(node: SgNode) -> str | None:
    src = node.field("source")
    return src.text()[1:-1] if src is not None else None


def _is_type_only(stmt: SgNode) -> bool:
    # `import type { a } from 'm'`: the `type` keyword is a direct child token.
    return any(child.text() == "type" for child in stmt.children()[:2])


def _named_names(container: SgNode) -> set[str]:
    names = set()
    for child in container.children():
        if child.kind() in ("import_specifier", "shorthand_property_identifier_pattern", "pair_pattern"):
            alias = child.field("alias") or child.field("value")
            names.add((alias or child).text().split()[-1])
    return names


def _insert_into_braces(text: str, braces: SgNode, name: str) -> str:
    """`{ a, b }` -> `{ a, b, name }`, keeping one-per-line layout and a trailing comma."""
    items = [c for c in braces.children() if c.kind() not in ("{", "}", ",", "comment")]
    close = braces.range().end.index - 1  # the `}`
    if not items:
        return text[:close] + f" {name} " + text[close:]
    last_end = items[-1].range().end.index
    between = text[last_end:close]
    if "\n" in braces.text():
        line_start = text.rfind("\n", 0, items[-1].range().start.index) + 1
        indent = text[line_start : items[-1].range().start.index]
        if between.lstrip().startswith(","):
            comma = last_end + between.index(",") + 1
            return text[:comma] + f"\n{indent}{name}," + text[comma:]
        return text[:last_end] + f",\n{indent}{name}" + text[last_end:]
    return text[:last_end] + f", {name}" + text[last_end:]


def ensure_imports(text: str, language: str, imports: list[dict], path: str = "") -> str:
    """`text` with every {name, from} of `imports` in scope (added where missing)."""
    for want in imports:
        text = _ensure_one(text, language, want["name"], want["from"], path)
    return text


def _ensure_one(text: str, language: str, name: str, module: str, path: str) -> str:
    root = SgRoot(text, language).root()
    top = root.children()
    imports = [n for n in top if n.kind() == "import_statement" and _module_of(n) == module]
    for stmt in imports:
        braces = stmt.find(kind="named_imports")
        if braces is not None and name in _named_names(braces) and not _is_type_only(stmt):
            return text
    requires = [
        d
        for d in root.find_all(kind="variable_declarator")
        if (value := d.field("value")) is not None
        and value.kind() == "call_expression"
        and value.text().replace('"', "'") == f"require('{module}')"
    ]
    for decl in requires:
        pattern = decl.field("name")
        if pattern is not None and pattern.kind() == "object_pattern" and name in _named_names(pattern):
            return text
    for stmt in imports:
        braces = stmt.find(kind="named_imports")
        if braces is not None and not _is_type_only(stmt):
            return _insert_into_braces(text, braces, name)
    for decl in requires:
        pattern = decl.field("name")
        if pattern is not None and pattern.kind() == "object_pattern":
            return _insert_into_braces(text, pattern, name)
    quote = "'"
    for stmt in imports or [n for n in top if n.kind() == "import_statement"]:
        source = stmt.field("source")
        quote = source.text()[0] if source is not None else quote
        break
    commonjs = (
        path.endswith(".cjs")
        or (requires or "require(" in text)
        and not any(n.kind() in ("import_statement", "export_statement") for n in top)
    )
    if commonjs:
        line = f"const {{ {name} }} = require({quote}{module}{quote});\n"
        anchors = [
            n for n in top if n.kind() in ("lexical_declaration", "variable_declaration") and "require(" in n.text()
        ]
    else:
        line = f"import {{ {name} }} from {quote}{module}{quote};\n"
        anchors = [n for n in top if n.kind() == "import_statement"]
    if anchors:
        end = anchors[-1].range().end.index
        nl = text.find("\n", end)
        at = len(text) if nl < 0 else nl + 1
        return text[:at] + ("" if text[:at].endswith("\n") or not text[:at] else "\n") + line + text[at:]
    at = 0
    if text.startswith("#!"):
        at = text.find("\n") + 1 if "\n" in text else len(text)
    for n in top:  # after a 'use strict' / 'use client' directive
        if n.kind() == "expression_statement" and n.text().strip("'\";") in ("use strict", "use client", "use server"):
            nl = text.find("\n", n.range().end.index)
            at = len(text) if nl < 0 else nl + 1
    prefix = text[:at]
    if prefix and not prefix.endswith("\n"):
        prefix += "\n"
    return prefix + line + text[at:]
