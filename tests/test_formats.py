"""Output formats CI tools read: JUnit (Jenkins schema), report.md on GitHub, SARIF for code scanning."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import xmlschema

from canary import reports
from tests.conftest_reports import DIFF, big_specs, write_run
from canary.kernel import sarif
from canary.cli import main
from canary.reports import markdown
from canary.compat.document import load_diff
from canary.reports.model import build

XSD = Path(__file__).parent / "data" / "jenkins-junit.xsd"


# ---------------------------------------------------------------- JUnit


def test_junit_is_valid_against_the_jenkins_schema(demo_store, tmp_path):
    schema = xmlschema.XMLSchema(str(XSD))
    store, run, diff = demo_store
    path = reports.render_all(run, ["junit"], tmp_path / "out")["junit"]
    errors = list(schema.iter_errors(str(path)))
    assert errors == [], "\n".join(str(e.reason) for e in errors[:5])
    # The schema is strict: what the report wrote before (properties inside a testcase,
    # `skipped` on testsuites) is refused.
    text = path.read_text().replace("<testsuites ", '<testsuites skipped="3" ', 1)
    text = text.replace("<system-out>", '<properties><property name="a" value="b"/></properties><system-out>', 1)
    (tmp_path / "old.xml").write_text(text)
    assert len(list(schema.iter_errors(str(tmp_path / "old.xml")))) >= 2


# ---------------------------------------------------------------- report.md


def _outside_code(text: str) -> str:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"(`+).+?\1", "", text)


def test_markdown_types_render_as_written_and_info_rows_fold(demo_store, tmp_path):
    store, run, _ = demo_store
    doc = json.loads(json.dumps(DIFF))
    doc["changes"] = [
        {
            "rule": "TS010",
            "severity": "ERR",
            "symbol": "IAgentRuntime.getRoom",
            "renamed_to": None,
            "message": "return type changed from Promise<Room> to Promise<unknown>",
        },
        {
            "rule": "TS011",
            "severity": "ERR",
            "symbol": "Service<T | undefined>",
            "renamed_to": "Service<T>",
            "message": "type parameter changed",
        },
        {
            "rule": "TS001",
            "severity": "INFO",
            "symbol": "IAgentRuntime.newHelper",
            "renamed_to": None,
            "message": "added",
        },
    ]
    diff = tmp_path / "diff.json"
    diff.write_text(json.dumps(doc))
    text = markdown.render(build(run, diff=load_diff(diff)))
    # Inside a code span GitHub shows the text as written: `<` must stay `<` (no &lt;).
    assert "`Service<T \\| undefined>` → `Service<T>`" in text
    # Outside code, an unescaped <unknown> would be swallowed as an HTML tag.
    prose = _outside_code(text)
    assert "Promise&lt;unknown&gt;" in prose
    tags = set(re.findall(r"</?([A-Za-z][\w-]*)", prose))
    assert tags <= {"details", "summary"}, tags
    # ERR rows (no connector uses them here: the folded "other" section), INFO rows folded in
    # their own closed <details>, never among the breaking rows.
    breaking = text.index("Other breaking changes of core")
    assert "(2)</summary>" in text[breaking : breaking + 200]
    info = text.index("<details><summary>Compatible changes of core")
    assert "(INFO, 1)</summary>" in text[info : info + 200]
    assert breaking < info and "IAgentRuntime.newHelper" in text[info:]
    assert "IAgentRuntime.newHelper" not in text[breaking:info]
    # Changes no connector uses and no failure names are folded (issue 15): closed, not open.
    assert "<details><summary>Other breaking changes of core" in text


def test_markdown_never_exceeds_githubs_limit(tmp_path):
    run = write_run(
        tmp_path / "runs",
        "20261121T090000Z-eeeeee",
        big_specs(connectors=120, fail_every=1),
        candidates=("1.7.0", "1.7.2", "2.0.0-alpha.1"),
    )
    doc = json.loads(json.dumps(DIFF))
    doc["changes"] = [
        {"rule": "TS001", "severity": sev, "symbol": f"Sym{i}<{'A' * 100}>", "renamed_to": None, "message": "m" * 180}
        for i, sev in enumerate(["ERR", "INFO"] * 800)
    ]
    diff = tmp_path / "diff.json"
    diff.write_text(json.dumps(doc))
    report = build(run, diff=load_diff(diff))
    for limit in (markdown.GITHUB_LIMIT, markdown.MAX_CHARS, 3000):
        text = markdown.render(report, max_chars=limit)
        assert len(text) <= limit
        assert text.count("<details") == text.count("</details>") and text.count("```") % 2 == 0


# ---------------------------------------------------------------- SARIF


def _git_repo(root: Path) -> Path:
    import git

    git.Repo.init(root)
    return root


def test_lint_sarif_paths_are_relative_to_the_repository_root(tmp_path, monkeypatch, capsys):
    repo = _git_repo(tmp_path / "repo")
    core = repo / "packages" / "core"
    (core / "src").mkdir(parents=True)
    (core / "src" / "index.ts").write_text("const x = room.serverId;\n")
    monkeypatch.chdir(core)
    main(["lint", "src", "-m", "elizaos-server-id", "--format", "sarif"])
    doc = json.loads(capsys.readouterr().out)
    driver = doc["runs"][0]["tool"]["driver"]
    from canary import __version__

    assert driver["name"] == "canary-codemods" and driver["version"] == __version__
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc == {"uri": "packages/core/src/index.ts", "uriBaseId": "SRCROOT"}
    assert "SRCROOT" in doc["runs"][0]["originalUriBaseIds"]
    fix = doc["runs"][0]["results"][0]["fixes"][0]["artifactChanges"][0]["artifactLocation"]
    assert fix["uri"] == "packages/core/src/index.ts"


def test_diff_sarif_paths_are_relative_to_the_repository_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))
    repo = _git_repo(tmp_path / "repo")
    old, new = tmp_path / "old", repo / "packages" / "core"
    for side, body in (
        (old, "export interface Room { serverId: string; }\n"),
        (new, "export interface Room { messageServerId: string; }\n"),
    ):
        (side / "src").mkdir(parents=True)
        (side / "src" / "index.d.ts").write_text(body)
        (side / "package.json").write_text('{"name": "core", "version": "1.0.0", "types": "src/index.d.ts"}')
    main(["diff", str(old), str(new), "--format", "sarif"])
    doc = json.loads(capsys.readouterr().out)
    run0 = doc["runs"][0]
    assert run0["tool"]["driver"]["name"] == "canary-compat" and run0["tool"]["driver"]["version"]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run0["results"] if r.get("locations")
    }
    assert uris and all(u.startswith("packages/core/") for u in uris), uris
    assert all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "SRCROOT"
        for r in run0["results"]
        if r.get("locations")
    )


@pytest.mark.parametrize(
    "file,base,expect",
    [("src/a.ts", None, "src/a.ts"), ("./src/a.ts", None, "src/a.ts"), ("src\\a.ts", None, "src/a.ts")],
)
def test_repo_uri_without_a_repository(file, base, expect):
    assert sarif.repo_uri(file, base) == expect
