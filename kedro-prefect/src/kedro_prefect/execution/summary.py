"""The run summary: a table artifact with one row per node, under one key per deployment.

It is also what a retried flow run reads to learn which nodes its earlier attempt completed.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from prefect.artifacts import create_table_artifact

if TYPE_CHECKING:
    from .units import NodeOutcome


def summary_key(flow_name: str) -> str:
    """One artifact key per deployment, so the UI shows each deployment's history of summaries."""
    from prefect.context import FlowRunContext
    from prefect.runtime import deployment

    context = FlowRunContext.get()
    deployed = context is not None and context.flow_run is not None and context.flow_run.deployment_id is not None
    name = f"{flow_name}-{deployment.name if deployed else 'adhoc'}-nodes"
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def publish_summary(outcomes: list[NodeOutcome], flow_name: str) -> None:
    """A table artifact with every node's final state, duration, process, inputs and outputs."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
    create_table_artifact(
        key=summary_key(flow_name),
        table=[
            {
                "node": outcome.node,
                "state": outcome.state,
                "seconds": None if outcome.seconds is None else round(outcome.seconds, 3),
                "process": outcome.process,
                "task": outcome.task,
                "attempt": outcome.attempt,
                "inputs": ", ".join(outcome.inputs),
                "outputs": ", ".join(outcome.outputs),
                "saved to": ", ".join(outcome.saved_to),
            }
            for outcome in outcomes
        ],
        description="Kedro nodes of this run: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())),
    )


def publish_lineage(
    outcomes: list[NodeOutcome],
    locations: dict[str, str],
    sizes: dict[str, int | None],
    shapes: dict[str, list[int]],
    flow_name: str,
) -> None:
    """A markdown artifact beside the summary: the run's nodes and datasets as a Mermaid flowchart,
    and what each persisted output takes in storage and its rows × columns (``lineage.py``)."""
    from prefect.artifacts import create_markdown_artifact

    from .lineage import lineage_markdown

    create_markdown_artifact(
        key=summary_key(flow_name).removesuffix("-nodes") + "-lineage",
        markdown=lineage_markdown(outcomes, locations, sizes, shapes),
        description="Kedro nodes and datasets of this run, and the size and rows of each dataset it saved",
    )


def last_summary(flow_run_id: Any, key: str | None = None) -> list[dict[str, Any]]:
    """The rows of the newest summary this flow run published (under ``key``, if given); [] if none.

    Summaries are its table artifacts: the lineage beside them is markdown."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
        ArtifactFilterType,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
                key=ArtifactFilterKey(any_=[key]) if key else None,
                type=ArtifactFilterType(any_=["table"]),
            ),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    if not artifacts:
        return []
    data = artifacts[0].data
    if isinstance(data, str):
        return json.loads(data)
    return list(data) if isinstance(data, list) else []
