"""Overlay mounts (canary/kernel/mounts.py): found where they are, gone when the reaper passes.

Real mounts, so these tests need root and overlayfs; elsewhere they skip (and npm cells fall back to
hardlinks or full copies, tests/test_npm_template.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from canary.kernel import mounts, reaper


@pytest.fixture
def overlay(tmp_path: Path):
    if not mounts.overlay_supported(tmp_path):
        pytest.skip("this process cannot mount an overlay here (not root, or no overlayfs)")

    def make(lower: Path, target: Path) -> Path:
        mounts.prepare_layers(target)
        subprocess.run(mounts.overlay_argv(lower, target), check=True)
        return target

    yield make
    mounts.unmount_under(tmp_path)


def test_a_mount_point_with_a_space_is_found_and_detached(overlay, tmp_path: Path) -> None:
    lower = tmp_path / "lower"
    lower.mkdir()
    (lower / "f").write_text("template")
    target = overlay(lower, tmp_path / "a cell" / "node_modules")
    assert mounts.mounts_under(tmp_path / "a cell") == [target]  # /proc writes the space as \040
    (target / "f").write_text("cell")
    assert (lower / "f").read_text() == "template"
    assert mounts.unmount_under(tmp_path / "a cell") == 1
    assert mounts.mounts_under(tmp_path) == [] and not (target / "f").exists()


def test_the_reaper_detaches_what_a_dead_run_left_mounted(overlay, tmp_path: Path) -> None:
    # A store as canary lays it out: <home>/runs/<run>/running/<cell> while the cell ran,
    # <home>/work/<run>/<cell>/node/node_modules its overlay view; the run's lock is free (its canary died).
    home = tmp_path / "home"
    run_dir = home / "runs" / "20261201T000000Z-dead"
    mark = reaper.mark_running(run_dir, "c@1--core-2", reaper.token_for(run_dir.name, "c@1--core-2"))
    lower = tmp_path / "template"
    lower.mkdir()
    target = overlay(lower, home / "work" / run_dir.name / "c@1--core-2" / "node" / "node_modules")
    other = overlay(lower, tmp_path / "not-canary" / "node_modules")  # not a cell's: left alone
    reaper.reap_left_behind(home / "runs")
    assert mounts.mounts_under(home) == [] and not mark.exists()
    assert mounts.mounts_under(tmp_path) == [other]
    assert target.is_dir()
