"""A Kedro runner that runs every node (or group of nodes) as a Prefect task.

``KedroSession.run`` hands this runner the filtered pipeline, the catalog and the session's hook
manager, so everything ``kedro run`` does still holds (hooks, runtime params, dataset factories,
versioning); the runner only decides *where* each node runs: in a Prefect task, started as soon as
its parents have finished, with the parents named in ``wait_for`` so the Prefect UI draws the
pipeline's DAG. Where tasks execute (threads in the flow's process, Dask workers) is an
``ExecutionStrategy``; ``units`` holds the types every strategy shares.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.runner import AbstractRunner
from kedro.runner import Task as KedroNodeTask
from prefect import tags as prefect_tags
from prefect import task
from prefect.cache_policies import NO_CACHE

from ..errors import KedroPrefectError
from .absent_imports import remember_absent_data_libraries
from .asset_events import emit_materializations, materialization_events
from .kedro_internals import nodes_to_resume_from
from .lineage import stored_bytes
from .locations import configured_locations, location_uri, shown_location, written_locations
from .logs import kedro_logs_to_prefect
from .resume import Resume, skipped_state
from .scheduler import Scheduler
from .table_shapes import saved_shapes
from .tag_limits import limited_tags
from .units import (
    ExecutionStrategy,
    HookManagerRecipe,
    NodeOutcome,
    NodeRun,
    RunRecorder,
    TaskOptions,
    Unit,
    UnitOutcome,
    unit_name,
)

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

    from ..options import GroupBy

logger = logging.getLogger(__name__)


class NodeFailedError(KedroPrefectError):
    """One or more nodes failed; the message names them and how to resume."""


# The data lives in the Kedro catalog, not in Prefect: nothing is hashed for caching and nothing
# is persisted as a Prefect result, which keeps the per-node overhead to a few milliseconds.
# Each task run is named after its node (or its nodes, joined with " + ").
@task(name="kedro-node", task_run_name="{name}", cache_policy=NO_CACHE, persist_result=False)
def run_kedro_nodes(
    name: str,
    nodes: list[Node],
    catalog: CatalogProtocol,
    hooks: PluginManager | HookManagerRecipe | None,
    run_id: str | None,
    is_async: bool,
    recorder: RunRecorder | None,
) -> dict[str, NodeRun] | None:
    """Run nodes in order with Kedro's own node executor, which fires the node and dataset hooks.

    Each node's duration and process go to ``recorder`` in the flow's process, else back as the
    result. A failure also carries them, up to the failing node, as ``error.kedro_node_runs``.
    """
    if isinstance(hooks, HookManagerRecipe):  # in another process: its hooks and log forwarding are set up here
        remember_absent_data_libraries()
        with kedro_logs_to_prefect(hooks.package_name):
            _log_members(name, nodes)
            return _run_nodes(nodes, catalog, hooks.manager(), run_id, is_async, {})
    _log_members(name, nodes)
    _run_nodes(nodes, catalog, hooks, run_id, is_async, recorder.runs if recorder else {})
    return None


def _log_members(name: str, nodes: list[Node]) -> None:
    if len(nodes) > 1:
        logger.info("Task %s runs %d nodes in order: %s", name, len(nodes), ", ".join(node.name for node in nodes))


def _run_nodes(
    nodes: list[Node],
    catalog: CatalogProtocol,
    hook_manager: PluginManager | None,
    run_id: str | None,
    is_async: bool,
    runs: dict[str, NodeRun],
) -> dict[str, NodeRun]:
    process = f"{machine_name()}:{os.getpid()}"
    saved = saved_shapes(hook_manager)
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
        shapes = saved.of(node) if saved else {}
        runs[node.name] = NodeRun(seconds=time.perf_counter() - started, process=process, shapes=shapes)
    return runs


_CONTAINER_HOSTNAME_MOUNT = re.compile(r"/([0-9a-f]{64})/(?:userdata/)?hostname /etc/hostname ")


@cache
def machine_name() -> str:
    """Where this process runs: its container's short ID inside a container, else the host's name.

    Prefect's docker worker runs containers on the host's network, which also gives them the
    host's name. Docker and podman mount the container's ``/etc/hostname`` from a folder named
    after its ID, which names it then (the ID the flow run's ``infrastructure_pid`` ends with).
    """
    try:
        found = _CONTAINER_HOSTNAME_MOUNT.search(Path("/proc/self/mountinfo").read_text(errors="replace"))
    except OSError:
        found = None
    return found[1][:12] if found else socket.gethostname()


def _no_options(node: Node) -> TaskOptions:
    return {}


class PrefectTaskRunner(AbstractRunner):
    """Runs each unit of nodes as a Prefect task, in dependency order, at most ``max_workers`` at once.

    When a node fails, nothing downstream of it runs, while branches that do not depend on it run
    to completion (the same as a Prefect or Airflow DAG); the run then raises
    ``NodeFailedError`` naming the failed nodes and the ``from_nodes`` value that resumes the run.
    """

    def __init__(
        self,
        strategy: ExecutionStrategy,
        max_workers: int | None = None,
        is_async: bool = False,
        task_options: Callable[[Node], TaskOptions] = _no_options,
        group_by: GroupBy = "none",
        resume: Resume | None = None,
    ) -> None:
        super().__init__(is_async=is_async)
        self._strategy = strategy
        self._group_by = group_by
        self._resume = resume or Resume()
        self._max_workers = self._validate_max_workers(max_workers)
        self._task_options = task_options
        self.outcomes: list[NodeOutcome] = []
        """Every node of the last run, in pipeline order: final state, duration, inputs, outputs."""
        self.locations: dict[str, str] = {}
        """Where each persisted dataset of the last run lives, as shown (relative to the project inside it)."""
        self.sizes: dict[str, int | None] = {}
        """Bytes each persisted output of the last run's completed nodes takes in storage."""
        self.shapes: dict[str, list[int]] = {}
        """Rows (and columns) of each output of the last run's completed nodes whose data had a shape."""

    def __repr__(self) -> str:
        # Kedro records str(runner) in the run's parameters, which plugins such as kedro-mlflow log.
        strategy = type(self._strategy).__name__.removesuffix("Execution").lower()
        return f"PrefectTaskRunner({strategy}, max_workers={self._max_workers}, group_by={self._group_by})"

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
        remember_absent_data_libraries()
        to_run, skipped = self._resume.split(pipeline, catalog)
        if skipped:
            logger.info(
                "Attempt %d resumes: %d of %d nodes completed in earlier attempts and are skipped: %s",
                self._resume.attempt,
                len(skipped),
                len(pipeline.nodes),
                ", ".join(skipped),
            )
        units = self._strategy.units(to_run, catalog, run_id, self._group_by)
        max_in_flight = min(self._max_workers, max(len(units), 1))
        hooks = self._strategy.hooks(hook_manager)
        recorder = RunRecorder() if self._strategy.in_process else None
        tasks = _TasksByOptions(self._task_options)
        releaser = _DatasetReleaser(to_run, catalog)
        task_tags = limited_tags(chain.from_iterable(node.tags for node in to_run.nodes))
        with self._strategy.task_caller(max_in_flight) as call_task:

            def run_unit(unit: Unit, upstream: list[Any]) -> UnitOutcome:
                parameters = {
                    "name": unit_name(unit),
                    "nodes": list(unit),
                    "catalog": catalog,
                    "hooks": hooks,
                    "run_id": run_id,
                    "is_async": self._is_async,
                    "recorder": recorder,
                }
                # Tags entered here are copied into the task run's context when it starts.
                with prefect_tags(*sorted(task_tags.intersection(chain.from_iterable(node.tags for node in unit)))):
                    return call_task(tasks.for_unit(unit), parameters, upstream)

            scheduler = Scheduler(
                to_run.node_dependencies,
                units,
                run_unit,
                max_in_flight=max_in_flight,
                on_completed=releaser.release_after,
                runs=recorder.runs if recorder else None,
            )
            scheduler.run()

        unit_of = {node: unit for unit in units for node in unit}
        persisted = configured_locations(catalog, pipeline.datasets())
        saved = [(node.name, node.inputs, node.outputs) for node in scheduler.completed]
        emit_materializations(materialization_events(saved, persisted, Path.cwd()))
        self.locations = {name: shown_location(path, Path.cwd()) for name, path in persisted.items()}
        written = written_locations(catalog, [name for node in scheduler.completed for name in node.outputs])
        self.sizes = {name: stored_bytes(location_uri(location, Path.cwd())) for name, location in written.items()}
        runs = {node.name: scheduler.runs.get(node.name) for node in scheduler.completed}
        self.shapes = {name: shape for run in runs.values() if run for name, shape in run.shapes.items()}
        outputs = pipeline.all_outputs()
        locations = {name: location for name, location in self.locations.items() if name in outputs}
        self.outcomes = [
            self._outcome(node, scheduler, unit_of.get(node), skipped.get(node.name), locations)
            for node in pipeline.nodes
        ]
        self._strategy.after_run(completed=not scheduler.failures)
        if scheduler.failures:
            done = [*scheduler.completed, *(node for node in pipeline.nodes if node.name in skipped)]
            raise NodeFailedError(_failure_message(pipeline, done, scheduler.failures, catalog))

    def _outcome(
        self, node: Node, scheduler: Scheduler, unit: Unit | None, skipped_in: int | None, locations: dict[str, str]
    ) -> NodeOutcome:
        if skipped_in is not None:
            state, attempt, run = skipped_state(skipped_in), skipped_in, None
        else:
            state, attempt, run = scheduler.state_of(node), self._resume.attempt, scheduler.runs.get(node.name)
        return NodeOutcome(
            node=node.name,
            state=state,
            seconds=run.seconds if run else None,
            process=run.process if run else None,
            task=unit_name(unit) if unit is not None and len(unit) > 1 else None,
            attempt=attempt,
            inputs=list(node.inputs),
            outputs=list(node.outputs),
            saved_to=[locations[output] for output in node.outputs if output in locations],
        )


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
        options = merged_options([self._task_options(node) for node in unit])
        key = tuple(sorted(options.items()))
        if key not in self._tasks:
            self._tasks[key] = run_kedro_nodes.with_options(**options) if options else run_kedro_nodes
        return self._tasks[key]


def merged_options(each: list[TaskOptions]) -> TaskOptions:
    """Task options for nodes that run as one task: most retries, longest delay, summed timeouts."""
    if len(each) == 1:
        return each[0]
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

    def release_after(self, unit: Unit) -> None:
        for node in unit:
            for dataset in node.inputs:
                self._load_counts[dataset] -= 1
                self._release_if_unused(dataset)
            for dataset in node.outputs:
                self._release_if_unused(dataset)

    def _release_if_unused(self, dataset: str) -> None:
        if self._load_counts[dataset] < 1 and dataset not in self._keep:
            self._catalog.release(dataset)


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
    resume_from = sorted(nodes_to_resume_from(pipeline, unfinished, catalog))
    return (
        f"{failed}. {len(unfinished)} of {len(pipeline.nodes)} nodes did not complete. "
        f"Fix the cause, then resume with from_nodes={resume_from} "
        f'(kedro run --from-nodes "{",".join(resume_from)}").'
    )
