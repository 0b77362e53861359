"""Stopping processes within a bound, every time: Ctrl-C on ``make server`` and ``make agent``, ``make down``.

One signal is not enough. A Prefect worker sent SIGINT sometimes went on for minutes (it forwards
the signal to itself and waits for its flow runs), and on another day ignored SIGTERM for more
than 30 s. So a stop escalates: the first signal, then SIGTERM, then SIGKILL, each after a short
wait, which ends any process within ``STOP_BOUND`` seconds.

``supervise`` runs a foreground command (``make server``, ``make agent``) as a child in the
terminal's process group: a terminal's Ctrl-C reaches the child itself, as it always did, and this
process makes sure the stop completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import NoReturn

import psutil

ESCALATION = ((signal.SIGTERM, 4.0), (signal.SIGKILL, 3.0))
"""What follows the first signal, each with the seconds the one before it is given."""
FIRST_WAIT = 4.0
STOP_BOUND = FIRST_WAIT + sum(wait for _, wait in ESCALATION)


def gone(process: psutil.Process) -> bool:
    """The process has exited (a zombie waiting for its parent counts as exited)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(process: psutil.Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(process):
            return True
        time.sleep(0.1)
    return gone(process)


def _send(process: psutil.Process, signum: signal.Signals, group: bool) -> None:
    try:
        if group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
    except (psutil.NoSuchProcess, ProcessLookupError):
        pass


def stop_process(
    process: psutil.Process, first: signal.Signals | None, group: bool = False, say: Callable[[str], None] = print
) -> None:
    """Send ``first`` (None: it was sent already), then escalate until the process is gone.

    ``group``: signal the process group ``process`` leads (a background process of ``make up``).
    Whatever the process had started and left in that group is killed with it.
    """
    if first is not None:
        _send(process, first, group)
    wait = FIRST_WAIT
    for signum, next_wait in ESCALATION:
        if wait_gone(process, wait):
            break
        say(f"{process.name()} (pid {process.pid}) is still running; sending {signum.name}")
        _send(process, signum, group)
        wait = next_wait
    else:
        wait_gone(process, wait)
    if group:
        _send(process, signal.SIGKILL, group=True)  # stragglers of the group


def supervise(
    command: list[str],
    env: dict[str, str],
    before_stop: Callable[[int], None] = lambda pid: None,
) -> NoReturn:
    """Run ``command`` in the foreground; on Ctrl-C, SIGTERM or SIGHUP, stop it within ``STOP_BOUND`` s.

    ``before_stop`` gets the child's PID once a stop was asked for, before the child is signalled
    by this process (a worker's flow runs are ended there). Exits with the child's exit code, or
    130 when stopped.
    """
    child = subprocess.Popen(command, env=env)
    process = psutil.Process(child.pid)
    asked: list[signal.Signals] = []
    asked_event = threading.Event()

    def ask(signum: int, frame: object) -> None:
        asked.append(signal.Signals(signum))
        asked_event.set()

    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, ask)
    while child.poll() is None and not asked_event.wait(0.2):
        pass
    if not asked:
        sys.exit(child.returncode)
    descendants = _descendants(process)
    before_stop(child.pid)
    # A terminal's Ctrl-C reached the child already (same process group); anything else is passed on.
    stop_process(process, None if asked[0] == signal.SIGINT else signal.SIGINT)
    child.wait()
    for leftover in descendants:
        if not gone(leftover):
            _send(leftover, signal.SIGKILL, group=False)
    sys.exit(130)


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []
