"""Archives from untrusted sources: bombs and floods are refused with one line, nothing is left behind."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from canary.kernel.archives import Limits, safe_extract
from canary.kernel.errors import InfrastructureError

ZEROS = 64 << 20  # 64 MiB of zeros packs into ~64 KiB


def _tar_bomb(path: Path, size: int = ZEROS) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("package/zeros.bin")
        info.size = size
        tf.addfile(info, _Zeros(size))
    return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def _zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("pkg/zeros.bin", "w") as out:
        for _ in range(ZEROS // (1 << 20)):
            out.write(bytes(1 << 20))
    return path


@pytest.mark.parametrize("make", [_tar_bomb, _zip_bomb], ids=["npm-tgz", "wheel"])
def test_a_decompression_bomb_is_refused_in_one_line_and_leaves_nothing(tmp_path, make):
    archive = make(tmp_path / ("bomb.tgz" if make is _tar_bomb else "bomb-1.0-py3-none-any.whl"))
    assert archive.stat().st_size < ZEROS // 100
    dest = tmp_path / "src"
    with pytest.raises(InfrastructureError) as info:
        safe_extract(archive, dest)
    reason = info.value.reason
    assert reason.startswith(f"refused to unpack {archive.name}: ") and "decompression bomb" in reason
    assert "\n" not in reason
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) == 0 if dest.exists() else True


def test_total_size_and_member_count_are_capped(tmp_path):
    archive = tmp_path / "many.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for i in range(50):
            info = tarfile.TarInfo(f"package/f{i}.txt")
            data = (f"file {i}\n" * 100).encode()
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with pytest.raises(InfrastructureError, match="more than 10 members"):
        safe_extract(archive, tmp_path / "a", Limits(members=10))
    with pytest.raises(InfrastructureError, match="unpacks to more than 5000 bytes"):
        safe_extract(archive, tmp_path / "b", Limits(total_bytes=5000))
    top = safe_extract(archive, tmp_path / "c")  # within the default limits: unpacked as before
    assert top.name == "package" and len(list(top.iterdir())) == 50
    assert not any((tmp_path / "a").iterdir()) and not any((tmp_path / "b").iterdir())


def test_zip_bytes_are_counted_as_they_are_unpacked(tmp_path):
    archive = _zip_bomb(tmp_path / "liar.zip")
    with pytest.raises(InfrastructureError, match="unpacks to more than"):
        safe_extract(archive, tmp_path / "x", Limits(total_bytes=1 << 20, ratio=10**9))
