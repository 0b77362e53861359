"""Rows and columns of the tabular data each node saves, for the lineage artifact.

Taken from the data in memory at the moment Kedro saves it (its ``shape``: pandas, polars and
NumPy all have one), through Kedro's own ``after_dataset_saved`` hook: free to know then, where
reading a saved file back to count its rows would cost as much as the save. Data without a shape
(a dict, a Spark DataFrame, whose count runs a job) has none to show.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

if TYPE_CHECKING:
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

# pluggy's registry is not meant to change from several threads at once; tasks in threads share one.
_REGISTRATION = threading.Lock()


def shape_of(data: Any) -> list[int] | None:
    """``[rows, columns]`` of a table, ``[rows]`` of a series or vector; None for anything else."""
    shape = getattr(data, "shape", None)
    if not isinstance(shape, tuple) or not 1 <= len(shape) <= 2:
        return None
    if not all(isinstance(size, Integral) for size in shape):
        return None
    return [int(size) for size in shape]


class SavedShapes:
    """A Kedro hook that notes the shape of each dataset these nodes save (others' saves pass by)."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self._nodes = {node.name for node in nodes}
        self.shapes: dict[str, list[int]] = {}

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        if node.name not in self._nodes or (shape := shape_of(data)) is None:
            return
        earlier = self.shapes.get(dataset_name)
        if earlier is not None:  # a generator node saves its output once per chunk: rows add up
            shape = [earlier[0] + shape[0], *shape[1:]]
        self.shapes[dataset_name] = shape


@contextmanager
def shapes_saved_by(nodes: list[Node], hook_manager: PluginManager | None) -> Iterator[SavedShapes]:
    """Note the shapes of what ``nodes`` save while the block runs them (nothing without hooks)."""
    recorder = SavedShapes(nodes)
    if hook_manager is None:
        yield recorder
        return
    with _REGISTRATION:
        hook_manager.register(recorder)
    try:
        yield recorder
    finally:
        with _REGISTRATION:
            hook_manager.unregister(recorder)
