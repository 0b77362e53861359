"""The flow runs a worker is running, ended on purpose when the worker is stopped.

A process worker starts each flow run as a process of its own session, so stopping the worker
(``make down``, Ctrl-C on ``make agent``) left its runs going, unseen, until the heartbeat
automation marked them Crashed a minute later. Instead their processes are found (the worker's
children carrying ``PREFECT__FLOW_RUN_ID``), each run is marked Cancelled with the reason, *then*
its process group is stopped: a Cancelled run can no longer be marked Crashed by anyone, and the
command says which runs it ended.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from uuid import UUID

import psutil

FLOW_RUN_VARIABLE = "PREFECT__FLOW_RUN_ID"
API_TIMEOUT = 3.0
"""Seconds for each call to the server while stopping: a stop must end even when the server is gone."""


@dataclass(frozen=True)
class FlowRunProcess:
    pid: int
    flow_run_id: UUID


def flow_run_processes(worker_pid: int) -> list[FlowRunProcess]:
    """The flow-run processes the worker started (not their own children), oldest first."""
    try:
        descendants = psutil.Process(worker_pid).children(recursive=True)
    except psutil.Error:
        return []
    found: dict[UUID, FlowRunProcess] = {}
    for process in sorted(descendants, key=lambda p: p.pid):
        try:
            flow_run_id = process.environ().get(FLOW_RUN_VARIABLE)
        except psutil.Error:
            continue
        if flow_run_id:
            try:
                found.setdefault(UUID(flow_run_id), FlowRunProcess(process.pid, UUID(flow_run_id)))
            except ValueError:
                continue
    return list(found.values())


def end_flow_runs(processes: list[FlowRunProcess], reason: str) -> list[str]:
    """Mark each run Cancelled with ``reason``, then stop its process group; one line per run."""
    if not processes:
        return []
    lines = []
    names = _mark_cancelled([process.flow_run_id for process in processes], reason)
    for process in processes:
        _kill_group(process.pid)
        name = names.get(process.flow_run_id)
        if name is None:
            lines.append(f"Stopped flow run {process.flow_run_id} (the server could not be told: it is not answering)")
        else:
            lines.append(f"Ended flow run '{name}' ({process.flow_run_id}): {reason}; marked Cancelled")
    return lines


def _mark_cancelled(flow_run_ids: list[UUID], reason: str) -> dict[UUID, str]:
    """The runs' names, for those the server marked Cancelled."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    marked = {}
    try:
        with get_client(sync_client=True, httpx_settings={"timeout": API_TIMEOUT}) as client:
            for flow_run_id in flow_run_ids:
                flow_run = client.read_flow_run(flow_run_id)
                if flow_run.state is None or not flow_run.state.is_final():
                    client.set_flow_run_state(flow_run_id, Cancelled(message=f"Ended: {reason}"), force=True)
                marked[flow_run_id] = flow_run.name
    except Exception:  # noqa: BLE001 - unreachable or refusing server: the processes are stopped anyway
        pass
    return marked


def _kill_group(pid: int) -> None:
    """SIGKILL the run and what it started: its process group when it leads one (Prefect starts
    each run in a session of its own), else the process alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
