"""Scaling out on real engines, as the README's "Scaling out" section tells a user to.

One baked project, installed with its `dask` extra, drives: a PostgreSQL server (Debian's package)
holding the Prefect server's database; two process workers on one pool with a pool concurrency
limit; a Dask scheduler and two Dask workers started with the project's own `make dask-*`
targets. Everything binds to 127.0.0.1 on free ports; every process is stopped by its own PID.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers import (
    LOOPBACK,
    OUTPUTS,
    RUNS_AT_ONCE_SCRIPT,
    Background,
    Postgres,
    Project,
    add_pipeline,
    ancestors,
    bake,
    descendants,
    flow_run_id,
    free_port,
    listening_addresses_of,
    max_overlap,
    process_gone,
)

FLOW = "scale-out-ledger"
POOL_LIMIT = 3
TEN_RUNS = 10

# A run long enough for runs to overlap, so that the pool limit has something to hold back.
# It reads a raw input that ships with the project, so it runs whichever test ran first.
PAUSE_PIPELINE = '''"""One node that takes a few seconds."""

import time

from kedro.pipeline import Node, Pipeline


def pause(orders):
    time.sleep(4)
    return len(orders)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([Node(pause, "orders", "paused_rows", name="pause")])
'''


class Scale(Project):
    """The project plus what the tests started around it."""

    postgres: Postgres
    dask_address: str
    dask_scheduler: Background
    dask_workers: list[Background]
    second_worker: Background

    def summary(self, flow_run_id: str) -> dict[str, dict]:
        """The run's node summary artifact, by node."""
        script = (
            "from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType\n"
            "with get_client(sync_client=True) as client:\n"
            "    found = client.read_artifacts(artifact_filter=ArtifactFilter(\n"
            "        flow_run_id=ArtifactFilterFlowRunId(any_=[sys.argv[1]]), type=ArtifactFilterType(any_=['table'])))\n"
            "print(found[0].data if found else 'null')\n"
        )
        rows = self.api(script, flow_run_id)
        return {row["node"]: row for row in rows or []}

    def task_run_names(self, flow_run_id: str) -> list[str]:
        script = (
            "from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId\n"
            "with get_client(sync_client=True) as client:\n"
            "    runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[sys.argv[1]])))\n"
            "print(json.dumps(sorted(run.name for run in runs)))\n"
        )
        return self.api(script, flow_run_id)

    def task_run_intervals(self, flow_run_id: str) -> list[tuple[float, float]]:
        script = (
            "from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId\n"
            "with get_client(sync_client=True) as client:\n"
            "    tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[sys.argv[1]])))\n"
            "print(json.dumps([[t.start_time.timestamp(), t.end_time.timestamp()] for t in tasks]))\n"
        )
        return [tuple(interval) for interval in self.api(script, flow_run_id)]

    def flow_run_logs(self, flow_run_id: str) -> list[str]:
        script = (
            "from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId\n"
            "with get_client(sync_client=True) as client:\n"
            "    logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[sys.argv[1]])))\n"
            "print(json.dumps([log.message for log in logs]))\n"
        )
        return self.api(script, flow_run_id)

    def outputs(self) -> dict[str, bytes]:
        return {output: (self.path / output).read_bytes() for output in OUTPUTS}

    def clear_outputs(self) -> None:
        for output in OUTPUTS:
            (self.path / output).unlink(missing_ok=True)


RECORDING_HOOKS = """
import os
from pathlib import Path

from kedro.framework.hooks import hook_impl

CALLS = Path({calls!r})


class RecordingHooks:
    \"\"\"Writes which process fired each node and dataset hook: one file per process (test_scale_out).\"\"\"

    def _record(self, line):
        CALLS.mkdir(exist_ok=True)
        with (CALLS / f"{{os.getpid()}}.log").open("a") as calls:
            calls.write(line + "\\n")

    @hook_impl
    def after_node_run(self, node):
        self._record(f"node {{node.name}}")

    @hook_impl
    def after_dataset_saved(self, dataset_name):
        self._record(f"saved {{dataset_name}}")
"""


def add_recording_hooks(project: Path) -> None:
    package = project / "src" / "scale_out_ledger"
    (package / "recording_hooks.py").write_text(RECORDING_HOOKS.format(calls=str(project / "data" / "hook_calls")))
    with (package / "settings.py").open("a") as settings:
        settings.write("\nfrom scale_out_ledger.recording_hooks import RecordingHooks\n\nHOOKS = (RecordingHooks(),)\n")


def hook_calls(project: Path) -> dict[str, set[int]]:
    """Each recorded hook call (``node <name>`` or ``saved <dataset>``) and the processes that fired it."""
    calls: dict[str, set[int]] = {}
    for log in (project / "data" / "hook_calls").glob("*.log"):
        for line in log.read_text().splitlines():
            calls.setdefault(line, set()).add(int(log.stem))
    return calls


@pytest.fixture(scope="module")
def scale(tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    path = bake(root, project_name="Scale Out Ledger", work_pool_name="shared-pool")
    add_pipeline(path, "scale_out_ledger", "pause", PAUSE_PIPELINE)
    add_recording_hooks(path)
    project = Scale.installed(path, root / "venv", extras="dev,dask")
    project.postgres = Postgres()
    dask_port = free_port()
    project.dask_address = f"tcp://127.0.0.1:{dask_port}"
    dask_make = ["make", f"DASK_PORT={dask_port}", f"DASK_DASHBOARD_PORT={free_port()}"]
    started: list[Background] = []
    try:
        project.postgres.start()
        project.up = project.make(
            "up", f"PREFECT_DB_URL={project.postgres.url}", "WORKER_NAME=worker-a", f"POOL_LIMIT={POOL_LIMIT}"
        )
        project.second_worker = Background(
            ["make", "agent", f"PREFECT_PORT={project.port}", "WORKER_NAME=worker-b"],
            path,
            project.env,
            root / "worker-b.log",
        )
        started.append(project.second_worker)
        scheduler = Background([*dask_make, "dask-scheduler"], path, project.env, root / "dask-scheduler.log")
        started.append(scheduler)
        project.dask_scheduler = scheduler
        scheduler.wait_for_log("Scheduler at:", timeout=90)
        project.dask_workers = []
        for index in range(2):
            worker = Background([*dask_make, "dask-worker"], path, project.env, root / f"dask-worker-{index}.log")
            started.append(worker)
            project.dask_workers.append(worker)
        for worker in project.dask_workers:
            worker.wait_for_log("Registered to:", timeout=90)
        project.second_worker.wait_for_log("started", timeout=90)
        project.make("deploy")
        yield project
    finally:  # also when setting up failed: never leave a process behind
        for process in reversed(started):
            process.stop()
        project.make("down", check=False, timeout=120)
        project.postgres.stop()


# --- PostgreSQL --------------------------------------------------------------------------------


def test_server_stores_its_data_in_postgresql(scale):
    assert f"database postgresql+asyncpg://prefect:***@127.0.0.1:{scale.postgres.port}/prefect" in scale.up.stdout
    assert scale.postgres.PASSWORD not in scale.up.stdout + scale.up.stderr
    assert not (scale.path / ".prefect" / "prefect.db").exists()  # no SQLite file beside it
    assert int(scale.postgres.query("select count(*) from deployment")) >= 2  # default, daily-reports


# --- Dask --------------------------------------------------------------------------------------


def test_dask_run_spreads_nodes_over_the_cluster_with_the_threaded_outputs(scale):
    scale.clear_outputs()
    scale.make("run", timeout=300)
    threaded = scale.outputs()

    deploy = scale.make("deploy", "DEPLOYMENT=on-dask", "TASK_RUNNER=dask", f"DASK_ADDRESS={scale.dask_address}")
    assert (
        "Deployment 'on-dask' runs on Dask: nodes joined by in-memory datasets (cleaned_customers, cleaned_orders) "
        "run as one task each: clean_customers + clean_orders + build_order_table"
    ) in deploy.stdout

    scale.clear_outputs()
    shutil.rmtree(scale.path / "data" / "hook_calls", ignore_errors=True)
    run = scale.make("run", "DEPLOYMENT=on-dask", timeout=300)
    assert "Completed" in run.stdout.splitlines()[-1]
    assert scale.outputs() == threaded

    flow_run = flow_run_id(run.stdout)
    rows = scale.summary(flow_run)
    assert len(rows) == 6 and {row["state"] for row in rows.values()} == {"Completed"}
    dask_worker_pids = {worker.pid for worker in scale.dask_workers}
    for node, row in rows.items():
        pid = int(row["process"].rsplit(":", 1)[1])
        # `make dask-worker` -> dask (nanny) -> worker process: the node ran under one of them.
        assert dask_worker_pids & set(ancestors(pid)), (node, row["process"])
        # The project's hooks fired for the node in the process that ran it: a Dask worker's.
        assert hook_calls(scale.path)[f"node {node}"] == {pid}, node
    saved = {call.removeprefix("saved ") for call in hook_calls(scale.path) if call.startswith("saved ")}
    outputs = {output for row in rows.values() for output in row["outputs"].split(", ") if output}
    assert outputs and outputs <= saved, (outputs, saved)
    # Kedro's and the project's log records from the Dask workers reach the run (Prefect sends
    # them in the background, so they may trail the run's end by a few seconds).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        logs = scale.flow_run_logs(flow_run)
        if any("Running node: clean_orders" in line for line in logs) and any("Kept " in line for line in logs):
            break
        time.sleep(2)
    else:
        pytest.fail(f"node logs from the Dask workers never reached the run: {logs}")
    assert scale.task_run_names(flow_run) == sorted(
        [
            "clean_customers + clean_orders + build_order_table",
            "reporting.monthly_revenue",
            "reporting.revenue_by_region",
            "reporting.top_customers",
        ]
    )


def test_max_workers_bounds_concurrent_nodes_on_dask(scale):
    """Three independent reporting nodes, two Dask workers: with max_workers 1 they run one at a time."""
    scale.make("deploy", "DEPLOYMENT=on-dask", "TASK_RUNNER=dask", f"DASK_ADDRESS={scale.dask_address}")
    run = scale.make("run", "DEPLOYMENT=on-dask", 'PARAMS={"max_workers": 1}', timeout=300)
    assert "Completed" in run.stdout.splitlines()[-1]
    intervals = scale.task_run_intervals(flow_run_id(run.stdout))
    assert len(intervals) == 4  # the grouped cleaning task and three reports
    assert max_overlap(intervals) == 1


def test_group_by_namespace_on_dask_runs_each_namespace_as_one_unit_of_work(scale):
    scale.make("deploy", "DEPLOYMENT=on-dask", "TASK_RUNNER=dask", f"DASK_ADDRESS={scale.dask_address}")
    scale.clear_outputs()
    scale.make("run", timeout=300)  # the threaded reference run
    threaded = scale.outputs()
    scale.clear_outputs()

    run = scale.make("run", "DEPLOYMENT=on-dask", 'PARAMS={"group_by": "namespace"}', timeout=300)

    assert "Completed" in run.stdout.splitlines()[-1]
    assert scale.outputs() == threaded
    flow_run = flow_run_id(run.stdout)
    assert scale.task_run_names(flow_run) == ["clean_customers + clean_orders + build_order_table", "reporting"]
    rows = scale.summary(flow_run)
    reporting = [row for node, row in rows.items() if node.startswith("reporting.")]
    assert len(reporting) == 3 and {row["task"] for row in reporting} == {"reporting"}
    assert len({row["process"] for row in reporting}) == 1  # one task: one worker process ran all three


def test_persist_policy_on_a_local_cluster_runs_one_task_per_node(scale):
    env = scale.path / "conf" / "persist"
    env.mkdir()
    (env / "prefect.yml").write_text("execution:\n  dask:\n    memory_datasets: persist\n    n_workers: 2\n")
    deploy = scale.make("deploy", "DEPLOYMENT=local-persist", "ENV=persist", "TASK_RUNNER=dask")
    assert "in-memory datasets cleaned_customers, cleaned_orders will be pickled" in deploy.stdout
    scale.clear_outputs()
    scale.make("run", timeout=300)  # the threaded reference run
    threaded = scale.outputs()
    scale.clear_outputs()

    run = scale.make("run", "DEPLOYMENT=local-persist", timeout=300)
    assert "Completed" in run.stdout.splitlines()[-1]
    assert scale.outputs() == threaded
    flow_run = flow_run_id(run.stdout)
    assert len(scale.task_run_names(flow_run)) == 6  # no grouping: every node its own task
    processes = {row["process"] for row in scale.summary(flow_run).values()}
    dask_worker_pids = {worker.pid for worker in scale.dask_workers}
    for process in processes:  # a cluster of the run's own, not the external one
        assert not dask_worker_pids & set(ancestors(int(process.rsplit(":", 1)[1])))
    # Its n_workers (2) processes ran the nodes, not the flow-run process, and ended with the run.
    node_pids = {int(process.rsplit(":", 1)[1]) for process in processes}
    flow_run_pid = scale.api(
        "with get_client(sync_client=True) as c:\n"
        "    print(json.dumps(int(c.read_flow_run(sys.argv[1]).infrastructure_pid.rsplit(':', 1)[-1])))\n",
        flow_run,
    )
    assert 1 <= len(node_pids) <= 2 and flow_run_pid not in node_pids, (node_pids, flow_run_pid)
    assert all(process_gone(pid) for pid in node_pids)
    logs = scale.flow_run_logs(flow_run)
    assert any("cleaned_customers, cleaned_orders are pickled under" in line and flow_run in line for line in logs)
    assert not (scale.path / "data" / ".dask-shared" / flow_run).exists()  # removed once the run completed


def test_refuse_policy_stops_deploy_and_run_before_any_node(scale):
    refusing = scale.path / "conf" / "refuse"
    refusing.mkdir()
    (refusing / "prefect.yml").write_text("execution:\n  dask:\n    memory_datasets: refuse\n")
    deploy = scale.make(
        "deploy",
        "DEPLOYMENT=refused",
        "ENV=refuse",
        "TASK_RUNNER=dask",
        f"DASK_ADDRESS={scale.dask_address}",
        check=False,
    )
    assert deploy.returncode != 0
    errors = [line for line in deploy.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, deploy.stderr
    assert "Traceback" not in deploy.stderr
    for part in ("Deployment 'refused'", "cleaned_customers, cleaned_orders", "'group'", "'persist'"):
        assert part in errors[0]

    # A deployment registered while the policy allowed it, run after the policy changed.
    switching = scale.path / "conf" / "switching"
    switching.mkdir()
    (switching / "prefect.yml").write_text("execution:\n  dask:\n    memory_datasets: group\n")
    scale.make(
        "deploy", "DEPLOYMENT=switching", "ENV=switching", "TASK_RUNNER=dask", f"DASK_ADDRESS={scale.dask_address}"
    )
    shutil.copy(refusing / "prefect.yml", switching / "prefect.yml")
    run = scale.make("run", "DEPLOYMENT=switching", timeout=300, check=False)
    assert run.returncode != 0
    assert "cleaned_customers, cleaned_orders are kept in memory" in run.stdout + run.stderr
    assert scale.task_run_names(flow_run_id(run.stdout)) == []  # not one node ran


def test_work_pool_type_without_its_worker_package_is_one_line(scale):
    result = scale.make("agent", "WORK_POOL=containers", "WORK_POOL_TYPE=docker", check=False, timeout=120)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "pip install prefect-docker" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    script = (
        "from prefect.exceptions import ObjectNotFound\n"
        "with get_client(sync_client=True) as client:\n"
        "    try:\n        client.read_work_pool('containers'); print('true')\n"
        "    except ObjectNotFound:\n        print('false')\n"
    )
    assert scale.api(script) is False  # nothing half-made


def test_dask_cluster_listens_on_loopback_only(scale):
    processes = [pid for started in [scale.dask_scheduler, *scale.dask_workers] for pid in descendants(started.pid)]
    addresses = listening_addresses_of(processes)
    assert addresses and addresses <= LOOPBACK, addresses


# --- many workers ------------------------------------------------------------------------------


def test_two_workers_share_ten_runs_within_the_pool_limit(scale):
    scale.make("deploy", "DEPLOYMENT=pause", "PIPELINE=pause")
    result = scale.api(RUNS_AT_ONCE_SCRIPT, f"{FLOW}/pause", str(TEN_RUNS), "600", timeout=660)
    runs = result["runs"]
    assert [run["state"] for run in runs] == ["Completed"] * TEN_RUNS, runs
    taken = {}
    for name, log in (("worker-a", scale.path / ".prefect" / "worker.log"), ("worker-b", scale.second_worker.log)):
        text = log.read_text(errors="replace")
        # Both workers may pick the same run; the server lets one of them have it, the other aborts.
        taken[name] = [
            run["id"]
            for run in runs
            if f"Worker '{name}' submitting flow run '{run['id']}'" in text
            and f"Aborted submission of flow run '{run['id']}'" not in text
        ]
    assert taken["worker-a"] and taken["worker-b"], taken
    assert sorted(taken["worker-a"] + taken["worker-b"]) == sorted(run["id"] for run in runs)
    # Each run's nodes, from the first start to the last end: never more than the limit at once.
    most = max_overlap([(run["nodes_from"], run["nodes_to"]) for run in runs])
    assert 1 < most <= POOL_LIMIT, most


# Holds every slot of the pool's global limit while one run of the deployment starts, until that
# run has been Running for a few seconds, then lets go and follows the run to its end (bounded).
HOLD_SLOTS_SCRIPT = """
import time
from prefect.concurrency.sync import concurrency
from prefect.states import Pending
deployment, limit, slots, hold = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
with get_client(sync_client=True) as client:
    found = client.read_deployment_by_name(deployment)
    with concurrency(limit, occupy=slots, strict=True):
        run = client.create_flow_run_from_deployment(found.id)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not (client.read_flow_run(run.id).state or Pending()).is_running():
            time.sleep(0.5)
        time.sleep(hold)  # the run is waiting for a slot meanwhile: this is what is measured
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not client.read_flow_run(run.id).state.is_final():
        time.sleep(1)
    print(json.dumps({"id": str(run.id), "state": client.read_flow_run(run.id).state.name}))
"""


def test_a_run_past_the_workers_check_waits_for_a_pool_slot_and_its_log_says_so(scale):
    # Workers see no run of the pool running, so they hand this one out; its slots are all taken.
    held = scale.api(HOLD_SLOTS_SCRIPT, f"{FLOW}/default", "work-pool:shared-pool", str(POOL_LIMIT), "4", timeout=600)
    assert held["state"] == "Completed"
    waited = [line for line in scale.flow_run_logs(held["id"]) if "for a free slot of work pool" in line]
    assert len(waited) == 1, scale.flow_run_logs(held["id"])
    assert re.fullmatch(r"Waited \d+ s for a free slot of work pool 'shared-pool' \(POOL_LIMIT\)", waited[0])


def test_server_restart_keeps_the_history_in_postgresql(scale):
    assert "Completed" in scale.make("run", timeout=300).stdout.splitlines()[-1]  # some history to keep
    count = "select count(*) from flow_run where state_type = 'COMPLETED'"
    before = int(scale.postgres.query(count))
    assert before >= 1
    scale.make("down")
    scale.make("up", f"PREFECT_DB_URL={scale.postgres.url}", "WORKER_NAME=worker-a")
    script = (
        "from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType\n"
        "with get_client(sync_client=True) as client:\n"
        "    runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(\n"
        "        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=['COMPLETED']))), limit=200)\n"
        "print(len(runs))\n"
    )
    assert scale.api(script) == before
    assert not (scale.path / ".prefect" / "prefect.db").exists()
    run = scale.make("run", timeout=300)
    assert "Completed" in run.stdout.splitlines()[-1]
