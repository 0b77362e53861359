"""The runs that start by themselves when a run ``make run`` followed Completes (prefect.yml's
``after:``), so that one ``make run`` shows the whole chain end to end and fails if any link fails.

The server is the truth here, not prefect.yml: an ``after:`` trigger is an automation the server
keeps (``deployment_triggers``), registered with the deployment it starts. The run it started is
the first run of that deployment since the followed run ended that carries the automation's
idempotency key: not a scheduled run, nor one started from the UI.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from ..report import say, warn
from .deployment_triggers import COMPLETED
from .server import ui_url

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.objects import FlowRun

APPEAR_SECONDS = 60.0
"""How long to wait for a follow-on run to be created once the run before it Completed (the
server turns the Completed event into a run within seconds, unless the machine is busy)."""

_ROLE, _NAME = "prefect.resource.role", "prefect.resource.name"


class FollowOn(NamedTuple):
    """An automation that runs a deployment when a run of another Completes."""

    automation_id: UUID
    deployment_id: UUID

    def started(self, run: FlowRun) -> bool:
        """Whether this automation created ``run`` (Prefect keys the runs it creates by automation),
        not a schedule, the UI or someone's ``make run``."""
        return run.deployment_id == self.deployment_id and (run.idempotency_key or "").startswith(
            f"automation {self.automation_id}, "
        )


def _labels(related: Any) -> set[tuple[Any, Any]]:
    """(role, name) pairs a trigger's ``match_related`` asks for; a value may be a list of choices."""
    items = [related] if isinstance(related, dict) else related or []
    pairs = set()
    for item in items:
        roles, names = item.get(_ROLE), item.get(_NAME)
        for role in roles if isinstance(roles, list) else [roles]:
            pairs |= {(role, name) for name in (names if isinstance(names, list) else [names])}
    return pairs


def follow_ons(automations: Iterable[dict[str, Any]], deployment: str, flow: str) -> list[FollowOn]:
    """The deployments enabled automations run when a run of ``flow``'s ``deployment`` Completes
    (automations as the server returns them, in JSON form; any on the server, not only ours)."""
    found: list[FollowOn] = []
    for automation in automations:
        trigger = automation.get("trigger") or {}
        if not automation.get("enabled", True) or COMPLETED not in (trigger.get("expect") or []):
            continue
        if {("deployment", deployment), ("flow", flow)} <= _labels(trigger.get("match_related")):
            found += [
                FollowOn(UUID(str(automation["id"])), UUID(str(action["deployment_id"])))
                for action in automation.get("actions", [])
                if action.get("type") == "run-deployment" and action.get("deployment_id")
            ]
    return list(dict.fromkeys(found))


def started_after(client: SyncPrefectClient, flow_run: FlowRun, api: str) -> list[FlowRun]:
    """The runs the Completed ``flow_run`` started through ``after:`` triggers, each named as it
    is created (bounded wait); a trigger whose run never appears is named in a warning."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    if flow_run.deployment_id is None or flow_run.end_time is None:
        return []
    deployment = client.read_deployment(flow_run.deployment_id)
    flow = client.read_flow(flow_run.flow_id)
    automations = [automation.model_dump(mode="json") for automation in client.read_automations()]
    waiting = follow_ons(automations, deployment.name, flow.name)
    found: list[FlowRun] = []
    deadline = time.monotonic() + APPEAR_SECONDS
    while waiting and time.monotonic() < deadline:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[each.deployment_id for each in waiting])),
            flow_run_filter=FlowRunFilter(expected_start_time=FlowRunFilterExpectedStartTime(after_=flow_run.end_time)),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
        )
        for follow_on in list(waiting):
            started = next((run for run in runs if follow_on.started(run)), None)  # the first since it ended
            if started is not None:
                name = client.read_deployment(follow_on.deployment_id).name
                say(f"It started flow run '{started.name}' ({started.id}) of {name} (after: {deployment.name})")
                found.append(started)
                waiting.remove(follow_on)
        if waiting:
            time.sleep(1)
    for follow_on in waiting:
        name = client.read_deployment(follow_on.deployment_id).name
        warn(
            f"Deployment '{name}' runs after '{deployment.name}' Completes, but no run of it appeared within "
            f"{APPEAR_SECONDS:.0f} s; see {ui_url(api)}/automations"
        )
    return found
