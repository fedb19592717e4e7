"""A printed command line is one a shell runs as it ran (shlex.join): an argument with a space stays
one argument when the line from a log is pasted into a terminal."""

from __future__ import annotations

import io
import os
import shlex
import sys

from canary.matrix.proc import run_command


def test_the_log_line_of_a_command_splits_back_into_its_argv(tmp_path):
    argv = [sys.executable, "-c", "print('a b')", "it's"]
    log = io.StringIO()
    out = run_command("test", argv, cwd=str(tmp_path), env=dict(os.environ), timeout=60, log=log)
    assert out.ok
    line = next(ln for ln in log.getvalue().splitlines() if ln.startswith("$ [test] "))
    assert shlex.split(line.removeprefix("$ [test] ")) == argv
