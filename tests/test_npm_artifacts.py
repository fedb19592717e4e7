"""The npm artifact cache (matrix/npm_artifacts.py): the exact versions missing from it are fetched by
one `npm pack`, a tag on its own, each into `<cache>/<name>/<version>/`. Real npm, against the local
fake registry of tests/conftest_npm.py, every call logged by a PATH shim."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from canary.kernel.errors import InfrastructureError
from canary.matrix.model import slug
from canary.matrix.npm_artifacts import materialize_npm_all, read_manifest, tarball_name
from tests.conftest_npm import npm_calls, npm_shim


def test_missing_exact_versions_are_one_pack_and_a_tag_is_packed_alone(fake_registry_env, tmp_path, monkeypatch):
    shim, log = npm_shim(tmp_path / "shim")
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    cache = tmp_path / "artifacts"
    specs = ["@canary-fake/mid@0.1.0", "@canary-fake/core@1.0.0", "@canary-fake/core@latest", "@canary-fake/core@1.0.0"]

    arts = materialize_npm_all(specs, cache, tmp_path / "npm-cache")

    calls = npm_calls(log)
    assert len(calls) == 2, calls
    assert calls[0].startswith("pack @canary-fake/mid@0.1.0 @canary-fake/core@1.0.0 --pack-destination ")
    assert calls[1].startswith("pack @canary-fake/core@latest ")
    assert [(a.name, a.version) for a in arts] == [
        ("@canary-fake/mid", "0.1.0"),
        ("@canary-fake/core", "1.0.0"),
        ("@canary-fake/core", "2.0.0"),
        ("@canary-fake/core", "1.0.0"),
    ]
    for art in arts:
        assert art.path == cache / slug(art.name) / art.version / tarball_name(art.name, art.version)
        assert art.path.read_bytes() == fake_registry_env.tgz(art.name, art.version).read_bytes()
    assert not list(cache.glob(".pack-*"))  # the scratch directory is gone

    again = materialize_npm_all(specs[:2], cache, tmp_path / "npm-cache")
    assert npm_calls(log) == calls and [a.path for a in again] == [a.path for a in arts[:2]]


def test_a_manifest_that_is_not_a_file_is_an_infrastructure_error(tmp_path):
    """A tarball whose package/package.json is a directory: one clear error, not an AttributeError."""
    tgz = tmp_path / "odd-1.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        entry = tarfile.TarInfo("package/package.json")
        entry.type = tarfile.DIRTYPE
        tf.addfile(entry)
    with pytest.raises(InfrastructureError, match="package/package.json is not a regular file"):
        read_manifest(tgz)

    good = tmp_path / "ok-1.0.0.tgz"
    data = b'{"name": "ok", "version": "1.0.0"}'
    with tarfile.open(good, "w:gz") as tf:
        entry = tarfile.TarInfo("package/package.json")
        entry.size = len(data)
        tf.addfile(entry, io.BytesIO(data))
    assert read_manifest(good) == {"name": "ok", "version": "1.0.0"}
