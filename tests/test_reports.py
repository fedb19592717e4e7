"""reports: HTML, Markdown, JUnit, JSON and badges rendered from real run directories."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import unquote

import jsonschema
import pytest

from canary import reports
from tests.conftest_reports import Spec, big_specs, demo_specs, first_sentence, parse_html, write_run
from canary.cli import main
from canary.reports import logs, markdown
from canary.reports.json_report import SCHEMA_FILE
from canary.compat.document import load_diff
from canary.reports.model import build

DISCORD_CAND = "plugin-discord@1.3.3--core-1.7.2"


@pytest.fixture
def rendered(demo_store):
    store, run, diff = demo_store
    written = reports.render_all(run, reports.FORMATS, None, diff=diff, badge_label="elizaOS core")
    return run, written


def _schema() -> dict:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


# ---------------------------------------------------------------- the checks of the issue


def test_regressed_required_cell_first_sentence_names_it(rendered):
    run, written = rendered
    assert written["html"] == run.path / "report" / "index.html"
    dom = parse_html(written["html"].read_text())
    body = dom.find("body")
    sentence = first_sentence(body.text())
    assert sentence.startswith("Core 1.7.2 cannot be promoted")
    assert "plugin-discord@1.3.3 on core 1.7.2" in sentence
    # Only the blocking cell is named: optional errors and flaky cells do not block.
    assert "farcaster" not in sentence and "twitter" not in sentence


def test_junit_has_exactly_one_failure_for_the_regressed_cell(rendered):
    run, written = rendered
    root = ET.parse(written["junit"]).getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == 12  # every planned cell is a testcase
    failures = [(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None]
    assert failures == [("plugin-discord@1.3.3", "1.7.2")]
    fail = next(c for c in cases if c.find("failure") is not None).find("failure")
    assert fail.get("message") == "Error: No server ID found 10"
    assert 'nox -s "plugin-discord@1.3.3--core-1.7.2"' in fail.text
    errors = sorted((c.get("classname"), c.get("name")) for c in cases if c.find("error") is not None)
    assert errors == [("plugin-farcaster@1.7.2", "1.6.4"), ("plugin-farcaster@1.7.2", "1.7.2")]
    skipped = sorted((c.get("classname"), c.get("name")) for c in cases if c.find("skipped") is not None)
    # unsupported (discord 1.3.8 on 1.6.4) and broken on both cores (openai) are skipped, not failed
    assert skipped == [
        ("plugin-discord@1.3.8", "1.6.4"),
        ("plugin-openai@1.5.0", "1.6.4"),
        ("plugin-openai@1.5.0", "1.7.2"),
    ]
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("12", "1", "2")
    assert sum(int(s.get("skipped")) for s in root.iter("testsuite")) == 3
    for suite in root.iter("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))


@pytest.mark.parametrize("fail_every", [3, 1])
def test_markdown_fits_github_limit_for_200_cells(tmp_path, fail_every):
    run = write_run(
        tmp_path / "runs",
        "20261121T090000Z-dddddd",
        big_specs(fail_every=fail_every),
        candidates=("1.7.0", "1.7.2", "2.0.0-alpha.1"),
    )
    report = build(run)
    assert len(report.cells) == 200
    text = markdown.render(report)
    assert len(text) < 65_000
    assert text.splitlines()[0].startswith("### ✘ canary: Core 1.7.0, 1.7.2, 2.0.0-alpha.1 cannot be promoted")
    assert text.count("<details>") == text.count("</details>")
    assert text.count("```") % 2 == 0
    # The grid keeps its share of the budget even when every cell failed.
    assert "<summary>Verdict grid (50 connector refs × 4 cores)</summary>" in text
    if fail_every == 1:  # 150 regressions with logs cannot all fit: it truncates, and says so
        assert "more not shown here" in text
        assert "plugin-connector-with-a-long-name-000@1.0.0-next.0 on core 1.7.0" in text
    # The Markdown file render_all writes is the same text
    path = reports.render_all(run, ["md"], tmp_path / "out")["md"]
    assert path.read_text() == text


# ---------------------------------------------------------------- formats


def test_markdown_budget_keeps_headline_and_notes_truncation(demo_store):
    store, run, diff = demo_store
    report = build(run, diff=load_diff(diff))
    full = markdown.render(report)
    assert "plugin-discord@1.3.3 on core 1.7.2" in full
    assert "| plugin-discord@1.3.3 | required | ✔ ok | ✘ regressed |" in full
    assert "`Room.serverId` → `Room.messageServerId`" in full and "plugin-discord@1.3.3 (7)" in full
    small = markdown.render(report, max_chars=1500)
    assert len(small) <= 1500
    assert small.splitlines()[0] == full.splitlines()[0]
    assert "not shown here" in small or "left out" in small


def test_json_report_validates_and_carries_cell_facts(rendered):
    run, written = rendered
    data = json.loads(written["json"].read_text())
    jsonschema.validate(data, _schema())
    assert data["decision"] == "regressed" and data["exit_code"] == 1
    cells = {c["id"]: c for c in data["cells"]}
    d = cells[DISCORD_CAND]
    assert d["verdict"] == "regressed" and d["blocking"] is True
    assert d["resolved_core"] == "1.7.2" and d["connector_digest"].startswith("sha512-")
    assert d["failing_kind"] == "errors"
    assert d["failing_lines"][0] == {"line": 7, "text": "Error: No server ID found 10"}
    assert d["nox"] == f'nox -s "{DISCORD_CAND}"'
    assert [a["number"] for a in d["attempts"]] == [1, 2, 3]
    assert (run.path / d["attempts"][1]["log"]).exists()
    assert (written["html"].parent / d["page"]).exists()


def test_json_schema_rejects_a_wrong_verdict(rendered):
    run, written = rendered
    data = json.loads(written["json"].read_text())
    data["cells"][0]["verdict"] = "green-ish"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, _schema())


def test_badges_per_connector(rendered):
    run, written = rendered
    badges = written["badges"]

    def label(name):
        root = ET.parse(badges / name).getroot()
        title = root.find("{http://www.w3.org/2000/svg}title").text
        assert root.get("aria-label") == title and root.get("role") == "img"
        return title

    # The connector's badge: its newest ref on the newest candidate (issue 15), never red for an old ref.
    assert label("plugin-discord.svg") == "elizaOS core 1.7.2: 1.3.8 compatible"  # 1.3.3 regressed, 1.3.8 passes
    assert label("plugin-discord@1.3.3.svg") == "elizaOS core 1.7: regressed"
    assert label("plugin-discord@1.3.8.svg") == "elizaOS core 1.7: compatible"
    assert label("plugin-telegram.svg") == "elizaOS core 1.7.2: compatible"
    assert label("plugin-twitter.svg") == "elizaOS core 1.7.2: compatible"  # flaky still passes
    assert label("plugin-farcaster.svg") == "elizaOS core 1.7.2: untested"  # install error
    assert label("plugin-openai.svg") == "elizaOS core 1.7.2: regressed"  # fails on the candidate


def test_badge_label_defaults_to_core_name(demo_store):
    store, run, diff = demo_store
    out = reports.render_all(run, "badges", store.parent / "b")["badges"]
    assert "@elizaos/core 1.7.2: compatible" in (out / "plugin-telegram.svg").read_text()


def test_history_verdicts_and_flake_rate(rendered):
    run, written = rendered
    data = json.loads(written["json"].read_text())
    cells = {c["id"]: c for c in data["cells"]}
    twitter = cells["plugin-twitter@1.2.22--core-1.7.2"]["history"]
    assert [p["verdict"] for p in twitter["verdicts"]] == ["ok", "flaky", "flaky"]
    assert twitter["flake_rate"] == pytest.approx(2 / 3, abs=1e-3)
    discord = cells[DISCORD_CAND]["history"]
    assert [p["verdict"] for p in discord["verdicts"]] == ["ok", "ok", "regressed"]
    assert discord["flake_rate"] == 0
    assert data["history_runs"] == ["20261119T080000Z-aaaaaa", "20261120T080000Z-bbbbbb", "20261121T080000Z-cccccc"]
    # The runs chart on the index: counts per verdict in each run.
    index = parse_html(written["html"].read_text())
    trend = index.find("svg", **{"class": "trend"})
    assert "20261120T080000Z-bbbbbb: 2 error, 2 broken, 1 flaky, 1 unsupported, 6 ok;" in trend.attrs["aria-label"]
    assert (
        "20261121T080000Z-cccccc: 1 regressed, 2 error, 2 broken, 1 flaky, 1 unsupported, 5 ok"
        in trend.attrs["aria-label"]
    )
    # The chart on the cell page: one square per run, labelled for screen readers.
    page = parse_html((written["html"].parent / "cells" / "plugin-twitter@1.2.22--core-1.7.2.html").read_text())
    svg = next(s for s in page.iter("svg") if "history" in s.attrs.get("class", ""))
    assert "ok, flaky, flaky" in svg.attrs["aria-label"] and "flake rate 67%" in svg.attrs["aria-label"]
    assert len(list(svg.iter("rect"))) == 3 + 2  # 3 runs + 2 flake marks


def test_history_skips_later_and_unreadable_runs(demo_store):
    store, run, diff = demo_store
    write_run(store, "20261122T080000Z-eeeeee", demo_specs())  # later than the reported run
    bad = store / "20261120T120000Z-broken"
    (bad / "cells").mkdir(parents=True)
    (bad / "run.json").write_text("{not json")
    report = build(run)
    assert report.history.run_ids[-1] == run.run_id and "20261122T080000Z-eeeeee" not in report.history.run_ids
    assert report.history.unreadable == ["20261120T120000Z-broken"]


def test_breaking_changes_with_exposure_counts(rendered):
    run, written = rendered
    data = json.loads(written["json"].read_text())
    by_symbol = {c["symbol"]: c["exposure"] for c in data["changes"]}
    # exact symbol for discord, unqualified `serverId` in telegram's lint counts for both changes
    assert by_symbol["IAgentRuntime.ensureConnection.serverId"]["plugin-discord@1.3.3"] == 2
    assert by_symbol["Room.serverId"]["plugin-discord@1.3.3"] == 7
    assert by_symbol["Room.serverId"]["plugin-telegram@1.6.4"] == 3
    assert by_symbol["Room.serverId"]["plugin-discord@1.3.8"] == 0
    dom = parse_html(written["html"].read_text())
    table = dom.find("table", id="exposure-table")
    rows = {tr.find("th").text(): [td.text() for td in tr.iter("td")] for tr in table.find("tbody").iter("tr")}
    assert rows["plugin-discord@1.3.3"] == ["9", "2", "7"]
    changes = dom.find("table", id="changes-table").text()
    assert "Room.messageServerId" in changes and "plugin-discord@1.3.3: 7 places" in changes


def test_cell_page_has_facts_log_and_nox_line(demo_store):
    store, run, diff = demo_store
    hostile = "<script>alert(1)</script>\nTypeError: x is not a function\n"
    write_run(
        store,
        "20261121T100000Z-ffffff",
        [
            Spec("plugin-discord", "1.3.3", "1.6.4", "baseline"),
            Spec("plugin-discord", "1.3.3", "1.7.2", status="fail", log=hostile, reason="TypeError"),
        ],
    )
    r2 = reports.render_all(store / "20261121T100000Z-ffffff", ["html"], store.parent / "out2")
    page_file = r2["html"].parent / "cells" / f"{DISCORD_CAND}.html"
    text = page_file.read_text()
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    dom = parse_html(text)
    facts = dom.find("dl").text()
    assert "1.7.2" in facts and "sha512-" in facts and "s (started" in facts
    facts_dt = {dt.text(): dd.text() for dt, dd in zip(dom.find("dl").iter("dt"), dom.find("dl").iter("dd"))}
    assert facts_dt["Attempts"] == "1" and facts_dt["Resolved core"].startswith("1.7.2")
    pres = [p.text() for p in dom.iter("pre")]
    assert f'nox -s "{DISCORD_CAND}"' in pres[0]
    assert "TypeError: x is not a function" in pres[1]  # first failing lines
    assert any("<script>alert(1)</script>" in p for p in pres)  # the full log, shown as text
    assert dom.find("a", href="../index.html") is not None


def test_html_is_self_contained_and_links_resolve(rendered):
    run, written = rendered
    index = written["html"]
    pages = [index] + sorted((index.parent / "cells").glob("*.html"))
    assert len(pages) == 13
    for page in pages:
        dom = parse_html(page.read_text())
        assert not list(dom.iter("script")) and not list(dom.iter("link")) and not list(dom.iter("img"))
        for a in dom.iter("a"):
            href = a.attrs["href"]
            assert not re.match(r"[a-z]+:", href), href  # no external or absolute URLs
            assert (page.parent / unquote(href)).exists(), (page.name, href)
        for table in dom.iter("table"):
            assert table.find("th") is not None
            assert all(th.attrs.get("scope") in ("col", "row", "rowgroup") for th in table.iter("th"))
        for svg in dom.iter("svg"):
            assert svg.attrs.get("aria-label") and svg.find("title") is not None


def test_grid_rows_columns_and_tiers(rendered):
    run, written = rendered
    dom = parse_html(written["html"].read_text())
    grid = dom.find("table", id="verdict-grid")
    heads = [th.text() for th in grid.find("thead").iter("th")]
    assert heads == ["Connector ref", "core 1.6.4 (baseline)", "core 1.7.2 (candidate)"]
    bodies = list(grid.iter("tbody"))
    assert [b.attrs["class"] for b in bodies] == ["tier-required", "tier-optional"]
    required = [tr.attrs["data-row"] for tr in bodies[0].iter("tr") if "data-row" in tr.attrs]
    assert required == ["plugin-discord@1.3.3", "plugin-discord@1.3.8", "plugin-telegram@1.6.4"]
    cell = grid.find("td", **{"data-cell-id": DISCORD_CAND})
    assert cell.attrs["data-verdict"] == "regressed" and "blocking" in cell.attrs["class"]
    assert "✘regressed (blocking)" in cell.text()


# ---------------------------------------------------------------- decisions


def test_green_and_inconclusive_headlines(tmp_path):
    store = tmp_path / "runs"
    green = write_run(store, "20261121T080000Z-000001", demo_specs(discord_regressed=False))
    assert build(green).headline.startswith(
        "Core 1.7.2 can be promoted: none of the 3 required candidate cells regressed"
    )
    specs = demo_specs(discord_regressed=False)
    missing = next(s for s in specs if s.id == "plugin-telegram@1.6.4--core-1.7.2")
    missing.status = None  # planned, no result: a lost cell
    report = build(write_run(store, "20261121T080000Z-000002", specs))
    assert report.summary.decision == "inconclusive"
    assert report.headline.startswith("Core 1.7.2 cannot be promoted yet: the run is inconclusive")
    assert "plugin-telegram@1.6.4 on core 1.7.2" in report.headline
    page = (
        reports.render_all(report.run, ["html"])["html"].parent / "cells" / "plugin-telegram@1.6.4--core-1.7.2.html"
    ).read_text()
    assert "No result was recorded for this cell" in page


def test_waived_regression_via_cli_is_promotable_and_skipped_in_junit(demo_store, capsys):
    store, run, diff = demo_store
    waivers = store.parent / "waivers.yaml"
    waivers.write_text(
        'waivers:\n  - cell: "plugin-discord@1.3.3--core-*"\n    reason: serverId shim pending\n'
        '    expires: "2999-01-01"\n'
    )
    out = store.parent / "waived"
    code = main(["report", str(run.path), "--format", "html,junit", "--out", str(out), "--waivers", str(waivers)])
    assert code == 0
    sentence = first_sentence(parse_html((out / "index.html").read_text()).find("body").text())
    assert sentence.startswith("Core 1.7.2 can be promoted") and "1 waived regression" in sentence
    root = ET.parse(out / "junit.xml").getroot()
    assert root.get("failures") == "0"
    case = next(
        c for c in root.iter("testcase") if c.get("classname") == "plugin-discord@1.3.3" and c.get("name") == "1.7.2"
    )
    assert case.find("skipped").get("message").startswith("waived regression")


# ---------------------------------------------------------------- logs


def test_first_failing_lines_prefers_error_lines_then_tail():
    kind, lines = logs.first_failing_lines("ok\nall good: 0 failed\nnpm ERR! 404 nope\nmore\n")
    assert kind == "errors" and [(l.number, l.text) for l in lines] == [(3, "npm ERR! 404 nope")]
    kind, lines = logs.first_failing_lines("\n".join(f"line {i}" for i in range(1, 31)), tail=5)
    assert kind == "tail" and [l.number for l in lines] == [26, 27, 28, 29, 30]
    assert logs.first_failing_lines("") == ("none", [])


def test_ansi_and_control_characters_in_logs(demo_store):
    store, run, diff = demo_store
    log = "\x1b[32m✓\x1b[0m setup\n\x1b[31mError: No server ID found 10\x1b[0m\x07\n"
    r = write_run(
        store,
        "20261121T110000Z-gggggg",
        [
            Spec("plugin-discord", "1.3.3", "1.6.4", "baseline"),
            Spec("plugin-discord", "1.3.3", "1.7.2", status="fail", log=log, reason="Error: No server ID found 10\x07"),
        ],
    )
    written = reports.render_all(r, ["junit", "json", "html"], store.parent / "ansi")
    root = ET.parse(written["junit"]).getroot()  # parses: no ESC/BEL in the XML
    assert root.get("failures") == "1"
    cell = json.loads(written["json"].read_text())["cells"][1]
    assert cell["failing_lines"][0]["text"] == "Error: No server ID found 10\x07"
    assert "\x1b" not in (written["html"].parent / "cells" / f"{DISCORD_CAND}.html").read_text()


# ---------------------------------------------------------------- the command


def test_cli_default_run_and_output(demo_store, capsys, monkeypatch):
    store, run, diff = demo_store
    code = main(["report", "--store", str(store), "--diff", str(diff)])
    assert code == 0
    out = capsys.readouterr().out
    report_dir = run.path / "report"
    for fmt, name in (("html", "index.html"), ("md", "report.md"), ("junit", "junit.xml"), ("json", "report.json")):
        assert f"{fmt}: {report_dir / name}" in out
        assert (report_dir / name).exists()
    assert f"badges: {report_dir / 'badges'}" in out


def test_cli_github_summary_appends_markdown(demo_store, capsys, monkeypatch):
    store, run, diff = demo_store
    summary = store.parent / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["report", str(run.path), "--format", "json", "--github-summary"]) == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n### ✘ canary: Core 1.7.2 cannot be promoted")


@pytest.mark.parametrize(
    "argv_tail, expect",
    [
        (["--format", "html,pdf"], "unknown report format 'pdf'"),
        (["--diff", "{bad}"], "bad.json:1:2: corrupt JSON"),
        (["--diff", "{nochanges}"], "key 'changes': missing or not a list"),
        (["--diff", "{badchange}"], "key 'changes[0].symbol'"),
    ],
)
def test_cli_bad_input_exits_2_naming_the_place(demo_store, capsys, argv_tail, expect):
    store, run, diff = demo_store
    (store.parent / "bad.json").write_text("{oops")
    (store.parent / "nochanges.json").write_text(json.dumps({"schema": "canary/compat-diff/v1"}))
    (store.parent / "badchange.json").write_text(json.dumps({"changes": [{"rule": "R", "symbol": ""}]}))
    argv = [
        a.format(
            bad=store.parent / "bad.json",
            nochanges=store.parent / "nochanges.json",
            badchange=store.parent / "badchange.json",
        )
        for a in argv_tail
    ]
    assert main(["report", str(run.path), *argv]) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err


def test_cli_unknown_run_and_bad_exposure(demo_store, capsys):
    store, run, diff = demo_store
    assert main(["report", "no-such-run", "--store", str(store)]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err
    (run.path / "exposure.json").write_text(json.dumps({"connectors": {"x@1": {"by_symbol": {"s": "many"}}}}))
    assert main(["report", str(run.path), "--format", "json"]) == 2
    err = capsys.readouterr().err
    assert "exposure.json" in err and "key 'connectors.x@1.by_symbol.s'" in err


def test_cli_corrupt_cell_json_names_file_and_line(demo_store, capsys):
    store, run, diff = demo_store
    (run.cells_dir / f"{DISCORD_CAND}.json").write_text('{\n  "run_id": "x",\n  oops\n}')
    assert main(["report", str(run.path), "--format", "json", "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert f"{DISCORD_CAND}.json:3:3: corrupt JSON" in err


def test_render_all_takes_a_path_and_rejects_a_non_run(demo_store):
    store, run, diff = demo_store
    written = reports.render_all(str(run.path), "json,md", store.parent / "p")
    assert set(written) == {"json", "md"} and written["json"].parent == store.parent / "p"
    with pytest.raises(reports.UserError, match="not a run directory"):
        reports.render_all(store.parent, ["json"])


def test_first_failing_lines_use_the_failing_command_of_a_framed_log():
    # The framing canary.matrix.proc writes around each command.
    log = (
        "# cell alpha@main--core-2.0.0: demo-alpha main on democore 2.0.0\n"
        "\n$ [install] pip install --quiet src\n    (cwd /w/src, timeout 900s)\n"
        "WARNING: an error-free warning about failure modes\n-> exit 0 in 8.05s\n"
        "\n$ [test] python -m unittest -v\n    (cwd /w/src, timeout 120s)\n"
        "test_server_of_room ... ERROR\n"
        "Traceback (most recent call last):\n"
        "    return room.server_id\n"
        "AttributeError: 'Room' object has no attribute 'server_id'\n"
        "-> exit 1 in 0.18s\n"
    )
    kind, lines = logs.first_failing_lines(log)
    assert kind == "errors"
    assert [l.text for l in lines] == [
        "test_server_of_room ... ERROR",
        "Traceback (most recent call last):",
        "AttributeError: 'Room' object has no attribute 'server_id'",
    ]
    assert lines[0].number == 10
    quiet = "\n$ [test] node smoke.mjs\n    (cwd /w, timeout 60s)\nstep 1\nstep 2\n!! timed out after 60s: process group killed\n-> exit None in 60.00s\n"
    kind, lines = logs.first_failing_lines(quiet)
    assert kind == "errors" and lines[0].text.startswith("!! timed out")


def test_cell_page_shows_exposure_and_refuses_logs_outside_the_run(demo_store):
    store, run, diff = demo_store
    secret = store.parent / "outside.txt"
    secret.write_text("TOKEN=do-not-embed\n")
    cell_file = run.cell_file(DISCORD_CAND)
    data = json.loads(cell_file.read_text())
    data["attempts"][0]["log"] = "../../outside.txt"  # a hostile or broken result pointing out of the run
    cell_file.write_text(json.dumps(data))
    written = reports.render_all(run, ["html"], store.parent / "x")
    page = (written["html"].parent / "cells" / f"{DISCORD_CAND}.html").read_text()
    assert "do-not-embed" not in page and "No log file at <code>../../outside.txt</code>" in page
    dom = parse_html(page)
    table = dom.find("table", **{"class": "exposure"})
    assert {tr.find("th").text(): tr.find("td").text() for tr in table.iter("tr") if tr.find("td")} == {
        "IAgentRuntime.ensureConnection.serverId": "2",
        "Room.serverId": "7",
    }
    assert "9 places in this connector ref touch a changed symbol" in " ".join(dom.find("body").text().split())
