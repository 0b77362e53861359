"""The Prefect flow that runs a Kedro pipeline, one Prefect task per node (or per namespace).

The flow goes through ``KedroSession.run``, so a deployment run behaves like ``kedro run`` with the
same options: project hooks fire, configuration environments and runtime params apply, filters
select the same nodes, and the results are the same. Only the runner differs (``PrefectTaskRunner``).

Importing this module touches no project: the project is found (from the working directory, which
a deployment's pull step sets) and configured when a run starts. Deployments use ``project_flow``,
the same flow under the project's own name.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from kedro.framework.session import KedroSession
from prefect import Flow, flow

from ..config import ExecutionConfig, check_override_names, load_prefect_config
from ..environment import silence_library_noise
from ..options import RunOptions
from ..project import configure_kedro, current_project
from .heartbeat import heartbeats, without_prefect_heartbeat
from .logs import kedro_logs_to_prefect
from .pool_slots import pool_slot
from .resume import Resume
from .runner import PrefectTaskRunner
from .selection import all_nodes_and_tags, selected_pipeline
from .summary import last_summary, publish_lineage, publish_summary, summary_key
from .threads import ThreadsExecution
from .units import ExecutionStrategy

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

ENTRYPOINT = f"{__name__}.project_flow"
"""What deployments run: this module's ``project_flow`` (a module path, so any clone location works)."""


def execution_strategy(execution: ExecutionConfig, project_path: Path, package: str) -> ExecutionStrategy:
    """Threads in the flow's process, or Dask when this run's execution says so."""
    if execution.task_runner != "dask":
        return ThreadsExecution()
    from .dask import DaskExecution, dask_task_runner_class

    dask_task_runner_class()  # prefect-dask missing: say so before the session starts
    return DaskExecution(config=execution.dask, project_path=project_path, package_name=package)


def this_attempt(flow_name: str, resume: bool) -> Resume:
    """Which attempt of the flow run this is, and (when resuming) what earlier attempts completed."""
    from prefect.runtime import flow_run

    attempt = max(flow_run.run_count or 1, 1)
    if attempt == 1 or not resume or flow_run.id is None:
        return Resume(attempt=attempt)
    return Resume.from_summary(attempt, last_summary(flow_run.id, summary_key(flow_name)))


def run_pipeline(options: RunOptions) -> None:
    """One run: check the selection, then ``KedroSession.run`` with the Prefect task runner."""
    # Again here: Prefect runs the pull step inside ``warnings.catch_warnings()``, which undoes
    # the filters it set once the step returns.
    silence_library_noise()
    project = current_project()
    configure_kedro(project.package_name)
    selected_pipeline(options)
    execution = load_prefect_config(project.path, options.env).execution.for_run(options)
    if execution.node_overrides or execution.tag_overrides:
        check_override_names(execution, *all_nodes_and_tags(), source=f"prefect.yml (env '{options.env or 'local'}')")
    runner = PrefectTaskRunner(
        execution_strategy(execution, project.path, project.package_name),
        max_workers=execution.max_workers,
        task_options=execution.task_options,
        group_by=execution.group_by,
        resume=this_attempt(project.flow_name, options.resume),
    )
    try:
        with (
            heartbeats(),
            pool_slot(),
            kedro_logs_to_prefect(project.package_name),
            KedroSession.create(
                project_path=project.path, env=options.env, runtime_params=options.kedro_runtime_params()
            ) as session,
        ):
            # KedroSession.run: the context manager is typed as Kedro's base session class.
            session.run(pipeline_names=[options.pipeline_name], runner=runner, **options.session_run_arguments())  # type: ignore[call-arg]
    finally:
        if runner.outcomes:
            publish_summary(runner.outcomes, project.flow_name)
            try:  # a picture: never worth hiding the run's own outcome (the summary is what resume reads)
                publish_lineage(runner.outcomes, runner.locations, runner.sizes, runner.shapes, project.flow_name)
            except Exception as error:  # noqa: BLE001
                logger.warning("The lineage artifact was not published: %s", error)


def _kedro_pipeline(**parameters: Any) -> None:
    # Prefect passes the run's parameters by name; RunOptions turns a bad one into one line,
    # which ends the run Failed with that message.
    run_pipeline(RunOptions.parse(parameters))


_kedro_pipeline.__signature__ = RunOptions.signature()  # type: ignore[attr-defined]
_kedro_pipeline.__doc__ = RunOptions.docstring()

# validate_parameters=False: RunOptions validates, with one-line messages instead of pydantic's.
kedro_pipeline: Flow[..., None] = flow(
    name="kedro-pipeline",
    description="Runs a Kedro pipeline like `kedro run`, one Prefect task per node.",
    validate_parameters=False,
)(_kedro_pipeline)


@functools.cache
def _flow_named(flow_name: str, project_name: str) -> Flow[..., None]:
    return kedro_pipeline.with_options(
        name=flow_name, description=f"Runs a Kedro pipeline of {project_name}, one Prefect task per node."
    )


def __getattr__(name: str) -> Any:
    """``project_flow``: the flow named after the project in the working directory, built on first use."""
    if name == "project_flow":
        # A deployment's flow-run process loads this name before its run starts (deploy loads it too).
        without_prefect_heartbeat()
        project = current_project()
        return _flow_named(project.flow_name, project.project_name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
