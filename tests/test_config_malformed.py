"""Malformed matrix files, table-driven: each one is exactly one line `canary: error: FILE:LINE:COL: ...`, exit 2.

The base is the demo matrix (real git repositories, a local wheel index), so the checks that
need a source (published versions, git refs, paths) run for real and offline.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from canary import cli

A = '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]\n    timeout: 120\n'  # alpha's first lines


def sub(old: str, new: str, count: int = 1):
    def apply(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return apply


def append(extra: str):
    return lambda text: text + extra


def raw(data: bytes | str):
    return lambda text: data


def first_connector(extra: str):
    """Lines added to the first connector (alpha)."""
    return sub("    tier: required\n", "    tier: required\n" + extra)


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(ord('b') + i)}: &{chr(ord('b') + i)} [" + ",".join([f"*{chr(ord('a') + i)}"] * 9) + "]\n" for i in range(8)
)

CASES = {
    # -- the file itself ------------------------------------------------------------------------
    "empty": raw(""),
    "only-comments": raw("# nothing here\n# at all\n"),
    "top-level-list": raw("- core\n- connectors\n"),
    "top-level-scalar": raw("hello\n"),
    "nul-byte": lambda t: t.replace("  name: democore", "  name: demo\x00core"),
    "control-byte": lambda t: t.replace("  name: democore", "  name: demo\x07core"),
    "non-utf8": lambda t: t.encode().replace(b"name: democore", b"name: d\xe9mocore"),
    "utf16": lambda t: t.encode("utf-16"),
    "oversized": lambda t: t + "# " + "x" * 2_000_000 + "\n",
    "billion-laughs": raw(BILLION_LAUGHS),
    "alias-flood": append("x-anchor: &anc 1\nx-many: [" + ",".join(["*anc"] * 5000) + "]\n"),
    "deep-nesting": raw("a: " + "[" * 5000 + "]" * 5000 + "\n"),
    "undefined-alias": append("extra: *nowhere\n"),
    "python-tag": append("extra: !!python/object:os.system {}\n"),
    "unclosed-bracket": sub("  name: democore", "  name: [democore"),
    "tab-indent": sub("  name: democore", "\tname: democore"),
    "bad-indent": sub("  ecosystem: pypi", "     ecosystem: pypi"),
    # -- duplicate keys -----------------------------------------------------------------------------
    "dup-top-key": append("settings:\n  retries: 2\n"),
    "dup-core-key": sub("  ecosystem: pypi\n", "  ecosystem: pypi\n  name: other\n"),
    "dup-connector-key": first_connector("    tier: optional\n"),
    "dup-flow-key": sub('  baseline: "1.0.0"', '  index2: {a: 1, a: 2}\n  baseline: "1.0.0"'),
    # -- schema ---------------------------------------------------------------------------------------
    "version-2": sub("version: 1", "version: 2"),
    "missing-core": lambda t: re.sub(r"core:\n(  .*\n)+", "", t, count=1),
    "missing-connectors": lambda t: t[: t.index("connectors:")],
    "connectors-empty": lambda t: t[: t.index("connectors:")] + "connectors: []\n",
    "connectors-mapping": lambda t: t[: t.index("connectors:")] + "connectors: {alpha: 1}\n",
    "core-name-missing": sub("  name: democore\n", ""),
    "ecosystem-wrong": sub("  ecosystem: pypi", "  ecosystem: pip"),
    "versions-empty": sub('  versions: ["1.0.0", "2.0.0"]', "  versions: []"),
    "versions-string": sub('  versions: ["1.0.0", "2.0.0"]', '  versions: "1.0.0"'),
    "version-item-number": sub('  versions: ["1.0.0", "2.0.0"]', '  versions: [1.0, "2.0.0"]'),
    "unknown-top-key": append("extras: {a: 1}\n"),
    "unknown-core-key": sub("  ecosystem: pypi\n", "  ecosystem: pypi\n  flavour: x\n"),
    "connector-name-missing": sub("  - name: alpha\n", "  -\n"),
    "connector-test-missing": sub('    test: [["{python}", -m, unittest, discover, -s, tests, -v]]\n', "", 1),
    "connector-misspelt-key": sub("    test: [[", "    tset: [[", 1),
    "test-empty": sub(A, "    test: []\n    timeout: 120\n"),
    "test-string": sub(A, "    test: python -m unittest\n    timeout: 120\n"),
    "test-empty-argv": sub(A, "    test: [[]]\n    timeout: 120\n"),
    "test-numbers": sub(A, "    test: [1, 2]\n    timeout: 120\n"),
    "two-sources": first_connector("    path: ./alpha\n"),
    "no-source": lambda t: re.sub(r"    git:\n      url: .*\n      refs: \[main, next\]\n", "", t, count=1),
    "git-url-missing": lambda t: re.sub(r"      url: .*alpha'\n", "", t, count=1),
    "git-refs-empty": sub("      refs: [main, next]", "      refs: []"),
    "timeout-0s": sub(A, A.replace("timeout: 120", "timeout: 0s")),
    "timeout-0": sub(A, A.replace("timeout: 120", "timeout: 0")),
    "timeout-negative": sub(A, A.replace("timeout: 120", "timeout: -5")),
    "timeout-word": sub(A, A.replace("timeout: 120", "timeout: soon")),
    "install-timeout-bad": first_connector("    install_timeout: 10x\n"),
    "tier-wrong": sub("    tier: required\n", "    tier: mandatory\n", 1),
    "dup-connector-name": sub("  - name: beta", "  - name: alpha"),
    "skip-bad-range": first_connector("    skip: [{core: '>>2', reason: x}]\n"),
    "flaky-not-list": first_connector("    flaky: {core: '*'}\n"),
    "env-mapping-value": first_connector("    env: {A: {b: 1}}\n"),
    "env-list": first_connector("    env: [A, B]\n"),
    "pass-env-string": first_connector("    pass_env: EDITOR\n"),
    "infra-codes-strings": first_connector("    infra_exit_codes: [x]\n"),
    "baseline-unknown": sub('  baseline: "1.0.0"', '  baseline: "1.5.0"'),
    "duplicate-version": sub('  versions: ["1.0.0", "2.0.0"]', '  versions: ["1.0.0", "1.0.0"]'),
    "companion-missing-name": sub('  baseline: "1.0.0"\n', '  baseline: "1.0.0"\n  companions: [{version: x}]\n'),
    "find-links-string": sub("    find_links: [", "    find_links: x\n    x_links: ["),
    "settings-jobs-0": sub("  retries: 1", "  retries: 1\n  jobs: 0"),
    "settings-retries-negative": sub("  retries: 1", "  retries: -1"),
    "settings-unknown": sub("  retries: 1", "  retries: 1\n  speed: fast"),
    "waiver-no-reason": append("waivers: [{cell: 'alpha@main--*'}]\n"),
    "include-unknown-connector": append("include: [{connector: delta, ref: main, core: '1.0.0'}]\n"),
    "include-missing-ref": append("include: [{connector: alpha, core: '1.0.0'}]\n"),
    "exclude-unknown-connector": append("exclude: [{connector: delta}]\n"),
    # -- checks against the sources (plan time, exit 2, never a cell `error` later) -----------------
    "range-matches-nothing": sub('  versions: ["1.0.0", "2.0.0"]', '  versions: ["1.0.0", ">=9"]'),
    "exact-version-unpublished": sub('  versions: ["1.0.0", "2.0.0"]', '  versions: ["1.0.0", "9.9.9"]'),
    "include-unlisted-core": append("include: [{connector: alpha, ref: main, core: '3.0.0'}]\n"),
    "exclude-everything": append("exclude: [{core: '*'}]\n"),
    "git-ref-missing": sub("      refs: [main, next]", "      refs: [main, nope]"),
    "git-url-not-a-repo": lambda t: re.sub(r"      url: '.*alpha'", "      url: ./no-such-repo", t, count=1),
    "connector-path-missing": lambda t: re.sub(
        r"    git:\n      url: .*\n      refs: \[main, next\]", "    path: ./no-such-dir", t, count=1
    ),
    "core-path-missing": sub('  versions: ["1.0.0", "2.0.0"]', '  versions: ["1.0.0", {path: ./no-such-core}]'),
}


@pytest.fixture(scope="module")
def base(demo, tmp_path_factory):
    home = tmp_path_factory.mktemp("malformed-home")
    return demo.matrix.read_text(), home


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_matrix_is_one_line_exit_2(name, base, tmp_path, capsys, monkeypatch):
    text, home = base
    monkeypatch.setenv("CANARY_HOME", str(home))
    data = CASES[name](text)
    path = tmp_path / "matrix.yaml"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    code = cli.main(["plan", "-c", str(path)])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert re.match(rf"canary: error: {re.escape(str(path))}:\d+:\d+: \S", lines[0]), lines[0]


def test_there_are_at_least_60_cases():
    assert len(CASES) >= 60


def test_symlink_loop_and_directory(tmp_path, capsys):
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    for path in (loop, tmp_path):
        code = cli.main(["plan", "-c", str(path)])
        lines = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(lines) == 1, lines
        assert lines[0].startswith(f"canary: error: {path}:1:1: "), lines[0]


def test_billion_laughs_fails_fast_in_a_real_process(tmp_path):
    """842 bytes that expand to 10^9 nodes: refused before composing (a hang here is a failure)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS.encode()) < 1000
    proc = subprocess.run(
        [sys.executable, "-m", "canary", "plan", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert proc.returncode == 2, proc.stderr
    assert "alias" in proc.stderr and "Traceback" not in proc.stderr
