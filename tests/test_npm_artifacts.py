"""The npm artifact cache (matrix/npm_artifacts.py): the exact versions missing from it are fetched by
one `npm pack`, a tag on its own, each into `<cache>/<name>/<version>/`. Real npm, against the local
fake registry of tests/conftest_npm.py, every call logged by a PATH shim."""

from __future__ import annotations

import os

from canary.matrix.model import slug
from canary.matrix.npm_artifacts import materialize_npm_all, tarball_name
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
