"""Unit parts of promote: tag versions, durations, the changelog and pyproject edits, the schemas."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from canary.kernel.errors import UserError
from canary.kernel.durations import format_duration, parse_duration
from canary.promote.files import changelog_has, plan_changelog, plan_pyproject
from canary.promote.versions import normalize_target, parse_tag, same_release


@pytest.mark.parametrize(
    "tag,style,release,release_tag",
    [
        ("v1.7.1-beta.2", "npm", "1.7.1", "v1.7.1"),
        ("1.7.1-beta.2", "npm", "1.7.1", "1.7.1"),
        ("1.7.1-rc.1+build.7", "npm", "1.7.1", "1.7.1"),
        ("1.7.1b2", "pep440", "1.7.1", "1.7.1"),
        ("v1.7.1rc1", "pep440", "1.7.1", "v1.7.1"),
        ("1.7.1.dev3", "pep440", "1.7.1", "1.7.1"),
        ("2.0a1", "pep440", "2.0", "2.0"),
        ("core-v2.0.0-alpha.4", "npm", "2.0.0", "core-v2.0.0"),
        ("@elizaos/core@1.7.3-alpha.4", "npm", "1.7.3", "@elizaos/core@1.7.3"),
    ],
)
def test_prerelease_tags(tag, style, release, release_tag):
    parsed = parse_tag(tag)
    assert parsed.prerelease and parsed.style == style
    assert parsed.release == release and parsed.release_tag == release_tag


@pytest.mark.parametrize("tag", ["v1.7.1", "1.7.1", "1.7.1.post1", "1.7.1+build.5", "2.0"])
def test_releases_are_not_prereleases(tag):
    assert parse_tag(tag).prerelease is False


@pytest.mark.parametrize("tag", ["release", "latest", "v", ""])
def test_non_versions(tag):
    assert parse_tag(tag) is None


@pytest.mark.parametrize("to,ok", [("1.7.1", True), ("v1.7.1", True), ("1.7.2", False), ("1.7.1-beta.2", False)])
def test_to_against_npm_release(to, ok):
    parsed = parse_tag("v1.7.1-beta.2")
    assert same_release(normalize_target(to, parsed), parsed.release, parsed.style) is ok


@pytest.mark.parametrize("to,ok", [("1.7.1", True), ("1.7.1.0", True), ("1.7.1rc1", False), ("1.8", False)])
def test_to_against_pep440_release(to, ok):
    parsed = parse_tag("1.7.1rc1")
    assert same_release(normalize_target(to, parsed), parsed.release, parsed.style) is ok


@pytest.mark.parametrize(
    "text,seconds",
    [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600), ("1d12h", 129600), ("1.5h", 5400)],
)
def test_durations(text, seconds):
    assert parse_duration(text, "--max-age") == seconds


@pytest.mark.parametrize("text", ["", "soon", "10", "5x", "h1", "1d-2h"])
def test_bad_durations_name_the_option(text):
    with pytest.raises(UserError) as err:
        parse_duration(text, "--soak")
    assert err.value.key == "--soak"


def test_format_duration():
    assert [format_duration(s) for s in (5, 90, 3600 * 5 + 120, 86400 * 2 + 7200, 86400 * 14)] == [
        "5s",
        "1m",
        "5h2m",
        "2d2h",
        "2w",
    ]


ENTRY = "## v1.7.1 (2026-11-21)\n\nPromoted.\n"


def test_changelog_entry_goes_above_the_previous_release(tmp_path):
    path = tmp_path / "CHANGELOG.md"
    path.write_text("# Changelog\n\nAll notable changes.\n\n## v1.7.0 (2026-10-01)\n\n- old\n")
    text = plan_changelog(path, "v1.7.1", "1.7.1", ENTRY)
    assert text == (
        "# Changelog\n\nAll notable changes.\n\n## v1.7.1 (2026-11-21)\n\nPromoted.\n\n"
        "## v1.7.0 (2026-10-01)\n\n- old\n"
    )
    path.write_text(text)
    assert plan_changelog(path, "v1.7.1", "1.7.1", ENTRY) is None


def test_changelog_without_releases_and_new_file(tmp_path):
    path = tmp_path / "CHANGES.md"
    assert plan_changelog(path, "v1.7.1", "1.7.1", ENTRY) == "# Changelog\n\n" + ENTRY
    path.write_text("# Changes")
    assert plan_changelog(path, "v1.7.1", "1.7.1", ENTRY) == "# Changes\n\n" + ENTRY


@pytest.mark.parametrize(
    "heading,found",
    [
        ("## [1.7.1] - 2026-11-21", True),
        ("## 1.7.1", True),
        ("## v1.7.1 (x)", True),
        ("## 1.7.10", False),
        ("## 1.7.1-beta.2", False),
    ],
)
def test_changelog_release_headings(heading, found):
    assert changelog_has(f"# C\n\n{heading}\n", "v1.7.1", "1.7.1") is found


def test_pyproject_poetry_and_errors(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.poetry]\nname = "x"\nversion = "1.7.1rc1"  # bumped by canary\n')
    text, current = plan_pyproject(path, "1.7.1")
    assert current == "1.7.1rc1" and text == '[tool.poetry]\nname = "x"\nversion = "1.7.1"  # bumped by canary\n'
    path.write_text('[project]\nname = "x"\ndynamic = ["version"]\n')
    with pytest.raises(UserError, match="dynamic"):
        plan_pyproject(path, "1.7.1")
    path.write_text('[project\nname = "x"\n')
    with pytest.raises(UserError) as err:
        plan_pyproject(path, "1.7.1")
    assert err.value.file == str(path) and err.value.line == 1


@pytest.mark.parametrize("name", ["promotion.schema.json", "evidence.schema.json"])
def test_schemas_are_valid_json_schemas(name):
    doc = json.loads(resources.files("canary.promote").joinpath(f"schemas/{name}").read_text())
    jsonschema.Draft202012Validator.check_schema(doc)


def _result(source: str, ref: str, commit: str | None = None):
    from canary.matrix.results import CellResult, ConnectorRecord, CoreRecord

    return CellResult(
        run_id="r",
        cell_id=f"c@{ref}--core-x",
        tier="required",
        role="candidate",
        core=CoreRecord(name="core", label="x", kind="git"),
        connector=ConnectorRecord(name="c", package="c", source=source, ref=ref, commit=commit),
        status="pass",
    )


@pytest.mark.parametrize(
    "source,ref,state",
    [
        ("npm", "1.3.8", "immutable"),
        ("pypi", "2.0.0rc1", "immutable"),
        ("npm", "latest", "unchecked"),
        ("path", "/src/plugin", "unchecked"),
        ("git", "a" * 40, "immutable"),
        ("git", "main", "unchecked"),
    ],
)
def test_ref_states_without_a_remote(source, ref, state):
    from canary.promote.freshness import ref_states

    [st] = ref_states([_result(source, ref, commit="b" * 40)], urls={})
    assert st.state == state


def test_ref_states_tag_and_missing_ref_on_a_real_remote(tmp_path, monkeypatch):
    import subprocess

    from canary.promote.freshness import ref_states

    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    env = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@x.invalid",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@x.invalid",
        "PATH": "/usr/bin:/bin",
        "GIT_CONFIG_GLOBAL": "/dev/null",
    }
    repo = tmp_path / "conn"
    for argv in (
        ["init", "-q", "-b", "main", str(repo)],
        ["-C", str(repo), "commit", "-q", "--allow-empty", "-m", "x"],
        ["-C", str(repo), "tag", "-a", "v1.0.0", "-m", "t"],
    ):
        subprocess.run(["git", *argv], check=True, env=env)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    states = ref_states([_result("git", "v1.0.0", head), _result("git", "gone", head)], urls={"c": str(repo)})
    assert [s.state for s in states] == ["unchanged", "moved"]
    assert "no longer exists" in states[1].reason
