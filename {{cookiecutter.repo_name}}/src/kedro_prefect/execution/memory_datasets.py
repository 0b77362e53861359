"""Datasets kept in memory, and what to do about them when nodes run in other processes.

With threads every node shares the flow's catalog, so a ``MemoryDataset`` passes data from one node
to the next. On Dask each task runs in a worker process with its own copy of the catalog: data
saved to memory there is gone before the next node, on another worker, tries to load it. Kedro
does not check this; ``plan_units`` does, before any node runs, and applies the chosen policy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .runner import Unit, unit_name

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from ..config import MemoryPolicy

logger = logging.getLogger(__name__)


class MemoryPlan(NamedTuple):
    """How a run is cut into tasks, and where in-memory datasets were persisted (if they were)."""

    units: list[Unit]
    persisted_in: str | None = None


class MemoryDatasetsError(ValueError):
    """In-memory datasets would be lost between processes; the message names them and the fixes."""


def memory_datasets(pipeline: Pipeline, catalog: CatalogProtocol) -> list[str]:
    """Datasets one node of ``pipeline`` saves and another loads, which only live in memory.

    Parameters and the pipeline's free inputs travel with the catalog itself; what cannot travel
    is data produced during the run. A dataset is in memory when its catalog entry (declared, or
    made from a dataset factory or Kedro's default pattern) is ephemeral, as ``MemoryDataset`` is.
    """
    produced = {output for node in pipeline.nodes for output in node.outputs}
    consumed = {name for node in pipeline.nodes for name in node.inputs}
    return sorted(name for name in produced & consumed if _is_ephemeral(catalog, name))


def _is_ephemeral(catalog: CatalogProtocol, name: str) -> bool:
    dataset = catalog.get(name, fallback_to_runtime_pattern=True)
    return dataset is None or getattr(dataset, "_EPHEMERAL", False)


def plan_units(
    pipeline: Pipeline,
    catalog: CatalogProtocol,
    policy: MemoryPolicy,
    persist_location: str | None = None,
    project_path: Path | None = None,
    run_id: str | None = None,
) -> MemoryPlan:
    """Split the pipeline into units that can run in separate processes, applying ``policy``.

    ``group`` joins the nodes linked by in-memory datasets; ``persist`` re-registers those datasets
    in ``catalog`` as pickles under ``persist_location``; ``refuse`` raises ``MemoryDatasetsError``.
    Without such datasets every node is its own unit, whatever the policy.
    """
    in_memory, units = _split(pipeline, catalog, policy)
    if in_memory and policy == "persist":
        folder = _run_folder(persist_location, project_path, run_id)
        persist(catalog, in_memory, folder)
        return MemoryPlan(units, persisted_in=folder)
    if in_memory:
        logger.info("Joined by in-memory datasets, run as one task each: %s", _grouped(units))
    return MemoryPlan(units)


def describe_policy(pipeline: Pipeline, catalog: CatalogProtocol, policy: MemoryPolicy) -> str | None:
    """What ``plan_units`` will do to this pipeline, in one line; ``None`` when nothing is in memory.

    Raises ``MemoryDatasetsError`` for ``refuse``, so that ``make deploy`` stops where a run would.
    """
    in_memory, units = _split(pipeline, catalog, policy)
    if not in_memory:
        return None
    if policy == "persist":
        return f"in-memory datasets {', '.join(in_memory)} will be pickled under execution.dask.persist_location"
    return f"nodes joined by in-memory datasets ({', '.join(in_memory)}) run as one task each: {_grouped(units)}"


def _split(pipeline: Pipeline, catalog: CatalogProtocol, policy: MemoryPolicy) -> tuple[list[str], list[Unit]]:
    """The in-memory datasets, and the units the policy makes (raises for ``refuse``)."""
    in_memory = memory_datasets(pipeline, catalog)
    if in_memory and policy == "refuse":
        raise MemoryDatasetsError(refusal_message(in_memory))
    if in_memory and policy == "group":
        return in_memory, group_by_memory(pipeline, set(in_memory))
    return in_memory, [(node,) for node in pipeline.nodes]


def _grouped(units: list[Unit]) -> str:
    return "; ".join(unit_name(unit) for unit in units if len(unit) > 1)


def refusal_message(names: Iterable[str]) -> str:
    listed = ", ".join(names)
    return (
        f"Datasets {listed} are kept in memory, but with the dask task runner each node runs in its own "
        "process, so they would be lost between nodes. Fix: set execution.dask.memory_datasets to "
        "'group' (nodes sharing them run as one task) or 'persist' (pickled under "
        "execution.dask.persist_location) in conf/<env>/prefect.yml, or declare them in conf/base/catalog.yml."
    )


def _run_folder(location: str | None, project_path: Path | None, run_id: str | None) -> str:
    """One folder per run under ``location``, so that concurrent runs never share a file."""
    if not location:
        raise MemoryDatasetsError("execution.dask.persist_location is empty; give a folder every Dask worker can reach")
    if "://" not in location and project_path is not None and not Path(location).is_absolute():
        location = str(project_path / location)
    return f"{location.rstrip('/')}/{run_id or 'run'}"


def persist(catalog: CatalogProtocol, names: Iterable[str], folder: str) -> None:
    """Register each dataset as a pickle under ``folder``, which any fsspec protocol may name."""
    from kedro_datasets.pickle import PickleDataset

    names = list(names)
    for name in names:
        catalog[name] = PickleDataset(filepath=f"{folder}/{name}.pickle")
    logger.info("In-memory datasets %s are pickled under %s for this run", ", ".join(names), folder)


def group_by_memory(pipeline: Pipeline, in_memory: set[str]) -> list[Unit]:
    """Units of nodes joined by in-memory datasets, in an order that respects dependencies.

    Joining producer and consumers of each such dataset can close a loop between units (A feeds B
    in memory, and B waits for C, which waits for A); the nodes on such a loop are merged too, so
    the units always form a DAG. Inside a unit, nodes keep the pipeline's topological order.
    """
    order = {node: index for index, node in enumerate(pipeline.nodes)}
    leader = {node: node for node in pipeline.nodes}

    def find(node: Node) -> Node:
        while leader[node] is not node:
            leader[node] = leader[leader[node]]
            node = leader[node]
        return node

    def join(first: Node, second: Node) -> None:
        first, second = find(first), find(second)
        if first is not second:
            leader[max(first, second, key=order.get)] = min(first, second, key=order.get)

    producers = {output: node for node in pipeline.nodes for output in node.outputs}
    for node in pipeline.nodes:
        for name in node.inputs:
            if name in in_memory and name in producers:
                join(producers[name], node)

    parents = pipeline.node_dependencies
    for cycle in _cycles({find(node) for node in pipeline.nodes}, parents, find):
        for member in cycle[1:]:
            join(cycle[0], member)

    members: dict[Node, list[Node]] = {}
    for node in pipeline.nodes:
        members.setdefault(find(node), []).append(node)
    return _in_dependency_order([tuple(nodes) for nodes in members.values()], parents)


def _cycles(leaders: set[Node], parents: dict[Node, set[Node]], find) -> list[list[Node]]:
    """Strongly connected groups of more than one unit in the unit graph (Kosaraju's algorithm)."""
    edges: dict[Node, set[Node]] = {leader: set() for leader in leaders}
    reverse: dict[Node, set[Node]] = {leader: set() for leader in leaders}
    for node, node_parents in parents.items():
        for parent in node_parents:
            source, target = find(parent), find(node)
            if source is not target:
                edges[source].add(target)
                reverse[target].add(source)

    finished: list[Node] = []
    seen: set[Node] = set()
    for start in leaders:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(edges[start]))]
        while stack:
            vertex, successors = stack[-1]
            step = next((succ for succ in successors if succ not in seen), None)
            if step is None:
                stack.pop()
                finished.append(vertex)
            else:
                seen.add(step)
                stack.append((step, iter(edges[step])))

    assigned: set[Node] = set()
    cycles = []
    for start in reversed(finished):
        if start in assigned:
            continue
        component, frontier = [], [start]
        assigned.add(start)
        while frontier:
            vertex = frontier.pop()
            component.append(vertex)
            for previous in reverse[vertex] - assigned:
                assigned.add(previous)
                frontier.append(previous)
        if len(component) > 1:
            cycles.append(component)
    return cycles


def _in_dependency_order(units: list[Unit], parents: dict[Node, set[Node]]) -> list[Unit]:
    """Units sorted so each comes after every unit it depends on (ties: pipeline order)."""
    unit_of = {node: unit for unit in units for node in unit}
    remaining = {unit: {unit_of[p] for node in unit for p in parents[node]} - {unit} for unit in units}
    ordered: list[Unit] = []
    while remaining:
        ready = [unit for unit in units if unit in remaining and not remaining[unit]]
        if not ready:  # cannot happen once cycles are merged; never loop forever if it does
            raise RuntimeError(f"Units depend on each other in a loop: {list(remaining)}")
        for unit in ready:
            del remaining[unit]
        for waiting in remaining.values():
            waiting.difference_update(ready)
        ordered.extend(ready)
    return ordered
