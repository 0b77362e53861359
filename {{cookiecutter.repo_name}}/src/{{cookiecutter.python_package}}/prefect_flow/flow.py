"""The Prefect flow that runs a Kedro pipeline, one Prefect task per node.

The flow goes through ``KedroSession.run``, so a deployment run behaves like ``kedro run`` with the
same options: project hooks fire, configuration environments and runtime params apply, and the
results are the same. Only the runner differs (``PrefectTaskRunner``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.utils import find_kedro_project
from prefect import flow
from prefect.logging.handlers import APILogHandler

from . import FLOW_NAME
from .runner import PrefectTaskRunner


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


class UnknownPipelineError(ValueError):
    """The requested pipeline is not registered; the message lists the known ones."""


def check_pipeline_name(pipeline_name: str) -> None:
    # A previous session.run in this process may have narrowed Kedro's lazy registry to the
    # pipelines it ran; the check needs all of them.
    pipelines.set_requested(None)
    if pipeline_name not in pipelines:
        known = ", ".join(sorted(pipelines))
        raise UnknownPipelineError(f"Unknown pipeline '{pipeline_name}'. Known pipelines: {known}.")


@contextmanager
def kedro_logs_to_prefect() -> Iterator[None]:
    """Send Kedro's and the project's log records to the Prefect API for this run.

    Kedro's logging configuration replaces the handlers of the ``kedro`` logger, so Prefect's
    ``PREFECT_LOGGING_EXTRA_LOGGERS`` is not enough; records emitted inside a task are attached to
    that task run by the handler itself.
    """
    handler = APILogHandler()
    loggers = [logging.getLogger("kedro"), logging.getLogger(PACKAGE_NAME)]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@flow(name=FLOW_NAME, description="Runs a Kedro pipeline of {{ cookiecutter.project_name }}, one task per node.")
def kedro_pipeline(
    pipeline_name: str = "__default__",
    env: str | None = None,
    max_workers: int | None = None,
) -> None:
    """Run the Kedro pipeline ``pipeline_name`` in configuration environment ``env``.

    Args:
        pipeline_name: A pipeline registered in ``pipeline_registry.py``.
        env: Kedro configuration environment; ``None`` means Kedro's default run env (``local``).
        max_workers: How many nodes may run at once; ``None`` means one per CPU core.
    """
    check_pipeline_name(pipeline_name)
    with kedro_logs_to_prefect(), KedroSession.create(project_path=PROJECT_PATH, env=env) as session:
        session.run(pipeline_names=[pipeline_name], runner=PrefectTaskRunner(max_workers=max_workers))
