"""The elizaOS registry importer: generated-registry.json -> matrix.yaml connectors."""

from __future__ import annotations

import json

import pytest

from canary.matrix import config
from canary.kernel.errors import UserError
from canary.matrix.sources import elizaos_registry as reg
from tests.conftest import canary

# A small registry in the generated-registry.json format (written for this test).
FIXTURE = {
    "lastUpdatedAt": "2026-01-01T00:00:00Z",
    "registry": {
        "@elizaos/plugin-discord": {
            "git": {
                "repo": "elizaos-plugins/plugin-discord",
                "v0": {"version": "0.25.6", "branch": "0.x"},
                "v1": {"version": "1.3.8", "branch": "1.x"},
                "alpha": {"version": "2.0.0-alpha.3", "branch": "next"},
            },
            "npm": {
                "repo": "@elizaos/plugin-discord",
                "v0": "0.25.6",
                "v1": "1.3.8",
                "alpha": "2.0.0-alpha.3",
                "v0CoreRange": "^0.25.0",
                "v1CoreRange": "^1.7.2",
                "alphaCoreRange": "2.0.0-alpha.3",
            },
            "supports": {"v0": True, "v1": True, "alpha": True},
            "description": "Discord",
            "topics": [],
            "stargazers_count": 10,
            "language": "TypeScript",
        },
        "@elizaos/plugin-telegram": {
            "git": {
                "repo": "elizaos-plugins/plugin-telegram",
                "v0": {"version": None, "branch": None},
                "v1": {"version": "1.6.4", "branch": "1.x"},
                "alpha": {"version": None, "branch": None},
            },
            "npm": {
                "repo": "@elizaos/plugin-telegram",
                "v0": None,
                "v1": "1.6.4",
                "alpha": None,
                "v0CoreRange": None,
                "v1CoreRange": "^1.7.2",
                "alphaCoreRange": None,
            },
            "supports": {"v0": False, "v1": True, "alpha": False},
        },
        "@elizaos/plugin-farcaster": {
            "git": {
                "repo": "elizaos-plugins/plugin-farcaster",
                "v0": {"version": "0.25.0", "branch": "0.x"},
                "v1": {"version": "1.7.2", "branch": "1.x"},
                "alpha": {"version": None, "branch": None},
            },
            "npm": {
                "repo": "@elizaos/plugin-farcaster",
                "v0": "0.25.0",
                "v1": "1.7.2",
                "alpha": None,
                "v1CoreRange": "^1.7.0",
            },
            "supports": {"v0": True, "v1": True, "alpha": False},
        },
        "@someone/plugin-old": {
            "git": {
                "repo": "someone/plugin-old",
                "v0": {"version": "0.1.0", "branch": "main"},
                "v1": {"version": None, "branch": None},
            },
            "npm": {"repo": "@someone/plugin-old", "v0": "0.1.0", "v1": None, "v1CoreRange": None},
            "supports": {"v0": True, "v1": False},
        },
    },
}


def test_parse_reads_bands_versions_branches_and_core_ranges():
    plugins = {p.name: p for p in reg.parse(json.dumps(FIXTURE))}
    discord = plugins["@elizaos/plugin-discord"]
    assert discord.repo == "elizaos-plugins/plugin-discord"
    assert discord.npm["v1"] == "1.3.8" and discord.npm["alpha"] == "2.0.0-alpha.3"
    assert discord.core_range["v1"] == "^1.7.2"
    assert discord.git["v0"] == {"version": "0.25.6", "branch": "0.x"}
    assert plugins["@elizaos/plugin-telegram"].supports == {"v0": False, "v1": True, "alpha": False}


def test_list_form_with_ids_is_accepted():
    entries = [{"id": name, **entry} for name, entry in FIXTURE["registry"].items()]
    assert [p.name for p in reg.parse(json.dumps(entries))] == list(FIXTURE["registry"])


def test_npm_connectors_of_a_band_skip_plugins_without_it():
    entries = reg.connectors(reg.parse(json.dumps(FIXTURE)), band="v1", required=["plugin-discord"])
    assert [e["package"] for e in entries] == [
        "@elizaos/plugin-discord",
        "@elizaos/plugin-telegram",
        "@elizaos/plugin-farcaster",
    ]
    discord = entries[0]
    assert discord["npm"] == {"versions": ["1.3.8"]} and discord["tier"] == "required"
    assert discord["test"] == ["node", "--liftoff-only", "{scenarios}/elizaos/discord.mjs"]
    assert entries[2]["test"][-1].endswith("/load.mjs") and entries[2]["tier"] == "optional"


def test_git_connectors_take_the_band_branch():
    entries = reg.connectors(reg.parse(json.dumps(FIXTURE)), band="v0", source="git", git_base="https://git.example")
    assert [(e["name"], e["git"]["refs"]) for e in entries] == [
        ("plugin-discord", ["0.x"]),
        ("plugin-farcaster", ["0.x"]),
        ("plugin-old", ["main"]),
    ]
    assert entries[0]["git"]["url"] == "https://git.example/elizaos-plugins/plugin-discord"


def test_unknown_name_and_bad_json_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not in the registry: plugin-nope"):
        reg.connectors(reg.parse(json.dumps(FIXTURE)), names=["plugin-nope"])
    bad = tmp_path / "generated-registry.json"
    bad.write_text('{"registry": {\n  "@x/p": {"git": }\n}}')
    with pytest.raises(UserError) as exc:
        reg.load(bad)
    assert (exc.value.file, exc.value.line) == (str(bad), 2)


def test_import_registry_writes_a_matrix_the_loader_accepts(tmp_path):
    src = tmp_path / "generated-registry.json"
    src.write_text(json.dumps(FIXTURE))
    out = tmp_path / "matrix.yaml"
    proc = canary(
        "import-registry",
        str(src),
        "--names",
        "plugin-discord",
        "plugin-telegram",
        "--required",
        "plugin-discord",
        "--core-versions",
        "1.6.4,1.7.2",
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    matrix = config.load(out)
    assert [c.package for c in matrix.connectors] == ["@elizaos/plugin-discord", "@elizaos/plugin-telegram"]
    assert matrix.connectors[0].source.refs == ("1.3.8",) and matrix.connectors[0].tier == "required"
    assert matrix.core.baseline.label == "1.6.4"
    assert [c.name for c in matrix.core.companions] == ["@elizaos/plugin-sql"]
