"""The Prefect flow against a real Prefect server: same results as `kedro run`, one task per node."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner

OUTPUTS = [
    "data/03_primary/order_table.csv",
    "data/08_reporting/region_revenue.csv",
    "data/08_reporting/monthly_revenue.csv",
    "data/08_reporting/top_customers.csv",
]
NODE_NAMES = {
    "clean_orders",
    "clean_customers",
    "build_order_table",
    "revenue_by_region",
    "monthly_revenue",
    "top_customers",
}


@pytest.fixture
def flow_module(in_project, prefect_settings):
    from {{ cookiecutter.python_package }}.prefect_flow import flow

    return flow


def read_outputs(project: Path) -> dict[str, pd.DataFrame]:
    return {path: pd.read_csv(project / path) for path in OUTPUTS}


def remove_outputs(project: Path) -> None:
    for path in OUTPUTS:
        (project / path).unlink(missing_ok=True)


def task_runs_of(state, expected: int, timeout: float = 20.0) -> list:
    """Task run records reach the server through events, so wait (bounded) until all arrived."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_run_id = state.state_details.flow_run_id
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            final = [run for run in runs if run.state and run.state.is_final()]
            if len(final) >= expected or time.monotonic() > deadline:
                return runs
            time.sleep(0.3)


def test_flow_results_equal_kedro_run(flow_module, in_project):
    remove_outputs(in_project)
    with KedroSession.create(project_path=in_project) as session:
        session.run(runner=SequentialRunner())
    expected = read_outputs(in_project)

    remove_outputs(in_project)
    state = flow_module.kedro_pipeline(return_state=True)

    assert state.is_completed(), state.message
    for path, frame in read_outputs(in_project).items():
        pd.testing.assert_frame_equal(frame, expected[path], obj=path)
    runs = task_runs_of(state, expected=len(NODE_NAMES))
    assert {run.name for run in runs} == NODE_NAMES
    assert all(run.state.is_completed() for run in runs)


def test_single_pipeline_runs_only_its_nodes(flow_module, in_project):
    state = flow_module.kedro_pipeline(pipeline_name="data_processing", return_state=True)
    assert state.is_completed(), state.message
    runs = task_runs_of(state, expected=3)
    assert {run.name for run in runs} == {"clean_orders", "clean_customers", "build_order_table"}


def test_unknown_pipeline_fails_with_known_names(flow_module):
    state = flow_module.kedro_pipeline(pipeline_name="no_such_pipeline", return_state=True)
    assert state.is_failed()
    assert "Unknown pipeline 'no_such_pipeline'" in state.message
    assert "data_processing" in state.message and "reporting" in state.message


@pytest.fixture
def broken_env(in_project):
    """A configuration environment in which the top_customers node raises."""
    env = in_project / "conf" / "test_broken"
    env.mkdir()
    (env / "parameters.yml").write_text("top_n: not-a-number\n")
    yield env.name
    shutil.rmtree(env)


def test_failing_node_fails_the_flow_and_names_it(flow_module, in_project, broken_env):
    state = flow_module.kedro_pipeline(pipeline_name="reporting", env=broken_env, return_state=True)

    assert state.is_failed()
    assert "node 'top_customers' failed" in state.message
    assert "from_nodes=['top_customers']" in state.message
    runs = {run.name: run for run in task_runs_of(state, expected=3)}
    assert runs["top_customers"].state.is_failed()
    # Branches that do not depend on the failed node still finish.
    assert runs["revenue_by_region"].state.is_completed()
    assert runs["monthly_revenue"].state.is_completed()
