"""compat sides: archives are unpacked safely; PyPI sides through pip (registry-marked)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from canary.compat.sources import _unpack, detect_language, resolve_side
from canary.kernel.errors import UserError


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_unpack_refuses_path_traversal(tmp_path):
    evil = _tar(tmp_path / "evil.tgz", [_file("package/ok.d.ts", b"x"), _file("../../escaped.txt", b"pwned")])
    with pytest.raises(UserError) as exc:
        _unpack(evil, tmp_path / "out")
    assert "evil.tgz" in str(exc.value)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
    assert not (tmp_path / "out").exists()  # nothing half-made is left behind


def test_unpack_refuses_links_out_of_the_tree(tmp_path):
    link = tarfile.TarInfo("package/index.d.ts")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(UserError):
        _unpack(_tar(tmp_path / "link.tgz", [(link, None)]), tmp_path / "out")


def test_unpack_good_archive(tmp_path):
    good = _tar(tmp_path / "good.tgz", [_file("package/package.json", b'{"version": "1.0.0"}')])
    _unpack(good, tmp_path / "out")
    assert json.loads((tmp_path / "out/package/package.json").read_text())["version"] == "1.0.0"


def test_bad_side_specs(tmp_path):
    for spec, words in [
        ("npm:left-pad", "npm side needs a version"),
        ("pypi:six", "exact version"),
        ("git:/nowhere", "git side needs a ref"),
        (str(tmp_path / "nope"), "is not a directory"),
    ]:
        with pytest.raises(UserError) as exc:
            resolve_side(spec)
        assert words in str(exc.value)


def test_detect_language(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a/x.sql").write_text("CREATE TABLE t (id INT);")
    assert detect_language(tmp_path / "a") == "sql"
    (tmp_path / "b").mkdir()
    (tmp_path / "b/pyproject.toml").write_text("[project]\nname='b'\n")
    assert detect_language(tmp_path / "b") == "py"
    (tmp_path / "c").mkdir()
    with pytest.raises(UserError):
        detect_language(tmp_path / "c")


@pytest.mark.registry
def test_pypi_sides(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "canary.cli", "diff", "pypi:attrs==22.2.0", "pypi:attrs==23.1.0", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "CANARY_HOME": str(tmp_path)},
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["language"] == "py" and doc["semver"]["step"] == "major" and doc["semver"]["sufficient"] is True
    removed = [c for c in doc["changes"] if c["rule"] == "PY003" and c["symbol"] == "attr.evolve(inst)"]
    assert removed and removed[0]["container"] == "attr.evolve"
