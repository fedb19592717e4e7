"""npm cells offline: real `npm install` of tarballs packed by the tests, from a local fake registry.

Proves that the node runner forces the core under test for the connector and
for every nested copy (npm overrides), that it checks what the connector really
loads (a nested copy left alone is a CoreMismatch), that the declared core
range decides `unsupported`, and that registry failures are named
infrastructure errors.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from canary.kernel.errors import CoreMismatch, InfrastructureError
from canary.matrix.runners.node import cell_manifest, install_argv, prepare_node_cell, verify
from canary.matrix.failures import output_kind
from canary.matrix.sources.npm import explain_npm

CORE = "@canary-fake/core"


def load_in_cell(cell_dir: Path, package: str, names: list[str]) -> dict:
    """What the installed connector really exports, from Node itself."""
    script = (
        f"import('{package}').then(m => console.log(JSON.stringify("
        f"Object.fromEntries({json.dumps(names)}.map(n => [n, m[n]])))))"
    )
    out = subprocess.run(["node", "-e", script], cwd=cell_dir, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def install(fake, tmp_path: Path, plugin: str, core_version: str, **kw):
    return prepare_node_cell(
        tmp_path / "cell",
        plugin,
        fake.tgz(plugin, "0.1.0"),
        CORE,
        fake.tgz(CORE, core_version),
        core_version,
        npm_cache=fake.npm_cache,
        **kw,
    )


def test_forced_core_is_the_one_the_connector_loads(fake_registry_env, tmp_path):
    # The connector asks for ^2.0.0 as a plain dependency; the cell forces 1.0.0.
    cell = install(fake_registry_env, tmp_path, "@canary-fake/plugin", "1.0.0")
    assert cell.resolved == "1.0.0"
    assert [c["version"] for c in cell.copies] == ["1.0.0"]
    assert load_in_cell(cell.install_dir, "@canary-fake/plugin", ["VERSION"]) == {"VERSION": "1.0.0"}
    assert cell.declared == "^2.0.0"
    assert cell.unsupported is True  # 1.0.0 is outside ^2.0.0: runs, but is reported as unsupported


def test_nested_copies_are_forced_too(fake_registry_env, tmp_path):
    cell = install(fake_registry_env, tmp_path, "@canary-fake/plugin-nested", "1.0.0")
    assert {c["version"] for c in cell.copies} == {"1.0.0"}
    # npm ls sees the core through the connector and through the nested library, always 1.0.0.
    vias = {entry["via"]: entry["version"] for entry in cell.npm_ls}
    assert vias["@canary-fake/plugin-nested > @canary-fake/mid > @canary-fake/core"] == "1.0.0"
    assert load_in_cell(cell.install_dir, "@canary-fake/plugin-nested", ["VERSION", "MID_CORE"]) == {
        "VERSION": "1.0.0",
        "MID_CORE": "1.0.0",
    }


def test_without_overrides_the_nested_copy_is_caught(fake_registry_env, tmp_path):
    # What a naive `npm install core@1 connector` does: npm nests 2.0.0 under the connector.
    with pytest.raises(CoreMismatch) as exc:
        install(fake_registry_env, tmp_path, "@canary-fake/plugin-nested", "1.0.0", force=False)
    assert "loads @canary-fake/core 2.0.0" in exc.value.reason
    assert "node_modules/@canary-fake/plugin-nested/node_modules/@canary-fake/core" in exc.value.reason
    # ... and Node really would have loaded the wrong core: the check is not a false alarm.
    loaded = load_in_cell(tmp_path / "cell", "@canary-fake/plugin-nested", ["VERSION"])
    assert loaded == {"VERSION": "2.0.0"}


def test_core_inside_declared_range_is_supported(fake_registry_env, tmp_path):
    cell = install(fake_registry_env, tmp_path, "@canary-fake/plugin", "2.0.0")
    assert (cell.resolved, cell.unsupported) == ("2.0.0", False)


def test_missing_version_is_an_infrastructure_error_naming_it(fake_registry_env, tmp_path):
    with pytest.raises(InfrastructureError) as exc:
        install(fake_registry_env, tmp_path, "@canary-fake/plugin-missing", "2.0.0")
    assert exc.value.reason.startswith("install: dependency not in registry: @canary-fake/mid@^9.0.0")
    assert not isinstance(exc.value, CoreMismatch)


def test_missing_package_is_an_infrastructure_error_naming_it(fake_registry_env, tmp_path):
    with pytest.raises(InfrastructureError) as exc:
        install(fake_registry_env, tmp_path, "@canary-fake/plugin-absent", "2.0.0")
    assert "dependency not in registry: @canary-fake/absent" in exc.value.reason


def test_unreachable_registry_is_an_infrastructure_error(fake_npm, tmp_path, monkeypatch):
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens on port 9
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    # plugin-nested needs @canary-fake/mid from the registry (the core itself is a local tarball).
    with pytest.raises(InfrastructureError) as exc:
        prepare_node_cell(
            tmp_path / "cell",
            "@canary-fake/plugin-nested",
            fake_npm.tgz("@canary-fake/plugin-nested", "0.1.0"),
            CORE,
            fake_npm.tgz(CORE, "1.0.0"),
            "1.0.0",
            npm_cache=tmp_path / "empty-cache",
        )
    assert exc.value.reason == "install: registry unreachable (ECONNREFUSED)"


def test_cell_manifest_forces_the_core_by_reference(tmp_path):
    m = cell_manifest("conn", tmp_path / "c.tgz", "@x/core", tmp_path / "core.tgz", [("@x/sql", "1.2.3")])
    assert m["dependencies"]["@x/core"] == f"file:{(tmp_path / 'core.tgz').resolve()}"
    assert m["dependencies"]["@x/sql"] == "1.2.3"
    assert m["overrides"] == {"@x/core": "$@x/core"}
    assert "--ignore-scripts" in install_argv(tmp_path)
    assert "--ignore-scripts" not in install_argv(tmp_path, scripts=True)


def test_verify_refuses_a_copy_from_another_tarball(tmp_path):
    info = {
        "connector_dir": "/x",
        "resolved": "1.0.0",
        "resolved_path": "/x/core",
        "copies": [],
        "locked_from": "file:../other-core-1.0.0.tgz",
    }
    with pytest.raises(CoreMismatch, match="not from core-1.0.0.tgz"):
        verify(info, "conn", "core", "1.0.0", tmp_path / "core-1.0.0.tgz")


@pytest.mark.parametrize(
    "lines, reason",
    [
        (
            ["npm error code ETARGET", "npm error notarget No matching version found for ox@0.14.67."],
            "install: dependency not in registry: ox@0.14.67",
        ),
        (
            [
                "npm error code E404",
                "npm error 404 Not Found - GET http://127.0.0.1/@x%2fnope - Not found",
                "npm error 404",
                "npm error 404  '@x/nope@^1.0.0' is not in this registry.",
            ],
            "install: dependency not in registry: @x/nope@^1.0.0",
        ),
        (
            ["npm error code ENOTFOUND", "npm error network request failed, reason: getaddrinfo ENOTFOUND"],
            "install: registry unreachable (ENOTFOUND)",
        ),
        (["npm error code ETIMEDOUT"], "install: registry unreachable (ETIMEDOUT)"),
        (["npm error code ERESOLVE", "npm error ERESOLVE unable to resolve dependency tree"], None),
    ],
)
def test_explain_npm_names_the_cause(lines, reason):
    kind = output_kind("install", "\n".join(lines))  # the kind the failure records
    assert explain_npm("install", kind, lines) == reason
