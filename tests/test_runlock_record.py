"""The refusal names the live holder even when it is caught between taking the lock and writing its record.

CI once saw "is being run by pid ?": a second resume read the lock file in the moment after the first
took the flock and before it wrote its pid. These tests hold the lock from a real second process and
control when (or whether) it writes its record.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from canary.kernel import runlock
from canary.kernel.errors import UserError

_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    path, delay, record, keep = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4] == "keep"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    if not keep:
        os.ftruncate(fd, 0)
    print("locked", flush=True)
    time.sleep(delay)
    if record:
        os.pwrite(fd, f"{os.getpid()} {record}\\n".encode(), 0)
    time.sleep(30)
    """
)


def _holder(run: Path, delay: float, record: str, keep: bool = False) -> subprocess.Popen[str]:
    """A process that takes the lock, then writes `record` after `delay` (keep: the old record stays)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(run / runlock.LOCK_FILE), str(delay), record, "keep" if keep else "new"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _refusal(run: Path, holder: subprocess.Popen[str]) -> str:
    """The message of a resume refused while `holder` has the lock; the holder is stopped after."""
    try:
        with pytest.raises(UserError) as caught, runlock.hold(run, "resume"):
            pass
    finally:
        holder.kill()
        holder.wait()
    return caught.value.message


def test_a_record_written_late_is_still_named(tmp_path: Path) -> None:
    proc = _holder(tmp_path, 0.5, "resume")
    message = _refusal(tmp_path, proc)
    assert message == f"run {tmp_path.name} is being resumed by pid {proc.pid}"


def test_a_holder_that_never_writes_is_another_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runlock, "_RECORD_WAIT_S", 0.5)
    proc = _holder(tmp_path, 0.0, "")
    message = _refusal(tmp_path, proc)
    assert message == f"run {tmp_path.name} is being used by another process"
    assert "?" not in message


def test_a_stale_record_of_a_dead_process_is_not_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A killed holder leaves its record; the next holder has the lock but has not yet rewritten it.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / runlock.LOCK_FILE).write_text(f"{dead.pid} run\n")
    monkeypatch.setattr(runlock, "_RECORD_WAIT_S", 0.5)
    fd_holder = _holder(tmp_path, 0.0, "", keep=True)
    message = _refusal(tmp_path, fd_holder)
    assert str(dead.pid) not in message
    assert message == f"run {tmp_path.name} is being used by another process"


def test_a_finished_holder_leaves_no_record(tmp_path: Path) -> None:
    with runlock.hold(tmp_path, "run"):
        assert (tmp_path / runlock.LOCK_FILE).read_text().split() == [str(os.getpid()), "run"]
    assert (tmp_path / runlock.LOCK_FILE).read_text() == ""
    assert not runlock.is_held(tmp_path)


def test_the_lock_is_taken_once_the_holder_lets_go(tmp_path: Path) -> None:
    # A refused process keeps trying while it waits for a record, so a holder that dies meanwhile lets it in.
    proc = _holder(tmp_path, 0.0, "")
    killer = threading.Timer(0.3, proc.kill)
    killer.start()
    try:
        with runlock.hold(tmp_path, "resume"):
            assert (tmp_path / runlock.LOCK_FILE).read_text().split() == [str(os.getpid()), "resume"]
            assert runlock.is_held(tmp_path)
    finally:
        killer.join()
        proc.wait()
