"""Deployments that start by themselves, through a real server and worker: one `after:` another
deployment's run Completes, one `on_dataset:` when a run saves a dataset; the asset event that run
emits; and a trigger naming what does not exist, refused at deploy in one line.

The project gets a pipeline of its own (`relay`), which no other test runs, and a prefect.yml
with three deployments: `default` (data_processing, which saves `order_table`), `after-default`
(reporting, after `default`) and `on-order-table` (relay, when a run saves `order_table`).
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import Project, add_pipeline, bake, flow_run_id

RELAY_PIPELINE = '''"""Counts the orders of the order table: started by the order table being saved."""

from pathlib import Path

from kedro.pipeline import Node, Pipeline


def relay(order_table):
    Path("data/08_reporting").mkdir(parents=True, exist_ok=True)
    Path("data/08_reporting/relay.txt").write_text(f"{len(order_table)}\\n")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([Node(relay, "order_table", None, name="relay_order_count")])
'''

PREFECT_YML = """\
deployments:
  - name: default
    pipeline: data_processing
  - name: after-default
    pipeline: reporting
    schedule: {cron: "0 6 * * *"}   # its scheduled runs are not the one `make run` follows
    triggers:
      - after: default
  - name: on-order-table
    pipeline: relay
    triggers:
      - on_dataset: order_table
"""

BAD = {
    "unknown_dataset": (
        "deployments:\n  - name: x\n    triggers:\n      - on_dataset: ordr_table\n",
        "Error: Deployment 'x': on_dataset 'ordr_table' is no node's output, so no run saves it.",
    ),
    "memory_dataset": (
        "deployments:\n  - name: x\n    triggers:\n      - on_dataset: cleaned_orders\n",
        "Error: Deployment 'x': on_dataset 'cleaned_orders' is kept in memory",
    ),
    "self_starting": (
        "deployments:\n  - name: x\n    pipeline: data_processing\n    triggers:\n      - on_dataset: order_table\n",
        "Error: Triggers form a loop (x -> x): each run would start the next for ever.",
    ),
    "unknown_deployment": (
        "deployments:\n  - name: x\n    triggers:\n      - after: defualt\n",
        "runs after 'defualt', which prefect.yml does not list; known: x",
    ),
}

# Runs of the named deployments of this project's flow, oldest first, until each has one final
# run (or the time limit): their states and their start and end times.
RUNS_OF = """
import time
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.client.schemas.sorting import FlowRunSort
names, limit = sys.argv[1].split(","), float(sys.argv[2])
started = time.monotonic()
with get_client(sync_client=True) as client:
    while True:
        found = {}
        for name in names:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name])),
                sort=FlowRunSort.START_TIME_ASC,
            )
            found[name] = [
                {"id": str(r.id), "state": r.state.name if r.state else None,
                 "start": r.start_time.timestamp() if r.start_time else None,
                 "end": r.end_time.timestamp() if r.end_time else None}
                for r in runs
                if r.start_time is not None or r.state.name != "Scheduled"  # not the schedule's future runs
            ]
        if all(runs and runs[-1]["end"] is not None for runs in found.values()):
            break
        if time.monotonic() - started > limit:
            break
        time.sleep(2)
print(json.dumps(found))
"""

# The asset events the server stored, newest first (the events API's order).
ASSET_EVENTS = """
import httpx
from prefect.settings import PREFECT_API_URL
body = {"filter": {"event": {"prefix": ["prefect.asset.materialization"]}}, "limit": 50}
response = httpx.post(f"{PREFECT_API_URL.value()}/events/filter", json=body, timeout=30)
response.raise_for_status()
print(json.dumps([{"event": e["event"], "resource": e["resource"], "related": e["related"]}
                  for e in response.json()["events"]]))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("triggers")
    path = bake(root, project_name="Relay Station")
    add_pipeline(path, "relay_station", "relay", RELAY_PIPELINE)
    (path / "conf" / "base" / "prefect.yml").write_text(PREFECT_YML)
    for env, (text, _) in BAD.items():
        (path / "conf" / env).mkdir()
        (path / "conf" / env / "prefect.yml").write_text(text)
    with Project.installed(path, root / "venv").up() as baked:
        yield baked


def test_deployments_start_after_a_run_completes_and_when_a_dataset_is_saved(project):
    deploy = project.make("deploy")
    assert "It also starts by itself after default Completes" in deploy.stdout
    assert "It also starts by itself when a run saves order_table" in deploy.stdout
    relay = project.path / "data" / "08_reporting" / "relay.txt"
    relay.unlink(missing_ok=True)

    result = project.make("run", timeout=600)  # `default`, then the run it starts `after:` it
    followed, started = result.stdout.split("\nIt started flow run ")
    assert followed.strip().splitlines()[-1].strip() == "Completed", result.stdout
    assert re.match(r"'[\w-]+' \([0-9a-f-]{36}\) of after-default \(after: default\)\n", started), result.stdout
    assert result.stdout.splitlines()[-1].strip() == "Completed"

    runs = project.api(RUNS_OF, "default,after-default,on-order-table", "300", timeout=400)
    for name in ("after-default", "on-order-table"):
        assert [run["state"] for run in runs[name]] == ["Completed"], f"{name}: {runs}"
    (default,) = runs["default"]
    assert runs["after-default"][0]["start"] >= default["end"]  # in order: after the run it follows
    assert f"({runs['after-default'][0]['id']}) of after-default (after: default)" in result.stdout  # the one followed
    assert 0 < int(relay.read_text()) <= 480  # written by the run the saved order table started

    events = project.api(ASSET_EVENTS)
    order_table = (project.path / "data/03_primary/order_table.csv").resolve().as_uri()
    saved = [event for event in events if event["resource"]["prefect.resource.name"] == "order_table"]
    assert saved, events
    resource = saved[0]["resource"]
    assert (resource["prefect.resource.id"], resource["kedro.dataset"]) == (order_table, "order_table")
    related = {(item["prefect.resource.role"], item["prefect.resource.id"]) for item in saved[0]["related"]}
    assert ("asset-materialized-by", "kedro.node.build_order_table") in related
    assert ("flow-run", f"prefect.flow-run.{flow_run_id(result.stdout)}") in related
    # Lineage: a report the triggered run saved names the order table it read.
    (report,) = [event for event in events if event["resource"]["prefect.resource.name"] == "region_revenue"][:1]
    assert {"prefect.resource.id": order_table, "prefect.resource.role": "asset"} in report["related"]


@pytest.mark.parametrize("env", sorted(BAD))
def test_a_trigger_naming_nothing_is_refused_at_deploy_in_one_line(project, env):
    result = project.make("deploy", f"ENV={env}", check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and BAD[env][1] in errors[0], result.stderr
    assert "Registered deployment" not in result.stdout
