"""Heartbeats: their interval, none outside a deployment run, and a sender process that beats while
its parent holds the GIL and stops when its parent ends or dies.

The sender talks to a small HTTP server in this test process that records what a Prefect server's
``POST /api/events`` would receive; the end-to-end reliability tests prove it against a real server.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest

from kedro_prefect.execution.heartbeat import HEARTBEAT_ENV, heartbeat_seconds, heartbeats


@pytest.mark.parametrize(("value", "seconds"), [(None, 10.0), ("5", 5.0), ("0", 0.0), ("-3", 0.0), ("soon", 10.0)])
def test_interval_comes_from_the_environment(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv(HEARTBEAT_ENV, raising=False)
    else:
        monkeypatch.setenv(HEARTBEAT_ENV, value)
    assert heartbeat_seconds() == seconds


def test_no_sender_outside_a_deployment_run(monkeypatch):
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: started.append(args))
    with heartbeats():
        pass
    assert started == []


def test_loading_the_deployment_flow_switches_prefects_own_heartbeat_off():
    from prefect.settings import get_current_settings, temporary_settings

    from kedro_prefect.execution.heartbeat import without_prefect_heartbeat

    with temporary_settings(updates={"flows.heartbeat_frequency": 60}):
        assert get_current_settings().flows.heartbeat_frequency == 60
        without_prefect_heartbeat()
        assert get_current_settings().flows.heartbeat_frequency is None


class EventsServer:
    """Records the bodies and Authorization headers of POST /api/events, with their arrival times."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((time.monotonic(), self.path, self.headers.get("Authorization"), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.api = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def beats_between(self, start: float, end: float) -> int:
        return sum(1 for at, *_ in self.received if start <= at <= end)


@pytest.fixture
def events():
    server = EventsServer()
    yield server
    server.server.shutdown()


# A flow-run process stand-in: starts the sender, says so, then does what argv[2] says.
PARENT = textwrap.dedent(
    """
    import ctypes, sys, time
    from kedro_prefect.execution.heartbeat import heartbeat_sender

    resource = {"prefect.resource.id": "prefect.flow-run.1234", "prefect.resource.name": "toy"}
    with heartbeat_sender(sys.argv[1], 0.2, resource, [], "kedro:s3cr$t") as sender:
        print(sender.pid, flush=True)
        if sys.argv[2] == "hold-gil":
            # A C call made while holding the GIL, as a long numpy or regex call would: PyDLL keeps it.
            ctypes.PyDLL(None).sleep(2)
            print("released", flush=True)
        else:
            time.sleep(60)
    """
)


def start_parent(api: str, mode: str) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, api, mode], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    return parent, int(parent.stdout.readline())


def gone_within(pid: int, seconds: float) -> bool:
    """The process exited (a zombie its new parent has not reaped yet counts)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_the_sender_beats_while_its_parent_holds_the_gil_and_stops_when_the_run_ends(events):
    parent, sender = start_parent(events.api, "hold-gil")
    holding_from = time.monotonic()
    assert parent.stdout.readline().strip() == "released"
    released_at = time.monotonic()
    parent.wait(timeout=30)

    assert events.beats_between(holding_from + 0.3, released_at - 0.3) >= 4  # every 0.2 s through 2 s of GIL
    assert gone_within(sender, 1.0)  # the block ended: the sender stopped with it
    _, path, authorization, [event] = events.received[-1]
    assert path == "/api/events"
    assert event["event"] == "prefect.flow-run.heartbeat"
    assert event["resource"]["prefect.resource.id"] == "prefect.flow-run.1234"
    assert authorization == "Basic " + base64.b64encode(b"kedro:s3cr$t").decode()


def test_the_sender_stops_at_once_when_its_parent_is_killed(events):
    parent, sender = start_parent(events.api, "sleep")
    try:
        deadline = time.monotonic() + 10
        while not events.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert events.received, "no heartbeat from the sender"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        killed_at = time.monotonic()
        assert gone_within(sender, 2.0)
        time.sleep(0.5)
        assert events.beats_between(killed_at + 0.3, time.monotonic()) == 0
    finally:
        for pid in (parent.pid, sender):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
