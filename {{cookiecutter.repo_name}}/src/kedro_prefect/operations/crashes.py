"""Mark flow runs Crashed when their process dies: Prefect's own zombie-run detection.

A deployment run sends a heartbeat event every ``KEDRO_PREFECT_HEARTBEAT_SECONDS`` seconds (30 by
default; ``execution/heartbeat.py``, which replaces Prefect's own heartbeat thread, whose 1-second
sleep delayed the end of every run). If its machine, container or worker process
group is killed, the heartbeats stop and the run would stay Running forever; this automation,
created on the server by ``make agent`` and ``make up``, marks it Crashed once no heartbeat (or end
state) arrived for ``grace`` seconds. It is Prefect's recipe "detect zombie flows", kept here so a
self-hosted server gets what Prefect Cloud calls unresponsive run detection.
"""

from __future__ import annotations

from datetime import timedelta

import click
from prefect.automations import Automation, ChangeFlowRunState, EventTrigger, Posture, ResourceSpecification
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

AUTOMATION_NAME = "crash-unresponsive-flow-runs"
CRASH_MESSAGE = "No heartbeat from the flow run's process: it was killed or its machine went away."


def crash_detection(grace_seconds: int) -> Automation:
    return Automation(
        name=AUTOMATION_NAME,
        description=f"Marks a flow run Crashed when it sent no heartbeat for {grace_seconds} s.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=grace_seconds),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=CRASH_MESSAGE)],
    )


def ensure_crash_detection(grace_seconds: int) -> None:
    """Create the automation, or replace it when its grace period changed; leave it otherwise."""
    wanted = timedelta(seconds=grace_seconds)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        if any(getattr(automation.trigger, "within", None) == wanted for automation in existing):
            return
        for automation in existing:
            client.delete_automation(automation.id)
    crash_detection(grace_seconds).create()
    click.echo(f"Flow runs without a heartbeat for {grace_seconds} s will be marked Crashed")
