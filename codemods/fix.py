"""`canary fix`: apply a migration's fixes, safely.

- Fixes are applied in passes until a pass changes nothing, so nested or
  overlapping matches converge and a second `fix` run is a no-op.
- Every rewritten file is parsed again; a file that would no longer parse (more
  tree-sitter ERROR nodes than before, or a config file its parser rejects) is
  left as it was and reported.
- Writing refuses when the files to change have uncommitted changes (or are not
  under git), unless forced: the diff must be reviewable and revertible.
- Hostile trees: symlinks, FIFOs, devices and oversized files are never read (see
  safe_files); git-ignored files are left alone; a write never goes through a symlink.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import subprocess
from dataclasses import dataclass, field

from canary.kernel.errors import UserError

from canary.codemods import config_files
from canary.codemods.discover import SourceFile, discover
from canary.codemods.engine import apply_edits, compile_migration, parse_errors, scan
from canary.codemods.imports import ensure_imports
from canary.codemods.lint import read_text, resolve_migration
from canary.codemods.migration import Migration
from canary.codemods.safe_files import Skipped, replace_regular

# Nested matches (`a.serverId.serverId`) take one pass per level: a pass applies the innermost
# edit of each nest and the next pass re-matches the rewritten text. Fixes that still change
# the text after this many passes do not converge (a fix whose output matches again).
MAX_PASSES = 64


class FixDoesNotConverge(Exception):
    """The fixes keep changing a file: applying them would only garble it."""


@dataclass
class FileFix:
    file: str  # as displayed
    path: str  # on disk
    old: str
    new: str
    edits: int

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"a/{self.file}",
                tofile=f"b/{self.file}",
            )
        )


@dataclass
class FixResult:
    changes: list[FileFix] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # {file, reason}
    skipped: list[dict] = field(default_factory=list)  # {file, reason}: never read (safe_files, git-ignored)
    remaining: int = 0  # findings of lint-only rules (no fix), still there after fixing
    files_scanned: int = 0

    def diff(self) -> str:
        return "".join(c.diff() for c in self.changes)


def fix_code(text: str, language: str, rules, path: str = "", add_imports: bool = True) -> tuple[str, int, int]:
    """(new text, edits applied, lint-only matches left).

    A fix whose rule lists `imports` (a conversion calling stringToUuid) gets them added
    once all passes are done; `path` tells CommonJS files (`require`) from modules."""
    total = 0
    done: list = []
    seen = {text}
    for _ in range(MAX_PASSES):
        matches = scan(text, language, rules)
        text, applied = apply_edits(text, matches, done)
        total += applied
        if not applied:
            break
        if text in seen:  # back to an earlier text: the fixes undo each other
            raise FixDoesNotConverge("the fixes undo each other")
        seen.add(text)
    else:
        raise FixDoesNotConverge(f"the fixes still change the file after {MAX_PASSES} passes")
    needed = {(i["name"], i["from"]): i for m in done for i in m.rule.imports if i["name"] in text}
    if needed and add_imports:
        text = ensure_imports(text, language, list(needed.values()), path)
    left = sum(1 for m in scan(text, language, rules) if m.replacement is None or m.replacement != m.text)
    return text, total, left


def plan_fixes(paths: list[str], migration: str | Migration, exclude: list[str] | None = None) -> FixResult:
    mig = resolve_migration(migration)
    compiled = compile_migration(mig)
    result = FixResult()
    with contextlib.ExitStack() as stack:
        files = discover(paths, mig, stack, exclude, result.skipped)
        ignored = git_ignored([f.path for f in files if f.origin == "source"])
        for sf in [f for f in files if f.path in ignored]:
            result.skipped.append({"file": sf.display, "reason": "ignored by git (left alone)"})
        files = [f for f in files if f.path not in ignored]
        published = [f.display for f in files if f.origin != "source"]
        if published:
            raise UserError(
                "cannot fix a published package in place (its files come from source maps or dist/)",
                file=published[0],
                hint="run `canary migration extract-sources PACKAGE -o DIR`, then fix DIR",
            )
        for sf in files:
            _plan_one(sf, compiled, result)
    return result


def _plan_one(sf: SourceFile, compiled, result: FixResult) -> None:
    try:
        old = read_text(sf)
    except Skipped as why:
        result.skipped.append({"file": sf.display, "reason": str(why)})
        return
    except (OSError, UnicodeDecodeError) as exc:
        result.rejected.append({"file": sf.display, "reason": f"unreadable: {exc}"})
        return
    result.files_scanned += 1
    if sf.language is not None:
        try:
            new, edits, left = fix_code(old, sf.language, compiled.get(sf.language, []), sf.path)
        except FixDoesNotConverge as why:
            result.rejected.append({"file": sf.display, "reason": f"{why}; left unchanged"})
            return
        result.remaining += left
        if new != old and parse_errors(new, sf.language) > parse_errors(old, sf.language):
            result.rejected.append(
                {"file": sf.display, "reason": "the fixed file would no longer parse; left unchanged"}
            )
            return
    else:
        try:
            hits, new = config_files.scan_config(old, sf.config_format, list(sf.renames))
        except ValueError as exc:
            result.rejected.append({"file": sf.display, "reason": str(exc)})
            return
        edits = len(hits)
        if new != old and not config_files.parses(new, sf.config_format):
            result.rejected.append(
                {"file": sf.display, "reason": "the fixed file would no longer parse; left unchanged"}
            )
            return
    if new != old:
        result.changes.append(FileFix(sf.display, sf.path, old, new, edits))


def git_ignored(files: list[str]) -> set[str]:
    """Those of `files` that git ignores in the work tree they belong to (none outside git)."""
    by_dir: dict[str, list[str]] = {}
    for path in files:
        by_dir.setdefault(os.path.dirname(os.path.abspath(path)), []).append(path)
    by_top: dict[str, list[str]] = {}
    for where, group in by_dir.items():
        toplevel = subprocess.run(["git", "-C", where, "rev-parse", "--show-toplevel"], capture_output=True, text=True)
        if toplevel.returncode == 0:
            by_top.setdefault(toplevel.stdout.strip(), []).extend(group)
    ignored: set[str] = set()
    for top, group in by_top.items():
        absolute = {os.path.abspath(p): p for p in group}
        proc = subprocess.run(
            ["git", "-C", top, "check-ignore", "--stdin", "-z"],
            capture_output=True,
            input="\0".join(absolute) + "\0",
            text=True,
        )
        for name in proc.stdout.split("\0"):
            if name:
                ignored.add(absolute.get(os.path.abspath(os.path.join(top, name)), name))
    return ignored


def dirty_files(paths: list[str]) -> list[str]:
    """Files under `paths` with uncommitted changes (or not under git at all)."""
    dirty: list[str] = []
    for path in paths:
        where = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        top = subprocess.run(["git", "-C", where, "rev-parse", "--show-toplevel"], capture_output=True, text=True)
        if top.returncode != 0:
            dirty.append(f"{path} (not in a git repository)")
            continue
        status = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--untracked-files=all", "--", os.path.abspath(path)],
            capture_output=True,
            text=True,
        )
        for line in status.stdout.splitlines():
            if len(line) > 3:
                dirty.append(os.path.join(top.stdout.strip(), line[3:].strip().strip('"')))
    return dirty


def require_clean(paths: list[str]) -> None:
    dirty = dirty_files(paths)
    if dirty:
        shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
        raise UserError(
            f"refusing to write: uncommitted changes in {shown}", hint="commit or stash them first, or pass --force"
        )


def write_fixes(result: FixResult) -> list[dict]:
    """Write every change atomically (a killed run never leaves half a file); returns the
    {file, reason} of changes not written because the file is no longer a regular file."""
    refused = []
    for change in result.changes:
        try:
            replace_regular(change.path, change.new)
        except Skipped as why:
            refused.append({"file": change.file, "reason": f"not written: {why}"})
    return refused
