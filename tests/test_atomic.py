"""One atomic writer for every file: readers never see a partial file; a torn cache index is rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from canary.kernel.atomic import write_json_atomic, write_text_atomic
from canary.matrix.store import Store
from tests.conftest import canary

# Reads every report file in a tight loop until told to stop; prints how many reads it made and
# how many saw a partial (empty, cut, unparsable) file.
READER = textwrap.dedent("""
    import json, os, sys, xml.etree.ElementTree as ET
    out, stop = sys.argv[1], sys.argv[2]
    checks = {
        "report.json": lambda t: json.loads(t),
        "junit.xml": lambda t: ET.fromstring(t.encode()),
        "index.html": lambda t: t.rstrip().endswith("</html>") or 1 / 0,
        "report.md": lambda t: t.strip() or 1 / 0,
    }
    reads = torn = 0
    while not os.path.exists(stop):
        for name, check in checks.items():
            try:
                with open(os.path.join(out, name), encoding="utf-8") as fh:
                    text = fh.read()
            except FileNotFoundError:
                continue
            reads += 1
            try:
                check(text)
            except Exception:
                torn += 1
    print(json.dumps({"reads": reads, "torn": torn}))
""")


def test_a_reader_never_sees_a_partial_report_file(demo_run, tmp_path):
    """Re-rendering reports while another process reads them: every read is a complete file."""
    from canary.reports import render_all

    out = tmp_path / "report"
    stop = tmp_path / "stop"
    render_all(demo_run["run"], ("json", "junit", "html", "md"), out_dir=out)
    reader = subprocess.Popen([sys.executable, "-c", READER, str(out), str(stop)], stdout=subprocess.PIPE, text=True)
    renders = 0
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline or renders < 10:
        render_all(demo_run["run"], ("json", "junit", "html", "md"), out_dir=out)
        renders += 1
    stop.touch()
    counts = json.loads(reader.communicate(timeout=30)[0])
    print(f"atomic reports: {renders} renders, {counts['reads']} reads, {counts['torn']} torn")
    assert counts["reads"] > 1000, counts
    assert counts["torn"] == 0, counts
    leftovers = [p.name for p in out.rglob("*.tmp")]
    assert leftovers == []


def test_atomic_writers_leave_only_the_file(tmp_path):
    write_text_atomic(tmp_path / "a" / "x.txt", "one\r\ntwo\n")
    write_json_atomic(tmp_path / "a" / "y.json", {"k": "é"}, ensure_ascii=False)
    assert (tmp_path / "a" / "x.txt").read_bytes() == b"one\r\ntwo\n"
    assert json.loads((tmp_path / "a" / "y.json").read_text(encoding="utf-8")) == {"k": "é"}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.txt", "y.json"]
    assert (tmp_path / "a" / "x.txt").stat().st_mode & 0o044  # readable by others, like any user file


def test_a_torn_pypi_cache_index_is_rebuilt_from_the_artifacts(demo, tmp_path):
    home = tmp_path / "h"
    args = ("run", "-c", str(demo.matrix), "--cells", "beta@main--core-1.0.0", "--report", "none", "--no-cache")
    first = canary(*args, env={"CANARY_HOME": str(home)})
    assert first.returncode == 0, first.stderr
    index_file = home / "cache" / "artifacts" / "pypi" / "democore" / "index.json"
    whole = index_file.read_text()
    assert "democore-1.0.0" in whole
    index_file.write_text(whole[: len(whole) // 2])  # what a kill during an in-place write leaves
    second = canary(*args, env={"CANARY_HOME": str(home)})
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Traceback" not in second.stderr
    r = Store(home / "runs").latest().read_cell("beta@main--core-1.0.0")
    assert r.status == "pass", r.reason
    rebuilt = json.loads(index_file.read_text())
    assert rebuilt["1.0.0"].startswith("democore-1.0.0") and Path(index_file.parent / rebuilt["1.0.0"]).is_file()


def test_writing_to_a_device_or_fifo_writes_through_and_never_replaces_it(tmp_path):
    """`--output /dev/null` must not turn /dev/null into a regular file (a rename would, as root).

    The device is a private null device made in tmp_path (root can mknod), so that the old code,
    which renamed over it, cannot break the machine's /dev/null while this test proves it."""
    import os
    import stat
    import threading

    from canary.kernel.atomic import write_text_atomic

    if os.geteuid() == 0:
        null = tmp_path / "null"
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        write_text_atomic(null, "nothing\n")
        assert stat.S_ISCHR(os.stat(null).st_mode), "the device was replaced by a regular file"

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_text_atomic(fifo, "through the pipe\n")
    reader.join(10)
    assert got == [b"through the pipe\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
