"""TypeScript contract extraction from `.d.ts` / `.ts` files with ast-grep (tree-sitter).

Starts at the package's entry types (package.json `exports["."].types`, `types`,
`typings`, or index files), follows `export *` / `export {..} from` / local
`export {..}` and imports re-exported by name, and emits one Decl per exported
declaration, member, method, parameter and destructured parameter property.
Members inherited through `extends` from other exported types are copied onto
the derived type so a member moved into a base does not look removed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ast_grep_py import SgRoot

from canary.kernel.errors import UserError

from canary.compat.model import TS_SUFFIXES, Contract, Decl

_DEPRECATED = re.compile(r"@deprecated\b(.*?)(?=\n\s*\*?\s*@\w|\*/|$)", re.S)
_OBJECT = "{...}"  # type text for inline object types: their members are compared one by one


def norm_type(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if text.startswith(":"):
        text = text[1:]
    text = " ".join(text.split())
    text = re.sub(r"[;,]\s*}", " }", text)
    text = re.sub(r"\s+}", " }", text)
    return text or None


def deprecation(comment: str | None) -> str | None:
    """The `@deprecated` message of a JSDoc comment ('' without a message), None when absent."""
    if not comment or "@deprecated" not in comment:
        return None
    m = _DEPRECATED.search(comment)
    if not m:
        return ""
    lines = [ln.strip().lstrip("*").strip() for ln in m.group(1).splitlines()]
    return " ".join(x for x in lines if x).strip()


@dataclass
class _Module:
    path: Path
    rel: str
    locals: dict = field(default_factory=dict)  # name -> (node, doc)
    imports: dict = field(default_factory=dict)  # local name -> (spec, imported name)
    exports: dict = field(default_factory=dict)  # exported name -> ("local", name) | ("from", spec, name)
    stars: list = field(default_factory=list)  # specs of `export * from`
    ns_exports: dict = field(default_factory=dict)  # `export * as ns from spec`: ns -> spec


def _doc_before(children: list, i: int) -> str | None:
    j = i - 1
    if j >= 0 and children[j].kind() == "comment":
        text = children[j].text()
        if text.startswith("/**"):
            return text
    return None


def _unwrap(node):
    """The declaration inside `declare ...` / `export ...`."""
    while node is not None and node.kind() == "ambient_declaration":
        inner = [c for c in node.children() if c.is_named()]
        node = inner[0] if inner else None
    return node


_DECL_KINDS = {
    "interface_declaration",
    "type_alias_declaration",
    "class_declaration",
    "abstract_class_declaration",
    "function_signature",
    "function_declaration",
    "enum_declaration",
    "lexical_declaration",
    "variable_declaration",
    "internal_module",
    "module",
}


def _decl_names(node) -> list[tuple[str, object]]:
    kind = node.kind()
    if kind in ("lexical_declaration", "variable_declaration"):
        out = []
        for c in node.children():
            if c.kind() == "variable_declarator":
                name = c.field("name")
                if name is not None and name.kind() == "identifier":
                    out.append((name.text(), c))
        return out
    name = node.field("name")
    if name is None:
        return []
    return [(name.text().strip("'\""), node)]


class TsExtractor:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.modules: dict[Path, _Module] = {}
        self.contract = Contract(language="ts", root=str(root))
        self._resolving: set = set()
        self._export_cache: dict[Path, dict] = {}
        self._spec_cache: dict[tuple, Path | None] = {}

    # ------------------------------------------------------------ modules
    def module(self, path: Path) -> _Module:
        mod = self.modules.get(path)
        if mod is not None:
            return mod
        rel = path.relative_to(self.root).as_posix()
        mod = _Module(path=path, rel=rel)
        self.modules[path] = mod
        try:
            source = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise UserError(f"cannot read TypeScript file: {exc.strerror}", file=str(path)) from exc
        program = SgRoot(source, "typescript").root()
        children = program.children()
        for i, top in enumerate(children):
            kind = top.kind()
            doc = _doc_before(children, i)
            if kind == "export_statement":
                self._export_statement(mod, top, doc)
            elif kind == "import_statement":
                self._import_statement(mod, top)
            else:
                decl = _unwrap(top)
                if decl is not None and decl.kind() in _DECL_KINDS:
                    for name, node in _decl_names(decl):
                        mod.locals.setdefault(name, (node, doc))
        return mod

    def _import_statement(self, mod: _Module, node) -> None:
        source = node.field("source")
        if source is None:
            return
        spec = source.text().strip("'\"")
        for spec_node in node.find_all(kind="import_specifier"):
            ids = [c.text() for c in spec_node.children() if c.kind() == "identifier"]
            if ids:
                mod.imports[ids[-1]] = (spec, ids[0])

    def _export_statement(self, mod: _Module, node, doc: str | None) -> None:
        kids = node.children()
        kinds = [c.kind() for c in kids]
        source = node.field("source")
        spec = source.text().strip("'\"") if source is not None else None
        if "export_clause" in kinds:
            clause = kids[kinds.index("export_clause")]
            for es in clause.children():
                if es.kind() != "export_specifier":
                    continue
                ids = [c.text() for c in es.children() if c.kind() in ("identifier", "string")]
                if not ids:
                    continue
                local, exported = ids[0].strip("'\""), ids[-1].strip("'\"")
                if spec is not None:
                    mod.exports.setdefault(exported, ("from", spec, local))
                else:
                    mod.exports.setdefault(exported, ("local", local))
            return
        if spec is not None:  # export * from / export * as ns from
            ns = node.find(kind="namespace_export")
            if ns is not None:
                ident = [c.text() for c in ns.children() if c.kind() in ("identifier", "string")]
                if ident:
                    mod.ns_exports[ident[-1].strip("'\"")] = spec
            else:
                mod.stars.append(spec)
            return
        if "default" in kinds:
            target = [c for c in kids if c.is_named() and c.kind() != "comment"]
            if target:
                t = _unwrap(target[-1])
                if t is not None and t.kind() == "identifier":
                    mod.exports.setdefault("default", ("local", t.text()))
                elif t is not None and t.kind() in _DECL_KINDS:
                    names = _decl_names(t)
                    if names:
                        mod.locals.setdefault(names[0][0], (names[0][1], doc))
                        mod.exports.setdefault("default", ("local", names[0][0]))
            return
        decl_node = node.field("declaration")
        if decl_node is None:
            named = [c for c in kids if c.is_named()]
            decl_node = named[0] if named else None
        decl_node = _unwrap(decl_node)
        if decl_node is None or decl_node.kind() not in _DECL_KINDS:
            return
        for name, n in _decl_names(decl_node):
            mod.locals.setdefault(name, (n, doc))
            mod.exports.setdefault(name, ("local", name))

    def resolve_spec(self, mod: _Module, spec: str) -> Path | None:
        if not spec.startswith("."):
            return None  # another package: not part of this contract
        key = (mod.path.parent, spec)
        if key in self._spec_cache:
            return self._spec_cache[key]
        # plain string paths: this runs for every re-export and Path objects cost more than the parse
        stem = os.path.normpath(os.path.join(str(mod.path.parent), spec))
        for ext in (".js", ".mjs", ".cjs", ".jsx"):
            if stem.endswith(ext):
                stem = stem[: -len(ext)]
                break
        candidates = [stem + s for s in TS_SUFFIXES] + [os.path.join(stem, "index" + s) for s in TS_SUFFIXES]
        if spec.endswith((".ts", ".tsx")) and not spec.endswith(".d.ts"):
            candidates.insert(0, stem)
        found = None
        root = str(self.root) + os.sep
        for c in candidates:
            if os.path.isfile(c):
                real = os.path.realpath(c)
                if real.startswith(root):  # never follow a path out of the package
                    found = Path(real)
                    break
        self._spec_cache[key] = found
        return found

    def exports_of(self, path: Path) -> dict[str, tuple[_Module, str]]:
        """Exported name -> (module declaring it, local name), following re-exports."""
        cached = self._export_cache.get(path)
        if cached is not None:
            return cached
        if path in self._resolving:
            return {}
        self._resolving.add(path)
        mod = self.module(path)
        out: dict[str, tuple[_Module, str]] = {}
        for exported, how in mod.exports.items():
            if how[0] == "local":
                target = self._follow_local(mod, how[1])
            else:
                target_path = self.resolve_spec(mod, how[1])
                target = self.exports_of(target_path).get(how[2]) if target_path else None
                if target is None and target_path is not None:
                    target = self._follow_local(self.module(target_path), how[2])
            if target is not None:
                out[exported] = target
        for ns, spec in mod.ns_exports.items():
            out.setdefault(ns, (mod, "\0ns:" + spec))
        for spec in mod.stars:
            target_path = self.resolve_spec(mod, spec)
            if target_path is None:
                continue
            for name, target in self.exports_of(target_path).items():
                if name != "default":
                    out.setdefault(name, target)
        self._resolving.discard(path)
        self._export_cache[path] = out
        return out

    def _follow_local(self, mod: _Module, name: str, depth: int = 0) -> tuple[_Module, str] | None:
        if name in mod.locals:
            return (mod, name)
        if name in mod.imports and depth < 20:
            spec, imported = mod.imports[name]
            target_path = self.resolve_spec(mod, spec)
            if target_path is not None:
                found = self.exports_of(target_path).get(imported)
                if found is not None:
                    return found
                return self._follow_local(self.module(target_path), imported, depth + 1)
        return None

    # ------------------------------------------------------------ declarations
    def extract(self, entries: list[Path]) -> Contract:
        seen_entries = set()
        for entry in entries:
            if entry in seen_entries:
                continue
            seen_entries.add(entry)
            for name, (mod, local) in self.exports_of(entry).items():
                if name in self.contract.decls:
                    continue
                if local.startswith("\0ns:"):
                    self.contract.add(Decl(path=name, kind="namespace", name=name, file=mod.rel, line=1))
                    continue
                node, doc = mod.locals[local]
                self.declaration(name, node, doc, mod)
        self._inherit()
        for mod in self.modules.values():
            for name, (node, _doc) in mod.locals.items():
                value = node.field("value") if node.kind() == "type_alias_declaration" else None
                if value is not None and value.kind() == "predefined_type" and node.field("type_parameters") is None:
                    self.contract.aliases.setdefault(name, value.text())
        return self.contract

    def _loc(self, mod: _Module, node) -> tuple[str, int]:
        return mod.rel, node.range().start.line + 1

    def declaration(self, path: str, node, doc: str | None, mod: _Module) -> None:
        kind = node.kind()
        file, line = self._loc(mod, node)
        dep = deprecation(doc)
        add = self.contract.add
        if kind == "interface_declaration":
            bases = _heritage_names(node, "extends_type_clause")
            add(
                Decl(
                    path=path,
                    kind="interface",
                    name=path,
                    file=file,
                    line=line,
                    deprecated=dep,
                    extra={"bases": bases} if bases else {},
                )
            )
            body = node.field("body")
            if body is not None:
                self.members(body, path, mod)
        elif kind == "type_alias_declaration":
            value = node.field("value")
            objects = []
            bases = []
            if value is not None and value.kind() == "object_type":
                objects = [value]
            elif value is not None and value.kind() == "intersection_type":
                for part in value.children():
                    if part.kind() == "object_type":
                        objects.append(part)
                    elif part.kind() in ("type_identifier", "generic_type"):
                        bases.append(_base_name(part))
            type_text = None if objects else norm_type(value.text() if value is not None else None)
            extra = {"bases": bases} if bases else {}
            add(
                Decl(
                    path=path, kind="type", name=path, type=type_text, file=file, line=line, deprecated=dep, extra=extra
                )
            )
            for obj in objects:
                self.members(obj, path, mod)
        elif kind in ("class_declaration", "abstract_class_declaration"):
            bases = []
            heritage = next((c for c in node.children() if c.kind() == "class_heritage"), None)
            if heritage is not None:
                bases = _heritage_names(heritage, "extends_clause")
            add(
                Decl(
                    path=path,
                    kind="class",
                    name=path,
                    file=file,
                    line=line,
                    deprecated=dep,
                    extra={"bases": bases} if bases else {},
                )
            )
            body = node.field("body")
            if body is not None:
                self.members(body, path, mod, is_class=True)
        elif kind in ("function_signature", "function_declaration"):
            add(
                Decl(
                    path=path,
                    kind="function",
                    name=path,
                    file=file,
                    line=line,
                    deprecated=dep,
                    type=norm_type(_text(node.field("return_type"))),
                )
            )
            self.parameters(node.field("parameters"), path, mod)
        elif kind == "enum_declaration":
            add(Decl(path=path, kind="enum", name=path, file=file, line=line, deprecated=dep))
            body = node.field("body")
            if body is not None:
                kids = body.children()
                for i, m in enumerate(kids):
                    if m.kind() == "enum_assignment":
                        name = m.field("name") or m.children()[0]
                        value = m.field("value")
                        self._enum_member(path, name.text(), _text(value), m, kids, i, mod)
                    elif m.kind() in ("property_identifier", "identifier"):
                        self._enum_member(path, m.text(), None, m, kids, i, mod)
        elif kind == "variable_declarator":
            parent = node.parent()
            const = parent is not None and parent.child(0) is not None and parent.child(0).text() == "const"
            type_node = node.field("type")
            tnode = type_node.children()[-1] if type_node is not None and type_node.children() else None
            is_obj = tnode is not None and tnode.kind() == "object_type"
            add(
                Decl(
                    path=path,
                    kind="const" if const else "variable",
                    name=path,
                    file=file,
                    line=line,
                    deprecated=dep,
                    type=_OBJECT if is_obj else norm_type(_text(type_node)),
                    readonly=const,
                )
            )
            if is_obj:  # `declare const X: { readonly A: "A"; ... }` (an `as const` object): compare its keys
                self.members(tnode, path, mod)
        elif kind in ("internal_module", "module"):
            add(Decl(path=path, kind="namespace", name=path, file=file, line=line, deprecated=dep))

    def _enum_member(self, container, name, value, node, kids, i, mod) -> None:
        name = name.strip("'\"")
        file, line = self._loc(mod, node)
        self.contract.add(
            Decl(
                path=f"{container}.{name}",
                kind="enum-member",
                name=name,
                container=container,
                default=value,
                file=file,
                line=line,
                deprecated=deprecation(_doc_before(kids, i)),
            )
        )

    def members(self, body, container: str, mod: _Module, is_class: bool = False) -> None:
        kids = body.children()
        seen: set[str] = set()
        setters = set()  # a getter with a setter is writable
        for m in kids:
            if m.kind() in ("method_signature", "method_definition") and any(c.kind() == "set" for c in m.children()):
                name_node = m.field("name")
                if name_node is not None:
                    setters.add(name_node.text())
        for i, m in enumerate(kids):
            kind = m.kind()
            if kind not in (
                "property_signature",
                "method_signature",
                "public_field_definition",
                "abstract_method_signature",
                "method_definition",
            ):
                continue
            sub = [c.kind() for c in m.children()]
            if "accessibility_modifier" in sub:
                acc = m.children()[sub.index("accessibility_modifier")].text()
                if acc == "private":
                    continue
            name_node = m.field("name")
            if name_node is None or name_node.kind() in ("private_property_identifier", "computed_property_name"):
                continue
            name = name_node.text().strip("'\"")
            path = f"{container}.{name}"
            if path in seen:  # overloads: the first signature speaks for the method; the others are kept
                first = self.contract.decls.get(path)  # as parameter types, to judge a change at a position
                if first is not None and first.kind in ("method", "constructor"):
                    first.extra.setdefault("overloads", []).append(_signature(m.field("parameters")))
                continue
            seen.add(path)
            doc = _doc_before(kids, i)
            file, line = self._loc(mod, m)
            dep = deprecation(doc)
            extra: dict[str, object] = {}
            if "static" in sub:
                extra["static"] = True
            if "accessibility_modifier" in sub:
                extra["access"] = "protected"
            if kind in ("property_signature", "public_field_definition") or "get" in sub or "set" in sub:
                type_node = m.field("type") or m.field("return_type")
                tnode = type_node.children()[-1] if type_node is not None and type_node.children() else None
                is_obj = tnode is not None and tnode.kind() == "object_type"
                self.contract.add(
                    Decl(
                        path=path,
                        kind="member",
                        name=name,
                        container=container,
                        type=_OBJECT if is_obj else norm_type(_text(type_node)),
                        optional="?" in sub,
                        readonly="readonly" in sub or ("get" in sub and name not in setters),
                        deprecated=dep,
                        file=file,
                        line=line,
                        extra=extra,
                    )
                )
                if is_obj:
                    self.members(tnode, path, mod)
                continue
            ckind = "constructor" if name == "constructor" else "method"
            if "?" in sub:
                extra["optional"] = True
            extra["overloads"] = [_signature(m.field("parameters"))]
            self.contract.add(
                Decl(
                    path=path,
                    kind=ckind,
                    name=name,
                    container=container,
                    type=norm_type(_text(m.field("return_type"))),
                    optional="?" in sub,
                    deprecated=dep,
                    file=file,
                    line=line,
                    extra=extra,
                )
            )
            self.parameters(m.field("parameters"), path, mod)

    def parameters(self, params, callable_path: str, mod: _Module) -> None:
        if params is None:
            return
        index = 0
        n_objects = 0
        for p in params.children():
            kind = p.kind()
            if kind not in ("required_parameter", "optional_parameter"):
                continue
            pattern = p.field("pattern")
            if pattern is None:
                continue
            if pattern.kind() == "this":
                continue
            type_ann = p.field("type")
            tnode = type_ann.children()[-1] if type_ann is not None and type_ann.children() else None
            optional = kind == "optional_parameter" or p.field("value") is not None
            rest = pattern.kind() == "rest_pattern"
            file, line = self._loc(mod, p)
            destructured: list[str] = []
            if pattern.kind() == "object_pattern":
                n_objects += 1
                name = "params" if n_objects == 1 else f"params{n_objects}"
                destructured = _pattern_names(pattern)
            elif pattern.kind() in ("identifier", "rest_pattern"):
                name = pattern.text().lstrip(".")
            else:
                name = f"arg{index}"
            is_obj = tnode is not None and tnode.kind() == "object_type"
            path = f"{callable_path}({name})"
            self.contract.add(
                Decl(
                    path=path,
                    kind="parameter",
                    name=name,
                    container=callable_path,
                    type=_OBJECT if is_obj else norm_type(_text(type_ann)),
                    optional=optional or rest,
                    index=index,
                    file=file,
                    line=line,
                    extra={"rest": True} if rest else {},
                )
            )
            index += 1
            typed: set[str] = set()
            if is_obj and tnode is not None:
                kids = tnode.children()
                for i, prop in enumerate(kids):
                    if prop.kind() not in ("property_signature", "method_signature"):
                        continue
                    pname_node = prop.field("name")
                    if pname_node is None:
                        continue
                    pname = pname_node.text().strip("'\"")
                    typed.add(pname)
                    sub = [c.kind() for c in prop.children()]
                    ptype = prop.field("type")
                    ptype_text = norm_type(_text(ptype)) if ptype is not None else norm_type(prop.text()[len(pname) :])
                    pfile, pline = self._loc(mod, prop)
                    extra = {"owner": callable_path, "in_type": True}
                    if pname in destructured:
                        extra["destructured"] = True
                    self.contract.add(
                        Decl(
                            path=f"{path}.{pname}",
                            kind="parameter-property",
                            name=pname,
                            container=path,
                            type=ptype_text,
                            optional="?" in sub,
                            deprecated=deprecation(_doc_before(kids, i)),
                            file=pfile,
                            line=pline,
                            extra=extra,
                        )
                    )
            for pname in destructured:
                if pname in typed:
                    continue
                # Destructured from a named type (`{ serverId }: Room`): the type is checked elsewhere;
                # what matters here is which properties the function actually reads.
                self.contract.add(
                    Decl(
                        path=f"{path}.{pname}",
                        kind="parameter-property",
                        name=pname,
                        container=path,
                        type=None,
                        optional=True,
                        file=file,
                        line=line,
                        extra={"owner": callable_path, "destructured": True},
                    )
                )

    # ------------------------------------------------------------ inheritance
    def _inherit(self) -> None:
        decls = self.contract.decls
        children: dict[str, list[Decl]] = {}
        for d in decls.values():
            if d.container is not None:
                children.setdefault(d.container, []).append(d)
        done: set[str] = set()

        def copy_subtree(src: str, dst: str, origin: str) -> None:
            for child in children.get(src, []):
                new_path = dst + child.path[len(src) :]
                if new_path in decls:
                    continue
                extra = dict(child.extra)
                extra["inherited_from"] = origin
                extra.setdefault("inherited_path", child.path)
                if "owner" in extra:
                    extra["owner"] = dst + extra["owner"][len(src) :]
                decls[new_path] = copied = Decl(
                    path=new_path,
                    kind=child.kind,
                    name=child.name,
                    container=dst,  # child.container is src: it is one of children[src]
                    type=child.type,
                    optional=child.optional,
                    readonly=child.readonly,
                    deprecated=child.deprecated,
                    file=child.file,
                    line=child.line,
                    index=child.index,
                    default=child.default,
                    extra=extra,
                )
                children.setdefault(dst, []).append(copied)
                copy_subtree(child.path, new_path, origin)

        def visit(path: str, stack: tuple = ()) -> None:
            if path in done or path in stack:
                return
            decl = decls.get(path)
            if decl is None:
                return
            for base in decl.extra.get("bases", []):
                if base in decls and decls[base].kind in ("interface", "type", "class"):
                    visit(base, stack + (path,))
                    copy_subtree(base, path, base)
            done.add(path)

        for path in [p for p, d in decls.items() if d.extra.get("bases")]:
            visit(path)


def _signature(params) -> list[list[str | bool | None]]:
    """[type text, optional] per positional parameter of one signature (for overload checks)."""
    out: list[list[str | bool | None]] = []
    if params is None:
        return out
    for p in params.children():
        kind = p.kind()
        if kind not in ("required_parameter", "optional_parameter"):
            continue
        pattern = p.field("pattern")
        if pattern is None or pattern.kind() == "this":
            continue
        out.append(
            [
                norm_type(_text(p.field("type"))),
                kind == "optional_parameter" or p.field("value") is not None or pattern.kind() == "rest_pattern",
            ]
        )
    return out


def _text(node) -> str | None:
    return node.text() if node is not None else None


def _base_name(node) -> str:
    if node.kind() == "generic_type":
        first = node.children()[0]
        return first.text()
    return node.text()


def _heritage_names(node, clause_kind: str) -> list[str]:
    clause = node if node.kind() == clause_kind else next((c for c in node.children() if c.kind() == clause_kind), None)
    if clause is None:
        return []
    out = []
    for c in clause.children():
        if c.kind() in ("type_identifier", "identifier", "generic_type", "nested_type_identifier", "member_expression"):
            out.append(_base_name(c))
    return out


def _pattern_names(pattern) -> list[str]:
    names = []
    for c in pattern.children():
        k = c.kind()
        if k == "shorthand_property_identifier_pattern":
            names.append(c.text())
        elif k == "object_assignment_pattern":
            left = c.field("left") or c.children()[0]
            names.append(left.text())
        elif k == "pair_pattern":
            key = c.field("key") or c.children()[0]
            names.append(key.text().strip("'\""))
    return names


# ---------------------------------------------------------------- entry points


def _types_condition(value) -> str | None:
    if isinstance(value, str):
        return value if value.endswith(tuple(TS_SUFFIXES)) else None
    if isinstance(value, dict):
        if isinstance(value.get("types"), str):
            return value["types"]
        for cond in ("import", "node", "default", "require"):
            if cond in value:
                found = _types_condition(value[cond])
                if found:
                    return found
    return None


def entry_files(root: Path) -> list[Path]:
    root = root.resolve()
    pkg_file = root / "package.json"
    candidates: list[str] = []
    if pkg_file.is_file():
        try:
            pkg = json.loads(pkg_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(
                f"invalid package.json: {exc.msg}", file=str(pkg_file), line=exc.lineno, column=exc.colno
            ) from exc
        exports = pkg.get("exports")
        if isinstance(exports, dict):
            dot = exports.get(".", exports if not any(k.startswith(".") for k in exports) else None)
            found = _types_condition(dot) if dot is not None else None
            if found:
                candidates.append(found)
        elif isinstance(exports, str):
            found = _types_condition(exports)
            if found:
                candidates.append(found)
        for key in ("types", "typings"):
            if isinstance(pkg.get(key), str):
                candidates.append(pkg[key])
    candidates += ["index.d.ts", "dist/index.d.ts", "src/index.ts", "index.ts", "lib/index.d.ts"]
    for c in candidates:
        p = (root / c).resolve()
        if p.is_file() and (root in p.parents):
            return [p]
    # No entry: every declaration file is public.
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in (".ts", ".tsx", ".mts", ".cts") and "node_modules" not in p.parts and p.is_file()
    )
    return [p.resolve() for p in files]


def extract(root: Path) -> Contract:
    entries = entry_files(root)
    if not entries:
        raise UserError(
            "no TypeScript entry found (no package.json types, no index.d.ts, no .ts files)", file=str(root)
        )
    return TsExtractor(root).extract(entries)
