"""Rows and columns of what nodes save, noted through Kedro's own hook as Kedro saves it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import node
from kedro.runner import Task

from kedro_prefect.execution.kedro_internals import session_hook_manager
from kedro_prefect.execution.table_shapes import shape_of, shapes_saved_by


def test_tables_series_and_vectors_have_a_shape_other_data_none():
    assert shape_of(pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})) == [3, 2]
    assert shape_of(pd.Series([1, 2])) == [2]
    assert shape_of(np.zeros((4, 5))) == [4, 5]
    assert shape_of(np.zeros((2, 2, 2))) is None  # a cube has no rows × columns
    assert shape_of({"a": 1}) is None
    assert shape_of(type("Lazy", (), {"shape": (None, 3)})()) is None  # unknown until computed


def test_the_shapes_of_the_given_nodes_saves_are_noted_and_the_hook_is_gone_after():
    table = node(lambda: pd.DataFrame({"a": range(7), "b": range(7)}), None, "table", name="make_table")
    text = node(lambda table: "done", "table", "text", name="describe")
    other = node(lambda: pd.DataFrame({"c": [1]}), None, "other", name="not_watched")
    catalog = DataCatalog({"table": MemoryDataset(), "text": MemoryDataset(), "other": MemoryDataset()})
    hooks = session_hook_manager([], [])
    before = hooks.get_plugins()
    with shapes_saved_by([table, text], hooks) as saved:
        for each in (table, text, other):
            Task(node=each, catalog=catalog, is_async=False, hook_manager=hooks).execute()
    assert saved.shapes == {"table": [7, 2]}  # text has no shape; other is not one of these nodes
    assert hooks.get_plugins() == before


def test_without_a_hook_manager_nothing_is_noted():
    with shapes_saved_by([], None) as saved:
        pass
    assert saved.shapes == {}


def test_a_generator_node_saving_chunks_adds_their_rows_up():
    def chunks():
        yield pd.DataFrame({"a": range(3), "b": range(3)})
        yield pd.DataFrame({"a": range(4), "b": range(4)})

    chunked = node(chunks, None, "table", name="chunked")
    catalog = DataCatalog({"table": MemoryDataset()})
    hooks = session_hook_manager([], [])
    with shapes_saved_by([chunked], hooks) as saved:
        Task(node=chunked, catalog=catalog, is_async=False, hook_manager=hooks).execute()
    assert saved.shapes == {"table": [7, 2]}
