"""One redaction, applied everywhere text leaves a cell or a config: names, URL userinfo, pass-through credentials."""

from __future__ import annotations

import json
import re

from canary.matrix.cellenv import cell_env
from canary.kernel.redact import SECRET_NAME, is_secret, redact, redact_data, secret_values
from tests.conftest import canary

# One variable name per alternative of SECRET_NAME, matched by that alternative only: removing any
# alternative from the pattern makes its name reach cells, and this table fails.
NAME_FOR = {
    "TOKEN": "DISCORD_API_TOKEN",
    "PASSW(OR)?D": "npm_config__password",
    "SECRET": "CLIENT_SECRET",
    "PRIVATE": "SSH_PRIVATE",
    "CREDENTIAL": "GOOGLE_APPLICATION_CREDENTIALS",
    "API_?KEY": "OPENAI_APIKEY",
    "ACCESS_?KEY": "AWS_ACCESSKEY_ID",
    "_KEY$": "STRIPE_KEY",
    "^KEY$": "KEY",
    "AUTH": "npm_config__authToken".replace("Token", "Header"),
    "SESSION": "PIP_SESSION",
    "COOKIE": "npm_config_cookie",
}
PASSWD_TOO = "PIP_PASSWD"  # the optional (OR) of PASSW(OR)?D


def _alternatives() -> list[str]:
    body = SECRET_NAME.pattern
    assert body.startswith("(") and body.endswith(")")
    parts, depth, current = [], 0, ""
    for ch in body[1:-1]:
        if ch == "|" and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    return parts + [current]


def test_every_secret_name_pattern_has_a_name_only_it_catches():
    alternatives = _alternatives()
    assert sorted(alternatives) == sorted(NAME_FOR), "a new alternative needs its name in NAME_FOR"
    for alt, name in NAME_FOR.items():
        hits = [a for a in alternatives if re.search(a, name, re.I)]
        assert hits == [alt], (name, hits)


def test_every_secret_name_is_kept_from_cells_and_its_value_redacted():
    caller = {"PATH": "/usr/bin", **{name: f"value-of-{name.lower()}" for name in [*NAME_FOR.values(), PASSWD_TOO]}}
    env, _ = cell_env({}, pass_env=tuple(caller), source=caller)
    for name in [*NAME_FOR.values(), PASSWD_TOO]:
        assert is_secret(name), name
        assert name not in env, f"{name} reached the cell"
        assert redact(f"x {caller[name]} y", secret_values(caller)) == "x *** y", name


def test_url_userinfo_is_stripped_and_pass_through_credentials_stay_usable():
    caller = {
        "PATH": "/usr/bin",
        "HTTPS_PROXY": "http://proxyuser:pr0xy-pass@proxy:3128",
        "PIP_INDEX_URL": "https://__token__:pypi-t0ken-xyz@pkgs.example/simple",
        "npm_config_registry": "https://npmuser:npm%2Fpass%3Dx@npm.example/",
    }
    env, _ = cell_env({}, source=caller)
    assert env["HTTPS_PROXY"] == caller["HTTPS_PROXY"]  # the cell needs it as given
    assert (
        env["PIP_INDEX_URL"] == caller["PIP_INDEX_URL"] and env["npm_config_registry"] == caller["npm_config_registry"]
    )
    secrets = secret_values(caller)
    printed = redact("proxy pr0xy-pass; index pypi-t0ken-xyz; npm npm/pass=x; " + " ".join(caller.values()), secrets)
    for leaked in ("pr0xy-pass", "pypi-t0ken-xyz", "npm/pass=x", "npm%2Fpass", "proxyuser"):
        assert leaked not in printed, leaked
    assert "https://***@pkgs.example/simple" in printed
    assert redact_data({"url": "git+https://u:p4ssw0rd@h/x", "n": [1, "ssh://me@host"]}) == {
        "url": "git+https://***@h/x",
        "n": [1, "ssh://***@host"],
    }


MARK_ENV, MARK_PROXY, MARK_URL, MARK_CALLER = "mk-env-9d1f3a", "mk-proxy-77c0e2", "mk-url-5b6e14", "mk-caller-c4e2aa"

# The connector's test: prints its environment, writes a JUnit file whose test name and message
# carry the secrets it was given, and fails with them in its last line.
LEAKY_TEST = """
import os, sys
os.makedirs('reports', exist_ok=True)
tok, proxy = os.environ.get('SERVICE_TOKEN', ''), os.environ.get('HTTPS_PROXY', '')
open(os.path.join({seen!r}), 'w').write(proxy)
print(sorted(os.environ.items()))
open('reports/junit.xml', 'w').write(
    '<testsuite name="s"><testcase classname="c" name="test_' + tok + '">'
    '<failure message="proxy ' + proxy + ' token ' + tok + '">at ' + proxy + '</failure></testcase></testsuite>')
raise AssertionError('boom ' + tok + ' via ' + proxy)
"""


def test_marker_secrets_reach_no_file_of_the_run_no_report_and_no_printed_line(demo, tmp_path):
    seen = tmp_path / "proxy-seen-by-cell"
    text = demo.matrix.read_text()
    text = text.replace(
        "    no_index: true\n", f"    no_index: true\n    index_url: https://user:{MARK_URL}@127.0.0.1:9/simple\n"
    )
    text = text.replace(
        '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]',
        "    test: [['{python}', -c, " + json.dumps(LEAKY_TEST.format(seen=str(seen))) + "]]\n"
        f"    env: {{SERVICE_TOKEN: {MARK_ENV}}}\n    junit: reports/junit.xml",
        1,
    )
    path = tmp_path / "m.yaml"
    path.write_text(text)
    home = tmp_path / "h"
    env = {
        "CANARY_HOME": str(home),
        "HTTPS_PROXY": f"http://proxyuser:{MARK_PROXY}@127.0.0.1:9",
        "MY_DEPLOY_TOKEN": MARK_CALLER,
    }
    proc = canary(
        "run",
        "-c",
        str(path),
        "--cells",
        "alpha@main*",
        "--no-cache",
        "--retries",
        "0",
        "--progress",
        "plain",
        "--report",
        "html,md,junit,json,badges",
        env=env,
    )
    plan = canary("plan", "-c", str(path), "--json", env=env)
    assert plan.returncode == 0, plan.stderr
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert seen.read_text() == env["HTTPS_PROXY"]  # the pass-through variable reached the cell whole
    run_dir = next((home / "runs").iterdir())
    r = json.loads((run_dir / "cells" / "alpha@main--core-1.0.0.json").read_text())
    assert r["status"] == "fail" and "boom ***" in r["reason"], r["reason"]
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".xml" and "junit" in p.parts for p in files)  # the connector's JUnit was kept
    assert any(p.name == "index.html" for p in files) and any(p.name == "report.json" for p in files)
    texts = {str(p): p.read_bytes().decode("utf-8", "replace") for p in files}
    texts["stdout"], texts["stderr"] = proc.stdout, proc.stderr
    texts["plan --json"] = plan.stdout + plan.stderr
    hits = [(where, m) for where, t in texts.items() for m in (MARK_ENV, MARK_PROXY, MARK_URL, MARK_CALLER) if m in t]
    print(f"secrets: {len(files)} files + output searched for 4 markers, {len(hits)} hits")
    assert hits == []


def test_credentials_in_a_git_url_never_reach_an_error_line(demo, tmp_path):
    path = tmp_path / "m.yaml"
    text = re.sub(
        r"      url: '.*alpha'",
        f"      url: https://bot:{MARK_URL}@127.0.0.1:9/alpha.git",
        demo.matrix.read_text(),
        count=1,
    )
    path.write_text(text)
    proc = canary("plan", "-c", str(path), env={"CANARY_HOME": str(tmp_path / "h"), "GIT_TERMINAL_PROMPT": "0"})
    assert proc.returncode == 2, proc.stderr
    assert MARK_URL not in proc.stderr + proc.stdout and "https://***@127.0.0.1:9/alpha.git" in proc.stderr
