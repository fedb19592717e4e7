"""Unpacking downloaded archives (sdists, wheels, npm tarballs) from untrusted sources.

One place for it, because every way out of the destination (`..`, absolute
paths, links pointing outside, device files) and every way to fill the disk
(a decompression bomb, millions of members) must be refused the same way for
a PyPI sdist, an npm tarball and a compat side.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterator

from canary.kernel.errors import InfrastructureError

__all__ = ["Limits", "DEFAULT_LIMITS", "CHUNK", "safe_extract", "safe_extract_selected"]


@dataclass(frozen=True)
class Limits:
    """What one archive may unpack to. The largest npm packages and sdists are far below these."""

    total_bytes: int = 1 << 30  # 1 GiB unpacked
    members: int = 100_000
    ratio: int = 200  # unpacked / packed size, checked once past ratio_floor bytes
    ratio_floor: int = 16 << 20


DEFAULT_LIMITS = Limits()
CHUNK = 1 << 20


class _Refused(Exception):
    pass


class _Budget:
    def __init__(self, archive: Path, limits: Limits) -> None:
        self.limits, self.packed = limits, max(archive.stat().st_size, 1)
        self.total = self.count = 0

    def member(self) -> None:
        self.count += 1
        if self.count > self.limits.members:
            raise _Refused(f"more than {self.limits.members} members")

    def add(self, size: int) -> None:
        self.total += size
        if self.total > self.limits.total_bytes:
            raise _Refused(f"unpacks to more than {self.limits.total_bytes} bytes")
        if self.total > self.limits.ratio_floor and self.total > self.packed * self.limits.ratio:
            raise _Refused(f"unpacks to more than {self.limits.ratio} times its size (a decompression bomb?)")


def safe_extract(archive: Path, dest: Path, limits: Limits = DEFAULT_LIMITS) -> Path:
    """Unpack `archive` into `dest`; returns its single top directory, or `dest` when there is none.

    Refuses path traversal, absolute paths and links out of the tree (tarfile's 'data' filter;
    a check of every name for zip files) and archives over `limits` (counted while unpacking,
    never trusting sizes the archive claims). A corrupt, unsafe or oversized archive is an
    InfrastructureError with a one-line reason, and nothing of it is left in `dest`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    existed = {p.name for p in dest.iterdir()}
    budget = _Budget(archive, limits)
    try:
        if archive.suffix == ".zip" or archive.name.endswith(".whl"):
            _extract_zip(archive, dest, budget)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(dest, members=_tar_members(tf, budget), filter="data")
    except InfrastructureError:
        _discard(dest, existed)
        raise
    except _Refused as exc:
        _discard(dest, existed)
        raise InfrastructureError(f"refused to unpack {archive.name}: {exc}") from None
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        _discard(dest, existed)
        raise InfrastructureError(f"cannot unpack {archive.name}: {exc}") from None
    tops = [p for p in dest.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else dest


def _tar_members(tf: tarfile.TarFile, budget: _Budget) -> Iterator[tarfile.TarInfo]:
    # Streamed: the limits apply as members are read, before a bomb's later members are reached.
    for member in tf:
        budget.member()
        budget.add(max(member.size, 0))
        yield member


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            budget.member()
            target = (dest / info.filename).resolve()
            if target != root and not str(target).startswith(str(root) + "/"):
                raise InfrastructureError(f"unsafe path in archive {archive.name}: {info.filename}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # Bytes are counted as they come out: the sizes in a zip's directory can lie.
            with zf.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(CHUNK):
                    budget.add(len(chunk))
                    out.write(chunk)


def _discard(dest: Path, existed: set[str]) -> None:
    """Remove what the refused archive wrote (and only that)."""
    for child in dest.iterdir():
        if child.name in existed:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def safe_extract_selected(
    archive: Path, dest: Path, keep: Callable[[str], bool], limits: Limits = DEFAULT_LIMITS
) -> list[str]:
    """Unpack only the members of a tar archive whose names `keep` accepts, in one streamed read.

    The rules of `safe_extract` apply unchanged: tarfile's 'data' filter on every member kept
    (no traversal, no absolute paths, no links out of the tree) and the limits counted over
    every member read, kept or not (the skipped ones are decompressed too). Returns the names
    unpacked. A refused archive leaves nothing of it in `dest`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    existed = {p.name for p in dest.iterdir()}
    budget = _Budget(archive, limits)
    kept: list[str] = []

    def selected(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
        for member in _tar_members(tf, budget):
            if keep(member.name):
                kept.append(member.name)
                yield member

    try:
        # "r|*": a forward-only stream, each kept member written as it passes; 1 MiB reads
        # keep the per-block Python overhead small next to zlib's own work.
        with tarfile.open(archive, "r|*", bufsize=CHUNK) as tf:
            tf.extractall(dest, members=selected(tf), filter="data")
    except _Refused as exc:
        _discard(dest, existed)
        raise InfrastructureError(f"refused to unpack {archive.name}: {exc}") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        _discard(dest, existed)
        raise InfrastructureError(f"cannot unpack {archive.name}: {exc}") from None
    return kept
