"""An asset event for every persisted dataset a run saved, so the server's automations (a
deployment's ``on_dataset`` trigger) can start work when data changes.

Each is Prefect's own ``prefect.asset.materialization.succeeded`` (what ``@materialize`` emits):
its resource is the dataset's location (``file:///...``, ``s3://...``), named after the dataset and
labelled ``kedro.dataset``; the node that saved it and the persisted datasets it read are related
resources (``asset-materialized-by``, ``asset``), which is the lineage Prefect records. The
events worker adds the flow run, its flow and deployment. They are sent once the nodes have run
(from the flow's process, on every task runner), for each node that Completed in this attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

MATERIALIZED = "prefect.asset.materialization.succeeded"
DATASET_LABEL = "kedro.dataset"
"""The resource label naming the catalog dataset (locations differ between a project's clones)."""


def materialization_events(
    saved: Iterable[tuple[str, list[str], list[str]]], locations: dict[str, str], project_path: Path
) -> list[dict[str, Any]]:
    """``emit_event`` arguments for each persisted output of each (node, inputs, outputs) saved."""
    from .locations import location_uri

    events = []
    for node, inputs, outputs in saved:
        read = [
            {"prefect.resource.id": location_uri(locations[name], project_path), "prefect.resource.role": "asset"}
            for name in inputs
            if name in locations
        ]
        by = {"prefect.resource.id": f"kedro.node.{node}", "prefect.resource.role": "asset-materialized-by"}
        for name in outputs:
            if name in locations:
                resource = {
                    "prefect.resource.id": location_uri(locations[name], project_path),
                    "prefect.resource.name": name,
                    DATASET_LABEL: name,
                }
                events.append({"event": MATERIALIZED, "resource": resource, "related": [*read, by]})
    return events


def emit_materializations(events: list[dict[str, Any]]) -> None:
    from prefect.events import emit_event

    for event in events:
        emit_event(**event)
