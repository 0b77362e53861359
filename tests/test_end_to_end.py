"""A baked project, used as a user would: install, up, deploy, run to Completed, its own tests, down.

Everything is real: the project's `make install` into a fresh virtual environment, a Prefect
server and a process worker started by `make up` on a free port, a deployment, a flow run.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers import (
    DEV_BIN,
    LAYER_VERSION,
    OUTPUTS,
    TEMPLATE,
    Project,
    add_pipeline,
    bake,
    flow_run_id,
    free_port,
    process_gone,
    project_env,
    run,
)

# Fails on its first attempt only (a marker file remembers it), as a flaky database would.
# summarise -> stats (persisted) -> flag -> flags (memory) -> report (fails once); tally is independent.
FLAKY_PIPELINE = '''"""A pipeline whose report fails on its first attempt only."""

from pathlib import Path

from kedro.pipeline import Node, Pipeline

MARKER = Path("data/02_intermediate/flaky-attempted")


def summarise(orders):
    return orders.describe().reset_index()


def flag(stats):
    return stats.assign(flagged=True)


def report(flags):
    if not MARKER.exists():
        MARKER.write_text("failed once")
        raise RuntimeError("the first attempt fails")
    return flags


def tally(orders):
    return orders.head(1)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(summarise, "orders", "flaky_stats", name="summarise"),
            Node(flag, "flaky_stats", "flaky_flags", name="flag"),
            Node(report, "flaky_flags", "flaky_report", name="report"),
            Node(tally, "orders", "flaky_tally", name="tally"),
        ]
    )
'''

FLAKY_CATALOG = """
flaky_stats:
  type: pandas.CSVDataset
  filepath: data/02_intermediate/flaky_stats.csv
flaky_report:
  type: pandas.CSVDataset
  filepath: data/08_reporting/flaky_report.csv
flaky_tally:
  type: pandas.CSVDataset
  filepath: data/08_reporting/flaky_tally.csv
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    path = bake(root, project_name="Orbital Freight Ledger", work_pool_name="freight-pool", work_queue_name="nightly")
    add_pipeline(path, "orbital_freight_ledger", "flaky", FLAKY_PIPELINE)
    with (path / "conf" / "base" / "catalog.yml").open("a") as catalog:
        catalog.write(FLAKY_CATALOG)
    baked = Project.installed(path, root / "venv")
    yield baked
    baked.make("down", check=False, timeout=120)


@pytest.fixture
def project(installed):
    """The project with its server and worker up and the deployments of prefect.yml registered,
    whatever the tests before this one did (they run in any order)."""
    up = installed.make("up")
    if "Server already running" not in up.stdout or read_deployment(installed, "default") is None:
        installed.make("deploy")
    installed.up = up
    return installed


def test_up_deploy_run_completes_and_writes_outputs(installed):
    installed.make("down", check=False, timeout=120)
    up = installed.make("up")
    assert "worker polling freight-pool/nightly" in up.stdout
    assert (installed.path / ".prefect" / "server.pid").is_file()

    deploy = installed.make("deploy")
    assert "Registered deployment 'orbital-freight-ledger/default'" in deploy.stdout
    assert "Registered deployment 'orbital-freight-ledger/daily-reports'" in deploy.stdout
    project = installed

    for output in OUTPUTS:
        (project.path / output).unlink(missing_ok=True)
    result = project.make("run", timeout=600)
    assert "Completed" in result.stdout.splitlines()[-1]
    assert f"http://127.0.0.1:{project.port}/runs/flow-run/" in result.stdout
    for output in OUTPUTS:
        assert len(pd.read_csv(project.path / output)) > 0, output


def read_deployment(project: Project, name: str):
    """The deployment as the server stores it, read with the project's own Prefect client."""
    script = (
        "from prefect.exceptions import ObjectNotFound\n"
        "with get_client(sync_client=True) as client:\n"
        "    try:\n"
        "        d = client.read_deployment_by_name(sys.argv[1])\n"
        "    except ObjectNotFound:\n"
        "        print(json.dumps(None))\n"
        "        sys.exit(0)\n"
        "print(json.dumps({'parameters': d.parameters, 'tags': d.tags, 'version': d.version,\n"
        "    'work_queue_name': d.work_queue_name, 'work_pool_name': d.work_pool_name,\n"
        "    'crons': [s.schedule.cron for s in d.schedules if hasattr(s.schedule, 'cron')],\n"
        "    'intervals': [s.schedule.interval.total_seconds() for s in d.schedules if hasattr(s.schedule, 'interval')],\n"
        "    'timezones': [s.schedule.timezone for s in d.schedules],\n"
        "    'concurrency_limit': d.global_concurrency_limit.limit if d.global_concurrency_limit else None,\n"
        "    'job_env': (d.job_variables or {}).get('env', {})}))\n"
    )
    # None only when the server says there is no such deployment; any other failure fails the test.
    return project.api(script, f"orbital-freight-ledger/{name}")


def test_deployments_come_from_prefect_yml(project):
    daily = read_deployment(project, "daily-reports")
    assert daily["parameters"] == {"pipeline_name": "reporting"}
    assert daily["crons"] == ["0 6 * * *"]
    assert daily["tags"] == ["reporting"]
    assert daily["timezones"] == ["UTC"]
    assert daily["concurrency_limit"] == 1
    assert (daily["work_pool_name"], daily["work_queue_name"]) == ("freight-pool", "nightly")


def test_every_deployment_field_of_prefect_yml_reaches_the_server(project):
    project.api(  # the layer's own helper, as `make agent` creates a pool
        "from kedro_prefect.operations.pools import ensure_work_pool\n"
        "ensure_work_pool(sys.argv[1], 'evenings')\nprint(json.dumps(True))\n",
        "second-pool",
    )
    env = project.path / "conf" / "e2e_fields"
    env.mkdir(exist_ok=True)
    (env / "prefect.yml").write_text(
        "deployments:\n"
        "  - name: every-field\n"
        "    pipeline: reporting\n"
        "    parameters: {max_workers: 2, runtime_params: {top_n: 5}}\n"
        "    work_pool: second-pool\n"
        "    work_queue: evenings\n"
        "    tags: [reporting, e2e]\n"
        '    version: "2.5"\n'
        "    schedule: {interval: 3600, timezone: Europe/Paris}\n"
    )
    project.make("deploy", "ENV=e2e_fields")
    found = read_deployment(project, "every-field")
    assert found["parameters"] == {
        "pipeline_name": "reporting",
        "env": "e2e_fields",
        "max_workers": 2,
        "runtime_params": {"top_n": 5},
    }
    assert (found["work_pool_name"], found["work_queue_name"]) == ("second-pool", "evenings")
    assert found["tags"] == ["reporting", "e2e"]
    assert found["version"] == "2.5"
    assert (found["intervals"], found["crons"], found["timezones"]) == ([3600.0], [], ["Europe/Paris"])


def test_flow_runs_of_a_project_that_said_no_to_telemetry_run_with_tracking_off(project):
    """The `.telemetry` answer (no, in this project) travels with every deployment to its workers."""
    assert yaml.safe_load((project.path / ".telemetry").read_text()) == {"consent": False}
    for name in ("default", "daily-reports"):
        job_env = read_deployment(project, name)["job_env"]
        assert (job_env.get("DO_NOT_TRACK"), job_env.get("KEDRO_DISABLE_TELEMETRY")) == ("1", "true"), name


def test_command_line_overrides_the_file_for_one_deployment(project):
    result = project.make("deploy", "DEPLOYMENT=adhoc", "PIPELINE=data_processing", "WORK_QUEUE=urgent")
    assert "Registered deployment 'orbital-freight-ledger/adhoc'" in result.stdout
    assert "daily-reports" not in result.stdout
    adhoc = read_deployment(project, "adhoc")
    assert adhoc["parameters"] == {"pipeline_name": "data_processing"}
    assert adhoc["work_queue_name"] == "urgent"


def test_malformed_prefect_yml_registers_nothing(project):
    env = project.path / "conf" / "e2e_bad"
    env.mkdir()
    (env / "prefect.yml").write_text(
        "deployments:\n  - name: would-be-fine\n  - name: broken\n    schedule:\n      cron: every morning\n"
    )
    result = project.make("deploy", "ENV=e2e_bad", check=False)
    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert message.startswith("Error: prefect.yml (env 'e2e_bad'): deployments[1] ('broken'), field 'schedule'")
    assert read_deployment(project, "would-be-fine") is None


def test_failing_node_fails_make_run_with_the_node_and_resume_hint(project):
    env = project.path / "conf" / "e2e_broken"
    env.mkdir()
    (env / "parameters.yml").write_text("top_n: not-a-number\n")
    (env / "prefect.yml").write_text("execution:\n  tag_overrides:\n    reporting:\n      retries: 0\n")
    # The whole pipeline, not only reporting: its inputs must not depend on an earlier test's run.
    project.make("deploy", "DEPLOYMENT=broken", "ENV=e2e_broken")

    result = project.make("run", "DEPLOYMENT=broken", check=False, timeout=600)
    assert result.returncode != 0
    assert "ended Failed" in result.stderr
    assert "node 'reporting.top_customers' failed: TypeError" in result.stderr
    assert "from_nodes=['reporting.top_customers']" in result.stderr


def test_run_with_params_applies_kedro_filters(project):
    result = project.make("run", """PARAMS={"tags": ["cleaning"], "max_workers": 2}""", timeout=600)
    assert "Completed" in result.stdout.splitlines()[-1]
    script = (
        "from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId\n"
        "with get_client(sync_client=True) as client:\n"
        "    run = client.read_flow_run(sys.argv[1])\n"
        "    tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))\n"
        "print(json.dumps({'parameters': run.parameters, 'tasks': sorted(t.name for t in tasks)}))\n"
    )
    ran = project.api(script, flow_run_id(result.stdout))
    assert ran["parameters"]["tags"] == ["cleaning"]
    assert ran["tasks"] == ["clean_customers", "clean_orders"]  # only the nodes tagged cleaning


def test_unknown_parameter_sent_to_the_api_is_refused_by_the_server_with_one_line(project):
    """The deployment's parameter schema is closed: the UI and the API cannot create a run that would crash."""
    script = (
        "from prefect.exceptions import PrefectHTTPStatusError\n"
        "with get_client(sync_client=True) as client:\n"
        "    deployment = client.read_deployment_by_name('orbital-freight-ledger/default')\n"
        "    try:\n"
        "        client.create_flow_run_from_deployment(deployment.id, parameters={'max_wrokers': 2})\n"
        "        print(json.dumps('created'))\n"
        "    except PrefectHTTPStatusError as error:\n"
        "        print(json.dumps(error.response.json()['detail']))\n"
    )
    detail = project.api(script)
    assert "Additional properties are not allowed ('max_wrokers' was unexpected)" in detail


def registered_schema(project: Project, name: str) -> dict:
    """The deployment's parameter schema as the server stores it (what the run form is drawn from)."""
    script = (
        "with get_client(sync_client=True) as client:\n"
        "    print(json.dumps(client.read_deployment_by_name(sys.argv[1]).parameter_openapi_schema))\n"
    )
    return project.api(script, f"orbital-freight-ledger/{name}")


def test_the_run_form_shows_the_projects_parameters_typed_and_a_changed_value_reaches_the_node(project):
    fields = registered_schema(project, "default")["properties"]["parameters"]["properties"]
    assert fields["top_n"] == {"title": "top_n", "type": "integer", "default": 10, "position": 1}
    assert fields["valid_statuses"]["items"] == {"type": "string"}
    assert fields["valid_statuses"]["default"] == ["completed"]

    top_customers = project.path / "data" / "08_reporting" / "top_customers.csv"
    top_customers.unlink(missing_ok=True)
    result = project.make("run", """PARAMS={"parameters": {"top_n": 3}}""", timeout=600)
    assert "Completed" in result.stdout.splitlines()[-1]
    assert len(pd.read_csv(top_customers)) == 3  # parameters.yml says 10


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ('{"parameters": {"top_n": "five"}}', "'five' is not of type 'integer'"),
        ('{"parameters": {"top_m": 3}}', "'top_m' was unexpected"),
    ],
)
def test_a_wrongly_typed_or_unknown_kedro_parameter_is_refused_before_a_run_exists(project, params, reason):
    result = project.make("run", f"PARAMS={params}", check=False)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: The server refused the run's parameters"), result.stderr
    assert reason in errors[0]
    assert "Flow run '" not in result.stdout  # refused when created: no run to clean up


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{not json", "Error: --params is not valid JSON"),
        ('["tags"]', "Error: --params must be a JSON object of flow parameters, not list"),
        ('{"max_workers": "many"}', "Error: --params: parameter 'max_workers': Input should be a valid integer"),
        ('{"colour": "red"}', "Error: --params: unknown parameter 'colour'; known: pipeline_name, env, tags"),
    ],
)
def test_run_with_bad_params_fails_with_one_clear_line(project, params, message):
    result = project.make("run", f"PARAMS={params}", check=False)
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")][0].startswith(message)


def test_make_targets_are_idempotent(project):
    assert "Server already running" in project.make("up").stdout
    assert "Worker already running" in project.make("up").stdout
    assert "Registered deployment" in project.make("deploy").stdout


def test_run_of_unknown_deployment_fails_with_one_clear_line(project):
    result = project.make("run", "DEPLOYMENT=nope", check=False)
    assert result.returncode != 0
    assert "No deployment named 'orbital-freight-ledger/nope'" in result.stderr
    assert "make deploy DEPLOYMENT=nope" in result.stderr


def test_deploy_of_unknown_pipeline_lists_known_ones(project):
    result = project.make("deploy", "PIPELINE=nope", check=False)
    assert result.returncode != 0
    known = "__default__, data_processing, flaky, reporting"  # flaky: this module's own pipeline
    assert f"Unknown pipeline 'nope'. Known pipelines: {known}." in result.stderr


def test_generated_project_tests_are_the_node_tests_and_one_deploy_test(project):
    fast = project.make("test", timeout=300)
    summary = fast.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "1 deselected" in summary and "failed" not in summary, summary
    server = int((project.path / ".prefect" / "server.pid").read_text())
    count_deployments = "with get_client(sync_client=True) as c:\n    print(json.dumps(len(c.read_deployments())))\n"
    deployments = project.api(count_deployments)
    deploy = project.make("test-deploy", timeout=900)  # its own server and worker on free ports
    summary = deploy.stdout.strip().splitlines()[-1]
    assert "1 passed" in summary and "failed" not in summary, summary
    # The server the user has running is untouched: same process, same deployments.
    assert int((project.path / ".prefect" / "server.pid").read_text()) == server and not process_gone(server)
    assert project.api(count_deployments) == deployments


def test_make_kedro_run_is_plain_kedro_run_and_make_worker_is_make_agent(project):
    order_table = project.path / "data" / "03_primary" / "order_table.csv"
    order_table.unlink(missing_ok=True)
    result = project.make("kedro-run", "PIPELINE=data_processing", timeout=300)
    assert order_table.is_file()  # written by this run
    assert result.stdout.split("\n", 1)[0].endswith("/kedro run --pipelines data_processing ")  # plain `kedro run`
    dry = {target: project.make("-n", target).stdout for target in ("agent", "worker")}
    assert dry["worker"] == dry["agent"] and "kedro_prefect agent" in dry["agent"]


def _tree(path: Path) -> dict[str, bytes]:
    """The project's own files: not its venv, Prefect state, data or vendor/."""
    skipped = {".venv", "venv", ".prefect", "data", "vendor", ".pytest_cache", ".ruff_cache", "__pycache__"}
    return {
        file.relative_to(path).as_posix(): file.read_bytes()
        for file in path.rglob("*")
        if file.is_file() and not skipped & set(file.relative_to(path).parts) and ".egg-info" not in file.as_posix()
    }


def test_make_update_layer_takes_the_newest_allowed_release_and_changes_no_file(installed, tmp_path):
    source = shutil.copytree(
        TEMPLATE / "kedro-prefect", tmp_path / "kedro-prefect", ignore=shutil.ignore_patterns("dist")
    )
    init = source / "src" / "kedro_prefect" / "__init__.py"
    major, minor, patch = LAYER_VERSION.split(".")
    newer_version = f"{major}.{minor}.{int(patch) + 1}"  # within the project's range, as a patch release is
    init.write_text(init.read_text().replace(f'__version__ = "{LAYER_VERSION}"', f'__version__ = "{newer_version}"'))
    run(
        [str(DEV_BIN / "uv"), "build", "--quiet", "--wheel", "--out-dir", str(tmp_path / "dist"), str(source)],
        cwd=tmp_path,
    )
    (newer,) = (tmp_path / "dist").glob(f"kedro_prefect-{newer_version}-*.whl")
    before = _tree(installed.path)
    shutil.copy(newer, installed.path / "vendor" / newer.name)  # as a release on PyPI would be found
    try:
        result = installed.make("update-layer", timeout=300)
        assert result.stdout.strip().splitlines()[-1] == f"kedro-prefect {newer_version}"
        assert _tree(installed.path) == before
    finally:
        (installed.path / "vendor" / newer.name).unlink()
        run([str(installed.venv / "bin" / "uv"), "pip", "install", "--quiet", "--python", str(installed.venv / "bin" / "python"),
             f"kedro-prefect=={LAYER_VERSION}"], cwd=installed.path, env=installed.env)  # fmt: skip


def test_kedro_prefect_commands_and_the_deploy_script(project):
    listed = run(["kedro", "prefect", "--help"], cwd=project.path, env=project.env, timeout=120).stdout
    commands = listed.split("Commands:")[1].split()
    for command in ("agent", "deploy", "down", "run", "server", "up"):
        assert command in commands, listed
    script = run(["python", "register_prefect_flow.py", "--help"], cwd=project.path, env=project.env).stdout
    for option in ("--pipeline", "--env", "--deployment_name", "--work_pool_name", "--work_queue_name", "--version"):
        assert option in script, script


def registered(output: str) -> list[str]:
    return re.findall(r"^Registered deployment '([^']+)'", output, re.M)


def test_deploy_script_registers_what_its_options_say(project):
    def script(*options: str) -> list[str]:
        command = ["python", "register_prefect_flow.py", *options]
        return registered(run(command, cwd=project.path, env=project.env, timeout=300).stdout)

    assert script("--deployment-name", "daily-reports") == ["orbital-freight-ledger/daily-reports"]
    documented = (
        "--pipeline data_processing --env local --deployment-name script-nightly "
        "--work-pool-name freight-pool --work-queue-name nightly --version 1.0"
    )
    assert script(*documented.split()) == ["orbital-freight-ledger/script-nightly"]
    found = read_deployment(project, "script-nightly")
    assert found["parameters"] == {"pipeline_name": "data_processing", "env": "local"}
    assert (found["work_pool_name"], found["work_queue_name"], found["version"]) == ("freight-pool", "nightly", "1.0")
    # The old script's spellings still work.
    old = "--pipeline data_processing --deployment_name script-old --work_queue_name nightly"
    assert script(*old.split()) == ["orbital-freight-ledger/script-old"]


def test_down_stops_what_up_started_then_deploy_fails_with_one_clear_line(project):
    server_pid = int((project.path / ".prefect" / "server.pid").read_text())
    assert "Stopped worker and server" in project.make("down").stdout
    assert not (project.path / ".prefect" / "server.pid").exists()
    assert process_gone(server_pid)
    assert "Nothing to stop" in project.make("down").stdout

    result = project.make("deploy", check=False)
    assert result.returncode != 0
    assert f"Cannot reach the Prefect server at http://127.0.0.1:{project.port}/api" in result.stderr
    assert "make server" in result.stderr


def test_make_demo_reaches_completed_run(tmp_path):
    """The README's first command: bake, install into a new .venv, up, deploy, run; then demo-down."""
    port = free_port()
    env = project_env()
    env.pop("VIRTUAL_ENV")
    args = [f"DEMO_DIR={tmp_path}", f"DEMO_PORT={port}", f"TEMPLATE_VENV={sys.prefix}"]
    try:
        result = run(["make", "demo", *args], cwd=TEMPLATE, env=env, timeout=900)
        assert "Completed" in result.stdout
        assert f"http://127.0.0.1:{port}/deployments" in result.stdout
        demo = tmp_path / "kedro-prefect-project"
        assert f"Outputs:      {demo}/data/03_primary and {demo}/data/08_reporting" in result.stdout
        assert (tmp_path / "kedro-prefect-project" / "data" / "08_reporting" / "top_customers.csv").is_file()
    finally:
        down = run(["make", "demo-down", *args], cwd=TEMPLATE, env=env, timeout=120, check=False)
    assert "Stopped worker and server" in down.stdout


def test_generated_project_lint_and_help(project):
    project.make("lint")
    targets = [line.split()[0] for line in project.make("help").stdout.splitlines() if line.startswith("  ")]
    assert targets == [
        "help",
        "install",
        "update-layer",
        "server",
        "agent",
        "worker",
        "deploy",
        "run",
        "retry",
        "up",
        "down",
        "kedro-run",
        "dask-scheduler",
        "dask-worker",
        "image",
        "image-push",
        "test",
        "test-deploy",
        "lint",
        "format",
    ]


SUMMARY_ROWS_SCRIPT = (
    "from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType\n"
    "from prefect.client.schemas.sorting import ArtifactSort\n"
    "with get_client(sync_client=True) as client:\n"
    "    f = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[sys.argv[1]]), type=ArtifactFilterType(any_=['table']))\n"
    "    latest = client.read_artifacts(artifact_filter=f, sort=ArtifactSort.CREATED_DESC, limit=1)[0]\n"
    "    runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[sys.argv[1]])))\n"
    "counts = {}\n"
    "for run in runs:\n"
    "    counts[run.name] = counts.get(run.name, 0) + 1\n"
    "print(json.dumps({'key': latest.key, 'rows': json.loads(latest.data), 'task_runs': counts}))\n"
)


def test_make_retry_resumes_a_failed_run_from_the_failed_node(project):
    marker = project.path / "data" / "02_intermediate" / "flaky-attempted"
    marker.unlink(missing_ok=True)
    project.make("deploy", "DEPLOYMENT=flaky", "PIPELINE=flaky")
    failed = project.make("run", "DEPLOYMENT=flaky", check=False, timeout=600)
    assert failed.returncode != 0 and "ended Failed" in failed.stderr
    stats = project.path / "data" / "02_intermediate" / "flaky_stats.csv"
    written_by_first_attempt = stats.stat().st_mtime_ns

    retried = project.make("retry", f"RUN={flow_run_id(failed.stdout)}", timeout=600)

    assert "attempt 2" in retried.stdout
    assert "Completed" in retried.stdout.splitlines()[-1]
    script = "from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId\n" + SUMMARY_ROWS_SCRIPT
    found = project.api(script, flow_run_id(failed.stdout))
    assert found["key"] == "orbital-freight-ledger-flaky-nodes"  # <repo>-<deployment>-nodes, as the README says
    states = {row["node"]: row["state"] for row in found["rows"]}
    assert states == {
        "summarise": "Skipped (completed in attempt 1)",
        "tally": "Skipped (completed in attempt 1)",
        "flag": "Completed",  # reruns: report reads its output from memory
        "report": "Completed",
    }
    assert found["task_runs"] == {"summarise": 1, "tally": 1, "flag": 2, "report": 2}
    assert stats.stat().st_mtime_ns == written_by_first_attempt
    assert (project.path / "data" / "08_reporting" / "flaky_report.csv").is_file()


HEARTBEATS_SCRIPT = (
    "with get_client(sync_client=True) as client:\n"
    "    response = client._client.post('/events/filter', json={'filter': {\n"
    "        'event': {'name': ['prefect.flow-run.heartbeat']},\n"
    "        'resource': {'id': ['prefect.flow-run.' + sys.argv[1]]},\n"
    "        'occurred': {'since': '2000-01-01T00:00:00Z'}}, 'limit': 50})\n"
    "events = response.json()['events']\n"
    "print(json.dumps([[r['prefect.resource.id'] for r in e['related']] for e in events]))\n"
)


def test_a_deployment_run_sends_heartbeats_with_its_deployment(project):
    result = project.make("run", timeout=600)  # the first heartbeat goes out as the flow starts
    assert "Completed" in result.stdout.splitlines()[-1]
    deployment_id = project.deployment_id("orbital-freight-ledger/default")
    # Events reach the server in the background: poll, bounded.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        beats = project.api(HEARTBEATS_SCRIPT, flow_run_id(result.stdout))
        if beats:
            break
        time.sleep(1)
    assert beats, "no heartbeat event for the run"
    assert all(f"prefect.deployment.{deployment_id}" in related for related in beats)
