"""Issue 15: every regression explained (root-cause groups, step, probable cause, fix), on a real run
of the offline demo ecosystem with one more connector, `delta`, whose failure has nothing to do with
the core's API (it checks a clock), and `compat: {diff: true}`.

Designed outcomes on core 2.0.0 (baseline 1.0.0): alpha@main and gamma@v1 regress on the
`Room.server_id` rename with the same AttributeError (one group); delta@main regresses with
"clock skew" (its own group, no matching change); alpha@next and gamma@main pass (the fixes).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from canary import demo as demo_mod
from canary.matrix.store import Store
from tests.conftest import ROOT, canary

DELTA_TEST = """
import unittest
import democore


class ClockTest(unittest.TestCase):
    def test_clock(self):
        # Nothing of the API: the "failure" is a clock check that only core 2 trips.
        self.assertTrue(democore.__version__.startswith("1."), "clock skew of 3600 s between agent and gateway")
"""

ALPHA_MAIN, GAMMA_V1, DELTA = "alpha@main--core-2.0.0", "gamma@v1--core-2.0.0", "delta@main--core-2.0.0"


def _schema(path: str) -> dict:
    return json.loads((ROOT / path).read_text())


@pytest.fixture(scope="session")
def explained(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain-demo")
    demo = demo_mod.build(root)
    repo_dir = root / "connectors" / "delta"
    repo = demo_mod._git(repo_dir)
    demo_mod._write(repo_dir / "pyproject.toml", demo_mod._pyproject("demo-delta", "0.1.0", ["democore>=1"]))
    demo_mod._write(repo_dir / "delta_connector" / "__init__.py", "VALUE = 1\n")
    demo_mod._write(repo_dir / "tests" / "test_clock.py", DELTA_TEST)
    repo.git.add(A=True)
    repo.index.commit("delta main")
    text = demo.matrix.read_text()
    text += (
        f"  - name: delta\n    package: demo-delta\n    tier: required\n    git:\n      url: {str(repo_dir)!r}\n"
        "      refs: [main]\n"
        '    install: [["{python}", -m, pip, install, --quiet, --no-build-isolation, "{checkout}"]]\n'
        '    test: [["{python}", -m, unittest, discover, -s, tests, -v]]\n    timeout: 120\n'
        "compat:\n  diff: true\n"
    )
    demo.matrix.write_text(text)
    home = root / "home"
    proc = canary(
        "run",
        "-c",
        str(demo.matrix),
        "-j",
        "2",
        "--progress",
        "none",
        "--report",
        "html,md,json",
        cwd=root,
        env={"CANARY_HOME": str(home)},
    )
    runs = Store(home / "runs").runs()
    assert runs, proc.stderr
    return {"proc": proc, "run": runs[-1], "home": home, "root": root}


def _group_of(doc: dict, cell: str) -> dict:
    return next(g for g in doc["groups"] if cell in g["cells"])


def test_same_failure_is_one_group_with_the_rename_as_cause_and_fixes(explained):
    run = explained["run"]
    doc = json.loads((run.path / "explain.json").read_text())
    jsonschema.validate(doc, _schema("reports/schemas/explain.schema.json"))
    g = _group_of(doc, ALPHA_MAIN)
    assert sorted(g["cells"]) == [ALPHA_MAIN, GAMMA_V1]  # one signature, two connectors
    assert g["signature"]["error"] == "AttributeError: 'Room' object has no attribute 'server_id'"
    assert g["blocking"] and g["first_bad"] == ["2.0.0"]
    assert {(s["connector"], s["last_good"], s["first_bad"], s["source"]) for s in g["steps"]} == {
        ("alpha", "1.0.0", "2.0.0", "matrix"),
        ("gamma", "1.0.0", "2.0.0", "matrix"),
    }
    # the step's own diff, cached per pair
    assert g["diff_files"] == [str(run.path / "compat" / "1.0.0..2.0.0.json")]
    top = g["probable_causes"][0]
    assert (top["symbol"], top["renamed_to"]) == ("democore.Room.server_id", "message_server_id")
    assert {"server", "id"} <= set(top["words"])
    fixes = {(f["kind"], f["ref"], f.get("other_ref")) for f in g["fixes"]}
    assert ("newer-ref", "main", "next") in fixes  # alpha@next passes on 2.0.0
    assert ("newer-ref", "v1", "main") in fixes  # gamma@main passes on 2.0.0
    waiver = next(f for f in g["fixes"] if f["kind"] == "waiver" and f["connector"] == "alpha")
    assert waiver["waiver"]["cell"] == ALPHA_MAIN and waiver["waiver"]["expires"]
    assert f'- cell: "{ALPHA_MAIN}"' in waiver["snippet"]


def test_a_failure_that_is_not_an_api_change_says_no_matching_change(explained):
    run = explained["run"]
    doc = json.loads((run.path / "explain.json").read_text())
    g = _group_of(doc, DELTA)
    assert g["cells"] == [DELTA] and g["probable_causes"] == []
    assert g["no_match"].startswith("no matching change")
    assert "no matching change" in explained["proc"].stdout
    md = (run.path / "report" / "report.md").read_text()
    assert "no matching change" in md
    html = (run.path / "report" / "index.html").read_text()
    assert "No matching change." in html


def test_run_ends_with_the_groups_in_few_lines(explained):
    out = explained["proc"].stdout.splitlines()
    why = out.index(next(line for line in out if line.startswith("why: ")))
    assert out[why] == "why: 2 causes, 3 cells"
    block = out[why:]
    assert len(block) <= 15, block
    assert any("2 cells: `AttributeError: 'Room' object has no attribute 'server_id'`" in line for line in block)
    assert any("probable cause: [PY001] democore.Room.server_id -> message_server_id" in line for line in block)
    assert any("fix: alpha@next passes on core 2.0.0" in line for line in block)
    assert out[0].startswith("Core 2.0.0 cannot be promoted")
    assert not any(line.startswith("  regressed (required):") for line in out)  # the groups name them


def test_verdicts_and_report_json_gain_the_fields(explained):
    run = explained["run"]
    verdicts = json.loads((run.path / "verdicts.json").read_text())
    jsonschema.validate(verdicts, _schema("matrix/schemas/verdicts.schema.json"))
    by_id = {v["cell_id"]: v for v in verdicts["verdicts"]}
    assert by_id[ALPHA_MAIN]["group"] == by_id[GAMMA_V1]["group"] != by_id[DELTA]["group"]
    assert by_id[ALPHA_MAIN]["first_bad"] == "2.0.0"
    assert by_id[ALPHA_MAIN]["probable_causes"][0]["symbol"] == "democore.Room.server_id"
    assert [f["kind"] for f in by_id[ALPHA_MAIN]["fixes"]] == ["newer-ref", "waiver"]
    assert by_id["alpha@next--core-2.0.0"]["group"] is None
    report = json.loads((run.path / "report" / "report.json").read_text())
    jsonschema.validate(report, _schema("reports/schemas/report.schema.json"))
    cell = next(c for c in report["cells"] if c["id"] == ALPHA_MAIN)
    assert cell["group"] == by_id[ALPHA_MAIN]["group"] and cell["probable_causes"][0]["rule"] == "PY001"
    # `canary verdicts --json` says the same as the run wrote
    proc = canary("verdicts", str(run.path), "--json")
    again = {v["cell_id"]: v for v in json.loads(proc.stdout)["verdicts"]}
    assert again[ALPHA_MAIN]["group"] == by_id[ALPHA_MAIN]["group"]


def test_the_explained_verdicts_file_reads_back_through_summary(explained):
    """The fields `canary run` adds (group, first_bad, probable_causes, fixes) have a typed home on
    `Verdict` (CellExplanation): the file reads back to the same bytes."""
    from canary.matrix.verdicts import read_summary

    path = explained["run"].path / "verdicts.json"
    summary = read_summary(path)
    assert json.dumps(summary.to_dict(), indent=2) + "\n" == path.read_text()
    by_id = {v.cell_id: v for v in summary.verdicts}
    explanation = by_id[ALPHA_MAIN].explanation
    assert explanation is not None and explanation.group == by_id[GAMMA_V1].explanation.group
    assert explanation.probable_causes[0]["symbol"] == "democore.Room.server_id"
    assert by_id["alpha@next--core-2.0.0"].explanation.group is None


def test_bisect_json_first_bad_takes_precedence(explained, tmp_path):
    """The bisect helper's file format (canary/bisect/v1). Written here by the test from the real run's
    data, because `canary bisect` is built on another branch: a first bad `2.0.0rc1` between 1.0.0 and
    2.0.0, with its step diff beside it (the real diff's content, as bisection would write it)."""
    src = explained["run"].path
    run = tmp_path / "runs" / src.name
    shutil.copytree(src, run)
    (run / "compat" / "1.0.0..2.0.0rc1.json").write_text((src / "compat" / "1.0.0..2.0.0.json").read_text())
    (run / "bisect.json").write_text(
        json.dumps(
            {
                "schema": "canary/bisect/v1",
                "searches": [
                    {
                        "connector": "alpha",
                        "ref": "main",
                        "ecosystem": "pypi",
                        "last_good": "1.0.0",
                        "first_bad": "2.0.0rc1",
                        "between": ["2.0.0rc1"],
                        "probes": [
                            {
                                "label": "2.0.0rc1",
                                "cell_id": "alpha@main--core-2.0.0rc1",
                                "status": "fail",
                                "verdict": "bad",
                                "note": "",
                            }
                        ],
                        "max_probes": 2,
                        "conclusive": True,
                        "note": "first bad 2.0.0rc1 in 1 probe",
                    }
                ],
            }
        )
    )
    proc = canary("verdicts", str(run), "--json")
    by_id = {v["cell_id"]: v for v in json.loads(proc.stdout)["verdicts"]}
    assert by_id[ALPHA_MAIN]["first_bad"] == "2.0.0rc1"
    assert by_id[GAMMA_V1]["first_bad"] == "2.0.0"  # no search for gamma: the matrix's own step
    assert by_id[ALPHA_MAIN]["probable_causes"][0]["step"] == "1.0.0 -> 2.0.0"  # the diff's own sides
    table = canary("verdicts", str(run)).stdout
    assert "alpha@main: first bad core 2.0.0rc1 (bisection), last good 1.0.0" in table
    out = tmp_path / "report"
    assert canary("report", str(run), "--out", str(out), "--format", "html,json").returncode == 0
    report = json.loads((out / "report.json").read_text())
    g = next(g for g in report["groups"] if ALPHA_MAIN in g["cells"])
    assert str(run / "compat" / "1.0.0..2.0.0rc1.json") in g["diff_files"]
    assert "(bisection)" in (out / "index.html").read_text()


def test_without_a_compat_diff_it_says_so(explained, tmp_path):
    src = explained["run"].path
    run = tmp_path / "runs" / src.name
    shutil.copytree(src, run)
    shutil.rmtree(run / "compat")
    (run / "compat-diff.json").unlink()
    proc = canary("verdicts", str(run))
    assert "no matching change: the run has no compat diff of this step" in proc.stdout


MEASURE = """<script>
// Written into a copy of the page by the test: what the browser laid out at this width.
window.addEventListener("load", () => {
  const b = document.body;
  b.dataset.viewport = String(window.innerWidth);
  b.dataset.pageWidth = String(document.documentElement.scrollWidth);
  const wide = [...document.querySelectorAll("table")].filter(t => {
    const box = t.closest(".scroll");
    return !box || getComputedStyle(box).overflowX !== "auto";
  }).filter(t => t.getBoundingClientRect().width > window.innerWidth);
  b.dataset.unscrolledWideTables = String(wide.length);
  const why = document.getElementById("why");
  b.dataset.whyAfterH1 = String(why !== null && why.previousElementSibling.id === "promotion");
  b.dataset.whyTop = String(why ? Math.round(why.getBoundingClientRect().top) : -1);
});
</script>"""


@pytest.mark.chromium
def test_why_section_in_headless_chromium_at_420_px(explained, tmp_path):
    from tests.test_reports_chromium import CHROMIUM, _install_chromium
    from tests.conftest_reports import parse_html

    if not Path(CHROMIUM).exists() and _install_chromium():
        pytest.skip("headless Chromium unavailable")
    import subprocess

    index = explained["run"].path / "report" / "index.html"
    page = index.with_name("measured.html")
    page.write_text(index.read_text().replace("</body>", MEASURE + "</body>"))
    # Headless Chromium's window is at least 500 px wide: a 420 px screen is an iframe of that width,
    # whose measurements the outer page copies into its own DOM for --dump-dom.
    frame = index.with_name("frame.html")
    for width in (420, 1280):
        frame.write_text(
            f'<!DOCTYPE html><html><body style="margin:0"><iframe id="f" src="measured.html" '
            f'style="width:{width}px;height:900px;border:0"></iframe><script>window.addEventListener("load", () => '
            '{ const inner = document.getElementById("f").contentDocument.body.dataset; '
            "Object.assign(document.body.dataset, inner); });</script></body></html>"
        )
        proc = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--allow-file-access-from-files",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--window-size=1400,900",
                "--virtual-time-budget=3000",
                "--dump-dom",
                frame.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        dom = parse_html(proc.stdout)
        body = dom.find("body").attrs
        assert body["data-viewport"] == str(width)
        assert int(body["data-page-width"]) <= width, body  # nothing pushes the page sideways
        assert body["data-unscrolled-wide-tables"] == "0", body  # wide tables scroll inside their box
        assert body["data-why-after-h1"] == "true"
        why = parse_html(index.read_text()).find("section", id="why")
        text = why.text()
        assert "Why: 2 causes, 3 cells" in text
        assert "AttributeError: 'Room' object has no attribute 'server_id'" in text
        assert "democore.Room.server_id" in text and "message_server_id" in text
        assert "alpha@next" in text and "No matching change." in text
    page.unlink()
    frame.unlink()


def test_signature_normalises_numbers_ids_paths_and_hex():
    from canary.reports.explain import normalise, overlap, words

    line = (
        "Error: No server ID found 1100000000000000001 in /tmp/cells/abc/node_modules/x.js "
        "(room 550e8400-e29b-41d4-a716-446655440000, buffer 0xdeadbeef, commit 3f2a9c1d8e, user 'guild-10')"
    )
    assert normalise(line) == (
        "Error: No server ID found <n> in <path> (room <id>, buffer <hex>, commit <hex>, user '<id>')"
    )
    assert normalise("No server ID found 10") == normalise("No server ID found 42")
    assert words("server ID") == words("serverId") == words("server_id") == {"server", "id"}
    assert overlap(words("No server ID found 10"), "World.serverId")[0] == 1.0
    assert overlap(words("id 10 missing"), "Room.roomId") == (0.0, [])  # "id" alone matches half of any API


def test_report_md_keeps_the_groups_when_it_cuts(explained):
    from canary.reports import markdown
    from canary.reports.model import build

    report = build(explained["run"])
    full = markdown.render(report)
    cut = markdown.render(report, max_chars=len(full) // 2)
    assert len(cut) <= len(full) // 2 < len(full)
    why = full[full.index("#### Why") : full.index("#### Why") + 200]
    assert why in cut  # the explanation is in the head the budget never cuts
    assert "no matching change" in cut and "democore.Room.server_id" in cut
    assert "more not shown here" in cut or "Further sections left out" in cut  # the tail was cut instead


def test_the_run_documents_read_back_byte_for_byte(explained):
    """explain.json through Explanation, and the compat diffs `canary run` wrote (compat-diff.json and
    the step's own diff) through their one owner, canary.compat.document.CompatDiff (issue 14 item 3)."""
    from canary.compat.document import load_diff
    from canary.reports.explain import Explanation

    run = explained["run"]
    text = (run.path / "explain.json").read_text()
    assert json.dumps(Explanation.from_dict(json.loads(text)).to_dict(), indent=2) + "\n" == text
    diff_schema = _schema("compat/schemas/diff.schema.json")
    for path in (run.path / "compat-diff.json", run.path / "compat" / "1.0.0..2.0.0.json"):
        text = path.read_text()
        diff = load_diff(path)
        assert diff.changes and (diff.old_label, diff.new_label) == ("1.0.0", "2.0.0")
        jsonschema.validate(diff.to_dict(), diff_schema)
        assert json.dumps(diff.to_dict(), indent=2) + "\n" == text
