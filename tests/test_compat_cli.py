"""`canary diff`: sides, formats, exit codes, config, baseline, semver, schema, rule docs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import git
import jsonschema
import pytest

from canary.compat.rules import RULES
from canary.compat.semver import step, verdict
from canary.cli import main

try:  # tests/ may or may not be a package
    from tests.test_compat_ts import NEW, OLD, write_tree
except ImportError:  # pragma: no cover
    from test_compat_ts import NEW, OLD, write_tree

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "compat" / "schemas" / "diff.schema.json").read_text())


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    return str(write_tree(base / "old", OLD)), str(write_tree(base / "new", NEW))


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    # keep caches of git/npm sides out of the repository
    monkeypatch.setenv("CANARY_HOME", str(tmp_path / "home"))


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_output_validates_against_the_schema(pair, capsys):
    code, out, _ = run(capsys, *pair, "--format", "json")
    assert code == 1
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert doc["schema"] == "canary/compat-diff/v1" and doc["language"] == "ts"
    assert doc["old"]["version"] == "1.0.0" and doc["new"]["version"] == "1.0.1"
    assert doc["summary"]["ERR"] == sum(1 for c in doc["changes"] if c["severity"] == "ERR")
    assert doc["semver"] == {"old": "1.0.0", "new": "1.0.1", "step": "patch", "required": "major", "sufficient": False}
    c = next(c for c in doc["changes"] if c["symbol"] == "IAgentRuntime.ensureConnection(params).serverId")
    assert (c["container"], c["member"], c["renamed_to"]) == (
        "IAgentRuntime.ensureConnection",
        "serverId",
        "messageServerId",
    )


def test_schema_rejects_a_change_without_rule(pair, capsys):
    _, out, _ = run(capsys, *pair, "--format", "json")
    doc = json.loads(out)
    del doc["changes"][0]["rule"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_text_groups_by_severity(pair, capsys):
    code, out, _ = run(capsys, *pair)
    assert code == 1
    err_at, warn_at, info_at = out.index("Breaking (ERR):"), out.index("Warnings (WARN):"), out.index("Notes (INFO):")
    assert err_at < warn_at < info_at
    assert "World.serverId" in out[warn_at:info_at] and "renamed to messageServerId" in out[warn_at:info_at]
    assert "semver: 1.0.0 -> 1.0.1 is a patch step; major required: NOT enough" in out


def test_markdown_keeps_generic_types_visible_in_messages(pair, capsys):
    """GitHub drops `<unknown>` from `Promise<unknown>` in prose as an unknown HTML tag: messages
    carry entities; symbols stay in code spans, written as they are."""
    from canary.compat.render import markdown

    _, out, _ = run(capsys, *pair, "--format", "json")
    doc = json.loads(out)
    change = doc["changes"][0]
    change["message"] = "return type changed from Promise<unknown> to Promise<void> & Disposable"
    change["symbol"] = "Service<T>.start"
    md = markdown(doc)
    assert "Promise&lt;unknown&gt; to Promise&lt;void&gt; &amp; Disposable" in md
    assert "`Service<T>.start`" in md
    assert "Promise<unknown>" not in md


def test_github_annotations_name_paths_from_the_repository_root(capsys, tmp_path):
    """A core inside a monorepo (`packages/core`): annotations must say `packages/core/dist/...`,
    the path GitHub knows, not the path inside the package."""
    repo = tmp_path / "mono"
    git.Repo.init(repo)
    old = write_tree(tmp_path / "old", OLD)
    new = write_tree(repo / "packages" / "core", NEW)
    code, gh, _ = run(capsys, str(old), str(new), "--format", "github")
    assert code == 1
    files = [ln.split("file=", 1)[1].split(",", 1)[0] for ln in gh.splitlines() if "file=" in ln]
    assert files and all(f.startswith("packages/core/") for f in files), files


def test_markdown_sarif_github(pair, capsys, tmp_path):
    _, md, _ = run(capsys, *pair, "--format", "markdown")
    assert md.startswith("### Breaking-change check") and "| TS007 `parameter-property-removed` |" in md
    _, gh, _ = run(capsys, *pair, "--format", "github")
    lines = gh.strip().splitlines()
    assert all(re.match(r"^::(error|warning|notice) file=[^,]+,line=\d+,title=[^:]+::", ln) for ln in lines)
    assert any(ln.startswith("::error file=dist/types/runtime.d.ts") and "ensureConnection" in ln for ln in lines)
    out_file = tmp_path / "r" / "compat.sarif"
    code, stdout, _ = run(capsys, *pair, "--format", "sarif", "--output", str(out_file))
    assert code == 1 and stdout == ""
    sarif = json.loads(out_file.read_text())
    assert sarif["version"] == "2.1.0"
    run0 = sarif["runs"][0]
    rule_ids = [r["id"] for r in run0["tool"]["driver"]["rules"]]
    for res in run0["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        assert res["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_exit_codes_and_fail_on(tmp_path, capsys):
    old = write_tree(tmp_path / "o", {"index.d.ts": "export interface A { x: string; }\n"})
    warn_only = write_tree(tmp_path / "w", {"index.d.ts": "export interface A { x?: string; }\n"})
    assert run(capsys, str(old), str(old))[0] == 0
    assert run(capsys, str(old), str(warn_only))[0] == 0  # WARN < default --fail-on ERR
    assert run(capsys, str(old), str(warn_only), "--fail-on", "WARN")[0] == 1
    code, _, err = run(capsys, str(old), str(tmp_path / "missing"))
    assert code == 2 and "is not a directory" in err


def test_usage_error_exit_2_from_the_real_entry_point(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "canary.cli", "diff", "only-one"], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2 and "usage" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "canary.cli", "diff", "npm:nopkg", "npm:nopkg"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "npm side needs a version" in proc.stderr and "Traceback" not in proc.stderr


def test_config_overrides_severity_and_bad_config_names_file_line_key(pair, tmp_path, capsys):
    cfg = tmp_path / "compat.yaml"
    cfg.write_text("severity:\n  TS004: ERR\n  export-added: off\n")
    _, out, _ = run(capsys, *pair, "--format", "json", "--config", str(cfg))
    doc = json.loads(out)
    optional = [c for c in doc["changes"] if c["rule"] == "TS004"]
    assert optional and all(c["severity"] == "ERR" and c["default_severity"] == "WARN" for c in optional)
    assert not [c for c in doc["changes"] if c["rule"] == "TS020"]
    cfg.write_text("severity:\n  TS004: LOUD\n")
    code, _, err = run(capsys, *pair, "--config", str(cfg))
    assert code == 2 and f"{cfg}:2" in err and "severity.TS004" in err
    cfg.write_text("renames:\n  a: b\nbogus: 1\n")
    code, _, err = run(capsys, *pair, "--config", str(cfg))
    assert code == 2 and f"{cfg}:3" in err and "bogus" in err


def test_config_renames_and_ignore_through_the_cli(tmp_path, capsys):
    old = write_tree(tmp_path / "o", {"index.d.ts": "export interface A { alpha: string; internalX: number; }\n"})
    new = write_tree(tmp_path / "n", {"index.d.ts": "export interface A { zeta: string; }\n"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("renames:\n  A.alpha: zeta\nignore:\n  - '*.internal*'\n")
    code, out, _ = run(capsys, str(old), str(new), "--config", str(cfg), "--format", "json")
    doc = json.loads(out)
    assert code == 1
    assert [(c["symbol"], c["renamed_to"], c["rename_evidence"]) for c in doc["changes"]] == [
        ("A.alpha", "zeta", "declared")
    ]


def test_baseline_accepts_known_breaks_until_expiry(tmp_path, capsys):
    old = write_tree(tmp_path / "o", {"index.d.ts": "export interface A { x: string; y: number; }\n"})
    new = write_tree(tmp_path / "n", {"index.d.ts": "export interface A { y: number; }\n"})
    base = tmp_path / "baseline.yaml"
    base.write_text(
        "accepted:\n  - rule: TS002\n    symbol: A.x\n    reason: announced in the changelog\n    expires: 2999-01-01\n"
    )
    code, out, _ = run(capsys, str(old), str(new), "--baseline", str(base), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["changes"][0]["accepted"] == {"reason": "announced in the changelog", "expires": "2999-01-01"}
    assert doc["summary"]["ERR"] == 0 and doc["summary"]["accepted"] == 1
    assert doc["semver"]["required"] == "patch"
    base.write_text("accepted:\n  - rule: member-removed\n    symbol: A.*\n    reason: old\n    expires: 2000-01-01\n")
    code, out, _ = run(capsys, str(old), str(new), "--baseline", str(base))
    assert code == 1 and "expired on 2000-01-01" in out
    base.write_text("accepted:\n  - rule: TS002\n    symbol: A.x\n")
    code, _, err = run(capsys, str(old), str(new), "--baseline", str(base))
    assert code == 2 and f"{base}:2" in err and "reason" in err


def test_git_sides_with_subdir(tmp_path, capsys):
    repo_dir = tmp_path / "repo"
    repo = git.Repo.init(repo_dir)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "t").set_value("user", "email", "t@example.invalid")
    write_tree(
        repo_dir,
        {
            "packages/core/index.d.ts": "export declare function f(a: string): void;\n",
            "packages/core/package.json": '{"name": "c", "version": "0.3.0", "types": "index.d.ts"}',
        },
    )
    repo.index.add(["packages/core/index.d.ts", "packages/core/package.json"])
    repo.index.commit("v1")
    repo.create_tag("v1")
    write_tree(
        repo_dir,
        {
            "packages/core/index.d.ts": "export declare function f(a: string, b: number): void;\n",
            "packages/core/package.json": '{"name": "c", "version": "0.4.0", "types": "index.d.ts"}',
        },
    )
    repo.index.add(["packages/core/index.d.ts", "packages/core/package.json"])
    repo.index.commit("v2")
    code, out, _ = run(
        capsys, f"git:{repo_dir}@v1:packages/core", f"git:{repo_dir}@HEAD:packages/core", "--format", "json"
    )
    doc = json.loads(out)
    assert code == 1
    assert [c["rule"] for c in doc["changes"]] == ["TS008"]
    assert doc["new"]["commit"] == repo.head.commit.hexsha and doc["old"]["kind"] == "git"
    # 0.3 -> 0.4 is a major step before 1.0: enough for a breaking change
    assert doc["semver"]["step"] == "major" and doc["semver"]["sufficient"] is True
    code, _, err = run(capsys, f"git:{repo_dir}@nope", f"git:{repo_dir}@HEAD")
    assert code == 2 and "unknown ref 'nope'" in err


def test_language_detection_and_lang_flag(tmp_path, capsys):
    old = write_tree(tmp_path / "o", {"db/schema.sql": "CREATE TABLE t (id INT, a TEXT);"})
    new = write_tree(tmp_path / "n", {"db/schema.sql": "CREATE TABLE t (id INT);"})
    code, out, _ = run(capsys, str(old), str(new), "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["language"] == "sql" and doc["changes"][0]["rule"] == "SQL002"
    code, _, err = run(capsys, str(old), str(new), "--lang", "ts")
    assert code == 2 and "no TypeScript entry" in err


@pytest.mark.parametrize(
    "old,new,expected",
    [
        ("1.6.4", "1.6.5", "patch"),
        ("1.6.5", "1.7.0", "minor"),
        ("1.7.2", "2.0.0", "major"),
        ("2.0.0-alpha.1", "2.0.0-alpha.2", "prerelease"),
        ("0.3.1", "0.4.0", "major"),
        ("0.3.1", "0.3.2", "minor"),
        ("1.0.0", "not-a-version", None),
    ],
)
def test_semver_steps(old, new, expected):
    assert step(old, new) == expected


def test_semver_verdict_uses_rule_levels():
    sem = {r.id: r.semver for r in RULES.values()}
    assert (
        verdict("1.6.4", "1.6.5", [{"rule": "TS020", "severity": "INFO", "accepted": None}], sem)["sufficient"] is False
    )  # an addition needs a minor
    assert verdict("1.6.4", "1.7.0", [{"rule": "TS020", "severity": "INFO", "accepted": None}], sem)["sufficient"]
    assert (
        verdict("1.6.4", "1.7.0", [{"rule": "TS002", "severity": "ERR", "accepted": None}], sem)["required"] == "major"
    )


def test_rule_catalogue_is_complete_and_documented():
    doc = (ROOT / "docs" / "compat.md").read_text()
    names = set()
    for rid, r in RULES.items():
        assert re.fullmatch(r"(TS|PY|SQL)\d{3}", rid) and rid.lower().startswith(r.language)
        assert r.severity in ("ERR", "WARN", "INFO") and r.detects and r.example and r.migration
        assert set(r.affects) <= {"readers", "writers", "callers", "implementers"}
        assert (r.language, r.name) not in names
        names.add((r.language, r.name))
        assert f"`{rid}`" in doc and r.name in doc, f"{rid} {r.name} is not documented in docs/compat.md"


def test_emit_migration(pair, tmp_path, capsys):
    try:
        from canary.codemods.generate import emit_migration  # noqa: F401
    except ImportError:
        pytest.skip("canary.codemods.generate.emit_migration is not available in this tree")
    target = tmp_path / "migration.yaml"
    code, _, err = run(capsys, *pair, "--emit-migration", str(target))
    assert code == 1, err
    text = target.read_text()
    assert "messageServerId" in text and "serverId" in text


def test_python_api_returns_the_same_document(pair, capsys):
    from canary import compat

    doc = compat.compare(*pair).to_dict()
    jsonschema.validate(doc, json.loads(compat.SCHEMA_FILE.read_text()))
    _, out, _ = run(capsys, *pair, "--format", "json")
    assert [c["symbol"] for c in doc["changes"]] == [c["symbol"] for c in json.loads(out)["changes"]]
