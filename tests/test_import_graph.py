"""The package structure (issue 14): the kernel is a leaf, the parts do not import the app or each
other in a cycle, and nobody imports another package's `_private` module or name.

Read from the source with `ast`, so an import hidden inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import canary

ROOT = Path(__file__).resolve().parent.parent
# The folder of each package of the `canary` import name (pyproject's package-dir).
FOLDERS = {
    "canary.kernel": ROOT / "canary" / "kernel",
    "canary.matrix": ROOT / "matrix",
    "canary.compat": ROOT / "compat",
    "canary.codemods": ROOT / "codemods",
    "canary.reports": ROOT / "reports",
    "canary.promote": ROOT / "canary" / "promote",
}
APP = "canary"  # the CLI, the pipeline and the CI action: may import every part
PARTS = tuple(FOLDERS)


def _package_of(module: str) -> str | None:
    for name in sorted(PARTS, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return APP if module == "canary" or module.startswith("canary.") else None


def _files():
    for pkg, folder in FOLDERS.items():
        for f in folder.rglob("*.py"):
            yield pkg, f
    for f in (ROOT / "canary").glob("*.py"):
        yield APP, f


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                yield node.module, a.name, node.lineno


def edges() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {p: set() for p in (*PARTS, APP)}
    for pkg, f in _files():
        for module, _name, _line in _imports(f):
            target = _package_of(module)
            if target and target != pkg:
                graph[pkg].add(target)
    return graph


def test_no_top_level_package_but_canary():
    """Everything is imported as canary.*: an `import matrix` would load the PyPI package `matrix`."""
    bad = []
    for pkg, f in _files():
        for module, _name, line in _imports(f):
            if module.split(".")[0] in ("matrix", "compat", "codemods", "reports"):
                bad.append(f"{f.relative_to(ROOT)}:{line}: import {module}")
    assert bad == []


def test_the_kernel_is_a_leaf():
    assert edges()["canary.kernel"] <= {APP}, edges()["canary.kernel"]


def test_no_part_imports_the_app():
    """Only canary.__version__ is read from the top package (a constant, no code)."""
    for pkg, f in _files():
        if pkg == APP:
            continue
        for module, name, line in _imports(f):
            if _package_of(module) == APP:
                assert module == "canary" and name == "__version__", f"{f.relative_to(ROOT)}:{line} imports {module}"


def test_no_cycle_between_packages():
    graph = edges()
    for pkg in graph:  # the app is the root: leaving it out of the parts' edges is asserted above
        graph[pkg].discard(APP)

    def visit(node, path):
        assert node not in path, "cycle: " + " -> ".join([*path, node])
        for nxt in sorted(graph[node]):
            visit(nxt, [*path, node])

    for pkg in graph:
        visit(pkg, [])


def test_no_import_of_another_packages_private_names():
    bad = []
    for pkg, f in _files():
        for module, name, line in _imports(f):
            target = _package_of(module)
            if target is None or target == pkg:
                continue
            private_module = any(part.startswith("_") and not part.startswith("__") for part in module.split("."))
            private_name = bool(name) and name.startswith("_") and not name.startswith("__")
            if private_module or private_name:
                bad.append(f"{f.relative_to(ROOT)}:{line}: from {module} import {name}")
    assert bad == []


def test_the_graph_is_what_the_architecture_says():
    """docs/architecture.md draws these arrows; a new one is a decision, made there first."""
    graph = edges()
    assert graph["canary.matrix"] <= {"canary.kernel", APP}
    # reports reads the compat diff through its owner, canary.compat.document (issue 14, item 3)
    assert graph["canary.reports"] <= {"canary.kernel", "canary.matrix", "canary.compat", APP}
    assert "canary.reports" not in graph["canary.compat"] | graph["canary.codemods"]
    assert APP not in graph["canary.compat"]
    assert canary.__version__
