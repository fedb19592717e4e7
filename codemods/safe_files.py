"""Reading and writing the files of a tree canary does not trust (hostile-tree rules).

Lint and fix read only regular files: a FIFO named `x.ts` would block the read forever, a
link to /dev/zero never ends, a symlink may point out of the tree, and a 100 MB "source"
would take minutes to parse. Such files are skipped and reported, never read. Reads open
with O_NOFOLLOW | O_NONBLOCK and check the opened file again (fstat), so a file swapped for
a link or a FIFO after the tree was walked is skipped too.

Writes never go through a symlink: the target must still be a regular file, and the new
text goes to a temporary file created exclusively (O_EXCL, random name) in the same
directory, then renamed over the target, so a committed `b.ts.canary-tmp` symlink cannot
redirect the write.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


MAX_SOURCE_BYTES = 8 * 1024 * 1024  # a hand-written source file is far smaller; a bundle may reach this
MAX_SOURCEMAP_BYTES = 64 * 1024 * 1024  # a source map carries every source of a bundle


class Skipped(Exception):
    """A file that is not read or written; str() is the reason shown to the user."""


def skip_reason(path: str, limit: int = MAX_SOURCE_BYTES) -> str | None:
    """Why `path` must not be read (without opening it), or None when it is a regular file within `limit`."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    return _reason(st, limit)


def _reason(st: os.stat_result, limit: int) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return "a symbolic link (not followed)"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_size > limit:
        return f"larger than {limit // (1024 * 1024)} MiB ({st.st_size} bytes)"
    return None


def read_regular(path: str, limit: int = MAX_SOURCE_BYTES) -> str:
    """The UTF-8 text of a regular file, or Skipped. UnicodeDecodeError for binary content."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Skipped("a symbolic link (not followed)") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        reason = _reason(os.fstat(fd), limit)
        if reason:
            raise Skipped(reason)
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew since fstat
        raise Skipped(f"larger than {limit // (1024 * 1024)} MiB")
    return data.decode("utf-8")


def replace_regular(path: str, text: str) -> None:
    """Replace a regular file's content atomically, never through a symlink; Skipped otherwise."""
    reason = skip_reason(path, limit=1 << 62)
    if reason:
        raise Skipped(reason)
    from canary.kernel.atomic import write_text_atomic  # only fix writes (tempfile: ~6 ms of imports)

    write_text_atomic(Path(path), text, keep_mode=True)  # a fixed script stays executable
