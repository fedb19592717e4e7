"""Messages say what happened: a missing working directory, expanded templates in reasons and in `env:`."""

from __future__ import annotations

import io
import os
import sys

from canary.matrix.proc import run_command
from canary.matrix.store import Store
from tests.conftest import canary


def test_a_missing_working_directory_is_named_not_the_program(tmp_path):
    log = io.StringIO()
    missing = tmp_path / "not-there"
    out = run_command(
        "test", [sys.executable, "-c", "0"], cwd=str(missing), env={"PATH": os.environ["PATH"]}, timeout=5, log=log
    )
    assert out.record.exit_code == 127
    assert out.tail == [f"working directory does not exist: {missing}"]
    assert "cannot start" not in log.getvalue()


# First command: passes only when MY_PY is the cell's real python (the template was expanded).
ENV_CHECK = "import os, sys; p = os.environ['MY_PY']; print('MY_PY', p); sys.exit(0 if chr(123) not in p and os.path.isfile(p) else 4)"


def test_templates_are_expanded_in_env_values_and_in_failure_reasons(demo, tmp_path):
    text = demo.matrix.read_text().replace(
        '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]',
        f"    test: [['{{python}}', -c, \"{ENV_CHECK}\"], ['{{python}}', -c, 'import sys; sys.exit(3)']]\n"
        "    env: {MY_PY: '{python}'}",
        1,
    )
    path = tmp_path / "m.yaml"
    path.write_text(text)
    home = tmp_path / "h"
    proc = canary(
        "run",
        "-c",
        str(path),
        "--cells",
        "alpha@main--core-1.0.0",
        "--report",
        "none",
        "--no-cache",
        "--retries",
        "0",
        env={"CANARY_HOME": str(home)},
    )
    r = Store(home / "runs").latest().read_cell("alpha@main--core-1.0.0")
    assert r.status == "fail", (r.reason, proc.stderr)
    first, second = [c for c in r.attempts[0].commands if c.phase == "test"]
    assert first.exit_code == 0, "MY_PY was not the cell's python: env: values were not expanded"
    assert second.exit_code == 3
    assert r.reason == "python exited 3", r.reason
