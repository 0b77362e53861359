"""Which datasets cannot cross processes, and the three policies: group, persist, refuse.

These run without Dask: the policies decide how a run is cut into tasks before anything is sent
anywhere. tests/test_scale_out.py runs them on a real Dask cluster.
"""

from __future__ import annotations

import pickle

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pandas import CSVDataset

from kedro_prefect.config import parse_prefect_config
from kedro_prefect.execution.memory_datasets import (
    MemoryDatasetsError,
    describe_policy,
    group_by_memory,
    memory_datasets,
    plan_units,
)


def passthrough(*values):
    return values[0]


def names(units) -> list[list[str]]:
    return [[node.name for node in unit] for unit in units]


def chain_with_branch() -> Pipeline:
    """raw -> a -(mem)-> b -> stored -> c ; a -(mem)-> d ; params go to b."""
    return Pipeline(
        [
            Node(passthrough, "raw", "in_memory", name="a"),
            Node(passthrough, ["in_memory", "params:x"], "stored", name="b"),
            Node(passthrough, "stored", "report", name="c"),
            Node(passthrough, "in_memory", "side", name="d"),
        ]
    )


def catalog_for(tmp_path, persisted: list[str]) -> DataCatalog:
    catalog = DataCatalog({name: CSVDataset(filepath=str(tmp_path / f"{name}.csv")) for name in persisted})
    catalog["params:x"] = MemoryDataset(1)
    return catalog


def test_only_data_made_and_used_in_the_run_counts(tmp_path):
    catalog = catalog_for(tmp_path, ["raw", "stored"])
    # "raw" is a free input, "params:x" travels with the catalog, "report"/"side" nobody loads.
    assert memory_datasets(chain_with_branch(), catalog) == ["in_memory"]
    catalog["in_memory"] = MemoryDataset()
    assert memory_datasets(chain_with_branch(), catalog) == ["in_memory"]
    catalog["in_memory"] = CSVDataset(filepath=str(tmp_path / "in_memory.csv"))
    assert memory_datasets(chain_with_branch(), catalog) == []


def test_dataset_factories_decide_what_is_persisted(tmp_path):
    config = {"{name}_file": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "{name}.csv")}}
    pipeline = Pipeline(
        [
            Node(passthrough, "raw", "made_file", name="make"),
            Node(passthrough, "made_file", "kept", name="use"),
            Node(passthrough, "kept", "out", name="last"),
        ]
    )
    assert memory_datasets(pipeline, DataCatalog.from_config(config)) == ["kept"]


def test_group_joins_the_nodes_that_share_memory_and_keeps_the_rest_apart(tmp_path):
    plan = plan_units(chain_with_branch(), catalog_for(tmp_path, ["raw", "stored"]), "group")
    assert names(plan.units) == [["a", "b", "d"], ["c"]]
    assert plan.persisted_in is None


def test_group_merges_units_that_would_wait_for_each_other():
    # a -(mem)-> c, but c also needs b's persisted output, and b needs a's persisted output:
    # {a, c} and {b} would each wait for the other, so all three run together.
    pipeline = Pipeline(
        [
            Node(passthrough, "raw", ["in_memory", "stored_a"], name="a"),
            Node(passthrough, "stored_a", "stored_b", name="b"),
            Node(passthrough, ["in_memory", "stored_b"], "out", name="c"),
            Node(passthrough, "raw", "other", name="unrelated"),
        ]
    )
    units = group_by_memory(pipeline, {"in_memory"})
    assert sorted(map(sorted, names(units))) == [["a", "b", "c"], ["unrelated"]]
    merged = next(unit for unit in names(units) if len(unit) == 3)
    assert merged == ["a", "b", "c"]  # the pipeline's topological order inside the unit


def test_persist_registers_pickles_in_a_folder_per_run(tmp_path):
    catalog = catalog_for(tmp_path, ["raw", "stored"])
    plan = plan_units(
        chain_with_branch(), catalog, "persist", persist_location="shared", project_path=tmp_path, run_id="run-1"
    )
    assert sorted(names(plan.units)) == [["a"], ["b"], ["c"], ["d"]]
    assert plan.persisted_in == f"{tmp_path}/shared/run-1"
    catalog.save("in_memory", {"rows": 3})
    assert pickle.loads((tmp_path / "shared" / "run-1" / "in_memory.pickle").read_bytes()) == {"rows": 3}


def test_refuse_names_the_datasets_and_both_fixes(tmp_path):
    with pytest.raises(MemoryDatasetsError) as refused:
        plan_units(chain_with_branch(), catalog_for(tmp_path, ["raw", "stored"]), "refuse")
    message = str(refused.value)
    assert "\n" not in message
    assert "in_memory" in message
    assert "'group'" in message and "'persist'" in message


def test_nothing_in_memory_means_one_task_per_node_whatever_the_policy(tmp_path):
    catalog = catalog_for(tmp_path, ["raw", "stored", "in_memory"])
    for policy in ("group", "persist", "refuse"):
        assert sorted(names(plan_units(chain_with_branch(), catalog, policy).units)) == [["a"], ["b"], ["c"], ["d"]]
        assert describe_policy(chain_with_branch(), catalog, policy) is None


def test_group_is_the_default_policy():
    assert parse_prefect_config({}).execution.dask.memory_datasets == "group"
