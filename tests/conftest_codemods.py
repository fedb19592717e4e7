"""Session fixtures for the codemods tests (imported by tests/conftest.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def discord_133_tarball(tmp_path_factory) -> Path:
    """The real @elizaos/plugin-discord 1.3.3 npm tarball, packed once per session (needs the registry)."""
    dest = tmp_path_factory.mktemp("npm-pack")
    proc = subprocess.run(
        ["npm", "pack", "@elizaos/plugin-discord@1.3.3", "--pack-destination", str(dest), "--silent"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    tgz = dest / "elizaos-plugin-discord-1.3.3.tgz"
    if proc.returncode != 0 or not tgz.is_file():
        pytest.fail(f"npm pack failed: {proc.stderr.strip()[-500:]}")
    return tgz
