"""Flow-run heartbeats that stop the moment the run ends.

The server marks a deployment run Crashed when its heartbeats stop (``operations/crashes.py``).
Prefect's own heartbeat thread (on by default, every 180 s) sleeps in 1-second steps and the run
waits for it at the end, so every run ended up to a second late (an empty flow took 1.08 s with it,
0.09 s without; in ``make run`` the wait was 0.5 s on average). This sends the same event from the
flow body, waiting on an event that ending the run sets at once, and the deployment's flow switches
Prefect's off when it is loaded (``without_prefect_heartbeat``). It beats for deployment runs only
(ad-hoc runs have no worker to lose), every ``KEDRO_PREFECT_HEARTBEAT_SECONDS`` seconds (default
30, the automation's unit; 0 turns it off).
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HEARTBEAT_ENV = "KEDRO_PREFECT_HEARTBEAT_SECONDS"
DEFAULT_SECONDS = 30.0


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
    """Emit ``prefect.flow-run.heartbeat`` for this deployment run until the block ends."""
    from prefect.events import emit_event
    from prefect.runtime import deployment, flow_run

    interval = heartbeat_seconds()
    if not interval or flow_run.id is None or deployment.id is None:
        yield
        return
    resource = {"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.name": flow_run.name}
    related = [{"prefect.resource.id": f"prefect.deployment.{deployment.id}", "prefect.resource.role": "deployment"}]
    stop = threading.Event()

    def beat() -> None:
        while True:
            emit_event(event="prefect.flow-run.heartbeat", resource=resource, related=related)
            if stop.wait(interval):
                return

    # The thread needs this run's settings (the API URL), which live in context variables.
    thread = threading.Thread(target=contextvars.copy_context().run, args=(beat,), daemon=True, name="heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
