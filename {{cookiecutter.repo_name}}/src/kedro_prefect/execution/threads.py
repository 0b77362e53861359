"""Nodes on a thread pool in the flow's own process: the default, and what ``kedro run`` does too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.task_runners import ThreadPoolTaskRunner

from .grouping import initial_units
from .runner import Unit

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from pluggy import PluginManager

    from ..options import GroupBy


class ThreadsExecution:
    """One task per node or namespace; every task shares the flow's catalog, so in-memory datasets just work."""

    in_process = True

    def units(self, pipeline: Pipeline, catalog: CatalogProtocol, run_id: str | None, group_by: GroupBy) -> list[Unit]:
        return initial_units(pipeline, group_by)

    def task_runner(self, max_workers: int) -> ThreadPoolTaskRunner:
        return ThreadPoolTaskRunner(max_workers=max_workers)

    def hooks(self, hook_manager: PluginManager | None) -> PluginManager | None:
        return hook_manager

    def after_run(self, completed: bool) -> None:
        return None
