"""The one registry of sources: every source fits the protocol, and an ecosystem or connector kind no
source serves is a one-line error, never a silent fallback to PyPI."""

from __future__ import annotations

import dataclasses
import inspect
import json
from importlib import resources
from pathlib import Path

import pytest

from canary.kernel.errors import UserError
from canary.matrix import config
from canary.matrix.coresides import side
from canary.matrix.registry import available_versions
from canary.matrix.sources import ECOSYSTEMS, SOURCES, CoreSource, Source, select, select_core
from tests.conftest import canary

MATRIX = """\
core:
  name: demo-core
  ecosystem: {ecosystem}
  versions: ["1.0.0"]
connectors:
  - name: alpha
    path: {path}
    test: [["true"]]
"""


def _protocol_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_each_registered_source_fits_the_protocol(name):
    source = select(name)
    assert isinstance(source, Source) and name == source.NAME
    wanted = _protocol_methods(Source)
    if name in ECOSYSTEMS:
        assert isinstance(source, CoreSource) and select_core(name) is source
        wanted |= _protocol_methods(CoreSource)
    else:
        assert not isinstance(source, CoreSource)
    for method, signature in wanted.items():
        # the same parameters, by name and order (runtime_checkable only checks that the names exist)
        assert list(inspect.signature(getattr(source, method)).parameters) == list(signature.parameters)[1:], method


def test_the_schema_offers_exactly_the_registered_ecosystems():
    schema = json.loads(resources.files("canary.matrix").joinpath("schemas/matrix.schema.json").read_text())
    assert tuple(schema["$defs"]["core"]["properties"]["ecosystem"]["enum"]) == ECOSYSTEMS
    assert set(ECOSYSTEMS) <= set(SOURCES)
    assert set(config.SOURCE_KEYS) == set(SOURCES)  # a connector's `git:`/`pypi:`/`npm:`/`path:` key


def test_unknown_ecosystem_in_matrix_yaml_is_one_line_naming_the_key(tmp_path):
    (tmp_path / "matrix.yaml").write_text(MATRIX.format(ecosystem="cargo", path=tmp_path))
    proc = canary("plan", "-c", "matrix.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        proc.stderr
        == "canary: error: matrix.yaml:3:14: key 'core.ecosystem': expected one of 'pypi', 'npm', got 'cargo'\n"
    )


def _matrix_with(ecosystem: str, tmp_path: Path):
    (tmp_path / "matrix.yaml").write_text(MATRIX.format(ecosystem="pypi", path=tmp_path))
    matrix = config.load(tmp_path / "matrix.yaml")
    # An ecosystem the schema would refuse, as a document read back (or a future schema) could carry it.
    return dataclasses.replace(matrix, core=dataclasses.replace(matrix.core, ecosystem=ecosystem))


def test_an_ecosystem_no_source_serves_is_refused_at_its_line_not_taken_for_pypi(tmp_path):
    matrix = _matrix_with("cargo", tmp_path)
    with pytest.raises(UserError) as exc:
        side(matrix, matrix.core.versions[0])  # before: "pypi:demo-core==1.0.0"
    assert str(exc.value).endswith(
        "matrix.yaml:3:14: key 'core.ecosystem': no source for ecosystem 'cargo' (known: pypi, npm)"
    )
    with pytest.raises(UserError, match="no source for ecosystem 'cargo'"):
        available_versions("cargo", "demo-core")  # before: asked pip for the versions
    with pytest.raises(UserError, match="no source for ecosystem 'git'"):
        select_core("git")  # a connector source, not an ecosystem
    with pytest.raises(UserError, match="no source for connector kind 'svn'"):
        select("svn")


def test_a_missing_connector_path_is_refused_at_plan_time_at_its_line(tmp_path):
    (tmp_path / "matrix.yaml").write_text(MATRIX.format(ecosystem="pypi", path=tmp_path / "gone"))
    proc = canary("plan", "-c", "matrix.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        "canary: error: matrix.yaml:7:11: key 'connectors[0].path': connector path does not exist"
    )
