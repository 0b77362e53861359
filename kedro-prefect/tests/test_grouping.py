"""Namespace groups as units of work: Kedro's own grouping, kept a DAG, and joined on Dask only where they must be."""

from __future__ import annotations

import pickle

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pandas import CSVDataset

from kedro_prefect.execution.grouping import initial_units
from kedro_prefect.execution.memory_datasets import memory_datasets, plan_units
from kedro_prefect.execution.units import Unit, unit_name


def passthrough(*values):
    return values[0]


def shop() -> Pipeline:
    """raw -> load (no namespace) -> prep.clean -(mem)-> prep.features -> table -> report.a, report.b"""
    prep = Pipeline(
        [
            Node(passthrough, "loaded", "cleaned", name="clean"),
            Node(passthrough, "cleaned", "table", name="features"),
        ],
        namespace="prep",
        inputs={"loaded"},
        outputs={"table"},
    )
    report = Pipeline(
        [Node(passthrough, "table", "a", name="a"), Node(passthrough, "table", "b", name="b")],
        namespace="report.inner",
        inputs={"table"},
        outputs={"a", "b"},
    )
    return Pipeline([Node(passthrough, "raw", "loaded", name="load")]) + prep + report


def names(units) -> dict[str, list[str]]:
    return {unit_name(unit): [node.name for node in unit] for unit in units}


def test_none_is_one_unit_per_node():
    assert names(initial_units(shop(), "none")) == {
        "load": ["load"],
        "prep.clean": ["prep.clean"],
        "prep.features": ["prep.features"],
        "report.inner.a": ["report.inner.a"],
        "report.inner.b": ["report.inner.b"],
    }


def test_namespace_is_one_unit_per_top_level_namespace_in_dependency_order():
    units = initial_units(shop(), "namespace")
    # Nodes outside any namespace stay alone; nested namespaces fold into the top-level one.
    assert names(units) == {
        "load": ["load"],
        "prep": ["prep.clean", "prep.features"],
        "report": ["report.inner.a", "report.inner.b"],
    }
    assert [unit_name(unit) for unit in units] == ["load", "prep", "report"]


def test_groups_that_would_wait_for_each_other_are_merged():
    # ns.first -> outside -> ns.second: a task per namespace would wait for itself. Kedro warns.
    with pytest.warns(UserWarning, match="interrupted"):
        looped = Pipeline(
            [
                Node(passthrough, "raw", "x", name="first", namespace="ns"),
                Node(passthrough, "x", "y", name="outside"),
                Node(passthrough, "y", "z", name="second", namespace="ns"),
                Node(passthrough, "z", "done", name="after"),
            ]
        )
    assert names(initial_units(looped, "namespace")) == {
        "ns + outside": ["ns.first", "outside", "ns.second"],
        "after": ["after"],
    }


def catalog(tmp_path) -> DataCatalog:
    persisted = ["raw", "loaded", "table", "a", "b"]
    return DataCatalog({name: CSVDataset(filepath=str(tmp_path / f"{name}.csv")) for name in persisted})


def test_memory_inside_a_group_does_not_cross_processes(tmp_path):
    pipeline = shop()
    assert memory_datasets(pipeline, catalog(tmp_path)) == ["prep.cleaned"]
    assert memory_datasets(pipeline, catalog(tmp_path), initial_units(pipeline, "namespace")) == []


def test_memory_between_groups_follows_the_policy(tmp_path):
    pipeline = shop()
    store = catalog(tmp_path)
    store["table"] = MemoryDataset()  # now the namespaces pass data in memory
    units = initial_units(pipeline, "namespace")
    grouped = plan_units(pipeline, store, "group", units=units)
    assert names(grouped.units) == {"load": ["load"], "prep + report": [*names(units)["prep"], *names(units)["report"]]}
    persisted = plan_units(pipeline, store, "persist", persist_location=str(tmp_path), run_id="r", units=units)
    assert names(persisted.units) == names(units)
    assert type(store.get("table")).__name__ == "PickleDataset"


def test_a_unit_is_a_tuple_of_its_nodes_with_a_name_and_survives_pickling():
    node = Node(passthrough, "x", "y", name="n")
    unit = Unit([node], name="group")
    assert unit == (node,) and hash(unit) == hash((node,))
    assert Unit([node]).name == "n"
    copy = pickle.loads(pickle.dumps(unit))
    assert copy.name == "group" and [n.name for n in copy] == ["n"]
