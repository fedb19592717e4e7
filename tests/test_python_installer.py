"""Python cells force the core with uv when it is there, with pip otherwise; the check holds either way.

Real runs of one demo cell (its connector installs democore from the find-links directory, so
the runner must force the core under test): the force step's argv names the installer, and the
cell's check proves the environment loads the artifact under test.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from canary.matrix.store import Store
from tests.conftest import canary

CELL = "alpha@main--core-2.0.0"
UV = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))


def run_cell(demo, tmp_path, installer: str):
    home = tmp_path / installer
    proc = canary(
        "run",
        "-c",
        str(demo.matrix),
        "--cells",
        CELL,
        "--progress",
        "none",
        "--report",
        "none",
        "--no-cache",
        cwd=demo.root,
        env={"CANARY_HOME": str(home), "CANARY_PY_INSTALLER": installer},
    )
    result = Store(home / "runs").latest().read_cell(CELL)
    assert result is not None, proc.stderr
    forced = [c.argv for a in result.attempts for c in a.commands if c.phase == "force-core"]
    return result, forced


@pytest.mark.skipif(UV is None, reason="uv is not installed")
def test_uv_forces_the_core_and_the_check_holds(demo, tmp_path):
    result, forced = run_cell(demo, tmp_path, "uv")
    assert [Path(a[0]).name for a in forced] == ["uv"] and forced[0][1:3] == ["pip", "install"]
    assert result.core.resolved == "2.0.0" and result.status == "fail"  # alpha@main reads the renamed field


def test_pip_is_the_fallback(demo, tmp_path):
    result, forced = run_cell(demo, tmp_path, "pip")
    assert [a[1:4] for a in forced] == [["-m", "pip", "install"]]
    assert result.core.resolved == "2.0.0" and result.status == "fail"
