"""Unpacking downloaded archives (sdists, wheels, npm tarballs) from untrusted sources.

One place for it, because every way out of the destination (`..`, absolute
paths, links pointing outside, device files) must be refused the same way
for a PyPI sdist, an npm tarball and a compat side.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from .errors import InfrastructureError


def safe_extract(archive: Path, dest: Path) -> Path:
    """Unpack `archive` into `dest`; returns its single top directory, or `dest` when there is none.

    Refuses path traversal, absolute paths and links out of the tree (tarfile's 'data' filter;
    a check of every name for zip files). A corrupt or unsafe archive is an InfrastructureError.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    try:
        if archive.suffix == ".zip" or archive.name.endswith(".whl"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = (dest / member).resolve()
                    if target != root and not str(target).startswith(str(root) + "/"):
                        raise InfrastructureError(f"unsafe path in archive {archive.name}: {member}")
                zf.extractall(dest)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise InfrastructureError(f"cannot unpack {archive.name}: {exc}") from None
    tops = [p for p in dest.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 else dest
