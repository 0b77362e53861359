"""Which nodes run together as one Prefect task.

Kedro's ``Pipeline.group_nodes_by("namespace")`` makes the groups when a run asks for them; then
``merge_units`` joins groups further where nodes must share a process (in-memory datasets on Dask)
and where grouping closes a loop between groups (a namespace feeding a node outside it that feeds
the namespace back), so that the tasks always form a DAG. Inside a unit, nodes keep the
pipeline's topological order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .units import Unit

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from ..options import GroupBy


def initial_units(pipeline: Pipeline, group_by: GroupBy) -> list[Unit]:
    """One unit per node, or per top-level namespace (nodes outside any stay one unit each)."""
    if group_by == "none":
        return [Unit((node,)) for node in pipeline.nodes]
    by_name = {node.name: node for node in pipeline.nodes}
    groups = [
        Unit((by_name[name] for name in group.nodes), name=group.name) for group in pipeline.group_nodes_by(group_by)
    ]
    return merge_units(pipeline, groups)


def merge_units(pipeline: Pipeline, units: list[Unit], joined_by: Iterable[str] = ()) -> list[Unit]:
    """``units`` joined wherever one of the ``joined_by`` datasets passes between them, and on loops.

    Joining producer and consumers of a dataset can close a loop between units (A feeds B in
    memory, and B waits for C, which waits for A); the units on such a loop are merged too. A unit
    made of several is named after its parts, joined with " + ".
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
            leader[max(first, second, key=order.__getitem__)] = min(first, second, key=order.__getitem__)

    for unit in units:
        for node in unit[1:]:
            join(unit[0], node)
    joined_by = set(joined_by)
    producers = {output: node for node in pipeline.nodes for output in node.outputs}
    for node in pipeline.nodes:
        for name in node.inputs:
            if name in joined_by and name in producers:
                join(producers[name], node)

    parents = pipeline.node_dependencies
    for cycle in _cycles({find(node) for node in pipeline.nodes}, parents, find):
        for member in cycle[1:]:
            join(cycle[0], member)

    unit_of = {node: unit for unit in units for node in unit}
    members: dict[Node, list[Node]] = {}
    for node in pipeline.nodes:
        members.setdefault(find(node), []).append(node)
    merged = []
    for nodes in members.values():
        parts = list(dict.fromkeys(unit_of[node] for node in nodes))
        merged.append(Unit(nodes, name=" + ".join(part.name for part in parts)))
    return _in_dependency_order(merged, parents)


def _cycles(leaders: set[Node], parents: dict[Node, set[Node]], find: Callable[[Node], Node]) -> list[list[Node]]:
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
