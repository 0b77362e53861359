"""Nodes on threads in the flow's own process: the default, and what ``kedro run`` does too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .grouping import initial_units
from .units import TaskCaller, Unit, outcome_of

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from pluggy import PluginManager

    from ..options import GroupBy
    from .units import UnitOutcome


class ThreadsExecution:
    """One task per node or namespace; every task shares the flow's catalog, so in-memory datasets just work."""

    in_process = True

    def units(self, pipeline: Pipeline, catalog: CatalogProtocol, run_id: str | None, group_by: GroupBy) -> list[Unit]:
        return initial_units(pipeline, group_by)

    @contextmanager
    def task_caller(self, max_workers: int) -> Iterator[TaskCaller]:
        # The scheduler's own threads (at most max_workers) run the tasks; no Prefect task runner.
        yield call_task

    def hooks(self, hook_manager: PluginManager | None) -> PluginManager | None:
        return hook_manager

    def after_run(self, completed: bool) -> None:
        return None


def call_task(task: Any, parameters: dict[str, Any], upstream: list[Any]) -> UnitOutcome:
    """Call the task in this thread, as a flow calls a task: Prefect's cheapest way to run one.

    The upstream states in ``wait_for`` are already final; they only give the task run its edges.
    """
    state = task(**parameters, wait_for=upstream or None, return_state=True)
    return outcome_of(state, upstream=state, results_carry_runs=False)
