"""Running nodes on a Dask cluster through prefect-dask's ``DaskTaskRunner``.

Prefect schedules the tasks and records their states; Dask places them on its workers. What this
module adds is what Kedro needs there: the project's hooks rebuilt in each worker process (a
plugin manager does not travel), and the memory-dataset policy applied before any node runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .memory_datasets import MemoryPlan, plan_units

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from pluggy import PluginManager

    from .config import DaskConfig

INSTALL_HINT = "pip install -e '.[dask]'"


class DaskUnavailable(RuntimeError):
    """prefect-dask is not installed; the message says how to install it."""


@dataclass(frozen=True)
class ProjectHooks:
    """Stands in for the session's hook manager in tasks that run in another process."""

    package_name: str

    def manager(self) -> PluginManager:
        return _project_hook_manager(self.package_name)


@functools.cache
def _project_hook_manager(package_name: str) -> PluginManager:
    """The hooks ``KedroSession`` would register (settings.HOOKS and plugins), once per process."""
    from kedro.framework.hooks.manager import _create_hook_manager, _register_hooks, _register_hooks_entry_points
    from kedro.framework.project import configure_project, settings

    configure_project(package_name)
    manager = _create_hook_manager()
    _register_hooks(manager, settings.HOOKS)
    _register_hooks_entry_points(manager, settings.DISABLE_HOOKS_FOR_PLUGINS)
    return manager


@dataclass(frozen=True)
class DaskExecution:
    """Everything a run on Dask needs: where the cluster is and how to treat in-memory datasets."""

    config: DaskConfig
    project_path: Path
    package_name: str

    def task_runner(self) -> Any:
        """prefect-dask's runner: the scheduler at ``address``, else a local cluster for this run."""
        runner_class = dask_task_runner_class()
        if self.config.address:
            return runner_class(address=self.config.address)
        return runner_class(
            cluster_kwargs={
                "n_workers": self.config.n_workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": "127.0.0.1:0",  # health routes only, on loopback, any free port
            }
        )

    def plan(self, pipeline: Pipeline, catalog: CatalogProtocol, run_id: str | None) -> MemoryPlan:
        """Tasks for the run, after grouping, persisting or refusing its in-memory datasets.

        Persisted datasets go to a folder named after the flow run, so concurrent runs never
        share a file.
        """
        from prefect.runtime import flow_run

        return plan_units(
            pipeline,
            catalog,
            self.config.memory_datasets,
            persist_location=self.config.persist_location,
            project_path=self.project_path,
            run_id=flow_run.id or run_id,
        )

    @staticmethod
    def remove_persisted(folder: str) -> None:
        """Delete a completed run's intermediate pickles; a failed run keeps them for inspection."""
        from fsspec.core import url_to_fs

        filesystem, path = url_to_fs(folder)
        if filesystem.exists(path):
            filesystem.rm(path, recursive=True)

    def hooks(self) -> ProjectHooks:
        return ProjectHooks(self.package_name)


def dask_task_runner_class() -> Any:
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise DaskUnavailable(
            f"task_runner 'dask' needs prefect-dask, which is not installed: run `{INSTALL_HINT}` "
            "(or `make install EXTRAS=dev,dask`) where the flow and the Dask workers run."
        ) from None
    return DaskTaskRunner
