"""What a retried attempt skips: nodes an earlier attempt completed, less those Kedro's resume logic must rerun."""

from __future__ import annotations

from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline
from kedro_datasets.pandas import CSVDataset

from kedro_prefect.execution.resume import Resume, skipped_state


def passthrough(*values):
    return values[0]


def pipeline() -> Pipeline:
    """raw -> a -> stored -> b -(memory)-> c -> report ; raw -> side"""
    return Pipeline(
        [
            Node(passthrough, "raw", "stored", name="a"),
            Node(passthrough, "stored", "in_memory", name="b"),
            Node(passthrough, "in_memory", "report", name="c"),
            Node(passthrough, "raw", "side_output", name="side"),
        ]
    )


def catalog(tmp_path) -> DataCatalog:
    persisted = ["raw", "stored", "report", "side_output"]
    return DataCatalog({name: CSVDataset(filepath=str(tmp_path / f"{name}.csv")) for name in persisted})


def test_summary_rows_name_what_completed_and_when():
    rows = [
        {"node": "a", "state": skipped_state(1)},
        {"node": "side", "state": "Completed", "attempt": 2},
        {"node": "b", "state": "Completed"},  # a summary without the column: the attempt before this one
        {"node": "c", "state": "Failed", "attempt": 2},
        {"node": "d", "state": "NotRun", "attempt": 2},
    ]
    assert Resume.from_summary(3, rows).completed == {"a": 1, "side": 2, "b": 2}


def test_a_node_reading_memory_reruns_its_producer(tmp_path):
    resume = Resume(attempt=2, completed={"a": 1, "b": 1, "side": 1})
    to_run, skipped = resume.split(pipeline(), catalog(tmp_path))
    assert sorted(node.name for node in to_run.nodes) == ["b", "c"]  # c reads b's output from memory
    assert skipped == {"a": 1, "side": 1}


def test_persisted_inputs_let_the_failed_node_run_alone(tmp_path):
    resume = Resume(attempt=3, completed={"a": 1, "b": 2})
    store = catalog(tmp_path)
    store["in_memory"] = CSVDataset(filepath=str(tmp_path / "in_memory.csv"))
    to_run, skipped = resume.split(pipeline(), store)
    assert sorted(node.name for node in to_run.nodes) == ["c", "side"]
    assert skipped == {"a": 1, "b": 2}


def test_nothing_is_skipped_on_a_first_attempt_or_when_everything_completed(tmp_path):
    whole = pipeline()
    for resume in (Resume(), Resume(attempt=2, completed={n.name: 1 for n in whole.nodes})):
        to_run, skipped = resume.split(whole, catalog(tmp_path))
        assert to_run is whole and skipped == {}


def test_a_crashed_attempt_adds_nothing_so_its_nodes_rerun(tmp_path):
    # Attempt 1 failed at c and published its summary; attempt 2 ran b and c, then its process died
    # before publishing one (Crashed). Attempt 3 reads the newest summary, attempt 1's: b reruns.
    attempt_1 = [
        {"node": "a", "state": "Completed", "attempt": 1},
        {"node": "side", "state": "Completed", "attempt": 1},
        {"node": "b", "state": "Completed", "attempt": 1},
        {"node": "c", "state": "Failed", "attempt": 1},
        {"node": "report", "state": "NotRun", "attempt": 1},
    ]
    whole = Pipeline([*pipeline().nodes, Node(passthrough, "report", "final", name="report")])
    store = catalog(tmp_path)
    store["in_memory"] = CSVDataset(filepath=str(tmp_path / "in_memory.csv"))
    resume = Resume.from_summary(3, attempt_1)
    to_run, skipped = resume.split(whole, store)
    assert resume.completed == {"a": 1, "side": 1, "b": 1}
    assert sorted(node.name for node in to_run.nodes) == ["c", "report"]
    assert skipped == {"a": 1, "b": 1, "side": 1}
