"""The Prefect flow that runs a Kedro pipeline, one Prefect task per node.

The flow goes through ``KedroSession.run``, so a deployment run behaves like ``kedro run`` with the
same options: project hooks fire, configuration environments and runtime params apply, filters
select the same nodes, and the results are the same. Only the runner differs (``PrefectTaskRunner``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import Pipeline
from kedro.utils import find_kedro_project
from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import PositiveInt

from . import FLOW_NAME
from .config import ExecutionConfig, TaskRunnerName, load_prefect_config
from .dask_execution import DaskExecution, dask_task_runner_class
from .logs import kedro_logs_to_prefect
from .pool_limit import pool_slot
from .runner import NodeOutcome, PrefectTaskRunner


def _project_path() -> Path:
    """The Kedro project the flow runs: the one containing the working directory.

    Deployments set the working directory to the project (a ``set_working_directory`` pull step).
    """
    found = find_kedro_project(Path.cwd())
    if found is None:
        raise RuntimeError(f"{Path.cwd()} is not inside a Kedro project; run the flow from the project folder.")
    return Path(found)


# Bootstrapping applies Kedro's logging configuration. Inside a running flow that would close
# Prefect's API log handler and stall the run, so it happens once, when the module is imported.
PROJECT_PATH = _project_path()
PACKAGE_NAME = bootstrap_project(PROJECT_PATH).package_name


class InvalidRunOptions(ValueError):
    """Unknown pipeline, or filters that select no node; the message is one line."""


def check_pipeline_name(pipeline_name: str) -> None:
    # Kedro loads only the requested pipelines (as session.run will); all of them are loaded only
    # to list the known names when the requested one does not exist.
    pipelines.set_requested([pipeline_name])
    try:
        found = pipeline_name in pipelines
    except (ImportError, KeyError):  # find_pipelines() has no package of that name
        found = False
    if not found:
        pipelines.set_requested(None)
        known = ", ".join(sorted(pipelines))
        raise InvalidRunOptions(f"Unknown pipeline '{pipeline_name}'. Known pipelines: {known}.")


FILTERS = ("tags", "node_names", "from_nodes", "to_nodes", "from_inputs", "to_outputs", "namespaces")
"""The flow's parameters that select nodes, as ``kedro run`` options do."""


def selected_pipeline(pipeline_name: str, filters: dict[str, list[str] | None]) -> Pipeline:
    """The nodes ``session.run`` will run; fails when the filters name unknown nodes or select nothing."""
    check_pipeline_name(pipeline_name)
    given = {name: value for name, value in filters.items() if value}
    if not given:
        return pipelines[pipeline_name]
    kedro_names = {**given}
    if "namespaces" in kedro_names:
        kedro_names["node_namespaces"] = kedro_names.pop("namespaces")
    try:
        return pipelines[pipeline_name].filter(**kedro_names)
    except ValueError as error:
        reason = " ".join(str(error).split())
        raise InvalidRunOptions(f"The filters {given} select no node of pipeline '{pipeline_name}': {reason}") from None


def summary_key() -> str:
    """One artifact key per deployment, so the UI shows each deployment's history of summaries."""
    from prefect.context import FlowRunContext
    from prefect.runtime import deployment

    context = FlowRunContext.get()
    deployed = context is not None and context.flow_run is not None and context.flow_run.deployment_id is not None
    name = f"{FLOW_NAME}-{deployment.name if deployed else 'adhoc'}-nodes"
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")


def publish_summary(outcomes: list[NodeOutcome]) -> None:
    """A table artifact with every node's final state, duration, inputs and outputs."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
    create_table_artifact(
        key=summary_key(),
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


def dask_execution(
    execution: ExecutionConfig, task_runner: TaskRunnerName | None, dask_address: str | None
) -> DaskExecution | None:
    """The Dask settings when this run uses Dask (by parameter, else by prefect.yml), else None."""
    if (task_runner or execution.task_runner) != "dask":
        return None
    config = execution.dask.model_copy(update={"address": dask_address}) if dask_address else execution.dask
    return DaskExecution(config=config, project_path=PROJECT_PATH, package_name=PACKAGE_NAME)


@flow(name=FLOW_NAME, description="Runs a Kedro pipeline of {{ cookiecutter.project_name }}, one task per node.")
def kedro_pipeline(
    pipeline_name: str = "__default__",
    env: str | None = None,
    tags: list[str] | None = None,
    node_names: list[str] | None = None,
    from_nodes: list[str] | None = None,
    to_nodes: list[str] | None = None,
    from_inputs: list[str] | None = None,
    to_outputs: list[str] | None = None,
    namespaces: list[str] | None = None,
    runtime_params: dict[str, Any] | None = None,
    max_workers: PositiveInt | None = None,
    task_runner: TaskRunnerName | None = None,
    dask_address: str | None = None,
) -> None:
    """Run a Kedro pipeline like ``kedro run`` with the same options.

    Args:
        pipeline_name: A pipeline registered in ``pipeline_registry.py``.
        env: Kedro configuration environment; ``None`` means Kedro's default run env (``local``).
        tags, node_names, from_nodes, to_nodes, from_inputs, to_outputs, namespaces: Kedro's node
            filters, as in ``kedro run``.
        runtime_params: Values for ``${runtime_params:...}`` in the configuration, as
            ``kedro run --params``.
        max_workers: How many nodes may run at once; overrides ``execution.max_workers`` in
            ``prefect.yml``.
        task_runner: ``threads`` (in the flow's process) or ``dask``; overrides
            ``execution.task_runner``.
        dask_address: Scheduler of the Dask cluster (``tcp://host:8786``); overrides
            ``execution.dask.address``.
    """
    filters = {
        "tags": tags,
        "node_names": node_names,
        "from_nodes": from_nodes,
        "to_nodes": to_nodes,
        "from_inputs": from_inputs,
        "to_outputs": to_outputs,
        "namespaces": namespaces,
    }
    selected_pipeline(pipeline_name, filters)
    execution = load_prefect_config(PROJECT_PATH, env).execution
    dask = dask_execution(execution, task_runner, dask_address)
    if dask is not None:
        dask_task_runner_class()  # prefect-dask missing: say so before the session starts
    runner = PrefectTaskRunner(
        max_workers=max_workers or execution.max_workers, task_options=execution.task_options, dask=dask
    )
    try:
        with (
            pool_slot(),
            kedro_logs_to_prefect(PACKAGE_NAME),
            KedroSession.create(project_path=PROJECT_PATH, env=env, runtime_params=runtime_params) as session,
        ):
            session.run(pipeline_names=[pipeline_name], runner=runner, **filters)
    finally:
        if runner.outcomes:
            publish_summary(runner.outcomes)
