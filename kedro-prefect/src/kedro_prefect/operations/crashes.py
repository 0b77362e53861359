"""Mark flow runs Crashed when their process dies: Prefect's own zombie-run detection.

A deployment run sends a heartbeat event every ``KEDRO_PREFECT_HEARTBEAT_SECONDS`` seconds (10 by
default) from a small process of its own (``execution/heartbeat.py``), which beats even while a
node holds the GIL. If its machine, container or worker process group is killed, the heartbeats
stop and the run would stay Running forever; this automation, created on the server by ``make
agent`` and ``make up``, marks it Crashed once no heartbeat (or end state) arrived for a while.
It is Prefect's recipe "detect zombie flows", kept here so a self-hosted server gets what Prefect
Cloud calls unresponsive run detection.

The server checks such automations every few seconds (``PROACTIVE_CHECK_SECONDS``), so the window
is that much shorter than ``crash_after``: a dead run is marked Crashed at most ``crash_after``
seconds after its last heartbeat.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.automations import Automation, ChangeFlowRunState, EventTrigger, Posture, ResourceSpecification
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from ..report import say

AUTOMATION_NAME = "crash-unresponsive-flow-runs"
DEFAULT_CRASH_AFTER = 60
PROACTIVE_CHECK_SECONDS = 5
"""How often the server evaluates proactive automations (its ``events.proactive_granularity``)."""
CRASH_MESSAGE = "No heartbeat from the flow run's process: it was killed or its machine went away."


def crash_detection(crash_after: int) -> Automation:
    window = crash_after - PROACTIVE_CHECK_SECONDS
    return Automation(
        name=AUTOMATION_NAME,
        description=f"Marks a flow run Crashed when it sent no heartbeat for {crash_after} s.",
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
            within=timedelta(seconds=window),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, message=CRASH_MESSAGE)],
    )


def ensure_crash_detection(crash_after: int) -> None:
    """Create the automation, or replace it when its window changed; leave it otherwise."""
    wanted = getattr(crash_detection(crash_after).trigger, "within", None)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        if any(getattr(automation.trigger, "within", None) == wanted for automation in existing):
            return
        for automation in existing:
            client.delete_automation(automation.id)
    crash_detection(crash_after).create()
    say(f"Flow runs without a heartbeat for {crash_after} s will be marked Crashed")
