"""The Prefect flow against a real Prefect server behaves like `kedro run` with the same options."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.hooks import hook_impl
from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner

OUTPUTS = [
    "data/03_primary/order_table.csv",
    "data/08_reporting/region_revenue.csv",
    "data/08_reporting/monthly_revenue.csv",
    "data/08_reporting/top_customers.csv",
]
DATA_PROCESSING = {"clean_orders", "clean_customers", "build_order_table"}
REPORTING = {"reporting.revenue_by_region", "reporting.monthly_revenue", "reporting.top_customers"}


@pytest.fixture
def flow_module(in_project, prefect_settings):
    from kedro_prefect.execution import flow

    return flow


def kedro_run(project: Path, **options) -> None:
    with KedroSession.create(project_path=project, env=options.pop("env", None)) as session:
        session.run(runner=SequentialRunner(), **options)


def read_outputs(project: Path) -> dict[str, pd.DataFrame]:
    return {path: pd.read_csv(project / path) for path in OUTPUTS}


def remove_outputs(project: Path) -> None:
    for path in OUTPUTS:
        (project / path).unlink(missing_ok=True)


@pytest.fixture
def order_table(in_project) -> Path:
    """The reporting pipeline's input, made by `kedro run` when no earlier test left it behind."""
    path = in_project / OUTPUTS[0]
    if not path.exists():
        kedro_run(in_project, pipeline_name="data_processing")
    return path


def wait_for(read, ready, timeout: float = 20.0):
    """Task runs, logs and artifacts reach the server asynchronously: poll, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def task_runs_of(state, expected: int) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = wait_for(
            lambda: client.read_task_runs(flow_run_filter=flow_filter),
            lambda runs: len([run for run in runs if run.state and run.state.is_final()]) >= expected,
        )
    return {run.name: run for run in runs}


def test_flow_results_equal_kedro_run(flow_module, in_project):
    remove_outputs(in_project)
    kedro_run(in_project)
    expected = read_outputs(in_project)

    remove_outputs(in_project)
    state = flow_module.kedro_pipeline(return_state=True)

    assert state.is_completed(), state.message
    for path, frame in read_outputs(in_project).items():
        pd.testing.assert_frame_equal(frame, expected[path], obj=path)
    runs = task_runs_of(state, expected=6)
    assert set(runs) == DATA_PROCESSING | REPORTING
    assert all(run.state.is_completed() for run in runs.values())


def test_task_runs_carry_the_dag_edges(flow_module):
    state = flow_module.kedro_pipeline(pipeline_name="data_processing", return_state=True)
    runs = task_runs_of(state, expected=3)
    upstream_of_join = {str(inp.id) for inp in runs["build_order_table"].task_inputs["wait_for"]}
    assert upstream_of_join == {str(runs["clean_orders"].id), str(runs["clean_customers"].id)}
    assert runs["clean_orders"].task_inputs.get("wait_for", []) == []


@pytest.fixture
def cleaning_tag_limit(prefect_settings):
    """A Prefect tag concurrency limit on the example's `cleaning` tag, removed afterwards."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(tag="cleaning", concurrency_limit=1)
        try:
            yield "cleaning"
        finally:
            client.delete_concurrency_limit_by_tag("cleaning")


def test_task_runs_carry_only_node_tags_that_a_tag_concurrency_limit_governs(flow_module, cleaning_tag_limit):
    state = flow_module.kedro_pipeline(pipeline_name="data_processing", return_state=True)
    assert state.is_completed(), state.message
    runs = task_runs_of(state, expected=3)
    # clean_orders and clean_customers are tagged `cleaning` in Kedro, build_order_table is not;
    # the limit of one slot lets the two cleaning nodes run only one after the other.
    assert {name: run.tags for name, run in runs.items()} == {
        "clean_orders": ["cleaning"],
        "clean_customers": ["cleaning"],
        "build_order_table": [],
    }
    first, second = sorted((runs["clean_orders"], runs["clean_customers"]), key=lambda run: run.start_time)
    assert second.start_time >= first.end_time


def test_node_tags_without_a_limit_stay_off_the_task_runs(flow_module):
    state = flow_module.kedro_pipeline(pipeline_name="data_processing", return_state=True)
    runs = task_runs_of(state, expected=3)
    assert all(run.tags == [] for run in runs.values())


def test_every_hook_fires_as_in_kedro_run(flow_module, in_project, record_hooks):
    by_kedro = record_hooks()
    kedro_run(in_project)
    by_flow = record_hooks()
    state = flow_module.kedro_pipeline(return_state=True)

    assert state.is_completed(), state.message
    assert by_flow.calls == by_kedro.calls
    for hook in [
        "after_context_created",
        "after_catalog_created",
        "before_pipeline_run",
        "after_pipeline_run",
    ]:
        assert by_flow.calls[hook] == 1, hook
    for hook in ["before_node_run", "after_node_run"]:
        assert by_flow.calls[hook] == 6, hook
    for hook in ["before_dataset_loaded", "after_dataset_loaded", "before_dataset_saved", "after_dataset_saved"]:
        assert by_flow.calls[hook] > 0, hook
    assert by_flow.calls["on_node_error"] == by_flow.calls["on_pipeline_error"] == 0


def overlaps(span_a: tuple[float, float], span_b: tuple[float, float]) -> bool:
    return span_a[0] < span_b[1] and span_b[0] < span_a[1]


def test_independent_nodes_run_concurrently_and_dependent_ones_do_not(flow_module, record_hooks):
    hooks = record_hooks(node_delay=0.5)
    state = flow_module.kedro_pipeline(max_workers=4, return_state=True)

    assert state.is_completed(), state.message
    spans = hooks.spans
    assert overlaps(spans["clean_orders"], spans["clean_customers"])
    assert overlaps(spans["reporting.revenue_by_region"], spans["reporting.top_customers"])
    assert overlaps(spans["reporting.monthly_revenue"], spans["reporting.top_customers"])
    for parent in ["clean_orders", "clean_customers"]:
        assert spans[parent][1] <= spans["build_order_table"][0]
    for report in REPORTING:
        assert spans["build_order_table"][1] <= spans[report][0]


def test_max_workers_one_runs_nodes_one_at_a_time(flow_module, record_hooks, order_table):
    hooks = record_hooks(node_delay=0.2)
    state = flow_module.kedro_pipeline(pipeline_name="reporting", max_workers=1, return_state=True)

    assert state.is_completed(), state.message
    spans = sorted(hooks.spans.values())
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False))


FILTERS = [
    {"tags": ["cleaning"]},
    {"node_names": ["clean_orders", "reporting.top_customers"]},
    {"from_nodes": ["reporting.revenue_by_region", "reporting.monthly_revenue"]},
    {"to_nodes": ["build_order_table"]},
    {"from_inputs": ["order_table"]},
    {"to_outputs": ["order_table"]},
    {"namespaces": ["reporting"]},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda filters: next(iter(filters)))
def test_filters_select_what_kedro_run_selects(flow_module, in_project, record_hooks, filters):
    kedro_run(in_project)  # every persisted input exists, as after any full run
    by_kedro = record_hooks()
    kedro_run(in_project, **filters)
    by_flow = record_hooks()
    state = flow_module.kedro_pipeline(return_state=True, **filters)

    assert state.is_completed(), state.message
    assert sorted(by_flow.nodes_started) == sorted(by_kedro.nodes_started)
    assert by_flow.nodes_started


def test_runtime_params_reach_the_configuration(flow_module, in_project):
    state = flow_module.kedro_pipeline(pipeline_name="__default__", runtime_params={"top_n": 3}, return_state=True)
    assert state.is_completed(), state.message
    assert len(pd.read_csv(in_project / "data/08_reporting/top_customers.csv")) == 3


def test_unknown_pipeline_fails_with_known_names(flow_module, record_hooks):
    hooks = record_hooks()
    state = flow_module.kedro_pipeline(pipeline_name="no_such_pipeline", return_state=True)
    assert state.is_failed()
    assert state.message.endswith(
        "Unknown pipeline 'no_such_pipeline'. Known pipelines: __default__, data_processing, reporting."
    )
    assert hooks.nodes_started == []


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"tags": ["no-such-tag"]}, "Pipeline contains no nodes after applying all provided filters"),
        ({"node_names": ["ghost"]}, "Pipeline does not contain nodes named ['ghost']"),
    ],
)
def test_filters_selecting_nothing_fail_before_any_node(flow_module, record_hooks, filters, reason):
    hooks = record_hooks()
    state = flow_module.kedro_pipeline(return_state=True, **filters)
    assert state.is_failed()
    assert f"The filters {filters} select no node of pipeline '__default__'" in state.message
    assert reason in state.message
    assert hooks.nodes_started == []


def test_node_failing_once_succeeds_on_retry(flow_module, conf_env, record_hooks):
    retry_once = "execution:\n  node_overrides:\n    clean_customers:\n      retries: 1\n      retry_delay_seconds: 0\n"
    env = conf_env("test_retry", **{"prefect.yml": retry_once})
    hooks = record_hooks(fail_once=frozenset({"clean_customers"}))
    state = flow_module.kedro_pipeline(pipeline_name="data_processing", env=env, return_state=True)

    assert state.is_completed(), state.message
    assert hooks.nodes_started.count("clean_customers") == 2
    assert hooks.calls["on_node_error"] == 1
    assert hooks.calls["on_pipeline_error"] == 0
    runs = task_runs_of(state, expected=3)
    assert runs["clean_customers"].state.is_completed()
    assert runs["clean_customers"].run_count == 2


def test_without_retries_the_same_failure_fails_the_flow(flow_module, record_hooks):
    hooks = record_hooks(fail_once=frozenset({"clean_customers"}))
    state = flow_module.kedro_pipeline(pipeline_name="data_processing", return_state=True)
    assert state.is_failed()
    assert "node 'clean_customers' failed: AttributeError" in state.message
    assert "build_order_table" not in hooks.nodes_started
    assert hooks.calls["on_pipeline_error"] == 1


def test_node_over_its_timeout_fails_the_flow(flow_module, conf_env, record_hooks):
    half_second = "execution:\n  node_overrides:\n    clean_customers:\n      timeout_seconds: 0.5\n"
    env = conf_env("test_timeout", **{"prefect.yml": half_second})
    hooks = record_hooks(node_delay=2.0)
    state = flow_module.kedro_pipeline(pipeline_name="data_processing", env=env, return_state=True)

    assert state.is_failed()
    assert "node 'clean_customers' failed: TaskRunTimeoutError: Scope timed out after 0.5 second(s). " in state.message
    assert "build_order_table" not in hooks.nodes_started
    # A unit starts only once its parents completed: the one below the timeout has no task run.
    assert "build_order_table" not in task_runs_of(state, expected=2)


@pytest.fixture
def broken_env(conf_env, order_table):
    """A configuration environment in which the top_customers node raises (and is not retried)."""
    no_retries = "execution:\n  tag_overrides:\n    reporting:\n      retries: 0\n"
    return conf_env("test_broken", **{"parameters.yml": "top_n: not-a-number\n", "prefect.yml": no_retries})


def test_failing_node_fails_the_flow_and_names_it(flow_module, broken_env):
    state = flow_module.kedro_pipeline(pipeline_name="reporting", env=broken_env, return_state=True)

    assert state.is_failed()
    assert "node 'reporting.top_customers' failed: TypeError" in state.message
    assert "from_nodes=['reporting.top_customers']" in state.message
    runs = task_runs_of(state, expected=3)
    assert runs["reporting.top_customers"].state.is_failed()
    # Branches that do not depend on the failed node still finish.
    assert runs["reporting.revenue_by_region"].state.is_completed()
    assert runs["reporting.monthly_revenue"].state.is_completed()


def test_kedro_and_project_logs_reach_the_node_task_run(flow_module):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTaskRunId

    state = flow_module.kedro_pipeline(pipeline_name="data_processing", return_state=True)
    run = task_runs_of(state, expected=3)["clean_orders"]
    log_filter = LogFilter(task_run_id=LogFilterTaskRunId(any_=[run.id]))
    with get_client(sync_client=True) as client:
        logs = wait_for(
            lambda: [log.message for log in client.read_logs(log_filter=log_filter)],
            lambda messages: any("Kept" in m for m in messages) and any("Running node" in m for m in messages),
        )
    assert any(message.startswith("Kept ") and " orders" in message for message in logs), logs  # project logger
    assert any("Running node: clean_orders" in message for message in logs), logs  # kedro logger


def test_run_summary_artifact_lists_every_node(flow_module, broken_env):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType

    state = flow_module.kedro_pipeline(pipeline_name="reporting", env=broken_env, return_state=True)
    artifact_filter = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
        type=ArtifactFilterType(any_=["table"]),
    )
    with get_client(sync_client=True) as client:
        artifacts = wait_for(lambda: client.read_artifacts(artifact_filter=artifact_filter), bool)
    assert len(artifacts) == 1
    assert artifacts[0].key.endswith("-adhoc-nodes")
    assert artifacts[0].type == "table"
    rows = {row["node"]: row for row in json.loads(artifacts[0].data)}
    assert set(rows) == REPORTING
    assert rows["reporting.top_customers"]["state"] == "Failed"
    assert rows["reporting.revenue_by_region"]["state"] == "Completed"
    assert rows["reporting.revenue_by_region"]["inputs"] == "order_table"
    assert rows["reporting.revenue_by_region"]["outputs"] == "region_revenue"
    assert rows["reporting.revenue_by_region"]["seconds"] >= 0


def test_the_lineage_artifact_draws_the_run_and_sizes_what_it_saved(flow_module, broken_env, in_project):
    """A markdown artifact beside the summary: the flowchart with each node's state, the saved outputs' sizes."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType

    state = flow_module.kedro_pipeline(pipeline_name="reporting", env=broken_env, return_state=True)
    artifact_filter = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
        type=ArtifactFilterType(any_=["markdown"]),
    )
    with get_client(sync_client=True) as client:
        (artifact,) = wait_for(lambda: client.read_artifacts(artifact_filter=artifact_filter), bool)
    assert artifact.key.endswith("-adhoc-lineage")
    markdown = artifact.data
    assert "```mermaid\nflowchart LR\n" in markdown
    assert '"reporting.top_customers<br/>Failed' in markdown and ":::failed" in markdown
    assert '[("order_table<br/>data/03_primary/order_table.csv")]:::persisted' in markdown
    saved = in_project / "data/08_reporting/region_revenue.csv"
    header, *lines = saved.read_text().splitlines()
    shape = f"{len(lines)} × {len(header.split(','))}"  # as the node returned it, not read back
    assert (
        f"| region_revenue | reporting.revenue_by_region | `data/08_reporting/region_revenue.csv` "
        f"| {saved.stat().st_size} B | {shape} |" in markdown
    )
    assert "| top_customers |" not in markdown  # its node failed


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"max_workers": "many"}, "flow parameters: parameter 'max_workers': Input should be a valid integer"),
        ({"tags": "cleaning"}, "flow parameters: parameter 'tags': Input should be a valid list"),
    ],
)
def test_a_wrongly_typed_parameter_fails_the_run_with_one_line(flow_module, record_hooks, parameters, message):
    hooks = record_hooks()
    state = flow_module.kedro_pipeline(return_state=True, **parameters)
    assert state.is_failed()
    assert "\n" not in state.message
    assert message in state.message
    assert hooks.nodes_started == []


def test_project_flow_is_named_after_the_project(in_project):
    from kedro_prefect.execution.flow import project_flow

    assert project_flow.name == "flow-tests"  # [tool.kedro_prefect] flow_name, the repo name


def test_example_pipeline_is_grouped_on_dask_by_default(in_project):
    from kedro_prefect.config import parse_prefect_config
    from kedro_prefect.execution.memory_datasets import describe_policy
    from kedro_prefect.execution.selection import selected_pipeline
    from kedro_prefect.options import RunOptions

    assert parse_prefect_config({}).execution.dask.memory_datasets == "group"
    with KedroSession.create(project_path=in_project) as session:
        catalog = session.load_context().catalog
    line = describe_policy(selected_pipeline(RunOptions()), catalog, "group")
    assert line == (
        "nodes joined by in-memory datasets (cleaned_customers, cleaned_orders) run as one task each: "
        "clean_customers + clean_orders + build_order_table"
    )


# --- grouping, resuming, and the rest of `kedro run`'s options ----------------------------------


def summary_rows(state) -> dict[str, dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType
    from prefect.client.schemas.sorting import ArtifactSort

    artifact_filter = ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
        type=ArtifactFilterType(any_=["table"]),
    )
    with get_client(sync_client=True) as client:
        artifacts = wait_for(
            lambda: client.read_artifacts(artifact_filter=artifact_filter, sort=ArtifactSort.CREATED_DESC), bool
        )
    return {row["node"]: row for row in json.loads(artifacts[0].data)}


def task_logs(run) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterTaskRunId

    log_filter = LogFilter(task_run_id=LogFilterTaskRunId(any_=[run.id]))
    with get_client(sync_client=True) as client:
        return wait_for(
            lambda: [log.message for log in client.read_logs(log_filter=log_filter)],
            lambda messages: any("Completed" in m or "nodes in order" in m for m in messages),
        )


def test_group_by_namespace_runs_one_task_per_namespace_as_kedro_run_would(flow_module, in_project, record_hooks):
    remove_outputs(in_project)
    by_kedro = record_hooks()
    kedro_run(in_project)
    expected = read_outputs(in_project)
    remove_outputs(in_project)
    by_flow = record_hooks()

    state = flow_module.kedro_pipeline(group_by="namespace", return_state=True)

    assert state.is_completed(), state.message
    for path, frame in read_outputs(in_project).items():
        pd.testing.assert_frame_equal(frame, expected[path], obj=path)
    assert by_flow.calls == by_kedro.calls  # every node and dataset hook still fires per node
    runs = task_runs_of(state, expected=4)
    assert set(runs) == DATA_PROCESSING | {"reporting"}  # the example's data_processing has no namespace
    assert {str(edge.id) for edge in runs["reporting"].task_inputs["wait_for"]} == {str(runs["build_order_table"].id)}
    members = ", ".join(sorted(REPORTING, key=lambda name: by_flow.nodes_started.index(name)))
    assert f"Task reporting runs 3 nodes in order: {members}" in task_logs(runs["reporting"])
    rows = summary_rows(state)
    assert set(rows) == DATA_PROCESSING | REPORTING  # one row per node, with its group
    assert {rows[name]["task"] for name in REPORTING} == {"reporting"}
    assert {rows[name]["task"] for name in DATA_PROCESSING} == {None}


def test_group_by_comes_from_prefect_yml_and_the_parameter_overrides_it(flow_module, conf_env, order_table):
    env = conf_env("test_grouped", **{"prefect.yml": "execution:\n  group_by: namespace\n"})
    grouped = flow_module.kedro_pipeline(pipeline_name="reporting", env=env, return_state=True)
    assert set(task_runs_of(grouped, expected=1)) == {"reporting"}
    per_node = flow_module.kedro_pipeline(pipeline_name="reporting", env=env, group_by="none", return_state=True)
    assert set(task_runs_of(per_node, expected=3)) == REPORTING


@pytest.fixture
def no_task_retries(conf_env) -> str:
    return conf_env(
        "test_no_retries", **{"prefect.yml": "execution:\n  tag_overrides:\n    reporting:\n      retries: 0\n"}
    )


def test_a_failed_attempt_retried_reruns_only_what_did_not_complete(
    flow_module, in_project, record_hooks, no_task_retries
):
    # Prefect's own flow retries run the same flow run again with run_count 2, as Retry in the UI does.
    hooks = record_hooks(fail_once=frozenset({"reporting.top_customers"}))
    retried = flow_module.kedro_pipeline.with_options(retries=1, retry_delay_seconds=0)
    remove_outputs(in_project)

    state = retried(env=no_task_retries, return_state=True)

    assert state.is_completed(), state.message
    first_attempt, second_attempt = hooks.nodes_started[:6], hooks.nodes_started[6:]
    assert sorted(first_attempt) == sorted(DATA_PROCESSING | REPORTING)
    assert second_attempt == ["reporting.top_customers"]
    rows = summary_rows(state)
    assert rows["reporting.top_customers"]["state"] == "Completed"
    assert rows["reporting.top_customers"]["attempt"] == 2
    assert {rows[name]["state"] for name in rows.keys() - {"reporting.top_customers"}} == {
        "Skipped (completed in attempt 1)"
    }
    assert (in_project / OUTPUTS[-1]).exists()


def test_resume_false_reruns_every_node(flow_module, in_project, record_hooks, no_task_retries):
    hooks = record_hooks(fail_once=frozenset({"reporting.top_customers"}))
    retried = flow_module.kedro_pipeline.with_options(retries=1, retry_delay_seconds=0)

    state = retried(env=no_task_retries, resume=False, return_state=True)

    assert state.is_completed(), state.message
    assert sorted(hooks.nodes_started) == sorted([*DATA_PROCESSING, *REPORTING] * 2)


def test_only_missing_outputs_runs_only_the_nodes_whose_outputs_are_missing(flow_module, in_project):
    kedro_run(in_project)
    (in_project / "data/08_reporting/top_customers.csv").unlink()

    state = flow_module.kedro_pipeline(only_missing_outputs=True, return_state=True)

    assert state.is_completed(), state.message
    assert set(task_runs_of(state, expected=1)) == {"reporting.top_customers"}
    assert (in_project / "data/08_reporting/top_customers.csv").exists()


VERSIONED = """\
order_table:
  type: pandas.CSVDataset
  filepath: data/03_primary/versioned/order_table.csv
  versioned: true
  save_args:
    index: false

region_revenue:
  type: pandas.CSVDataset
  filepath: data/08_reporting/versioned/region_revenue.csv
  save_args:
    index: false
"""


def test_load_versions_loads_the_version_asked_for(flow_module, in_project, conf_env):
    env = conf_env("test_versioned", **{"catalog.yml": VERSIONED})
    folder = in_project / "data/03_primary/versioned/order_table.csv"
    for _ in range(2):
        state = flow_module.kedro_pipeline(pipeline_name="data_processing", env=env, return_state=True)
        assert state.is_completed(), state.message
    first, latest = sorted(path.name for path in folder.iterdir())
    table = folder / first / "order_table.csv"
    rows = table.read_text().splitlines()
    table.write_text("\n".join(rows[:2]) + "\n")  # the older version keeps one order

    state = flow_module.kedro_pipeline(
        node_names=["reporting.revenue_by_region"], env=env, load_versions={"order_table": first}, return_state=True
    )

    assert state.is_completed(), state.message
    assert len(pd.read_csv(in_project / "data/08_reporting/versioned/region_revenue.csv")) == 1
    shutil.rmtree(folder.parent)


def test_load_versions_of_an_unknown_dataset_fail_the_run_with_one_line(flow_module, record_hooks):
    hooks = record_hooks()
    state = flow_module.kedro_pipeline(load_versions={"no_such_table": "2024-01-01T00.00.00.000Z"}, return_state=True)
    assert state.is_failed()
    assert "'load_versions' keys [no_such_table] are not found in the catalog" in state.message
    assert hooks.nodes_started == []


def test_dask_submission_serializes_prefect_settings_once_per_run(flow_module, monkeypatch, order_table):
    """prefect-dask would serialize every Prefect setting again for each task (about 150 ms each)."""
    from distributed import LocalCluster
    from prefect.context import SettingsContext

    calls = []
    original = SettingsContext.serialize

    def counting(self, include_secrets=True):
        calls.append(type(self).__name__)
        return original(self, include_secrets=include_secrets)

    monkeypatch.setattr(SettingsContext, "serialize", counting)
    with LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        state = flow_module.kedro_pipeline(
            pipeline_name="reporting", task_runner="dask", dask_address=cluster.scheduler_address, return_state=True
        )

    assert state.is_completed(), state.message
    assert set(task_runs_of(state, expected=3)) == REPORTING
    assert calls == ["SettingsSerializedOnce"]


FACTORY_CATALOG = """\
"cleaned_{kind}":
  type: pandas.CSVDataset
  filepath: data/02_intermediate/factory_cleaned_{kind}.csv
  save_args:
    index: false
"""


def test_dataset_factories_resolve_in_a_flow_run(flow_module, in_project, conf_env):
    """A catalog pattern catches the datasets the example leaves in memory, as in `kedro run --env`."""
    env = conf_env("factories", **{"catalog.yml": FACTORY_CATALOG})
    written = [in_project / f"data/02_intermediate/factory_cleaned_{kind}.csv" for kind in ("orders", "customers")]
    started = time.time()
    try:
        state = flow_module.kedro_pipeline(pipeline_name="data_processing", env=env, return_state=True)
        assert state.is_completed(), state.message
        for path in written:
            assert path.is_file() and path.stat().st_mtime >= started - 1, f"{path.name} not written by the run"
            assert len(pd.read_csv(path)) > 0
    finally:
        for path in written:
            path.unlink(missing_ok=True)


class MemoryWatcher:
    """Before each node, whether the example's in-memory datasets still hold data."""

    IN_MEMORY = ("cleaned_orders", "cleaned_customers")

    def __init__(self) -> None:
        self.held: dict[str, dict[str, bool]] = {}

    @hook_impl
    def before_node_run(self, node, catalog):
        self.held[node.name] = {name: catalog.exists(name) for name in self.IN_MEMORY}


def test_in_memory_datasets_are_released_after_their_last_consumer(flow_module, in_project):
    from kedro.framework.project import settings

    watcher = MemoryWatcher()
    original = list(settings.HOOKS)
    settings.set("HOOKS", (watcher,))  # read by the session the flow creates
    try:
        state = flow_module.kedro_pipeline(max_workers=1, return_state=True)
    finally:
        settings.set("HOOKS", original)

    assert state.is_completed(), state.message
    assert watcher.held["build_order_table"] == {"cleaned_orders": True, "cleaned_customers": True}
    for node in REPORTING:  # all after build_order_table, the last consumer of both
        assert watcher.held[node] == {"cleaned_orders": False, "cleaned_customers": False}, node
