"""The HTML report in a real headless Chromium: what a browser renders, not what a template says.

Debian's `chromium` is installed by the fixture when missing (apt-get); the test skips,
saying why, when that is impossible (no root, no network to the Debian mirror).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from canary import reports
from tests.conftest_reports import first_sentence, parse_html

pytestmark = pytest.mark.chromium

CHROMIUM = "/usr/bin/chromium"


def _install_chromium() -> str | None:
    """Install Debian's chromium; returns why it failed, or None."""
    if not shutil.which("apt-get"):
        return "no apt-get on this machine"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (
        ["apt-get", "install", "-y", "chromium"],
        ["sh", "-c", "apt-get update && apt-get install -y chromium"],
    ):
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode == 0 and Path(CHROMIUM).exists():
            return None
    return f"apt-get install -y chromium failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).exists():
        why = _install_chromium()
        if why:
            pytest.skip(f"headless Chromium unavailable: {why}")
    return CHROMIUM


def _run(chromium: str, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    argv = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}",
        "--window-size=1280,900",
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_report_in_headless_chromium(chromium, demo_store, tmp_path):
    store, run, diff = demo_store
    written = reports.render_all(run, ["html"], None, diff=diff)
    url = written["html"].resolve().as_uri()

    shot = tmp_path / "report.png"
    proc = _run(chromium, tmp_path, f"--screenshot={shot}", url)
    assert shot.exists(), proc.stderr[-2000:]
    assert _png_size(shot) == (1280, 900)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank canvas
    # A person checks the look by eye: REPORTS_SCREENSHOT_DIR=<dir> keeps the screenshot.
    if os.environ.get("REPORTS_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["REPORTS_SCREENSHOT_DIR"]) / "report-chromium.png")

    proc = _run(chromium, tmp_path, "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = parse_html(proc.stdout)

    # The promotion sentence comes first and names the blocking cell.
    h1 = dom.find("h1")
    assert h1.attrs["id"] == "promotion"
    sentence = first_sentence(dom.find("body").text())
    assert sentence == first_sentence(h1.text())
    assert sentence.startswith("Core 1.7.2 cannot be promoted") and "plugin-discord@1.3.3 on core 1.7.2" in sentence

    # The grid: every planned cell, with its verdict as data, symbol and text.
    grid = dom.find("table", id="verdict-grid")
    cells = {td.attrs["data-cell-id"]: td for td in grid.iter("td") if "data-cell-id" in td.attrs}
    expected = {
        "plugin-discord@1.3.3--core-1.6.4": "ok",
        "plugin-discord@1.3.3--core-1.7.2": "regressed",
        "plugin-discord@1.3.8--core-1.6.4": "unsupported",
        "plugin-discord@1.3.8--core-1.7.2": "ok",
        "plugin-telegram@1.6.4--core-1.6.4": "ok",
        "plugin-telegram@1.6.4--core-1.7.2": "ok",
        "plugin-twitter@1.2.22--core-1.6.4": "ok",
        "plugin-twitter@1.2.22--core-1.7.2": "flaky",
        "plugin-farcaster@1.7.2--core-1.6.4": "error",
        "plugin-farcaster@1.7.2--core-1.7.2": "error",
        "plugin-openai@1.5.0--core-1.6.4": "broken",
        "plugin-openai@1.5.0--core-1.7.2": "broken",
    }
    assert {k: td.attrs["data-verdict"] for k, td in cells.items()} == expected
    for cell_id, verdict in expected.items():
        assert verdict in cells[cell_id].text()  # the word, not only the colour
    row_heads = [th.text() for th in grid.iter("th") if th.attrs.get("scope") == "row"]
    assert row_heads[:3] == ["plugin-discord@1.3.3", "plugin-discord@1.3.8", "plugin-telegram@1.6.4"]
    assert [th.text().split(":")[0] for th in grid.iter("th") if th.attrs.get("scope") == "rowgroup"] == [
        "Required",
        "Optional",
    ]

    # Accessibility: header cells in every table, text alternatives for every image.
    tables = list(dom.iter("table"))
    assert len(tables) >= 4
    for table in tables:
        ths = list(table.iter("th"))
        assert ths and all(th.attrs.get("scope") for th in ths)
    svgs = list(dom.iter("svg"))
    classes = sorted(svg.attrs.get("class") for svg in svgs)
    assert classes == ["history"] * 12 + ["trend"]  # one history chart per cell, one for the runs
    for svg in svgs:
        assert svg.attrs.get("role") == "img" and svg.attrs.get("aria-label")
        assert svg.find("title") is not None
    for img in dom.iter("img"):
        assert img.attrs.get("alt")


def test_cell_page_in_headless_chromium(chromium, demo_store, tmp_path):
    store, run, diff = demo_store
    written = reports.render_all(run, ["html"], None)
    page = written["html"].parent / "cells" / "plugin-discord@1.3.3--core-1.7.2.html"
    proc = _run(chromium, tmp_path, "--dump-dom", page.resolve().as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = parse_html(proc.stdout)
    assert "plugin-discord@1.3.3 on core 1.7.2: regressed (blocks promotion)" in dom.find("h1").text()
    pres = [p.text() for p in dom.iter("pre")]
    assert pres[0].strip() == 'nox -s "plugin-discord@1.3.3--core-1.7.2"'
    assert "Error: No server ID found 10" in pres[1]
    assert len(dom.find("table").find("tbody").children) > 0
    logs = [d for d in dom.iter("details") if d.find("summary").text().startswith("Full log")]
    assert len(logs) == 3 and "open" in logs[-1].attrs  # the last failing attempt's log is open
    assert "Error: No server ID found 10" in logs[-1].find("pre").text()
