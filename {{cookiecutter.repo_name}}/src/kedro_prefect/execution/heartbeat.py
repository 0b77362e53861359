"""Flow-run heartbeats that stop the moment the run ends.

The server marks a deployment run Crashed when its heartbeats stop (``operations/crashes.py``).
Prefect's own heartbeat thread (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``) sleeps in 1-second steps and
the run waits for it at the end, so every run ended up to a second late (an empty flow took 1.08 s
with it, 0.09 s without). This sends the same event from the flow body, waiting on an event that
ending the run sets at once. It beats for deployment runs only (ad-hoc runs have no worker to
lose), every ``KEDRO_PREFECT_HEARTBEAT_SECONDS`` seconds (default 30, the automation's unit; 0
turns it off).
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
