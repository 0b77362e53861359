"""The process that sends a flow run's heartbeats: ``python -m kedro_prefect.execution.heartbeat_process``.

A thread in the flow's own process cannot beat while a node holds the GIL: one long C call (a big
``sum(range(...))``, a regular expression, many C extensions) starved it for minutes, and the
server marked a healthy run Crashed. Prefect 1 met the same problem and moved its heartbeats into
a subprocess; this is that subprocess. It imports nothing but the standard library and httpx, and
posts one ``prefect.flow-run.heartbeat`` event every interval to the server's ``/api/events``.

It stops when its standard input closes: the flow-run process holds the only other end of that
pipe, so the pipe closes when the run ends *and* when its process dies in any way (SIGKILL
included), and the heartbeats stop with it. Credentials arrive in the environment, never in the
command line.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import uuid
from datetime import UTC, datetime

API_VARIABLE = "KEDRO_PREFECT_HEARTBEAT_API"
INTERVAL_VARIABLE = "KEDRO_PREFECT_HEARTBEAT_INTERVAL"
EVENT = "prefect.flow-run.heartbeat"


def heartbeat_event(resource: dict[str, str], related: list[dict[str, str]]) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": EVENT,
        "resource": resource,
        "related": related,
        "payload": {},
    }


def auth_headers() -> dict[str, str]:
    secret = os.environ.get("PREFECT_API_AUTH_STRING")
    if not secret:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}


def watch_for_end(ended: threading.Event) -> None:
    """Set ``ended`` once standard input reaches its end (the run ended, or its process died)."""
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        ended.set()


def main(resource_json: str, related_json: str) -> None:
    import httpx

    api = os.environ[API_VARIABLE].rstrip("/")
    interval = float(os.environ[INTERVAL_VARIABLE])
    resource, related = json.loads(resource_json), json.loads(related_json)
    ended = threading.Event()
    threading.Thread(target=watch_for_end, args=(ended,), daemon=True).start()
    with httpx.Client(headers=auth_headers(), timeout=min(interval, 10.0)) as client:
        while not ended.is_set():
            try:
                client.post(f"{api}/events", json=[heartbeat_event(resource, related)])
            except httpx.HTTPError:
                pass  # the server restarts or is busy: the next beat tries again
            ended.wait(interval)


if __name__ == "__main__":
    main(*sys.argv[1:3])
