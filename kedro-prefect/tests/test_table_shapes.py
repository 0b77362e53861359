"""Rows and columns of what nodes save, noted through Kedro's own hook as Kedro saves it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import node
from kedro.runner import Task

from kedro_prefect.execution.kedro_internals import session_hook_manager
from kedro_prefect.execution.table_shapes import saved_shapes, shape_of


def test_tables_series_and_vectors_have_a_shape_other_data_none():
    assert shape_of(pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})) == [3, 2]
    assert shape_of(pd.Series([1, 2])) == [2]
    assert shape_of(np.zeros((4, 5))) == [4, 5]
    assert shape_of(np.zeros((2, 2, 2))) is None  # a cube has no rows × columns
    assert shape_of({"a": 1}) is None
    assert shape_of(type("Lazy", (), {"shape": (None, 3)})()) is None  # unknown until computed


def test_one_recorder_per_hook_manager_notes_each_nodes_saved_shapes():
    table = node(lambda: pd.DataFrame({"a": range(7), "b": range(7)}), None, "table", name="make_table")
    text = node(lambda table: "done", "table", "text", name="describe")
    catalog = DataCatalog({"table": MemoryDataset(), "text": MemoryDataset()})
    hooks = session_hook_manager([], [])
    saved = saved_shapes(hooks)
    assert saved is not None and saved_shapes(hooks) is saved  # registered once, not per node
    for each in (table, text):
        Task(node=each, catalog=catalog, is_async=False, hook_manager=hooks).execute()
    assert (saved.of(table), saved.of(text)) == ({"table": [7, 2]}, {})  # text has no shape
    assert saved_shapes(None) is None  # no hooks, nothing to note


def test_a_generator_nodes_chunks_add_up_and_a_rerun_counts_afresh():
    def chunks():
        yield pd.DataFrame({"a": range(3), "b": range(3)})
        yield pd.DataFrame({"a": range(4), "b": range(4)})

    chunked = node(chunks, None, "table", name="chunked")
    catalog = DataCatalog({"table": MemoryDataset()})
    hooks = session_hook_manager([], [])
    saved = saved_shapes(hooks)
    assert saved is not None
    for _ in range(2):  # a retry runs the node again: its rows are not added to the last attempt's
        Task(node=chunked, catalog=catalog, is_async=False, hook_manager=hooks).execute()
        assert saved.of(chunked) == {"table": [7, 2]}
