"""The types every execution strategy shares: units of nodes, their runs and outcomes, the strategy's protocol.

Their own module, free of Prefect, so that the scheduler, grouping and memory policies (and their
unit tests) reach them without importing Prefect, and the runner and the strategies import them
from one place rather than from each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

    from ..options import GroupBy


class Unit(tuple):
    """Nodes that run together, in order, as one Prefect task (most often a single node).

    A tuple, so that it hashes and compares by its nodes, with the task run's name beside them:
    a namespace for a namespace group, else the nodes' names joined with " + ".
    """

    name: str

    def __new__(cls, nodes: Iterable[Node], name: str | None = None) -> Unit:
        unit = super().__new__(cls, nodes)
        unit.name = name or " + ".join(node.name for node in unit)
        return unit


TaskOptions = dict[str, Any]
"""Keyword arguments for ``prefect.Task.with_options`` (retries, timeout_seconds, ...)."""


def unit_name(unit: tuple[Node, ...]) -> str:
    """The task run's name: a ``Unit``'s own, else its nodes' joined with " + "."""
    return getattr(unit, "name", None) or " + ".join(node.name for node in unit)


class NodeRun(BaseModel):
    """How long a node's last attempt took, and which process ran it (``host:pid``)."""

    seconds: float
    process: str
    shapes: dict[str, list[int]] = {}
    """Rows (and columns) of each output it saved whose data had a shape (``table_shapes``)."""


class NodeOutcome(BaseModel):
    """One row of the run summary."""

    node: str
    state: str
    seconds: float | None
    process: str | None = None
    task: str | None = None
    """The Prefect task run the node ran in, when that task ran more than this node."""
    attempt: int
    """The flow run's attempt that this row describes (for a skipped node: the one it completed in)."""
    inputs: list[str]
    outputs: list[str]
    saved_to: list[str] = []
    """Where the node's persisted outputs live (file paths, URLs); in-memory ones have none."""


class RunRecorder:
    """Where tasks in the flow's own process record their nodes' runs.

    Returning them as task results would cost every node a trip through Prefect's result handling;
    only tasks in other processes return them. A plain object rather than a dict: Prefect walks
    collections passed to a task looking for futures.
    """

    def __init__(self) -> None:
        self.runs: dict[str, NodeRun] = {}


@dataclass(frozen=True)
class HookManagerRecipe:
    """Stands in for the session's hook manager in tasks that run in another process.

    A plugin manager does not travel between processes; the project's package name does, and the
    strategy that sends tasks away rebuilds the hooks there from it.
    """

    package_name: str
    build: Callable[[str], PluginManager]

    def manager(self) -> PluginManager:
        return self.build(self.package_name)


class UnitOutcome(NamedTuple):
    """How a finished unit ended: its final state's name, the error if it failed, its nodes' runs,
    and what its children name as their upstream (a Prefect state or future: the UI's edges)."""

    state: str
    error: BaseException | None
    runs: dict[str, NodeRun]
    upstream: Any = None


TaskCaller = Callable[[Any, dict[str, Any], list[Any]], UnitOutcome]
"""Runs one Prefect task with these parameters after these upstream states or futures, to its end."""


class ExecutionStrategy(Protocol):
    """Where a run's tasks execute: one implementation per Prefect task runner."""

    in_process: bool
    """True when tasks run in the flow's process and can write to a shared ``RunRecorder``."""

    def units(self, pipeline: Pipeline, catalog: CatalogProtocol, run_id: str | None, group_by: GroupBy) -> list[Unit]:
        """How the pipeline is cut into tasks, before any node runs (may re-register datasets)."""
        ...

    def task_caller(self, max_workers: int) -> AbstractContextManager[TaskCaller]:
        """How this run's tasks are run, open for the run's duration (a Dask client, say)."""
        ...

    def hooks(self, hook_manager: PluginManager | None) -> PluginManager | HookManagerRecipe | None:
        """What the tasks fire node and dataset hooks with."""
        ...

    def after_run(self, completed: bool) -> None:
        """Clean up once every unit has finished."""
        ...


def outcome_of(state: Any, upstream: Any, results_carry_runs: bool) -> UnitOutcome:
    """A finished task's final state as the scheduler needs it.

    Tasks in the flow's process recorded their runs already; reading a result they do not carry
    would cost every node a trip through Prefect's result handling.
    """
    if state.is_completed():
        return UnitOutcome(state.name, None, (state.result() or {}) if results_carry_runs else {}, upstream)
    error = exception_of(state)
    return UnitOutcome(state.name, error, getattr(error, "kedro_node_runs", {}))


def exception_of(state: Any) -> BaseException:
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException):
        return error
    return RuntimeError(state.message or f"task ended {state.name}")
