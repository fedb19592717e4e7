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


def test_python_probe_exercises_the_old_api_for_real(tmp_path):
    """The Python oracle on a package written here (the NEW side), run as the oracle runs it."""
    import subprocess
    import sys

    pkg = tmp_path / "newpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import warnings\n"
        "def get(url, *, timeout=None):\n    pass\n"
        "def forward(self, cmd, /, *args, **kwargs):\n    pass\n"
        "class Base:\n    def route(self):\n        pass\n"
        "class App(Base):\n    def __init__(self):\n        self.config = {}\n"
        "def __getattr__(name):\n    if name == 'Old':\n        warnings.warn('use App')\n        return App\n"
        "    raise AttributeError(name)\n"
    )
    params = [
        {"name": "url", "kind": "positional or keyword", "optional": False},
        {"name": "cert", "kind": "positional or keyword", "optional": True},
    ]
    fwd = [
        {"name": "__self", "kind": "positional or keyword", "optional": False},
        {"name": "__cmd", "kind": "positional or keyword", "optional": False},
        {"name": "args", "kind": "variadic positional", "optional": True},
        {"name": "attrs", "kind": "variadic keyword", "optional": True},
    ]
    items = [
        {
            "key": "PY003 newpkg.get(cert)",
            "rule": "PY003",
            "symbol": "newpkg.get(cert)",
            "callable": "newpkg.get",
            "param": "cert",
            "old_params": params,
        },
        {
            "key": "PY003 newpkg.forward(__cmd)",
            "rule": "PY003",
            "symbol": "newpkg.forward(__cmd)",
            "callable": "newpkg.forward",
            "param": "__cmd",
            "old_params": fwd,
        },
        {
            "key": "PY003 newpkg.forward(attrs)",
            "rule": "PY003",
            "symbol": "newpkg.forward(attrs)",
            "callable": "newpkg.forward",
            "param": "attrs",
            "old_params": fwd,
        },
        {"key": "PY001 newpkg.App.route", "rule": "PY001", "symbol": "newpkg.App.route"},
        {"key": "PY001 newpkg.App.config", "rule": "PY001", "symbol": "newpkg.App.config"},
        {"key": "PY001 newpkg.Old", "rule": "PY001", "symbol": "newpkg.Old"},
        {"key": "PY001 newpkg.Gone", "rule": "PY001", "symbol": "newpkg.Gone"},
        {
            "key": "PY010 newpkg.App.x",
            "rule": "PY010",
            "symbol": "newpkg.App.x",
            "old": "t.Optional[t.List[str]]",
            "new": "list[str] | None",
        },
    ]
    proc = subprocess.run(
        [sys.executable, str(oracle.HERE / "py_probe.py")],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    got = {k: v["label"] for k, v in json.loads(proc.stdout).items()}
    assert got == {
        "PY003 newpkg.get(cert)": True,
        "PY003 newpkg.forward(__cmd)": False,
        "PY003 newpkg.forward(attrs)": False,
        "PY001 newpkg.App.route": False,
        "PY001 newpkg.App.config": False,
        "PY001 newpkg.Old": False,
        "PY001 newpkg.Gone": True,
        "PY010 newpkg.App.x": False,
    }
