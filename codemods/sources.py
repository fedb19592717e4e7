"""Original sources of a published npm package, from its source maps.

Published connectors ship only `dist/`; their `dist/*.js.map` files usually
carry the TypeScript sources in `sourcesContent`. Writing those back out lets a
maintainer lint a published version without its git repository. Paths come
from an untrusted package, so only relative paths inside the package are
written: anything absolute, with `..` left after normalising, or under
node_modules is skipped.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from pathlib import Path

from canary.kernel.errors import InfrastructureError, UserError

from canary.codemods.safe_files import MAX_SOURCEMAP_BYTES, Skipped, read_regular, skip_reason

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*/?")


def _safe_relpath(map_dir: str, source_root: str, source: str) -> str | None:
    """The source's path relative to the package root, or None when it is not safe to write."""
    source = source.replace("\\", "/")
    if _SCHEME.match(source):
        # webpack://pkg/src/x.ts names a path from the project root, not from the map.
        source, map_dir, source_root = _SCHEME.sub("", source), "", ""
    if source.startswith("/") or re.match(r"^[A-Za-z]:", source) or "\x00" in source:
        return None
    joined = posixpath.normpath(posixpath.join(map_dir, source_root or "", source))
    if joined.startswith("../") or joined == ".." or joined.startswith("/") or joined in ("", "."):
        return None
    parts = joined.split("/")
    if "node_modules" in parts or ".." in parts:
        return None
    return joined


def sourcemap_files(package_dir: str) -> list[Path]:
    dist = Path(package_dir) / "dist"
    if not dist.is_dir():
        return []
    # A map that is a symlink, a FIFO or a device is never read (see safe_files).
    return sorted(
        p
        for p in dist.rglob("*.map")
        if "node_modules" not in p.parts and skip_reason(str(p), MAX_SOURCEMAP_BYTES) is None
    )


def extract_sourcemap_sources(package_dir: str, out_dir: str) -> list[str]:
    """Write the `sourcesContent` of every `dist/**/*.map` of `package_dir` under `out_dir`.

    Returns the written paths. A source path is kept relative to the package
    root (`../src/a.ts` next to `dist/index.js.map` becomes `src/a.ts`).
    """
    # Here, not at the top: a lint of files reaches this module but writes nothing (tempfile, shutil).
    from canary.kernel.atomic import write_text_atomic

    pkg = Path(package_dir)
    out = Path(out_dir).resolve()
    written: list[str] = []
    for map_file in sourcemap_files(package_dir):
        try:
            data = json.loads(read_regular(str(map_file), MAX_SOURCEMAP_BYTES))
        except Skipped:
            continue
        except (OSError, ValueError) as exc:
            raise UserError(f"unreadable source map: {exc}", file=str(map_file)) from None
        if not isinstance(data, dict):
            continue
        sources = data.get("sources") or []
        contents = data.get("sourcesContent") or []
        map_dir = posixpath.relpath(map_file.parent.as_posix(), pkg.as_posix())
        for source, content in zip(sources, contents):
            if not isinstance(source, str) or not isinstance(content, str):
                continue
            rel = _safe_relpath(map_dir, data.get("sourceRoot") or "", source)
            if rel is None:
                continue
            target = (out / rel).resolve()
            if out not in target.parents:  # belt and braces against symlinked out_dir tricks
                continue
            # A run killed mid-way leaves each file old or whole, never a truncated source to lint.
            write_text_atomic(target, content)
            if str(target) not in written:
                written.append(str(target))
    return written


def unpack_tarball(tgz: str, out_dir: str) -> str:
    """Unpack an npm tarball with the project's one safe extractor (no traversal, no links out of
    the tree, no decompression bomb); returns the package directory."""
    from canary.kernel.archives import safe_extract  # tarfile only for a tarball: a lint of files stays light

    try:
        top = safe_extract(Path(tgz), Path(out_dir))
    except InfrastructureError as exc:
        raise UserError(f"cannot unpack package tarball: {exc.reason}", file=tgz) from None
    root = Path(out_dir) / "package"  # npm's own top folder, even beside another one
    return str(root if root.is_dir() else top)


def is_package_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "package.json")) and bool(sourcemap_files(path))
