"""The one way this tool writes a file: a temporary file in the same directory, fsync, rename.

A reader (a browser on index.html, a CI step on report.json, a second canary
process on a cache index) and a run killed at any moment see either the old
complete file or the new complete file, never a truncated one. Every file the
tool produces goes through here; a directory that later runs trust because it
exists (an unpacked archive in a cache) goes through `atomic_directory`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["write_bytes_atomic", "write_text_atomic", "write_json_atomic", "atomic_directory"]


def write_bytes_atomic(path: Path | str, data: bytes, keep_mode: bool = False) -> None:
    """Write `data` to `path` through a temporary file and a rename: a reader sees the old file or the new, never
    half."""
    path = Path(path)
    if path.exists() and not path.is_file():
        # `--output /dev/null` or `/dev/stdout`: a rename would replace the device itself (as root,
        # /dev/null would become a regular file for every process on the machine). Write through.
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(path))
        with open(path, "wb") as fh:
            fh.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if keep_mode and path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            # mkstemp makes 0600 files; a report must stay as readable as any file the user makes.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path | str, text: str, keep_mode: bool = False) -> None:
    """`text` as UTF-8, newlines untouched (no platform translation)."""
    write_bytes_atomic(path, text.encode("utf-8"), keep_mode=keep_mode)


def write_json_atomic(path: Path | str, data: object, indent: int | None = 2, ensure_ascii: bool = True) -> None:
    """Write `data` as JSON (newline-terminated) to `path` atomically."""
    write_text_atomic(path, json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n")


@contextlib.contextmanager
def atomic_directory(dest: Path | str) -> Iterator[Path]:
    """A temporary directory beside `dest` to fill; renamed to `dest` when the block ends without error.

    `dest` therefore exists only complete: a run killed while filling it leaves a hidden
    `.<name>.*.tmp` directory no reader looks at, never a half-filled `dest`. When another process
    made `dest` first, its directory is kept and this one dropped (both hold the same content)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
