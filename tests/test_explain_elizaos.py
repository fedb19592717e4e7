"""Issue 15 on the default elizaOS matrix (needs the npm registry): the serverId break explained.

One `canary run` of the root matrix.yaml, shared by the tests (the session fixture `elizaos_run`
of tests/conftest_elizaos.py, in the home the other elizaOS registry tests share). It takes
minutes with an empty home; CANARY_TEST_ELIZAOS_HOME=<dir> reuses a home whose result cache holds
the cells (the cells' outcomes are the same; the explanation is computed again). Expectations are derived
from the run's own files where they could change (exposure counts), pinned where the matrix pins
them (plugin-discord 1.3.3 and 1.3.8, core 1.6.4 .. 1.7.2).
"""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from canary.matrix.exposure import load_exposure
from tests.conftest import ROOT

pytestmark = pytest.mark.registry

DISCORD_OLD = [
    "plugin-discord@1.3.3--core-1.6.5",
    "plugin-discord@1.3.3--core-1.7.0",
    "plugin-discord@1.3.3--core-1.7.2",
]


def _discord_group(doc: dict) -> dict:
    return next(g for g in doc["groups"] if DISCORD_OLD[0] in g["cells"])


def test_one_group_of_three_cells_with_the_rename_and_both_fixes(elizaos_run):
    run = elizaos_run["run"]
    doc = json.loads((run.path / "explain.json").read_text())
    jsonschema.validate(doc, json.loads((ROOT / "reports/schemas/explain.schema.json").read_text()))
    g = _discord_group(doc)
    assert sorted(g["cells"]) == DISCORD_OLD and g["refs"] == ["plugin-discord@1.3.3"]
    assert g["signature"]["error"] == "Error: No server ID found <n>"
    # The step's last good: bisection's (settings.bisect probes 1.6.5-alpha.1) when it ran, else 1.6.4.
    bisected = run.path / "bisect.json"
    searches = json.loads(bisected.read_text())["searches"] if bisected.is_file() else []
    found = next((s for s in searches if (s["connector"], s["ref"]) == ("plugin-discord", "1.3.3")), None)
    last_good, first_bad = (found["last_good"], found["first_bad"]) if found else ("1.6.4", "1.6.5")
    assert g["first_bad"] == [first_bad] and g["steps"][0]["last_good"] == last_good
    assert (
        run.path / "compat" / f"{last_good}..{first_bad}.json"
    ).is_file()  # the step's diff, not only baseline -> newest
    top = g["probable_causes"][0]
    assert top["symbol"].endswith(".serverId") and top["renamed_to"].endswith("messageServerId")
    exposure = load_exposure(run).connectors["plugin-discord@1.3.3"]
    assert top["exposure"]["plugin-discord@1.3.3"] == exposure.touches(top["symbol"]) > 0
    fixes = {f["kind"]: f for f in g["fixes"]}
    assert fixes["newer-ref"]["other_ref"] == "1.3.8" and fixes["newer-ref"]["cores"] == ["1.6.5", "1.7.0", "1.7.2"]
    assert fixes["migration"]["command"] == "canary fix --migration elizaos-server-id"
    assert fixes["migration"]["places"] == exposure.findings
    assert fixes["waiver"]["waiver"]["cell"] == "plugin-discord@1.3.3--core-*"


def test_terminal_html_markdown_and_json_say_it(elizaos_run):
    run, proc = elizaos_run["run"], elizaos_run["proc"]
    out = proc.stdout.splitlines()
    assert len(out) <= 17, out  # the decision, four paths, then the groups
    why = "\n".join(out[out.index(next(line for line in out if line.startswith("why: "))) :])
    assert "3 cells: `Error: No server ID found <n>` — plugin-discord@1.3.3 on core 1.6.5, 1.7.0, 1.7.2" in why
    assert "World.serverId -> messageServerId" in why or "Room.serverId -> messageServerId" in why
    assert "fix: plugin-discord@1.3.8 passes on core 1.6.5, 1.7.0, 1.7.2" in why
    assert "fix: `canary fix --migration elizaos-server-id`" in why
    md = (run.path / "report" / "report.md").read_text()
    assert "3 cells: `Error: No server ID found <n>`" in md and "plugin-discord@1.3.8 passes" in md
    html = (run.path / "report" / "index.html").read_text()
    assert html.index('id="why"') < html.index('id="grid"')
    assert "plugin-discord@1.3.8</strong>: passes on core 1.6.5, 1.7.0, 1.7.2" in html
    report = json.loads((run.path / "report" / "report.json").read_text())
    cell = next(c for c in report["cells"] if c["id"] == DISCORD_OLD[0])
    assert cell["first_bad"] in ("1.6.5", "1.6.5-alpha.1")  # bisection's answer when it probed the prerelease
    assert cell["probable_causes"][0]["renamed_to"].endswith("messageServerId")
    # the breaking-changes table of the step: the explaining changes first, the rest folded
    step = next(s for s in report["step_changes"] if s["step"] == "1.6.4 -> 1.6.5")
    assert 0 < len(step["explaining"]) < step["total"]
    assert '<details class="rest"><summary>' in html  # the rest of the step's changes, folded
    from tests.conftest_reports import parse_html

    # A cause exposed in one connector ref lists its places as file:line, under that ref's count.
    places = [
        li.text()
        for ul in parse_html(html).find("section", id="why").iter("ul")
        if ul.attrs.get("class") == "places"
        for li in ul.iter("li")
    ]
    assert places and all(re.fullmatch(r"[\w./@-]+:\d+", p.strip()) for p in places), places
    table = parse_html(html).find("table", id="exposure-table")
    columns = [th.text() for th in table.find("thead").iter("th")][2:]
    exposure = load_exposure(run).connectors.values()
    assert columns and all(any(e.touches(c) for e in exposure) for c in columns)  # no column of zeros
    assert len(columns) < len(report["changes"])
    badge = (run.path / "report" / "badges").glob("plugin-discord.svg")
    assert all("1.3.8 compatible" in b.read_text() for b in badge)


def test_promote_names_the_cause(elizaos_run, tmp_path):
    run = elizaos_run["run"]
    from canary.promote.checks import check_verdicts
    from canary.matrix.verdicts import classify
    from canary.reports.explain import explain

    summary = classify(run)
    check = check_verdicts(summary, explain(run, summary))
    line = next(d for d in check.details if d.startswith(DISCORD_OLD[0]))
    assert "probable cause: [" in line and "messageServerId" in line and "fix: plugin-discord@1.3.8" in line
