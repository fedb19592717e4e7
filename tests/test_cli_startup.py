"""What `canary --version` and a warm `canary lint` import: start-up is part of every CI step, and a
one-file lint is mostly start-up (issue 18: lint within 1.5x of the ast-grep CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MIG = "elizaos-server-id"


def _imported(code: str, env: dict | None = None) -> tuple[str, set[str]]:
    """Run `code` in a fresh interpreter; (its stdout, the modules it imported beyond the start-up's)."""
    probe = (
        "import sys\n"
        "_before = set(sys.modules)\n"
        f"{code}\n"
        "print('MODULES', ' '.join(sorted(set(sys.modules) - _before)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=True
    )
    out, _, mods = proc.stdout.rpartition("MODULES ")
    return out, set(mods.split())


def test_version_imports_no_command_module():
    out, mods = _imported(
        "from canary.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
    )
    assert out.startswith("canary ")
    commands = {
        m
        for m in mods
        if m.startswith("canary.")
        and m.split(".")[1]
        in ("cli_run", "codemods", "compat", "reports", "matrix", "promote", "cli_fanout", "cli_demo", "cli_bisect")
    }
    assert not commands, sorted(commands)


def test_a_warm_lint_to_stdout_imports_neither_shutil_nor_tempfile(tmp_path: Path):
    (tmp_path / "a.ts").write_text("export const f = (room: any) => room.serverId;\n")
    env = {"CANARY_HOME": str(tmp_path / "home")}
    code = (
        "from canary.cli import main\n"
        f"rc = main(['lint', {str(tmp_path / 'a.ts')!r}, '-m', {MIG!r}, '--format', 'json'])\n"
        "assert rc == 1, rc\n"
    )
    _imported(code, env)  # fills the compiled-migration cache
    out, mods = _imported(code, env)
    assert '"rule": "elizaos-serverid-member-read"' in out
    # shutil came with argparse's stock help formatter (bz2, lzma), tempfile with the atomic writer
    # that only `-o FILE` and extract-sources need.
    assert not mods & {"shutil", "tempfile", "bz2", "lzma", "random", "yaml", "jsonschema"}, sorted(mods)
