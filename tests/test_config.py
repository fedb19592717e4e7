"""matrix.yaml validation: every mistake is one clear line naming file:line:column and key, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from canary.matrix import config
from canary.kernel.errors import UserError
from tests.conftest import ROOT, canary

GOOD = """\
core:
  name: democore
  ecosystem: pypi
  versions: ["1.0.0", "2.0.0"]
  baseline: "1.0.0"
connectors:
  - name: alpha
    git: {url: ./alpha, refs: [main, next]}
    test: [python, -m, unittest]
    timeout: 2m
    tier: optional
    skip:
      - {core: ">=2", reason: "not ported"}
waivers:
  - {cell: "alpha@main--*", reason: "known", expires: 2030-01-01}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    return path


def test_good_file_builds_the_matrix(tmp_path):
    m = config.load(write(tmp_path, GOOD))
    assert [v.label for v in m.core.versions] == ["1.0.0", "2.0.0"]
    assert m.core.baseline.label == "1.0.0"
    alpha = m.connector("alpha")
    assert alpha.source.refs == ("main", "next")
    assert alpha.source.url == str((tmp_path / "alpha").resolve())
    assert alpha.test == (("python", "-m", "unittest"),)
    assert alpha.timeout == 120.0 and alpha.tier == "optional"
    assert alpha.skip[0].core == ">=2"
    assert m.waivers[0].expires == "2030-01-01"  # a YAML date becomes an ISO string


@pytest.mark.parametrize(
    "old,new,line,key,words",
    [
        (
            "    test: [python, -m, unittest]",
            "    tset: [python, -m, unittest]",
            9,
            "connectors[0].tset",
            "did you mean 'test'",
        ),
        ("  ecosystem: pypi", "  ecosystem: pip", 3, "core.ecosystem", "expected one of 'pypi', 'npm'"),
        ('  baseline: "1.0.0"', '  baseline: "1.5.0"', 5, "core.baseline", "not one of the core versions"),
        ("    timeout: 2m", "    timeout: soon", 10, "connectors[0].timeout", "soon"),
        (
            '      - {core: ">=2", reason: "not ported"}',
            '      - {core: ">>2", reason: "x"}',
            13,
            "connectors[0].skip[0].core",
            "not a valid pypi version range",
        ),
        ('  versions: ["1.0.0", "2.0.0"]', '  versions: ["1.0.0", "1.0.0"]', 4, "core.versions[1]", "listed twice"),
    ],
)
def test_mistakes_name_line_and_key(tmp_path, old, new, line, key, words):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(UserError) as info:
        config.load(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == line, str(err)
    assert err.key == key, str(err)
    assert words in str(err)


def test_missing_test_command(tmp_path):
    path = write(tmp_path, GOOD.replace("    test: [python, -m, unittest]\n", ""))
    with pytest.raises(UserError) as info:
        config.load(path)
    assert "missing required key 'test'" in str(info.value)
    assert info.value.line == 7 and info.value.key == "connectors[0]"


def test_two_sources_are_refused(tmp_path):
    path = write(
        tmp_path,
        GOOD.replace(
            "    git: {url: ./alpha, refs: [main, next]}", "    git: {url: ./alpha, refs: [main]}\n    path: ./alpha"
        ),
    )
    with pytest.raises(UserError, match="exactly one source"):
        config.load(path)


def test_yaml_syntax_error_has_position(tmp_path):
    path = write(tmp_path, GOOD.replace("  name: democore", "  name: [democore"))
    with pytest.raises(UserError) as info:
        config.load(path)
    assert "not valid YAML" in str(info.value) and info.value.line is not None


def test_cli_error_is_one_line_exit_2_no_traceback(tmp_path):
    path = write(tmp_path, GOOD.replace("    test:", "    tset:"))
    proc = canary("plan", "-c", str(path), "--no-check-refs")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{path}:9:5: key 'connectors[0].tset': unknown key 'tset' (did you mean 'test'?)" in lines[0]


def test_missing_file_is_a_clear_error(tmp_path):
    proc = canary("plan", "-c", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2 and "matrix file not found" in proc.stderr and "Traceback" not in proc.stderr


def test_shipped_schema_is_valid_and_accepts_the_default_matrix():
    schema = json.loads((ROOT / "matrix" / "schemas" / "matrix.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    default = ROOT / "matrix.yaml"
    if default.exists():
        data = (
            config._plain(yaml.safe_load(default.read_text()))
            if hasattr(config, "_plain")
            else yaml.safe_load(default.read_text())
        )
        jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(data, default=str)))
