"""The report of a real run: the demo ecosystem run by `canary run`, reported by `canary report`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from markupsafe import escape

from tests.conftest import canary
from tests.conftest_reports import first_sentence, parse_html


@pytest.mark.slow  # the shared demo run takes about a minute the first time
def test_report_of_a_real_demo_run(demo_run, tmp_path):
    run = demo_run["run"]
    out = tmp_path / "report"
    proc = canary("report", str(run.path), "--out", str(out), "--badge-label", "democore")
    assert proc.returncode == 0, proc.stderr
    assert f"html: {out / 'index.html'}" in proc.stdout

    data = json.loads((out / "report.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in data["cells"]}
    regressed = sorted(k for k, v in verdicts.items() if v == "regressed")
    blocking = [c for c in data["cells"] if c["blocking"]]
    assert [c["connector"] + "@" + c["ref"] for c in blocking] == ["alpha@main"]

    sentence = first_sentence(parse_html((out / "index.html").read_text()).find("body").text())
    assert "cannot be promoted" in sentence and f"alpha@main on core {blocking[0]['core']}" in sentence

    root = ET.parse(out / "junit.xml").getroot()
    # The Jenkins schema allows no properties in a testcase: the cell id opens its system-out.
    failed = sorted(
        c.find("system-out").text.split(":", 1)[0].removeprefix("cell ")
        for c in root.iter("testcase")
        if c.find("failure") is not None
    )
    assert failed == regressed  # exactly one failure per regressed cell
    # What the harness recorded reaches the cell page: the resolved core and the nox line.
    alpha = blocking[0]
    page = (out / alpha["page"]).read_text()
    assert alpha["resolved_core"] and alpha["resolved_core"] in page
    assert f'-s "{alpha["id"]}"' in alpha["nox"] and str(escape(alpha["nox"])) in page
