"""Rows and columns of the tabular data each node saves, for the lineage artifact.

Taken from the data in memory at the moment Kedro saves it (its ``shape``: pandas, polars and
NumPy all have one), through Kedro's own ``after_dataset_saved`` hook: free to know then, where
reading a saved file back to count its rows would cost as much as the save. Data without a shape
(a dict, a Spark DataFrame, whose count runs a job) has none to show.
"""

from __future__ import annotations

import threading
from numbers import Integral
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl

if TYPE_CHECKING:
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

_PLUGIN_NAME = "kedro-prefect-saved-shapes"

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
    """A Kedro hook that notes the shape of each dataset saved through its hook manager.

    One per hook manager, registered once: registering a pluggy plugin costs about a quarter of a
    millisecond, too much to pay per node. Dataset names are unique outputs within a run.
    """

    def __init__(self) -> None:
        self.shapes: dict[str, list[int]] = {}

    @hook_impl
    def before_node_run(self, node: Node) -> None:
        for name in node.outputs:  # a retried node saves afresh
            self.shapes.pop(name, None)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        shape = shape_of(data)
        if shape is None:
            return
        earlier = self.shapes.get(dataset_name)
        if earlier is not None:  # a generator node saves its output once per chunk: rows add up
            shape = [earlier[0] + shape[0], *shape[1:]]
        self.shapes[dataset_name] = shape

    def of(self, node: Node) -> dict[str, list[int]]:
        """The shapes of what ``node`` saved when it last ran."""
        return {name: self.shapes[name] for name in node.outputs if name in self.shapes}


def saved_shapes(hook_manager: PluginManager | None) -> SavedShapes | None:
    """The hook manager's recorder, registered on first use (None without hooks: nothing to note)."""
    if hook_manager is None:
        return None
    with _REGISTRATION:
        recorder = hook_manager.get_plugin(_PLUGIN_NAME)
        if recorder is None:
            recorder = SavedShapes()
            hook_manager.register(recorder, name=_PLUGIN_NAME)
    return recorder
