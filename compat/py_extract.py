"""Python contract extraction with griffe (static analysis, nothing imported or executed).

Public = not starting with `_` (plus `__init__`), or listed in the module's `__all__`;
imported names count only when `__all__` lists them.
"""

from __future__ import annotations

import re
from pathlib import Path

from canary.kernel.errors import UserError

from canary.compat.model import Contract, Decl

_DEP_DOC = re.compile(r"^\s*(?:\.\.\s*deprecated::[^\n]*?|deprecated[:.])\s*(.*)$", re.I | re.M)
_SKIP_DIRS = {"tests", "test", "docs", "examples", "build", "dist", "node_modules", "__pycache__"}


def find_packages(root: Path) -> tuple[Path, list[str]]:
    for base in (root / "src", root):
        if not base.is_dir():
            continue
        names = sorted(
            p.name
            for p in base.iterdir()
            if p.is_dir()
            and (p / "__init__.py").is_file()
            and p.name not in _SKIP_DIRS
            and not p.name.startswith((".", "_"))
        )
        if names:
            return base, names
    # sdists unpack into <name>-<version>/
    subs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")] if root.is_dir() else []
    if len(subs) == 1:
        return find_packages(subs[0])
    base = root / "src" if (root / "src").is_dir() else root
    mods = sorted(p.stem for p in base.glob("*.py") if not p.name.startswith(("_", "setup", "test", "conftest")))
    return base, mods


def _deprecation(obj) -> str | None:
    for dec in getattr(obj, "decorators", None) or []:
        text = str(dec.value)
        if "deprecated" in text.lower():
            m = re.search(r"['\"](.*?)['\"]", text)
            return m.group(1) if m else ""
    doc = obj.docstring.value if getattr(obj, "docstring", None) else ""
    if doc:
        m = _DEP_DOC.search(doc)
        if m:
            return m.group(1).strip()
    return None


_LITERAL = re.compile(r"""["']([A-Za-z_]\w*)["']""")


def _lazy_names(module) -> list[str]:
    """Names a module-level `__getattr__` may still serve: the string literals in its body."""
    fn = module.members.get("__getattr__") if hasattr(module, "members") else None
    if fn is None or getattr(fn, "kind", None) is None or fn.kind.value != "function":
        return []
    lines = getattr(fn, "lines", None) or []
    names = set(_LITERAL.findall("\n".join(lines)))
    # names also listed in a dict/set the function consults (`_DEPRECATED = {"Old": ...}`)
    for word in re.findall(r"\b([A-Za-z_]\w*)\b", "\n".join(lines)):
        member = module.members.get(word)
        if member is not None and member.kind.value == "attribute" and member.value is not None:
            names.update(_LITERAL.findall(str(member.value)))
    return sorted(names)


def _reexported_from_private(alias, module_path: str, name: str) -> bool:
    """`from ._native import soft_str` in a package without `__all__`: the private module's object is
    offered here under a public name, so it is this module's API (markupsafe 2.0)."""
    target = getattr(alias, "target_path", "") or ""
    root = module_path.split(".", 1)[0]
    if not _public(name) or not target.startswith(root + ".") or _type_checking_only(alias):
        return False
    inner = target[len(root) + 1 :].split(".")[:-1]
    return any(part.startswith("_") for part in inner)


def _type_checking_only(alias) -> bool:
    """Imported under `if TYPE_CHECKING:` (any spelling): not there at runtime."""
    try:
        lines = alias.parent.lines
        i = (alias.alias_lineno or alias.lineno) - 1
    except Exception:  # noqa: BLE001 - no source to look at
        return False
    if not 0 <= i < len(lines):
        return False
    indent = len(lines[i]) - len(lines[i].lstrip())
    for j in range(i - 1, -1, -1):
        line = lines[j]
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            return line.lstrip().startswith("if ") and "TYPE_CHECKING" in line
    return False


def _canonical(base) -> str | None:
    """Full dotted path of a base class expression, through the module's imports (no loading)."""
    try:
        path = base.canonical_path
    except Exception:  # noqa: BLE001 - unresolvable expression (a call, a subscript of a foreign module)
        return None
    return path if isinstance(path, str) else None


def _public(name: str) -> bool:
    return not name.startswith("_") or name == "__init__"


class _Walker:
    def __init__(self, root: Path) -> None:
        self.base = root.resolve()
        self.contract = Contract(language="py", root=str(root))

    def loc(self, obj) -> tuple[str, int]:
        fp = getattr(obj, "filepath", None)
        if isinstance(fp, list):
            fp = fp[0] if fp else None
        rel = ""
        if fp is not None:
            try:
                rel = Path(fp).resolve().relative_to(self.base).as_posix()
            except ValueError:
                rel = str(fp)
        return rel, getattr(obj, "lineno", None) or 1

    def walk(self, obj, path: str, container: str | None) -> None:
        from griffe import Alias

        kind = obj.kind.value
        file, line = self.loc(obj)
        dep = _deprecation(obj)
        if kind == "module":
            extra = {}
            lazy = _lazy_names(obj)
            if lazy:
                extra["lazy_names"] = lazy
            # imported names stay importable from here even when not public API by our rule
            imported = sorted(
                n
                for n, m in obj.members.items()
                if isinstance(m, Alias) and not n.startswith("_") and not _type_checking_only(m)
            )
            if imported:
                extra["imported_names"] = imported
            self.contract.add(
                Decl(
                    path=path,
                    kind="module",
                    name=obj.name,
                    container=container,
                    file=file,
                    line=line,
                    deprecated=dep,
                    extra=extra,
                )
            )
        elif kind == "class":
            bases = [str(b) for b in obj.bases]
            extra = {"bases": bases} if bases else {}
            base_paths = [_canonical(b) for b in obj.bases]
            if any(base_paths):
                extra["base_paths"] = [b for b in base_paths if b]
            self.contract.add(
                Decl(
                    path=path,
                    kind="class",
                    name=obj.name,
                    container=container,
                    file=file,
                    line=line,
                    deprecated=dep,
                    extra=extra,
                )
            )
        elif kind == "function":
            in_class = (
                container is not None
                and self.contract.decls.get(container) is not None
                and self.contract.decls[container].kind == "class"
            )
            self.contract.add(
                Decl(
                    path=path,
                    kind="method" if in_class else "function",
                    name=obj.name,
                    container=container,
                    type=str(obj.returns) if obj.returns is not None else None,
                    file=file,
                    line=line,
                    deprecated=dep,
                )
            )
            for i, p in enumerate(obj.parameters):
                pkind = p.kind.value if p.kind is not None else "positional or keyword"
                var = pkind in ("variadic positional", "variadic keyword")
                self.contract.add(
                    Decl(
                        path=f"{path}({p.name})",
                        kind="parameter",
                        name=p.name,
                        container=path,
                        type=str(p.annotation) if p.annotation is not None else None,
                        optional=p.default is not None or var,
                        index=i,
                        default=str(p.default) if p.default is not None else None,
                        file=file,
                        line=line,
                        extra={"pkind": pkind},
                    )
                )
            return
        elif kind == "attribute":
            self.contract.add(
                Decl(
                    path=path,
                    kind="attribute",
                    name=obj.name,
                    container=container,
                    type=str(obj.annotation) if obj.annotation is not None else None,
                    default=str(obj.value) if obj.value is not None else None,
                    file=file,
                    line=line,
                    deprecated=dep,
                )
            )
            return
        else:
            return
        exports = getattr(obj, "exports", None)
        exported = {str(e) if not hasattr(e, "name") else e.name for e in exports} if exports else None
        for name, member in obj.members.items():
            if isinstance(member, Alias):
                if not (exported and name in exported) and not (
                    exported is None and kind == "module" and _reexported_from_private(member, path, name)
                ):
                    continue
                try:
                    target = member.final_target
                except Exception:  # unresolvable import (third-party module): nothing to compare
                    continue
                self.walk_alias(target, f"{path}.{name}", path, name)
                continue
            if exported is not None and kind == "module" and member.kind.value != "module":
                if name not in exported:
                    continue
            elif not _public(name):
                continue
            self.walk(member, f"{path}.{name}", path)

    def walk_alias(self, target, path: str, container: str, name: str) -> None:
        # Re-exported object: record it under the name users import, with its own members.
        if target.kind.value == "module":
            return
        before = set(self.contract.decls)
        self.walk(target, path, container)
        d = self.contract.decls.get(path)
        if d is not None and path not in before:
            d.name = name


def extract(root: Path) -> Contract:
    import griffe

    base, names = find_packages(root)
    if not names:
        raise UserError("no Python package or module found", file=str(root))
    walker = _Walker(base)
    for name in names:
        try:
            # try_relative_path=False: a folder of that name in the working directory (a core
            # repository's own checkout) must not stand in for this side's package.
            pkg = griffe.load(
                name, search_paths=[str(base)], allow_inspection=False, resolve_aliases=False, try_relative_path=False
            )
        except (ImportError, ModuleNotFoundError) as exc:
            raise UserError(f"cannot load Python package {name}: {exc}", file=str(base)) from exc
        walker.walk(pkg, name, None)
        for sub, dotted in _namespace_subpackages(base / name, name):
            # griffe skips folders without __init__.py (flask.sansio); they are importable all the same
            try:
                mod = griffe.load(
                    sub.name, search_paths=[str(sub.parent)], allow_inspection=False, resolve_aliases=False
                )
            except (ImportError, ModuleNotFoundError):
                continue
            walker.walk(mod, dotted, dotted.rsplit(".", 1)[0])
    return walker.contract


def _namespace_subpackages(pkg_dir: Path, dotted: str):
    if not (pkg_dir / "__init__.py").is_file():
        return
    for sub in sorted(p for p in pkg_dir.iterdir() if p.is_dir()):
        if not _public(sub.name) or sub.name in _SKIP_DIRS or not sub.name.isidentifier():
            continue
        if (sub / "__init__.py").is_file():
            yield from _namespace_subpackages(sub, f"{dotted}.{sub.name}")
        elif any(sub.glob("*.py")):
            yield sub, f"{dotted}.{sub.name}"
