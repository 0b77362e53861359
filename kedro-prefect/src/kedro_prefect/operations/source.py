"""A deployment's source: the worker's own clone of the project, wherever it sits.

Prefect turns a local source into a ``set_working_directory`` pull step holding the deploying
machine's absolute path, so a worker whose clone sits elsewhere (another machine, another user's
home) could not run the deployment. Deployments get this module's ``find_project`` step instead.
It runs in the flow-run process on the worker, before the flow is loaded, and enters the folder
named by ``KEDRO_PROJECT_PATH`` (which ``make agent`` and ``kedro prefect agent`` set to the clone
the worker started from), else the folder the deployment was registered from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect.runner.storage import LocalStorage

from ..environment import silence_library_noise
from ..errors import KedroPrefectError
from ..project import ProjectError, read_project

PROJECT_PATH_VARIABLE = "KEDRO_PROJECT_PATH"


class ProjectNotFoundError(KedroPrefectError):
    """The worker has no clone of the project where it looked; the message says how to point it at one."""


def _is_clone(folder: Path, package_name: str) -> bool:
    try:
        return read_project(folder).package_name == package_name
    except ProjectError:
        return False


def project_folder(registered: str, package_name: str) -> Path:
    """The clone this flow run runs from: ``KEDRO_PROJECT_PATH``, else the ``registered`` folder."""
    given = os.environ.get(PROJECT_PATH_VARIABLE)
    folder = Path(given or registered).expanduser().resolve()
    if _is_clone(folder, package_name):
        return folder
    if given:
        raise ProjectNotFoundError(
            f"{PROJECT_PATH_VARIABLE}={given} is not a clone of this project (no pyproject.toml with "
            f'[tool.kedro] package_name = "{package_name}"). Point it at the project\'s folder on this worker.'
        )
    raise ProjectNotFoundError(
        f"This worker has no clone of the project at {registered}, where the deployment was registered "
        f"from, and {PROJECT_PATH_VARIABLE} is not set. Start the worker from its own clone with "
        f"`make agent` (which sets {PROJECT_PATH_VARIABLE}), or set {PROJECT_PATH_VARIABLE} to that clone."
    )


def find_project(registered: str, package_name: str) -> dict[str, str]:
    """The deployment's pull step: enter the worker's clone of the project, before Kedro is imported."""
    silence_library_noise()
    try:
        folder = project_folder(registered, package_name)
    except ProjectNotFoundError as error:
        _tell_the_flow_run(f"{type(error).__name__}: {error}")
        raise
    os.chdir(folder)
    return {"directory": str(folder)}


def _tell_the_flow_run(message: str) -> None:
    """Log ``message`` on the flow run this process runs, where ``make run`` and the UI look.

    A pull step fails before Prefect sends the run's logs anywhere: its traceback reaches only
    the worker's output, and the run's state says no more than that the process exited.
    Best effort: the step's own exception follows either way.
    """
    from datetime import UTC, datetime
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import LogCreate

    flow_run_id = os.environ.get("PREFECT__FLOW_RUN_ID")
    if not flow_run_id:
        return
    record = LogCreate(
        name=__name__, level=40, message=message, timestamp=datetime.now(UTC), flow_run_id=UUID(flow_run_id)
    )
    try:
        with get_client(sync_client=True) as client:
            client.create_logs([record])
    except Exception:  # noqa: BLE001 - the step's own error is what matters; it is raised next
        pass


class ProjectSource(LocalStorage):
    """The project folder as a deployment's source, with ``find_project`` as its pull step."""

    def __init__(self, path: Path, package_name: str) -> None:
        super().__init__(str(path))
        self.package_name = package_name

    def to_pull_step(self) -> dict[str, Any]:
        return {f"{__name__}.find_project": {"registered": str(self.destination), "package_name": self.package_name}}
