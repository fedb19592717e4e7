"""Each module another package imports says what it offers (`__all__`), and what other packages take
from it is in that list; its public functions and classes say what they do (a docstring).

Read from the source with `ast`, like tests/test_import_graph.py, whose package map it shares."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_import_graph import APP, FOLDERS, ROOT, _files, _imports, _package_of


def _module_file(module: str) -> Path | None:
    for pkg in sorted(FOLDERS, key=len, reverse=True):
        if module == pkg or module.startswith(pkg + "."):
            base, rest = FOLDERS[pkg], module[len(pkg) :].lstrip(".")
            break
    else:
        if module != APP and not module.startswith(APP + "."):
            return None
        base, rest = ROOT / "canary", module[len(APP) :].lstrip(".")
    path = base.joinpath(*rest.split(".")) if rest else base
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def cross_package_imports() -> dict[Path, dict[str, list[str]]]:
    """module file -> name imported -> where (file:line), for imports from another package."""
    found: dict[Path, dict[str, list[str]]] = {}
    for pkg, f in _files():
        for module, name, line in _imports(f):
            target = _package_of(module)
            if not target or target == pkg or _module_file(module) is None:
                continue
            if name and _module_file(f"{module}.{name}"):  # `from pkg import module`
                found.setdefault(_module_file(f"{module}.{name}"), {})
                continue
            names = found.setdefault(_module_file(module), {})
            if name:
                names.setdefault(name, []).append(f"{f.relative_to(ROOT)}:{line}")
    return found


def _all_of(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [ast.literal_eval(e) for e in node.value.elts]  # type: ignore[attr-defined]
    return None


def test_modules_other_packages_import_declare_all():
    missing, undeclared = [], []
    for path, names in sorted(cross_package_imports().items()):
        declared = _all_of(ast.parse(path.read_text()))
        if declared is None:
            missing.append(str(path.relative_to(ROOT)))
            continue
        undeclared += [
            f"{where[0]} imports {name} from {path.relative_to(ROOT)}, not in its __all__"
            for name, where in names.items()
            if name not in declared
        ]
    assert missing == [], "modules imported by another package without __all__"
    assert undeclared == []


def test_what_a_module_offers_has_a_docstring():
    bare = []
    for path in sorted(cross_package_imports()):
        tree = ast.parse(path.read_text())
        declared = set(_all_of(tree) or [])
        for node in tree.body:
            if (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and node.name in declared
                and ast.get_docstring(node) is None
            ):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert bare == []
