"""The run summary: a table artifact with one row per node, under one key per deployment."""

from __future__ import annotations

import re

from prefect.artifacts import create_table_artifact

from .runner import NodeOutcome


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
                "inputs": ", ".join(outcome.inputs),
                "outputs": ", ".join(outcome.outputs),
            }
            for outcome in outcomes
        ],
        description="Kedro nodes of this run: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())),
    )
