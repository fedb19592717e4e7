"""SARIF 2.1.0 documents, one builder for every producer (`canary diff`, `canary lint`).

What code-scanning uploads need and both producers share: the tool's name and version
(`driver.version`), results whose locations are relative to the **repository root** under the
`SRCROOT` base id (`packages/core/src/index.ts`, not `src/index.ts` relative to the scanned
package), and the schema reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_URI", "SRCROOT", "repo_root", "repo_uri", "location", "document", "dumps"]

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "SRCROOT"


def repo_root(path: Path | str) -> Path | None:
    """The git work tree holding path (a directory or file), if any."""
    p = Path(path).resolve()
    for d in (p, *p.parents):
        if (d / ".git").exists():
            return d
    return None


def repo_uri(file: str, base: Path | str | None) -> str:
    """A result's path relative to the root of the repository that holds it.

    `file` is relative to `base` (the scanned directory, or the working directory the paths
    were given from). base=None: the files are in no repository (a registry package, a git
    side in the cache) and keep their own relative paths."""
    plain = file.replace("\\", "/")
    while plain.startswith("./"):
        plain = plain[2:]
    if base is None:
        return plain
    full = (Path(base) / file).resolve()
    root = repo_root(full.parent)
    if root is None:
        return plain
    return full.relative_to(root).as_posix()


def location(uri: str, region: dict[str, Any]) -> dict[str, Any]:
    """A SARIF physicalLocation of `uri` (relative to the repository root) and a region."""
    return {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": SRCROOT}, "region": region}}


def document(
    name: str,
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    information_uri: str = "",
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 document of one run of tool `name`, with its rules and results."""
    from canary import __version__

    driver: dict[str, Any] = {"name": name, "version": __version__, "semanticVersion": __version__}
    if information_uri:
        driver["informationUri"] = information_uri
    driver["rules"] = rules
    if properties:
        driver["properties"] = properties
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "originalUriBaseIds": {SRCROOT: {"description": {"text": "the root of the repository scanned"}}},
                "results": results,
            }
        ],
    }


def dumps(doc: dict[str, Any]) -> str:
    """A SARIF document as text (indented, newline-terminated)."""
    return json.dumps(doc, indent=2) + "\n"
