"""Which files a lint or fix run reads, from the paths the user gave.

A directory is walked (skipping dependencies, build output and VCS dirs); a
file is taken as given. An npm package directory or tarball with no sources of
its own (only dist/) is linted through its source maps: the TypeScript in
`dist/*.js.map` sourcesContent is written to a temporary directory and
reported as `<package path>/<source path>`. Without usable source maps its
`dist/**/*.js` is linted instead.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from dataclasses import dataclass

from canary.kernel.errors import UserError

from canary.codemods import config_files
from canary.codemods.languages import language_of
from canary.codemods.migration import ConfigRename, Migration
from canary.codemods.safe_files import skip_reason
from canary.codemods.sources import extract_sourcemap_sources, is_package_dir, unpack_tarball

# Never walked into: dependencies, build output, VCS and tool caches.
EXCLUDED_DIRS = frozenset(
    {
        "node_modules",
        "dist",
        "build",
        "out",
        "coverage",
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "__pycache__",
        ".canary",
        ".next",
        ".turbo",
        ".tox",
        ".nox",
    }
)
TARBALL_SUFFIXES = (".tgz", ".tar.gz")


@dataclass
class SourceFile:
    path: str  # where to read it
    display: str  # how findings name it
    language: str | None = None  # a code file: its ast-grep language
    renames: tuple[ConfigRename, ...] = ()  # a config file: the key renames that apply
    format: str | None = None
    origin: str = "source"  # "source", "sourcemap" or "dist" (a published package's compiled files)

    @property
    def config_format(self) -> str:
        """The format of a config file (a file with renames); a code file has none."""
        if self.format is None:
            raise ValueError(f"{self.display} is not a config file")
        return self.format


def _classify(path: str, display: str, rel: str, migration: Migration) -> SourceFile | None:
    lang = language_of(path)
    if lang is not None:
        return SourceFile(path, display, language=lang)
    renames = tuple(r for r in migration.config if config_files.wants(r, rel))
    renames = tuple(r for r in renames if config_files.format_of(path, r))
    if renames:
        return SourceFile(path, display, renames=renames, format=config_files.format_of(path, renames[0]))
    return None


def _walk(
    root: str, display_root: str, migration: Migration, exclude: list[str], skipped: list[dict]
) -> list[SourceFile]:
    found: list[SourceFile] = []
    # os.walk never descends into symlinked directories (followlinks=False); symlinked files are
    # listed and skipped below with the FIFOs, devices and oversized files.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in EXCLUDED_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(name, pat) for pat in exclude):
                continue
            display = rel if display_root in ("", ".") else os.path.join(display_root, rel)
            sf = _classify(full, display, rel, migration)
            if sf is None:
                continue
            reason = skip_reason(full)
            if reason:
                skipped.append({"file": display, "reason": reason})
            else:
                found.append(sf)
    return found


def discover(
    paths: list[str],
    migration: Migration,
    stack: contextlib.ExitStack,
    exclude: list[str] | None = None,
    skipped: list[dict] | None = None,
) -> list[SourceFile]:
    """The files to scan; temporary directories (tarballs, source maps) live as long as `stack`.

    Files that must not be read (symlinks, FIFOs, devices, oversized) are left out and
    appended to `skipped` as {file, reason}."""
    exclude = list(exclude or [])
    skipped = [] if skipped is None else skipped
    files: list[SourceFile] = []
    for given in paths:
        if (
            os.path.lexists(given)
            and not os.path.isdir(given)
            and skip_reason(given)
            and _classify(given, given, os.path.basename(given), migration) is not None
        ):
            skipped.append({"file": given, "reason": skip_reason(given)})
            continue
        if os.path.isfile(given) and given.endswith(TARBALL_SUFFIXES):
            import tempfile  # only tarballs and source maps need one (~6 ms of imports)

            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="canary-pkg-"))
            pkg = unpack_tarball(given, tmp)
            files.extend(_package(pkg, given, migration, exclude, stack, skipped))
        elif os.path.isfile(given):
            sf = _classify(given, given, os.path.basename(given), migration)
            if sf is None:
                raise UserError(
                    "not a file canary can lint (TypeScript, JavaScript, Python or a config file "
                    "named by the migration)",
                    file=given,
                )
            files.append(sf)
        elif os.path.isdir(given):
            files.extend(_package(given, given, migration, exclude, stack, skipped))
        else:
            raise UserError("no such file or directory", file=given)
    return files


def _package(
    root: str, display: str, migration: Migration, exclude: list[str], stack: contextlib.ExitStack, skipped: list[dict]
) -> list[SourceFile]:
    own = _walk(root, display, migration, exclude, skipped)
    if any(f.language for f in own) or not os.path.isfile(os.path.join(root, "package.json")):
        return own
    # A published package: lint the sources its source maps carry ...
    out = []
    if is_package_dir(root):
        import tempfile

        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="canary-src-"))
        for path in extract_sourcemap_sources(root, tmp):
            rel = os.path.relpath(path, tmp).replace(os.sep, "/")
            lang = language_of(path)
            if lang is not None:
                out.append(SourceFile(path, os.path.join(display, rel), language=lang, origin="sourcemap"))
    if not out:
        # ... or, without source maps, its compiled JavaScript: member reads and object keys survive bundling.
        dist = os.path.join(root, "dist")
        for dirpath, dirnames, filenames in os.walk(dist):
            dirnames[:] = sorted(d for d in dirnames if d != "node_modules")
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if language_of(full) == "javascript":
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    reason = skip_reason(full)
                    if reason:
                        skipped.append({"file": os.path.join(display, rel), "reason": reason})
                        continue
                    out.append(SourceFile(full, os.path.join(display, rel), language="javascript", origin="dist"))
    return own + out
