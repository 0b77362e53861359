"""prefect.yml's ``triggers`` as Prefect deployment triggers: automations the server evaluates.

- ``after: X`` fires on a ``prefect.flow-run.Completed`` event whose related deployment is named
  ``X`` and whose related flow is this project's (deployment names repeat across projects).
- ``on_dataset: D`` fires on the ``prefect.asset.materialization.succeeded`` event a run of this
  project emits when it saves the catalog dataset ``D`` (``execution/asset_events.py``), whatever the
  deployment.

``make deploy`` registers them with the deployment; registering again replaces them (Prefect
deletes the automations a deployment owns before creating its triggers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..execution.asset_events import DATASET_LABEL, MATERIALIZED
from ..options import without_unset

if TYPE_CHECKING:
    from ..config import DeploymentConfig, TriggerConfig

COMPLETED = "prefect.flow-run.Completed"


def _related(role: str, name: str) -> dict[str, str]:
    return {"prefect.resource.role": role, "prefect.resource.name": name}


def trigger_spec(trigger: TriggerConfig, flow_name: str) -> dict[str, Any]:
    """The event a trigger waits for, as Prefect's ``EventTrigger`` fields (Prefect-free, for tests)."""
    if trigger.after is not None:
        return {
            "expect": {COMPLETED},
            "match_related": [_related("deployment", trigger.after), _related("flow", flow_name)],
        }
    assert trigger.on_dataset is not None  # exactly one of the two (TriggerConfig._one_kind)
    return {
        "expect": {MATERIALIZED},
        "match": {DATASET_LABEL: trigger.on_dataset},
        "match_related": [_related("flow", flow_name)],
    }


def prefect_triggers(entry: DeploymentConfig, flow_name: str) -> list[Any]:
    """The entry's triggers, ready for ``flow.to_deployment(triggers=...)``."""
    from prefect.events import DeploymentEventTrigger

    return [
        DeploymentEventTrigger(
            name=f"{flow_name}/{entry.name}: {trigger.describe()}",
            description=f"Runs deployment '{entry.name}' {trigger.describe()} (prefect.yml).",
            parameters=without_unset(trigger.parameters) or None,
            **trigger_spec(trigger, flow_name),
        )
        for trigger in entry.triggers
    ]
