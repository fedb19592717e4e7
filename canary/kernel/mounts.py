"""Overlay mounts: a cell's private, writable view of a read-only tree, and their cleanup.

As root on a file system without reflinks, the only private copy of a 370 MB `node_modules` that
hardlinks cannot give (root writes through read-only modes) is a full copy. An overlay mount gives
the same privacy for nothing: the shared tree is the read-only lower layer, every write the cell
makes (the swapped core, a test's scratch file) lands in the cell's own upper layer, so a cell never
changes the template or another cell. The price is a mount to remove: the cell removes it when it
ends, and a canary killed before that leaves it for the reaper (`unmount_under`) of the next run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "OVERLAY_DIR",
    "overlay_argv",
    "prepare_layers",
    "overlay_supported",
    "mounts_under",
    "unmount_under",
    "overlay_lowers",
    "overlay_view_argv",
]

OVERLAY_DIR = ".overlay"  # beside the mount point: upper/ and work/ of the cell's layer
_MNT_DETACH = 2
_SUPPORTED: dict[int, bool] = {}


def overlay_argv(
    lower: Path | Sequence[Path],
    target: Path,
    upper: Path | None = None,
    work: Path | None = None,
    options: Sequence[str] = (),
) -> list[str]:
    """The `mount` command that puts a private writable view of `lower` at `target`.

    `lower` may be several layers, the top one first (overlayfs honours the whiteouts and opaque
    directories of an upper layer that has become a lower one). Upper and work directories live in
    `target`'s parent unless given (same file system, as overlayfs requires); the caller creates
    them with `prepare_layers`. `options`: more overlayfs options (`redirect_dir=...`)."""
    layer = target.parent / OVERLAY_DIR / target.name
    lowers = [lower] if isinstance(lower, (str, os.PathLike)) else list(lower)
    upper, work = upper or layer / "upper", work or layer / "work"
    opts = ",".join([f"lowerdir={':'.join(str(p) for p in lowers)},upperdir={upper},workdir={work}", *options])
    return ["mount", "-t", "overlay", "overlay", "-o", opts, str(target)]


def overlay_view_argv(lowers: Sequence[Path], target: Path, options: Sequence[str] = ()) -> list[str]:
    """The `mount` command for a read-only merged view of two or more layers (no upper layer)."""
    opts = ",".join([f"lowerdir={':'.join(str(p) for p in lowers)}", *options])
    return ["mount", "-t", "overlay", "overlay", "-o", opts, str(target)]


def prepare_layers(target: Path) -> None:
    """Create the mount point and the empty upper and work directories `overlay_argv` names."""
    layer = target.parent / OVERLAY_DIR / target.name
    for d in (layer / "upper", layer / "work", target):
        d.mkdir(parents=True, exist_ok=True)


def overlay_supported(where: Path) -> bool:
    """Whether this process can mount an overlay with its layers on `where`'s file system (root,
    a kernel with overlayfs, a file system that can hold an upper layer); probed once per device."""
    where = Path(where)
    where.mkdir(parents=True, exist_ok=True)
    dev = os.stat(where).st_dev
    if dev not in _SUPPORTED:
        _SUPPORTED[dev] = _probe(where)
    return _SUPPORTED[dev]


def _probe(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(tempfile.mkdtemp(prefix=".overlay-probe-", dir=where))
    try:
        (probe / "lower").mkdir()
        (probe / "lower" / "f").write_text("lower")
        target = probe / "merged"
        prepare_layers(target)
        mounted = subprocess.run(overlay_argv(probe / "lower", target), capture_output=True).returncode == 0
        if not mounted:
            return False
        try:
            (target / "f").write_text("upper")  # copy-up must work, and must not reach the lower layer
            return (probe / "lower" / "f").read_text() == "lower"
        except OSError:
            return False
        finally:
            unmount_under(probe)
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def _unescape(field: str) -> str:
    # /proc/self/mountinfo writes space, tab, newline and backslash as \ooo octal escapes.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below `path`, deepest first (the order to unmount them in)."""
    root = os.path.realpath(path)
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            point = _unescape(fields[4])
            if point == root or point.startswith(root.rstrip("/") + "/"):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_under(path: Path) -> int:
    """Detach every mount at or below `path` (a process still inside keeps its view until it exits);
    returns how many were detached. Never raises: cleanup must not turn a result into a crash."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    done = 0
    for point in mounts_under(path):
        if libc.umount2(os.fsencode(point), _MNT_DETACH) == 0:
            done += 1
    return done


def overlay_lowers() -> set[Path]:
    """Every directory some overlay mount of this mount namespace reads as a lower layer: a tree
    that must not be deleted while that mount lives (a cell reading its template)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    found: set[Path] = set()
    for line in lines:
        head, sep, tail = line.partition(" - ")
        fields = tail.split(" ")
        if not sep or len(fields) < 3 or fields[0] != "overlay":
            continue
        for opt in fields[2].split(","):
            if opt.startswith("lowerdir="):
                found.update(Path(_unescape(p)) for p in opt[len("lowerdir=") :].split(":") if p)
    return found
