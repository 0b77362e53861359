"""A Kedro runner that runs every node as a Prefect task.

``KedroSession.run`` hands this runner the filtered pipeline, the catalog and the session's hook
manager, so everything ``kedro run`` does still holds (hooks, runtime params, dataset factories,
versioning); this class only decides *where* each node runs: in a Prefect task, submitted as soon
as its parents have finished, with the parents' futures as ``wait_for`` so the Prefect UI draws the
pipeline's DAG. Tasks run on a thread pool in the flow's process, or on a Dask cluster; there, nodes
joined by in-memory datasets may run together as one task (see ``memory_datasets``).
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from itertools import chain
from typing import TYPE_CHECKING, Any

from kedro.runner import AbstractRunner
from kedro.runner import Task as KedroNodeTask
from kedro.runner.runner import _find_nodes_to_resume_from
from prefect import tags as prefect_tags
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel

from .dask_execution import ProjectHooks
from .logs import kedro_logs_to_prefect
from .memory_datasets import Unit, unit_name

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager
    from prefect.futures import PrefectFuture

    from .dask_execution import DaskExecution

logger = logging.getLogger(__name__)

TaskOptions = dict[str, Any]
"""Keyword arguments for ``prefect.Task.with_options`` (retries, timeout_seconds, ...)."""


class NodeFailedError(RuntimeError):
    """One or more nodes failed; the message names them and how to resume."""


class NodeRun(BaseModel):
    """How long a node's last attempt took, and which process ran it (``host:pid``)."""

    seconds: float
    process: str


class RunRecorder:
    """Where tasks in the flow's own process record their nodes' runs.

    Returning them as task results would cost every node a trip through Prefect's result handling;
    only tasks in other processes (Dask) return them. A plain object rather than a dict: Prefect
    walks collections passed to a task looking for futures.
    """

    def __init__(self) -> None:
        self.runs: dict[str, NodeRun] = {}


class NodeOutcome(BaseModel):
    """One row of the run summary."""

    node: str
    state: str
    seconds: float | None
    process: str | None = None
    inputs: list[str]
    outputs: list[str]


# The data lives in the Kedro catalog, not in Prefect: nothing is hashed for caching and nothing
# is persisted as a Prefect result, which keeps the per-node overhead to a few milliseconds.
# Each task run is named after its node (or its nodes, joined with " + ").
@task(name="kedro-node", task_run_name="{name}", cache_policy=NO_CACHE, persist_result=False)
def run_kedro_nodes(
    name: str,
    nodes: list[Node],
    catalog: CatalogProtocol,
    hooks: PluginManager | ProjectHooks,
    run_id: str | None,
    is_async: bool,
    recorder: RunRecorder | None,
) -> dict[str, NodeRun] | None:
    """Run nodes in order with Kedro's own node executor, which fires the node and dataset hooks.

    Each node's duration and process go to ``recorder`` in the flow's process, else back as the
    result. A failure also carries them, up to the failing node, as ``error.kedro_node_runs``.
    """
    if isinstance(hooks, ProjectHooks):  # in another process: its hooks and log forwarding are set up here
        with kedro_logs_to_prefect(hooks.package_name):
            return _run_nodes(nodes, catalog, hooks.manager(), run_id, is_async, {})
    _run_nodes(nodes, catalog, hooks, run_id, is_async, recorder.runs if recorder else {})
    return None


def _run_nodes(
    nodes: list[Node],
    catalog: CatalogProtocol,
    hook_manager: PluginManager | None,
    run_id: str | None,
    is_async: bool,
    runs: dict[str, NodeRun],
) -> dict[str, NodeRun]:
    process = f"{socket.gethostname()}:{os.getpid()}"
    for node in nodes:
        started = time.perf_counter()
        try:
            KedroNodeTask(
                node=node, catalog=catalog, is_async=is_async, hook_manager=hook_manager, run_id=run_id
            ).execute()
        except Exception as error:
            runs[node.name] = NodeRun(seconds=time.perf_counter() - started, process=process)
            error.kedro_node_runs = {n.name: runs[n.name] for n in nodes if n.name in runs}  # type: ignore[attr-defined]
            raise
        runs[node.name] = NodeRun(seconds=time.perf_counter() - started, process=process)
    return runs


def _no_options(node: Node) -> TaskOptions:
    return {}


class PrefectTaskRunner(AbstractRunner):
    """Runs each node as a Prefect task, on a bounded thread pool or on Dask, in dependency order.

    A node is submitted once all its parents completed. When a node fails, nothing downstream of
    it is submitted, while branches that do not depend on it run to completion (the same as a
    Prefect or Airflow DAG); the run then raises ``NodeFailedError`` naming the failed nodes and
    the ``from_nodes`` value that resumes the run.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        is_async: bool = False,
        task_options: Callable[[Node], TaskOptions] = _no_options,
        dask: DaskExecution | None = None,
    ) -> None:
        super().__init__(is_async=is_async)
        self._max_workers = self._validate_max_workers(max_workers)
        self._task_options = task_options
        self._dask = dask
        self.outcomes: list[NodeOutcome] = []
        """Every node of the last run, in pipeline order: final state, duration, inputs, outputs."""

    def _get_executor(self, max_workers: int) -> None:
        # Prefect's task runner does the executing; Kedro's executor machinery is not used.
        return None

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        if self._dask is None:
            units: list[Unit] = [(node,) for node in pipeline.nodes]
            task_runner = ThreadPoolTaskRunner(max_workers=min(self._max_workers, max(len(units), 1)))
            hooks: PluginManager | ProjectHooks | None = hook_manager
        else:
            # Before any node runs: group, persist or refuse the in-memory datasets.
            plan = self._dask.plan(pipeline, catalog, run_id)
            units = plan.units
            task_runner = self._dask.task_runner()
            hooks = self._dask.hooks()
        unit_tasks = _TasksByOptions(self._task_options)
        recorder = None if self._dask else RunRecorder()
        with task_runner:

            def submit(unit: Unit, wait_for: list[PrefectFuture[dict[str, NodeRun]]]) -> PrefectFuture:
                parameters = {
                    "name": unit_name(unit),
                    "nodes": list(unit),
                    "catalog": catalog,
                    "hooks": hooks,
                    "run_id": run_id,
                    "is_async": self._is_async,
                    "recorder": recorder,
                }
                # Tags entered here are copied into the task run's context at submission.
                with prefect_tags(*sorted(set().union(*(node.tags for node in unit)))):
                    return task_runner.submit(unit_tasks.for_unit(unit), parameters=parameters, wait_for=wait_for)

            dispatch = _Dispatch(pipeline, units, _DatasetReleaser(pipeline, catalog), submit, recorder)
            dispatch.run()

        self.outcomes = [
            NodeOutcome(
                node=node.name,
                state=dispatch.state_of(node),
                seconds=dispatch.runs[node.name].seconds if node.name in dispatch.runs else None,
                process=dispatch.runs[node.name].process if node.name in dispatch.runs else None,
                inputs=list(node.inputs),
                outputs=list(node.outputs),
            )
            for node in pipeline.nodes
        ]
        if dispatch.failures:
            raise NodeFailedError(_failure_message(pipeline, dispatch.completed, dispatch.failures, catalog))
        if self._dask is not None and plan.persisted_in:
            self._dask.remove_persisted(plan.persisted_in)


class _Dispatch:
    """Submits each unit as soon as its last parent completed, from the thread that finished it.

    Handing every finished unit back to the flow's main thread put a thread wake-up and a GIL
    hand-over on every edge of the DAG, which made each node of a chain cost about a millisecond
    more than a bare Prefect task. The bookkeeping is a few counters under one lock.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        units: list[Unit],
        releaser: _DatasetReleaser,
        submit: Callable[[Unit, list[PrefectFuture]], PrefectFuture],
        recorder: RunRecorder | None,
    ) -> None:
        unit_of = {node: unit for unit in units for node in unit}
        node_parents = pipeline.node_dependencies
        self._parents = {
            unit: list(dict.fromkeys(unit_of[p] for node in unit for p in node_parents[node] if unit_of[p] != unit))
            for unit in units
        }
        self._children: dict[Unit, list[Unit]] = {unit: [] for unit in units}
        for unit, parents in self._parents.items():
            for parent in parents:
                self._children[parent].append(unit)
        self._unfinished_parents = {unit: len(parents) for unit, parents in self._parents.items()}
        self._roots = [unit for unit in units if not self._parents[unit]]
        self._unit_of = unit_of
        self._releaser = releaser
        self._submit = submit
        # Submitting needs the flow run's context (Prefect reads it from context variables).
        self._flow_context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._in_this_thread = threading.local()
        self._in_flight = 0
        self._all_done = threading.Event()
        self.futures: dict[Unit, PrefectFuture] = {}
        # Tasks in this process write their runs here themselves; others return them.
        self._results_carry_runs = recorder is None
        self.runs: dict[str, NodeRun] = recorder.runs if recorder else {}
        self.completed: list[Node] = []
        self.failures: dict[Node, BaseException] = {}

    def run(self) -> None:
        """Submit the roots, then wait until no unit is running and none can start."""
        with self._lock:
            self._in_flight = len(self._roots)
            if not self._roots:
                self._all_done.set()
        self._start(self._roots)
        self._all_done.wait()

    def state_of(self, node: Node) -> str:
        """The node's final state: that of its task, except nodes of a unit that never reached theirs."""
        future = self.futures.get(self._unit_of[node])
        if future is None:
            return "NotRun"
        state = future.state.name
        if state != "Completed" and node not in self.failures:
            return "Completed" if node.name in self.runs else "NotRun"
        return state

    def _start(self, units: list[Unit]) -> None:
        """Submit units already counted in flight.

        A future that is already done runs its callback at once, in this thread; units it makes
        ready join this loop's queue instead of recursing (a long chain would exhaust the stack).
        """
        queued = getattr(self._in_this_thread, "queued", None)
        if queued is not None:
            queued.extend(units)
            return
        self._in_this_thread.queued = queued = deque(units)
        try:
            while queued:
                unit = queued.popleft()
                try:
                    future = self._flow_context.copy().run(
                        self._submit, unit, [self.futures[parent] for parent in self._parents[unit]]
                    )
                except BaseException as error:  # noqa: BLE001 - the run must end, not wait forever
                    self._finish(unit, error, {})
                    continue
                self.futures[unit] = future
                future.add_done_callback(lambda _, unit=unit: self._on_done(unit))
        finally:
            self._in_this_thread.queued = None

    def _on_done(self, unit: Unit) -> None:
        future = self.futures[unit]
        runs: dict[str, NodeRun] = {}
        try:
            future.wait()  # records the final state on the future; `.state` alone may ask the API
            state = future.state
            if state.is_completed():
                error = None
                runs = (state.result() or {}) if self._results_carry_runs else {}
            else:
                error = _exception_of(state)
                runs = getattr(error, "kedro_node_runs", {})
        except BaseException as unexpected:  # noqa: BLE001 - a callback that raises is lost
            error = unexpected
        self._start(self._finish(unit, error, runs))

    def _finish(self, unit: Unit, error: BaseException | None, runs: dict[str, NodeRun]) -> list[Unit]:
        """Record one finished unit; return the children it made ready, already counted in flight."""
        ready = []
        with self._lock:
            self.runs.update(runs)
            if error is None:
                self.completed.extend(unit)
                logger.debug("Completed %s (%d of %d nodes)", unit_name(unit), len(self.completed), len(self._unit_of))
                for node in unit:
                    self._releaser.release_after(node)
                for child in self._children[unit]:
                    self._unfinished_parents[child] -= 1
                    if self._unfinished_parents[child] == 0:
                        ready.append(child)
            else:
                # The nodes of the unit ran in order: the last one with a record failed, those before
                # it completed (no record at all: the task failed around its nodes, e.g. timed out).
                ran = [node for node in unit if node.name in runs]
                self.completed.extend(ran[:-1])
                self.failures[ran[-1] if ran else unit[0]] = error
            # One count for each child it starts, minus its own, in one step: no other thread
            # can see zero in between and end the run early.
            self._in_flight += len(ready) - 1
            if self._in_flight == 0:
                self._all_done.set()
        return ready


class _TasksByOptions:
    """One Prefect task per distinct set of options (retries, timeout...), not one per node.

    Building a Prefect task reads its function's source code (about 2 ms); nodes share the few
    option sets a project configures, and each task run still carries its node's name and tags.
    A unit of several nodes takes the most generous options of its nodes: the most retries, the
    longest delay, and the sum of their time limits (none if any node has none).
    """

    def __init__(self, task_options: Callable[[Node], TaskOptions]) -> None:
        self._task_options = task_options
        self._tasks: dict[tuple, Any] = {}

    def for_unit(self, unit: Unit) -> Any:
        options = self._options(unit)
        key = tuple(sorted(options.items()))
        if key not in self._tasks:
            self._tasks[key] = run_kedro_nodes.with_options(**options) if options else run_kedro_nodes
        return self._tasks[key]

    def _options(self, unit: Unit) -> TaskOptions:
        if len(unit) == 1:
            return self._task_options(unit[0])
        each = [self._task_options(node) for node in unit]
        merged: TaskOptions = {}
        for key in ("retries", "retry_delay_seconds"):
            values = [options[key] for options in each if key in options]
            if values:
                merged[key] = max(values)
        if all("timeout_seconds" in options for options in each):
            merged["timeout_seconds"] = sum(options["timeout_seconds"] for options in each)
        return merged


class _DatasetReleaser:
    """Releases in-memory data once its last consumer has finished, as Kedro's runners do.

    The pipeline's free inputs and final outputs are computed once up front; Kedro's own helper
    recomputes them for every node, which turns a 1,000-node run quadratic.
    """

    def __init__(self, pipeline: Pipeline, catalog: CatalogProtocol) -> None:
        self._catalog = catalog
        self._load_counts = Counter(chain.from_iterable(node.inputs for node in pipeline.nodes))
        self._keep = pipeline.inputs() | pipeline.outputs()

    def release_after(self, node: Node) -> None:
        for dataset in node.inputs:
            self._load_counts[dataset] -= 1
            self._release_if_unused(dataset)
        for dataset in node.outputs:
            self._release_if_unused(dataset)

    def _release_if_unused(self, dataset: str) -> None:
        if self._load_counts[dataset] < 1 and dataset not in self._keep:
            self._catalog.release(dataset)


def _exception_of(state: Any) -> BaseException:
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException):
        return error
    return RuntimeError(state.message or f"task ended {state.name}")


def _failure_message(
    pipeline: Pipeline,
    completed: Iterable[Node],
    failures: dict[Node, BaseException],
    catalog: CatalogProtocol,
) -> str:
    failed = "; ".join(
        f"node '{node.name}' failed: {type(error).__name__}: {str(error).rstrip('.')}"
        for node, error in failures.items()
    )
    unfinished = set(pipeline.nodes) - set(completed)
    # Kedro's own resume logic: walk back from the unfinished nodes to ones whose inputs persist.
    resume_from = sorted(_find_nodes_to_resume_from(pipeline, unfinished, catalog))
    return (
        f"{failed}. {len(unfinished)} of {len(pipeline.nodes)} nodes did not complete. "
        f"Fix the cause, then resume with from_nodes={resume_from} "
        f'(kedro run --from-nodes "{",".join(resume_from)}").'
    )
