"""The labelled corpus of real release pairs (tests/corpus/): its files' shape, and the figures.

The registry test diffs every pair (npm and PyPI), and recomputes precision and recall at ERR
from the labels; tests/corpus/oracle.py is how the labels were made (`label`) and how the table
in docs/compat.md is printed (`measure`).
"""

from __future__ import annotations

import json
import re

import pytest

from tests.corpus import oracle

GOAL = 0.95


def test_pairs_file_shape():
    pairs = oracle.load_pairs()
    assert len(pairs) >= 8
    ids = [p["id"] for p in pairs]
    assert len(ids) == len(set(ids))
    for p in pairs:
        assert p["lang"] in ("ts", "py") and p["registry"] == {"ts": "npm", "py": "pypi"}[p["lang"]]
        assert re.fullmatch(r"\d+\.\d+\.\d+", p["old"]) and re.fullmatch(r"\d+\.\d+\.\d+", p["new"])
        assert p["why"]
    # several ecosystems' libraries, not only elizaOS
    assert len({p["name"] for p in pairs if not p["name"].startswith("@elizaos/")}) >= 6
    assert {p["lang"] for p in pairs} == {"ts", "py"}


def test_labels_file_shape():
    labels = oracle.load_labels()
    assert labels["schema"] == "canary/compat-corpus-labels/v1"
    known = {p["id"] for p in oracle.load_pairs()}
    assert set(labels["pairs"]) <= known
    for pid, entry in labels["pairs"].items():
        for k, item in entry["items"].items():
            rule, symbol = k.split(" ", 1)
            assert re.fullmatch(r"(TS|PY|SQL)\d{3}", rule), (pid, k)
            assert symbol
            assert item["label"] in (True, False), f"{pid}: {k} is not labelled"
            assert item["by"] in ("oracle-tsc", "oracle-py", "manual"), (pid, k)
            assert len(item["reason"]) > 10, (pid, k)
    assert sum(1 for e in labels["pairs"].values() for i in e["items"].values() if i["label"]) >= 20


@pytest.mark.registry
def test_precision_and_recall_at_err_reach_the_goal(tmp_path, monkeypatch):
    monkeypatch.setenv("CANARY_HOME", str(tmp_path))
    figures = oracle.measure()
    report = json.dumps(figures, indent=1, default=sorted)
    for lang, f in figures.items():
        assert not f["unlabelled"], report
        assert f["precision"] >= GOAL, report
        assert f["recall"] >= GOAL, report
