"""The files a promotion edits: pyproject.toml (version) and the changelog.

Each edit is split in two: `plan_*` reads and validates (a check, before anything
is written) and returns the new text or None when nothing needs to change;
`write_text_atomic` then writes it. So a second promotion finds nothing to change.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomlkit
from tomlkit.exceptions import ParseError

from canary.kernel.atomic import write_text_atomic as _write_text_atomic
from canary.kernel.errors import UserError


def write_text_atomic(path: Path, text: str) -> None:
    """An edited project file keeps its mode (an executable stays executable)."""
    _write_text_atomic(path, text, keep_mode=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_text_atomic(path, data.decode("utf-8"))


def plan_pyproject(path: Path, version: str) -> tuple[str | None, str | None]:
    """(new text or None if already at version, the current version). UserError on bad input."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("file not found", file=str(path), key="--pyproject") from None
    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:
        raise UserError(f"invalid TOML: {exc}", file=str(path), line=exc.line, column=exc.col) from None
    project = doc.get("project")
    poetry = doc.get("tool", {}).get("poetry") if isinstance(doc.get("tool"), dict) else None
    if isinstance(project, dict) and "version" in project:
        table = project
    elif isinstance(project, dict) and "version" in project.get("dynamic", []):
        raise UserError(
            "the version is dynamic (project.dynamic); set it where the build backend reads it",
            file=str(path),
            key="project.dynamic",
        )
    elif isinstance(poetry, dict) and "version" in poetry:
        table = poetry
    else:
        raise UserError("no version to set", file=str(path), key="project.version")
    current = str(table["version"])
    if current == version:
        return None, current
    table["version"] = version  # tomlkit keeps the comments, order and quoting of the rest
    return tomlkit.dumps(doc), current


def changelog_has(text: str, release_tag: str, version: str) -> bool:
    names = "|".join(re.escape(n) for n in {release_tag, version, f"v{version}"})
    return re.search(rf"(?m)^#{{1,3}}\s+\[?(?:{names})\]?(?=[\s\])]|$)", text) is not None


def plan_changelog(path: Path, release_tag: str, version: str, entry: str) -> str | None:
    """New changelog text with the entry on top, or None when the release is already there."""
    if path.is_dir():
        raise UserError("is a directory, not a changelog", file=str(path), key="--changelog")
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if changelog_has(text, release_tag, version):
        return None
    if not text.strip():
        return "# Changelog\n\n" + entry
    lines = text.splitlines(keepends=True)
    # Above the first release heading, below the title and its intro.
    first = next((i for i, line in enumerate(lines) if line.startswith("## ")), None)
    if first is None:
        return (text if text.endswith("\n") else text + "\n") + "\n" + entry
    head, tail = "".join(lines[:first]), "".join(lines[first:])
    if head and not head.endswith("\n\n"):
        head += "\n"
    return head + entry + "\n" + tail
