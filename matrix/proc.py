"""Running one command for a cell: argv only, own process group, timeout, log.

On timeout the whole process group is killed (SIGTERM, then SIGKILL), so a
test runner's children (servers, browsers, workers) do not outlive the cell.
Output is streamed into the cell's log with the caller's secrets redacted.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import IO

from canary.kernel.reaper import TOKEN_VAR, kill_tagged
from canary.kernel.redact import redact
from canary.matrix.results import CommandRecord


@dataclass
class Outcome:
    record: CommandRecord
    tail: list[str] = field(default_factory=list)  # last lines of output, redacted
    output_lines: int = 0
    leftovers_killed: int = 0  # descendants still running when the command ended

    @property
    def ok(self) -> bool:
        return self.record.exit_code == 0 and not self.record.timed_out


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            continue


def run_command(
    phase: str,
    argv: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    timeout: float,
    log: IO[str],
    secrets: list[str] | None = None,
    tail_lines: int = 60,
    token: str = "",
) -> Outcome:
    """`token` tags every descendant (reaper): those still alive when the command ends are killed."""
    if token:
        env = {**env, TOKEN_VAR: token}
    log.write(redact(f"\n$ [{phase}] {shlex.join(argv)}\n    (cwd {cwd}, timeout {timeout:g}s)\n", secrets))
    log.flush()
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=tail_lines)
    count = 0
    if not os.path.isdir(cwd):
        # Popen says "No such file or directory" for a missing cwd as for a missing program: say which.
        msg = f"working directory does not exist: {cwd}"
        log.write(msg + "\n")
        return Outcome(CommandRecord(phase, list(argv), 127, 0.0, False, cwd), [msg], 1)
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        msg = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
        log.write(msg + "\n")
        return Outcome(CommandRecord(phase, list(argv), 127, 0.0, False, cwd), [msg], 1)

    def pump() -> None:
        nonlocal count
        assert proc.stdout is not None
        for line in proc.stdout:
            line = redact(line, secrets)
            log.write(line)
            tail.append(line.rstrip("\n"))
            count += 1
        log.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timer_fired = threading.Event()

    def expire() -> None:
        timer_fired.set()
        _signal_group(proc, signal.SIGTERM)
        grace = threading.Timer(3.0, _signal_group, (proc, signal.SIGKILL))
        grace.daemon = True
        grace.start()

    # A timer, not wait(timeout=...): CPython polls a timed wait with sleeps of up to 50 ms,
    # which added a measurable delay to every command of every cell.
    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:  # interrupted while waiting (KeyboardInterrupt): take the group down
            _kill_group(proc)
    if timer_fired.is_set():
        _signal_group(proc, signal.SIGKILL)  # children that ignored SIGTERM and outlived the leader
    # Whatever the command started and left behind (a background server, a setsid daemon) dies with it.
    leftovers = kill_tagged(token) if token else 0
    reader.join(timeout=5)
    timed_out = timer_fired.is_set()
    duration = time.monotonic() - started
    if timed_out:
        log.write(f"!! timed out after {timeout:g}s: process group killed\n")
    if leftovers:
        log.write(f"!! killed {leftovers} process(es) the command left running\n")
    log.write(f"-> exit {proc.returncode} in {duration:.2f}s\n")
    log.flush()
    record = CommandRecord(
        phase, list(argv), None if timed_out else proc.returncode, round(duration, 3), timed_out, cwd
    )
    return Outcome(record, list(tail), count, leftovers)
