"""kedro-mlflow in a generated project: one MLflow run per flow run, holding the Kedro run's parameters
and the metrics its nodes saved, with nodes running as Prefect tasks on threads.

kedro-mlflow is not a dependency of generated projects; this test installs it into a baked one as a
user would (`pip install kedro-mlflow`, `kedro mlflow init`) and runs a deployment through a real
server and worker.
"""

from __future__ import annotations

import pytest

from tests.helpers import DEV_BIN, Project, add_pipeline, bake, run

KEDRO_MLFLOW = "kedro-mlflow>=2.0.3,<3"

# Two independent nodes, so they run at once in two task threads, each saving a metric through the
# catalog; one also logs with MLflow's own API from inside the node, as many users do.
PIPELINE = '''"""Train and evaluate, logging metrics to MLflow through the catalog and directly."""

import mlflow
from kedro.pipeline import Node, Pipeline


def train(orders, learning_rate):
    return float(len(orders)) * learning_rate


def evaluate(orders, threshold):
    mlflow.log_metric("logged_in_node", 1.0)
    return threshold / 2


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(train, ["orders", "params:learning_rate"], "accuracy", name="train"),
            Node(evaluate, ["orders", "params:threshold"], "recall", name="evaluate"),
        ]
    )
'''

CATALOG = """
accuracy:
  type: kedro_mlflow.io.metrics.MlflowMetricDataset
recall:
  type: kedro_mlflow.io.metrics.MlflowMetricDataset
"""

PARAMETERS = "\nlearning_rate: ${runtime_params:learning_rate, 0.01}\nthreshold: 0.8\n"

MLFLOW_RUNS = """
import json, mlflow
mlflow.set_tracking_uri("sqlite:///mlflow.db")
runs = mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["start_time ASC"])
print(json.dumps([{"status": r.info.status, "params": r.data.params, "metrics": r.data.metrics,
                   "tags": r.data.tags} for r in runs]))
"""


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    path = bake(root, project_name="Mlflow Ledger")
    add_pipeline(path, "mlflow_ledger", "mlflow_demo", PIPELINE)
    with (path / "conf" / "base" / "catalog.yml").open("a") as catalog:
        catalog.write(CATALOG)
    with (path / "conf" / "base" / "parameters.yml").open("a") as parameters:
        parameters.write(PARAMETERS)
    project = Project.installed(path, root / "venv")
    python = str(project.venv / "bin" / "python")
    run([str(DEV_BIN / "uv"), "pip", "install", "--quiet", "--python", python, KEDRO_MLFLOW], cwd=path, timeout=600)
    run([str(project.venv / "bin" / "kedro"), "mlflow", "init"], cwd=path, env=project.env)
    settings = path / "conf" / "local" / "mlflow.yml"
    text = settings.read_text()
    assert "  mlflow_tracking_uri: null" in text
    # MLflow 3 refuses its old ./mlruns file store; a SQLite file under the project is its local store.
    settings.write_text(text.replace("  mlflow_tracking_uri: null", "  mlflow_tracking_uri: sqlite:///mlflow.db"))
    with project.up():
        project.make("deploy", "DEPLOYMENT=tracked", "PIPELINE=mlflow_demo")
        yield project


def mlflow_runs(project: Project) -> list[dict]:
    import json

    result = run([str(project.venv / "bin" / "python"), "-c", MLFLOW_RUNS], cwd=project.path, env=project.env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_each_flow_run_is_one_mlflow_run_with_its_parameters_and_metrics(tracked):
    before = len(mlflow_runs(tracked))
    first = tracked.make("run", "DEPLOYMENT=tracked", timeout=600)
    second = tracked.make("run", "DEPLOYMENT=tracked", """PARAMS={"runtime_params": {"learning_rate": 0.5}}""")
    assert "Completed" in first.stdout.splitlines()[-1] and "Completed" in second.stdout.splitlines()[-1]

    runs = mlflow_runs(tracked)[before:]

    assert len(runs) == 2  # one per flow run: not one per task, nor one per thread
    assert [run["status"] for run in runs] == ["FINISHED", "FINISHED"]
    assert [run["params"] for run in runs] == [
        {"learning_rate": "0.01", "threshold": "0.8"},
        {"learning_rate": "0.5", "threshold": "0.8"},
    ]
    orders = 480  # rows of data/01_raw/orders.csv
    assert [run["metrics"] for run in runs] == [
        {"accuracy": pytest.approx(orders * 0.01), "recall": 0.4, "logged_in_node": 1.0},
        {"accuracy": pytest.approx(orders * 0.5), "recall": 0.4, "logged_in_node": 1.0},
    ]
    assert all(run["tags"]["kedro_command"] == "kedro run --pipeline=mlflow_demo" for run in runs)
    assert all(run["tags"]["runner"].startswith("PrefectTaskRunner(") for run in runs)
