"""Nodes on a thread pool in the flow's own process: the default, and what ``kedro run`` does too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefect.task_runners import ThreadPoolTaskRunner

from .runner import Unit

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from pluggy import PluginManager


class ThreadsExecution:
    """One task per node; every task shares the flow's catalog, so in-memory datasets just work."""

    in_process = True

    def units(self, pipeline: Pipeline, catalog: CatalogProtocol, run_id: str | None) -> list[Unit]:
        return [(node,) for node in pipeline.nodes]

    def task_runner(self, max_workers: int) -> ThreadPoolTaskRunner:
        return ThreadPoolTaskRunner(max_workers=max_workers)

    def hooks(self, hook_manager: PluginManager | None) -> PluginManager | None:
        return hook_manager

    def after_run(self, completed: bool) -> None:
        return None
