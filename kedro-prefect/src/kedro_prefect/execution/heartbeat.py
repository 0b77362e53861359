"""Flow-run heartbeats from a process of their own, which stop the moment the run ends.

The server marks a deployment run Crashed when its heartbeats stop (``operations/crashes.py``).
Prefect sends them from a thread of the flow's process, which has two costs: the thread sleeps in
1-second steps and the run waits for it at the end (every run ended up to a second late), and it
cannot beat while a node holds the GIL (a healthy run holding it for minutes was marked Crashed).
So deployment runs switch Prefect's heartbeat off when their flow is loaded
(``without_prefect_heartbeat``) and beat from a small subprocess (``heartbeat_process``) instead,
every ``KEDRO_PREFECT_HEARTBEAT_SECONDS`` seconds (default 10; 0 turns them off). Ad-hoc runs have
no worker to lose and send none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .heartbeat_process import API_VARIABLE, INTERVAL_VARIABLE

HEARTBEAT_ENV = "KEDRO_PREFECT_HEARTBEAT_SECONDS"
DEFAULT_SECONDS = 10.0
STOP_TIMEOUT = 5.0
"""Seconds the run waits at its end for a heartbeat being sent, so none arrives after its final state."""


def heartbeat_seconds() -> float:
    """The interval from the environment; a value that is not a number falls back to the default."""
    try:
        return max(float(os.environ.get(HEARTBEAT_ENV, DEFAULT_SECONDS)), 0.0)
    except ValueError:
        return DEFAULT_SECONDS


def without_prefect_heartbeat() -> None:
    """Switch Prefect's own flow-run heartbeat off in this process: ``heartbeats()`` beats instead.

    Prefect reads its interval when the run starts, and the environment cannot set it to "off"
    (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` takes whole seconds, at least 30), so this sets the
    process's settings before the run starts: the flow-run process loads the deployment's flow first.
    """
    from prefect.settings import get_current_settings

    get_current_settings().flows.heartbeat_frequency = None


@contextmanager
def heartbeats() -> Iterator[None]:
    """Send ``prefect.flow-run.heartbeat`` for this deployment run from a subprocess until the block ends."""
    from prefect.runtime import deployment, flow_run
    from prefect.settings import get_current_settings

    interval = heartbeat_seconds()
    if not interval or flow_run.id is None or deployment.id is None:
        yield
        return
    settings = get_current_settings()
    auth = settings.api.auth_string.get_secret_value() if settings.api.auth_string is not None else None
    resource = {"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.name": flow_run.name}
    related = [{"prefect.resource.id": f"prefect.deployment.{deployment.id}", "prefect.resource.role": "deployment"}]
    with heartbeat_sender(str(settings.api.url), interval, resource, related, auth):
        yield


@contextmanager
def heartbeat_sender(
    api: str, interval: float, resource: dict[str, str], related: list[dict[str, str]], auth: str | None
) -> Iterator[subprocess.Popen]:
    """The sender process, beating until the block ends (or this process dies)."""
    env = {**os.environ, API_VARIABLE: api, INTERVAL_VARIABLE: str(interval)}
    if auth is not None:
        env["PREFECT_API_AUTH_STRING"] = auth
    sender = subprocess.Popen(
        [sys.executable, "-m", f"{__package__}.heartbeat_process", json.dumps(resource), json.dumps(related)],
        stdin=subprocess.PIPE,
        env=env,
    )
    try:
        yield sender
    finally:
        assert sender.stdin is not None  # stdin=PIPE
        sender.stdin.close()  # the sender's signal to stop; it also sees this when this process dies
        try:
            sender.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            sender.kill()
            sender.wait()
