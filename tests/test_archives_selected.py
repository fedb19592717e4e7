"""Unpacking part of a tarball (what `canary diff` reads of an npm side) under the same rules as the
whole: no way out of the destination, the limits counted over every member, nothing left behind."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from canary.kernel.archives import Limits, safe_extract_selected
from canary.kernel.errors import InfrastructureError


def _tgz(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def _declarations(name: str) -> bool:
    return name.endswith((".d.ts", "/package.json"))


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_only_kept_members_are_written(tmp_path):
    archive = _tgz(
        tmp_path / "a.tgz",
        [
            ("package/package.json", b"{}"),
            ("package/dist/index.js", b"x" * 5000),
            ("package/dist/index.d.ts", b"export {};"),
            ("package/README.md", b"#"),
        ],
    )
    kept = safe_extract_selected(archive, tmp_path / "out", _declarations)
    assert kept == ["package/package.json", "package/dist/index.d.ts"]
    assert _files(tmp_path / "out") == {"package/package.json", "package/dist/index.d.ts"}


def test_a_kept_member_outside_the_tree_is_refused(tmp_path):
    archive = _tgz(tmp_path / "evil.tgz", [("package/package.json", b"{}"), ("../../escaped.d.ts", b"pwned")])
    with pytest.raises(InfrastructureError, match="cannot unpack evil.tgz"):
        safe_extract_selected(archive, tmp_path / "out", _declarations)
    assert not (tmp_path / "escaped.d.ts").exists() and not (tmp_path.parent / "escaped.d.ts").exists()
    assert _files(tmp_path / "out") == set()  # nothing half-made is left behind


def test_a_kept_link_out_of_the_tree_is_refused(tmp_path):
    link = tarfile.TarInfo("package/index.d.ts")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    with pytest.raises(InfrastructureError):
        safe_extract_selected(_tgz(tmp_path / "link.tgz", [link]), tmp_path / "out", _declarations)
    assert not (tmp_path / "out" / "package" / "index.d.ts").is_symlink()


def test_limits_count_the_members_that_are_skipped_too(tmp_path):
    members = [(f"package/dist/chunk{i}.js", b"x" * 1000) for i in range(20)] + [("package/index.d.ts", b"")]
    archive = _tgz(tmp_path / "big.tgz", members)
    with pytest.raises(InfrastructureError, match="refused to unpack big.tgz: more than 10 members"):
        safe_extract_selected(archive, tmp_path / "a", _declarations, Limits(members=10))
    with pytest.raises(InfrastructureError, match="unpacks to more than 5000 bytes"):
        safe_extract_selected(archive, tmp_path / "b", _declarations, Limits(total_bytes=5000))
    assert _files(tmp_path / "a") == _files(tmp_path / "b") == set()
