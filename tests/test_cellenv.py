"""A cell's environment: minimal base, matrix keys, never the caller's secrets; logs redacted."""

import io
import os
import sys
import time

from canary.matrix.cellenv import cell_env, redact, secret_values
from canary.matrix.proc import run_command

CALLER = {
    "PATH": "/usr/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "PIP_INDEX_URL": "https://mirror.example/simple",
    "npm_config_cache": "/tmp/npm",
    "HTTPS_PROXY": "http://proxy:3128",
    "GITHUB_TOKEN": "ghp_secretsecret",
    "NPM_TOKEN": "npm_secretsecret",
    "NODE_AUTH_TOKEN": "nat_secret1",
    "TWINE_PASSWORD": "pypi-pass-123",
    "AWS_SECRET_ACCESS_KEY": "awsawsaws",
    "MY_API_KEY": "k-12345678",
    "npm_config__authToken": "tok-in-npm-config",
    "DISCORD_API_TOKEN": "discord-token-1",
    "EDITOR": "vim",
}


def test_base_keeps_package_manager_settings_and_drops_secrets():
    env, keys = cell_env({"EXTRA": "1"}, pass_env=("EDITOR", "GITHUB_TOKEN"), source=CALLER)
    for kept in ("PATH", "HOME", "LANG", "PIP_INDEX_URL", "npm_config_cache", "HTTPS_PROXY", "EDITOR", "EXTRA"):
        assert kept in env
    for dropped in (
        "GITHUB_TOKEN",
        "NPM_TOKEN",
        "NODE_AUTH_TOKEN",
        "TWINE_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "MY_API_KEY",
        "npm_config__authToken",
        "DISCORD_API_TOKEN",
    ):
        assert dropped not in env, dropped
    assert keys == sorted(env)


def test_secrets_are_redacted_from_command_output(tmp_path):
    secrets = secret_values(CALLER)
    assert "ghp_secretsecret" in secrets
    log = io.StringIO()
    out = run_command(
        "test",
        [sys.executable, "-c", "print('token is ghp_secretsecret and pypi-pass-123')"],
        cwd=str(tmp_path),
        env={"PATH": os.environ["PATH"]},
        timeout=30,
        log=log,
        secrets=secrets,
    )
    assert out.ok
    assert "ghp_secretsecret" not in log.getvalue() and "pypi-pass-123" not in log.getvalue()
    assert "token is *** and ***" in log.getvalue()
    assert redact("a npm_secretsecret b", secrets) == "a *** b"


def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = io.StringIO()
    out = run_command(
        "test", [sys.executable, "-c", script], cwd=str(tmp_path), env={"PATH": os.environ["PATH"]}, timeout=2, log=log
    )
    assert out.record.timed_out and out.record.exit_code is None
    child = int(pidfile.read_text())
    for _ in range(50):  # the grandchild must be gone too, not only the direct child
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the test's child process outlived the timeout")
    assert "timed out" in log.getvalue()


def test_missing_program_is_reported_not_raised(tmp_path):
    log = io.StringIO()
    out = run_command(
        "test", ["definitely-not-a-program-xyz"], cwd=str(tmp_path), env={"PATH": "/usr/bin"}, timeout=5, log=log
    )
    assert out.record.exit_code == 127 and "cannot start" in log.getvalue()
