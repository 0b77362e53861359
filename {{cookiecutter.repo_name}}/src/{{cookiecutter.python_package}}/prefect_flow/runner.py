"""A Kedro runner that runs every node as a Prefect task.

``KedroSession.run`` hands this runner the filtered pipeline, the catalog and the session's hook
manager, so everything ``kedro run`` does still holds (hooks, runtime params, dataset factories,
versioning); this class only decides *where* each node runs: in a Prefect task, submitted as soon
as its parents have finished, with the parents' futures as ``wait_for`` so the Prefect UI draws the
pipeline's DAG.
"""

from __future__ import annotations

import contextvars
import logging
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

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager
    from prefect.futures import PrefectFuture

logger = logging.getLogger(__name__)

TaskOptions = dict[str, Any]
"""Keyword arguments for ``prefect.Task.with_options`` (retries, timeout_seconds, ...)."""


class NodeFailedError(RuntimeError):
    """One or more nodes failed; the message names them and how to resume."""


class NodeClock:
    """Seconds spent in each node's last attempt.

    A plain object rather than a dict: Prefect walks collections passed to a task looking for
    futures, which for a shared, growing dict would make every submission slower than the last.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}


class NodeOutcome(BaseModel):
    """One row of the run summary."""

    node: str
    state: str
    seconds: float | None
    inputs: list[str]
    outputs: list[str]


# The data lives in the Kedro catalog, not in Prefect: nothing is hashed for caching and nothing
# is persisted as a Prefect result, which keeps the per-node overhead to a few milliseconds.
# Each task run is named after its node.
@task(name="kedro-node", task_run_name="{node.name}", cache_policy=NO_CACHE, persist_result=False)
def run_kedro_node(
    node: Node,
    catalog: CatalogProtocol,
    hook_manager: PluginManager,
    run_id: str | None,
    is_async: bool,
    clock: NodeClock,
) -> None:
    """Run one node with Kedro's own node executor, which fires the node and dataset hooks."""
    started = time.perf_counter()
    try:
        KedroNodeTask(node=node, catalog=catalog, is_async=is_async, hook_manager=hook_manager, run_id=run_id).execute()
    finally:
        clock.seconds[node.name] = time.perf_counter() - started


def _no_options(node: Node) -> TaskOptions:
    return {}


class PrefectTaskRunner(AbstractRunner):
    """Runs each node as a Prefect task on a bounded thread pool, in dependency order.

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
    ) -> None:
        super().__init__(is_async=is_async)
        self._max_workers = self._validate_max_workers(max_workers)
        self._task_options = task_options
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
        clock = NodeClock()
        node_tasks = _TasksByOptions(self._task_options)
        parents = pipeline.node_dependencies
        with ThreadPoolTaskRunner(max_workers=min(self._max_workers, max(len(parents), 1))) as task_runner:

            def submit(node: Node, wait_for: list[PrefectFuture[None]]) -> PrefectFuture[None]:
                parameters = {
                    "node": node,
                    "catalog": catalog,
                    "hook_manager": hook_manager,
                    "run_id": run_id,
                    "is_async": self._is_async,
                    "clock": clock,
                }
                # Tags entered here are copied into the task run's context at submission.
                with prefect_tags(*node.tags):
                    return task_runner.submit(node_tasks.for_node(node), parameters=parameters, wait_for=wait_for)

            dispatch = _Dispatch(pipeline, _DatasetReleaser(pipeline, catalog), submit)
            dispatch.run()

        self.outcomes = [
            NodeOutcome(
                node=node.name,
                state=dispatch.futures[node].state.name if node in dispatch.futures else "NotRun",
                seconds=clock.seconds.get(node.name),
                inputs=list(node.inputs),
                outputs=list(node.outputs),
            )
            for node in pipeline.nodes
        ]
        if dispatch.failures:
            raise NodeFailedError(_failure_message(pipeline, dispatch.completed, dispatch.failures, catalog))


class _Dispatch:
    """Submits each node as soon as its last parent completed, from the thread that finished it.

    Handing every finished node back to the flow's main thread put a thread wake-up and a GIL
    hand-over on every edge of the DAG, which made each node of a chain cost about a millisecond
    more than a bare Prefect task. The bookkeeping is a few counters under one lock.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        releaser: _DatasetReleaser,
        submit: Callable[[Node, list[PrefectFuture[None]]], PrefectFuture[None]],
    ) -> None:
        self._parents = pipeline.node_dependencies
        self._children: dict[Node, list[Node]] = {node: [] for node in self._parents}
        for node, node_parents in self._parents.items():
            for parent in node_parents:
                self._children[parent].append(node)
        self._unfinished_parents = {node: len(node_parents) for node, node_parents in self._parents.items()}
        self._roots = [node for node in pipeline.nodes if not self._parents[node]]
        self._releaser = releaser
        self._submit = submit
        # Submitting needs the flow run's context (Prefect reads it from context variables).
        self._flow_context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._in_this_thread = threading.local()
        self._in_flight = 0
        self._all_done = threading.Event()
        self.futures: dict[Node, PrefectFuture[None]] = {}
        self.completed: list[Node] = []
        self.failures: dict[Node, BaseException] = {}

    def run(self) -> None:
        """Submit the roots, then wait until no node is running and none can start."""
        with self._lock:
            self._in_flight = len(self._roots)
            if not self._roots:
                self._all_done.set()
        self._start(self._roots)
        self._all_done.wait()

    def _start(self, nodes: list[Node]) -> None:
        """Submit nodes already counted in flight.

        A future that is already done runs its callback at once, in this thread; nodes it makes
        ready join this loop's queue instead of recursing (a long chain would exhaust the stack).
        """
        queued = getattr(self._in_this_thread, "queued", None)
        if queued is not None:
            queued.extend(nodes)
            return
        self._in_this_thread.queued = queued = deque(nodes)
        try:
            while queued:
                node = queued.popleft()
                try:
                    future = self._flow_context.copy().run(
                        self._submit, node, [self.futures[parent] for parent in self._parents[node]]
                    )
                except BaseException as error:  # noqa: BLE001 - the run must end, not wait forever
                    self._finish(node, error)
                    continue
                self.futures[node] = future
                future.add_done_callback(lambda _, node=node: self._on_done(node))
        finally:
            self._in_this_thread.queued = None

    def _on_done(self, node: Node) -> None:
        future = self.futures[node]
        try:
            future.wait()  # records the final state on the future; `.state` alone may ask the API
            state = future.state
            error = None if state.is_completed() else _exception_of(state)
        except BaseException as unexpected:  # noqa: BLE001 - a callback that raises is lost
            error = unexpected
        self._start(self._finish(node, error))

    def _finish(self, node: Node, error: BaseException | None) -> list[Node]:
        """Record one finished node; return the children it made ready, already counted in flight."""
        ready = []
        with self._lock:
            if error is None:
                self.completed.append(node)
                logger.debug("Completed node %s (%d of %d)", node.name, len(self.completed), len(self._parents))
                self._releaser.release_after(node)
                for child in self._children[node]:
                    self._unfinished_parents[child] -= 1
                    if self._unfinished_parents[child] == 0:
                        ready.append(child)
            else:
                self.failures[node] = error
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
    """

    def __init__(self, task_options: Callable[[Node], TaskOptions]) -> None:
        self._task_options = task_options
        self._tasks: dict[tuple, Any] = {}

    def for_node(self, node: Node) -> Any:
        options = self._task_options(node)
        key = tuple(sorted(options.items()))
        if key not in self._tasks:
            self._tasks[key] = run_kedro_node.with_options(**options) if options else run_kedro_node
        return self._tasks[key]


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
