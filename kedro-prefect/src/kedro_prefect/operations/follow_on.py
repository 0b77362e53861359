"""The runs that start by themselves when a run ``make run`` followed Completes (prefect.yml's
``after:``), so that one ``make run`` shows the whole chain end to end and fails if any link fails.

The server is the truth here, not prefect.yml: an ``after:`` trigger is an automation the server
keeps (``deployment_triggers``), registered with the deployment it starts. A run of that
deployment created after the followed run ended is the one the automation started.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ..report import warn
from .deployment_triggers import COMPLETED
from .server import ui_url

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

APPEAR_SECONDS = 60.0
"""How long to wait for a follow-on run to be created once the run before it Completed (the
server turns the Completed event into a run within seconds, unless the machine is busy)."""

_ROLE, _NAME = "prefect.resource.role", "prefect.resource.name"


def follow_on_deployments(automations: Iterable[dict[str, Any]], deployment: str, flow: str) -> list[UUID]:
    """The deployments enabled automations run when a run of ``flow``'s ``deployment`` Completes
    (automations as the server returns them, in JSON form)."""
    found: list[UUID] = []
    for automation in automations:
        trigger = automation.get("trigger") or {}
        if not automation.get("enabled", True) or COMPLETED not in (trigger.get("expect") or []):
            continue
        related = trigger.get("match_related") or []
        related = [related] if isinstance(related, dict) else related
        labels = {(item.get(_ROLE), item.get(_NAME)) for item in related}
        if {("deployment", deployment), ("flow", flow)} <= labels:
            found += [
                UUID(str(action["deployment_id"]))
                for action in automation.get("actions", [])
                if action.get("type") == "run-deployment" and action.get("deployment_id")
            ]
    return list(dict.fromkeys(found))


def started_after(client: SyncPrefectClient, flow_run: FlowRun, api: str) -> list[FlowRun]:
    """The runs the Completed ``flow_run`` started through ``after:`` triggers, once created
    (bounded wait); a trigger whose run never appears is named in a warning."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    if flow_run.deployment_id is None or flow_run.end_time is None:
        return []
    deployment = client.read_deployment(flow_run.deployment_id)
    flow = client.read_flow(flow_run.flow_id)
    automations = [automation.model_dump(mode="json") for automation in client.read_automations()]
    waiting = follow_on_deployments(automations, deployment.name, flow.name)
    found: dict[UUID, FlowRun] = {}
    deadline = time.monotonic() + APPEAR_SECONDS
    while waiting and time.monotonic() < deadline:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=waiting)))
        for run in runs:
            if run.deployment_id in waiting and run.created is not None and run.created >= flow_run.end_time:
                found[run.deployment_id] = run
        waiting = [deployment_id for deployment_id in waiting if deployment_id not in found]
        if waiting:
            time.sleep(1)
    for deployment_id in waiting:
        name = client.read_deployment(deployment_id).name
        warn(
            f"Deployment '{name}' runs after '{deployment.name}' Completes, but no run of it appeared within "
            f"{APPEAR_SECONDS:.0f} s; see {ui_url(api)}/automations"
        )
    return sorted(found.values(), key=lambda run: run.created.timestamp() if run.created else 0.0)
