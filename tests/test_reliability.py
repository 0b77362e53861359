"""Reliability and security of a generated project, against real processes and real signals.

One project ("Night Shift Ledger") with its own venv and a stack started by `make up`: bad deploy
and run inputs, idempotent targets, a worker process group killed with SIGKILL mid-run, the server
killed and restarted, a node holding the GIL for five minutes, 20 runs at once on the default
SQLite server, loopback binding and basic auth, and each mistake a user can make given in one line. The figures measured here are written to RELIABILITY_REPORT (default .reports/reliability.md,
which git ignores); `make reliability-report` writes them to the tracked reports/reliability.md that
the README quotes.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import (
    OUTPUTS,
    RUNS_AT_ONCE_SCRIPT,
    TEMPLATE,
    Project,
    Terminal,
    add_pipeline,
    bake,
    command_line,
    descendants,
    flow_run_id,
    free_port,
    listening_addresses,
    max_overlap,
    process_gone,
)

REPORT = Path(os.environ.get("RELIABILITY_REPORT") or TEMPLATE / ".reports" / "reliability.md")
# The Makefile's default, which every stack here runs with: what users get is what is measured.
CRASH_AFTER_SECONDS = int(
    re.search(
        r"^CRASH_AFTER_SECONDS \?= (\d+)$", (TEMPLATE / "{{cookiecutter.repo_name}}" / "Makefile").read_text(), re.M
    )[1]
)
GIL_SECONDS = 300
SLOW_PIPELINE = '''"""A pipeline that waits, so a test can kill its worker mid-run."""

import time
from pathlib import Path

from kedro.pipeline import Node, Pipeline

from ..data_processing.pipeline import create_pipeline as data_processing


def wait_for_kill(order_table):
    Path("data/wait_for_kill.started").touch()  # what the test waits for before it kills
    time.sleep(300)
    return len(order_table)


def create_pipeline(**kwargs) -> Pipeline:
    return data_processing() + Pipeline([Node(wait_for_kill, "order_table", "waited_rows", name="wait_for_kill")])
'''

GIL_PIPELINE = f'''"""A node that holds the GIL for {GIL_SECONDS} s: one C call that never releases it."""

import ctypes

from kedro.pipeline import Node, Pipeline


def hold_the_gil() -> int:
    # PyDLL keeps the GIL during the call, as a long C-level computation does.
    ctypes.PyDLL(None).sleep({GIL_SECONDS})
    return {GIL_SECONDS}


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([Node(hold_the_gil, None, "held_seconds", name="hold_the_gil")])
'''

RELEASE_PIPELINE = '''"""A node that waits until the test releases it, so the test can kill the worker meanwhile."""

import time
from pathlib import Path

from kedro.pipeline import Node, Pipeline


def wait_for_release() -> int:
    Path("data/wait_for_release.started").touch()
    deadline = time.monotonic() + 240
    while not Path("data/wait_for_release.go").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return 1


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([Node(wait_for_release, None, "released", name="wait_for_release")])
'''

BROKEN_PIPELINE = """from kedro.pipeline import Pipeline

import no_such_module_anywhere


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([])
"""

# prefect.yml mistakes, one Kedro environment each (conf/<env>/prefect.yml).
BAD_CONFIG = {
    "bad_schedule": "deployments:\n  - name: nightly\n    schedule:\n      cron: at dawn\n",
    "bad_yaml": "execution:\n  max_workers: 4\n  task_runner: [threads\n",
    "top_list": "- name: default\n- name: other\n",
    "unset_env": "deployments:\n  - name: x\n    description: ${oc.env:NIGHT_SHIFT_UNSET}\n",
    "env_not_a_map": "deployments:\n  - name: default\n    job_variables:\n      env: notadict\n",
    "override_typo": "execution:\n  node_overrides:\n    build_order_tabel:\n      retries: 2\n",
}

FIGURES: dict[str, str] = {}
REFUSED_INPUTS: set[str] = set()  # bad deploy/run inputs that were refused as they should be


class Stack(Project):
    """The project plus what its tests need to read from the server."""

    def deployment_ids(self) -> list[str]:
        return self.api(
            "with get_client(sync_client=True) as c:\n"
            "    print(json.dumps(sorted(str(d.id) for d in c.read_deployments())))\n"
        )

    def flow_run_count(self) -> int:
        return self.api(
            "with get_client(sync_client=True) as c:\n    print(json.dumps(len(c.read_flow_runs(limit=200))))\n"
        )

    def pid(self, name: str) -> int:
        return int((self.path / ".prefect" / f"{name}.pid").read_text())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("reliability")
    path = bake(root, project_name="Night Shift Ledger")
    # Only the `slow` deployment waits; every other run stays a few seconds long.
    add_pipeline(path, "night_shift_ledger", "slow_report", SLOW_PIPELINE)
    add_pipeline(path, "night_shift_ledger", "hold_gil", GIL_PIPELINE)
    add_pipeline(path, "night_shift_ledger", "released", RELEASE_PIPELINE)
    for env, text in BAD_CONFIG.items():
        (path / "conf" / env).mkdir()
        (path / "conf" / env / "prefect.yml").write_text(text)
    project = Stack.installed(path, root / "venv")
    try:
        project.make("up")
        project.make("deploy")
        yield project
    finally:  # also when setting up failed: never leave a server or worker behind
        project.make("down", check=False, timeout=120)
    write_report()


def write_report() -> None:
    """Merge this session's figures into the report: a row per figure, replaced by the test that measures it.

    Running some of the tests (`-k`) updates their rows and keeps the others' from their last run.
    """
    if not FIGURES:
        return
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", REPORT.read_text(), re.M)) if REPORT.is_file() else {}
    rows.pop("what", None)
    rows.update(FIGURES)
    table = "\n".join(f"| {what} | {figure} |" for what, figure in sorted(rows.items()))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        "# Reliability figures\n\nWritten by `tests/test_reliability.py`, each row by the last run of the test that "
        f"measures it (2 cores, default SQLite server, one process worker).\n\n| what | measured |\n|---|---|\n{table}\n"
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


# --- bad deploy and run inputs -----------------------------------------------------------------

BAD_INPUTS = [
    ("deploy", ["PIPELINE=nope"], "Unknown pipeline 'nope'"),
    ("deploy", ["ENV=nope"], "Unknown Kedro environment 'nope'"),
    ("deploy", ["WORK_POOL=no-such-pool"], "no-such-pool"),
    ("deploy", ["ENV=bad_schedule"], "field 'schedule'"),
    ("deploy", ["PREFECT_PORT=1"], "Cannot reach the Prefect server"),
    ("run", ["DEPLOYMENT=nope"], "No deployment named 'night-shift-ledger/nope'"),
    ("run", ["PARAMS={not json"], "--params is not valid JSON"),
    ("run", ['PARAMS={"runtime_params": "top_n=5"}'], "--params: parameter 'runtime_params'"),
    ("run", ['PARAMS={"tags": ["no-such-tag"]}'], "no node"),
    ("run", ['PARAMS={"pipeline_name": "nope"}'], "Unknown pipeline 'nope'"),
    ("run", ['PARAMS={"group_by": "tag"}'], "parameter 'group_by': Input should be 'none' or 'namespace'"),
    ("deploy", ["ENV=bad_yaml"], "Invalid YAML or JSON file"),
    (
        "deploy",
        ["ENV=top_list"],
        "Error: prefect.yml (env 'top_list'): the file holds a list at its top level; it must be a mapping with "
        "'execution:' and 'deployments:' keys.",
    ),
    (
        "deploy",
        ["ENV=unset_env"],
        "Error: prefect.yml (env 'unset_env'): deployments[0].description: Unsupported interpolation type oc.env. "
        "Kedro resolves ${oc.env:...} only in credentials files; write the value, or use ${runtime_params:...}.",
    ),
    (
        "deploy",
        ["ENV=env_not_a_map"],
        "Error: prefect.yml (env 'env_not_a_map'): deployments[0] ('default'), field 'job_variables': 'env' must "
        "map variable names to values, e.g. env: {MY_VARIABLE: value}, not str",
    ),
    (
        "deploy",
        ["ENV=override_typo"],
        "Error: prefect.yml (env 'override_typo'): execution.node_overrides: no node is named 'build_order_tabel'; "
        "did you mean 'build_order_table'?",
    ),
    (
        "deploy",
        ["DEPLOYMENT=bad/name"],
        "Error: Deployment name 'bad/name' is not valid: use letters, digits, '.', '_' and '-', starting with a "
        "letter or digit (it becomes part of the deployment's URL).",
    ),
    (
        "deploy",
        ["DEPLOYMENT=daily-report"],
        "Error: prefect.yml has no deployment 'daily-report'; did you mean 'daily-reports'? To register a new "
        "deployment 'daily-report', give it options (e.g. PIPELINE=...).",
    ),
    (
        "run",
        ['PARAMS={"resume": "yes"}'],
        "Error: --params: parameter 'resume': Input should be a valid boolean (got 'yes')",
    ),
    (
        "run",
        ['PARAMS={"resume": "2"}'],
        "Error: --params: parameter 'resume': Input should be a valid boolean (got '2')",
    ),
    ("retry", [], "RUN is missing"),
    ("retry", ["RUN=last"], "RUN='last' is not a flow run id"),
    ("retry", ["RUN=00000000-0000-0000-0000-000000000000"], "No flow run 00000000-0000-0000-0000-000000000000"),
]


@pytest.mark.parametrize(("target", "args", "message"), BAD_INPUTS, ids=[" ".join(a) for _, a, _ in BAD_INPUTS])
def test_bad_input_gives_one_line_and_registers_nothing(stack, target, args, message):
    before = stack.deployment_ids()

    result = stack.make(target, *args, check=False, timeout=300)

    assert result.returncode != 0
    errors = error_lines(result)
    assert len(errors) == 1, result.stderr
    if message.startswith("Error: "):
        assert errors[0] == message  # the whole line, cause and fix
    else:
        assert message in errors[0]
    assert "Traceback" not in result.stderr
    assert stack.deployment_ids() == before
    refused(" ".join(args))


def refused(case: str) -> None:
    REFUSED_INPUTS.add(case)
    FIGURES["bad deploy/run inputs refused with one line, nothing registered"] = str(len(REFUSED_INPUTS))


# --- idempotent targets ------------------------------------------------------------------------


def test_targets_run_twice_behave(stack):
    before = stack.deployment_ids()
    stack.make("deploy")
    assert stack.deployment_ids() == before, "a second deploy must update, not duplicate"
    assert "Server already running" in stack.make("up").stdout
    assert "Worker already running" in stack.make("up").stdout


def test_agent_twice_with_pool_and_queue_present(stack):
    for _ in range(2):
        agent = subprocess.Popen(
            ["make", "agent", f"PREFECT_PORT={stack.port}", "WORKER_NAME=second-worker"],
            cwd=stack.path,
            env={**stack.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            seen = ""
            while time.monotonic() < deadline and "started" not in seen.lower():
                if select.select([agent.stdout], [], [], 1.0)[0]:  # readline alone could block forever
                    seen += agent.stdout.readline()
            assert "Worker" in seen and "started" in seen.lower(), seen
            assert "Created work pool" not in seen
        finally:
            os.killpg(agent.pid, signal.SIGINT)
            # Reading on while it stops: a worker whose unread output fills the pipe blocks in its
            # shutdown logging and never exits (60 s: 30 s was once not enough on a loaded machine).
            agent.communicate(timeout=60)


# --- faults ------------------------------------------------------------------------------------


def wait_for(condition, timeout: float, interval: float = 1.0) -> float:
    """Seconds until condition() held; fails the test after timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout:.0f} s")


SLOW_NODE_STARTED = Path("data") / "wait_for_kill.started"


def start_slow_run(stack) -> subprocess.Popen:
    """Deploy the `slow` deployment and follow a run of it with `make run`, in a session of its own.

    Its waiting node creates `SLOW_NODE_STARTED` in the project when it starts (removed here first).
    """
    (stack.path / SLOW_NODE_STARTED).unlink(missing_ok=True)
    return follow_run(stack, "slow", "slow_report")


def follow_run(stack, deployment: str, pipeline: str) -> subprocess.Popen:
    """Deploy `pipeline` as `deployment` and follow a run of it with `make run`, in a session of its own."""
    stack.make("deploy", f"DEPLOYMENT={deployment}", f"PIPELINE={pipeline}")
    return subprocess.Popen(
        ["make", "run", f"DEPLOYMENT={deployment}", f"PREFECT_PORT={stack.port}"],
        cwd=stack.path,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_worker_killed_mid_run_crashes_the_run_and_the_next_run_completes(stack):
    order_table = stack.path / OUTPUTS[0]
    order_table.unlink(missing_ok=True)
    follower = start_slow_run(stack)
    try:
        wait_for((stack.path / SLOW_NODE_STARTED).exists, timeout=180)  # after order_table was saved
        worker = stack.pid("worker")
        # As when a machine or container dies: `make agent`'s process and everything under it, the
        # flow-run process and its heartbeat process included (Prefect gives the flow-run process a
        # session of its own, so killing the worker alone would spare it).
        flow_processes = descendants(worker)
        assert any("prefect.engine" in command_line(pid) for pid in flow_processes), "no flow-run process"
        for pid in [worker, *flow_processes]:
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        stdout, stderr = follower.communicate(timeout=CRASH_AFTER_SECONDS + 180)
        crashed_after = time.monotonic() - killed_at
    finally:
        if follower.poll() is None:
            os.killpg(follower.pid, signal.SIGKILL)
        up = stack.make("up", check=False)  # the other tests' stack, whatever happened above

    assert follower.returncode != 0
    assert "ended Crashed" in stderr, stderr
    assert "No heartbeat" in stderr
    # At most CRASH_AFTER_SECONDS after the last heartbeat (sent before the kill), plus the moment
    # the server's action and `make run`'s next look at the run take.
    assert crashed_after <= CRASH_AFTER_SECONDS + 15
    assert len(order_table.read_text().splitlines()) > 1  # what finished nodes saved is intact
    FIGURES["worker and its flow-run process killed with SIGKILL mid-run: run marked Crashed after"] = (
        f"{crashed_after:.0f} s (CRASH_AFTER_SECONDS={CRASH_AFTER_SECONDS}, the default)"
    )

    assert up.returncode == 0 and "Removed stale" in up.stdout, up.stdout + up.stderr
    assert process_gone(worker) and all(process_gone(pid) for pid in flow_processes)
    assert "Completed" in stack.make("run", timeout=600).stdout.splitlines()[-1]


def test_only_the_worker_killed_mid_run_leaves_its_run_to_complete(stack):
    """Prefect starts each flow run in a process (and session) of its own: the README promises that
    when only the worker dies, the run goes on and completes."""
    started, go = stack.path / "data" / "wait_for_release.started", stack.path / "data" / "wait_for_release.go"
    started.unlink(missing_ok=True)
    go.unlink(missing_ok=True)
    follower = follow_run(stack, "released", "released")
    try:
        wait_for(started.exists, timeout=180)
        worker = stack.pid("worker")
        flow_processes = [pid for pid in descendants(worker) if "prefect.engine" in command_line(pid)]
        assert flow_processes, "no flow-run process under the worker"
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: process_gone(worker), timeout=30, interval=0.2)
        assert not any(process_gone(pid) for pid in flow_processes), "the flow run died with its worker"
        go.touch()
        stdout, stderr = follower.communicate(timeout=180)
    finally:
        go.touch()  # never leave the node waiting
        if follower.poll() is None:
            os.killpg(follower.pid, signal.SIGKILL)
        up = stack.make("up", check=False)  # a worker again, for the other tests

    assert follower.returncode == 0, stdout + stderr
    assert "Completed" in stdout.splitlines()[-1], stdout
    assert up.returncode == 0, up.stdout + up.stderr


def test_server_killed_and_restarted_keeps_deployments_and_history(stack):
    assert "Completed" in stack.make("run", timeout=600).stdout.splitlines()[-1]  # some history to keep
    deployments, runs = stack.deployment_ids(), stack.flow_run_count()
    assert runs > 0
    server = stack.pid("server")
    os.killpg(server, signal.SIGKILL)
    wait_for(lambda: process_gone(server), timeout=30, interval=0.2)

    started = time.monotonic()
    up = stack.make("up")
    restart = time.monotonic() - started

    assert "Removed stale" in up.stdout
    assert stack.deployment_ids() == deployments
    assert stack.flow_run_count() >= runs
    assert "Completed" in stack.make("run", timeout=600).stdout.splitlines()[-1]
    FIGURES["server killed with SIGKILL: `make up` back to healthy"] = f"{restart:.0f} s; deployments and runs kept"


# --- load ----------------------------------------------------------------------------------------

LOAD_RUNS = 20


def test_twenty_runs_at_once_all_complete(stack):
    result = stack.api(RUNS_AT_ONCE_SCRIPT, "night-shift-ledger/default", str(LOAD_RUNS), "900", timeout=960)
    states = [run["state"] for run in result["runs"]]
    assert states == ["Completed"] * LOAD_RUNS, states
    # The worker runs WORKER_LIMIT (4) at a time and queues the rest: never more node phases at once.
    assert max_overlap([(run["nodes_from"], run["nodes_to"]) for run in result["runs"]]) <= 4
    per_minute = LOAD_RUNS / result["seconds"] * 60
    FIGURES[f"{LOAD_RUNS} runs triggered at once (WORKER_LIMIT=4, SQLite)"] = (
        f"{LOAD_RUNS}/{LOAD_RUNS} Completed in {result['seconds']:.0f} s ({per_minute:.1f} runs per minute)"
    )


# --- security ------------------------------------------------------------------------------------


def test_the_server_runs_with_analytics_off(stack):
    settings = httpx.get(f"http://127.0.0.1:{stack.port}/api/admin/settings", timeout=10).json()
    assert settings["server"]["analytics_enabled"] is False


def test_server_listens_on_loopback_only_by_default(stack):
    assert listening_addresses(stack.port) == {"0100007F"}  # 127.0.0.1, nothing else
    FIGURES["server bind address by default"] = "127.0.0.1 only"


@pytest.mark.parametrize("target", ["server", "up"])
def test_exposed_host_without_auth_warns(stack, tmp_path, target):
    # 192.0.2.1 (TEST-NET) is nobody's address: the warning prints, then the bind fails; nothing opens.
    home = f"PREFECT_HOME={tmp_path / 'exposed-home'}"
    result = stack.make(target, "PREFECT_HOST=192.0.2.1", f"PREFECT_PORT={free_port()}", home, check=False, timeout=120)
    assert "Warning: the Prefect server listens on 192.0.2.1 without authentication" in result.stderr
    assert result.returncode != 0


def test_make_down_cleans_stale_pid_files(stack, tmp_path):
    home = tmp_path / "stale-home"
    home.mkdir()
    ended = subprocess.Popen(["true"])
    ended.wait()  # its PID now names no process
    for name in ("server", "worker"):
        (home / f"{name}.pid").write_text(f"{ended.pid}\n")
    down = stack.make("down", f"PREFECT_HOME={home}", f"PREFECT_PORT={free_port()}", timeout=120)
    assert not list(home.glob("*.pid")), down.stdout
    assert stack.pid("server") and not process_gone(stack.pid("server"))  # the other tests' stack is untouched


def test_basic_auth_refuses_anonymous_calls_while_make_targets_work(stack, tmp_path):
    secret = "kedro:night-shift-s3cret"
    port = free_port()
    auth = {"PREFECT_HOME": str(tmp_path / "auth-home"), "PREFECT_PORT": str(port)}
    args = [f"{key}={value}" for key, value in auth.items()]
    secure = Stack(stack.path, Path(stack.env["VIRTUAL_ENV"]), port)
    secure.env = {**stack.env, "PREFECT_AUTH": secret, "PREFECT_HOME": auth["PREFECT_HOME"]}
    try:
        secure.make("up", *args)
        api = f"http://127.0.0.1:{port}/api"
        assert httpx.get(f"{api}/health", timeout=5).status_code == 200
        assert httpx.post(f"{api}/deployments/filter", json={}, timeout=5).status_code == 401
        assert httpx.post(f"{api}/deployments/filter", json={}, auth=("kedro", "guess"), timeout=5).status_code == 401

        secure.make("deploy", *args)
        assert "Completed" in secure.make("run", *args, timeout=600).stdout.splitlines()[-1]

        wrong = secure.make("deploy", *args, "PREFECT_AUTH=kedro:wrong", check=False)
        assert wrong.returncode != 0
        assert error_lines(wrong) == [
            f"Error: The Prefect server at {api} requires basic auth and refused wrong credentials (HTTP 401). "
            "Set PREFECT_AUTH=user:pass to the server's, e.g. `export PREFECT_AUTH=...` before make."
        ]
        refused("PREFECT_AUTH=kedro:wrong")

        user, password = secret.split(":")
        listing = httpx.post(f"{api}/deployments/filter", json={}, auth=(user, password), timeout=10).json()
        logs = httpx.post(f"{api}/logs/filter", json={"limit": 200}, auth=(user, password), timeout=10).json()
        assert listing and logs
        assert password not in json.dumps(listing), "the secret reached a deployment"
        assert password not in json.dumps(logs), "the secret reached the logs"
        for captured in (secure.make("deploy", *args).stdout, secure.make("help").stdout):
            assert password not in captured
        FIGURES["anonymous API call to a server with PREFECT_AUTH"] = "401; wrong credentials: one-line error"
    finally:
        secure.make("down", *args, check=False, timeout=120)


# --- where users stand: long nodes, stops and Ctrl-C ---------------------------------------------


def run_states(stack: Stack, flow_run_id: str) -> list[str]:
    return stack.api(
        "with get_client(sync_client=True) as c:\n"
        "    print(json.dumps([s.name for s in c.read_flow_run_states(sys.argv[1])]))\n",
        flow_run_id,
    )


def test_node_holding_the_gil_for_five_minutes_completes_and_is_never_crashed(stack):
    stack.make("deploy", "DEPLOYMENT=gil", "PIPELINE=hold_gil")
    started = time.monotonic()
    result = stack.make("run", "DEPLOYMENT=gil", timeout=GIL_SECONDS + 300)
    seconds = time.monotonic() - started

    assert result.stdout.strip().splitlines()[-1].strip() == "Completed", result.stdout
    assert seconds >= GIL_SECONDS
    states = run_states(stack, flow_run_id(result.stdout))
    assert "Crashed" not in states, states
    assert states[-1] == "Completed"
    FIGURES[f"node holding the GIL for {GIL_SECONDS} s (CRASH_AFTER_SECONDS={CRASH_AFTER_SECONDS})"] = (
        f"Completed after {seconds:.0f} s, never Crashed ({' → '.join(states)})"
    )


def test_run_on_a_queue_no_worker_polls_is_named_within_30_seconds(stack):
    stack.make("deploy", "DEPLOYMENT=unpolled", "PIPELINE=reporting", "WORK_QUEUE=nobody-polls")
    started = time.monotonic()
    result = stack.make("run", "DEPLOYMENT=unpolled", check=False, timeout=300)
    seconds = time.monotonic() - started

    assert result.returncode != 0
    (line,) = error_lines(result)
    run_id = flow_run_id(result.stdout)
    assert line == (
        "Error: No worker polls work queue 'nobody-polls' of pool 'night-shift-ledger-pool' (polled never), so flow "
        f"run {run_id} was cancelled after 30 s. Start a worker for it (make agent WORK_QUEUE=nobody-polls), or "
        "deploy to a queue a worker polls (make deploy without WORK_QUEUE)."
    )
    assert seconds < 60
    assert run_states(stack, run_id)[-1] == "Cancelled"


def test_second_server_on_another_port_is_refused_in_one_line(stack):
    other = free_port()
    result = stack.make("up", f"PREFECT_PORT={other}", check=False)
    assert result.returncode != 0
    assert error_lines(result) == [
        f"Error: This project's Prefect server already runs at http://127.0.0.1:{stack.port} (pid {stack.pid('server')}, "
        f"started by `make up`), not at port {other}. Stop it first (Ctrl-C on `make server`, or `make down`), or "
        "leave PREFECT_PORT out to use it."
    ]


def test_pipeline_module_that_fails_to_import_is_named_with_file_and_line(stack):
    broken = stack.path / "src" / "night_shift_ledger" / "pipelines" / "broken"
    add_pipeline(stack.path, "night_shift_ledger", "broken", BROKEN_PIPELINE)
    before = stack.deployment_ids()
    try:
        result = stack.make("deploy", check=False)
    finally:
        shutil.rmtree(broken)
    assert result.returncode != 0
    assert error_lines(result) == [
        "Error: Pipeline module 'night_shift_ledger.pipelines.broken' failed to import: ModuleNotFoundError: No module "
        "named 'no_such_module_anywhere' (src/night_shift_ledger/pipelines/broken/pipeline.py, line 3). Fix it, then "
        "try again."
    ]
    assert "Traceback" not in result.stderr
    assert stack.deployment_ids() == before


def test_ctrl_c_on_make_run_cancels_the_run(stack, tmp_path):
    stack.make("deploy", "DEPLOYMENT=slow", "PIPELINE=slow_report")
    follower = Terminal(
        ["make", "run", "DEPLOYMENT=slow", f"PREFECT_PORT={stack.port}"], stack.path, stack.env, tmp_path / "run.log"
    )
    follower.wait_for("Running", timeout=180)
    follower.child.sendintr()
    status, screen = follower.finish(timeout=120)  # make run waits up to CANCEL_WAIT_SECONDS (60)

    run_id = flow_run_id(screen)
    assert (
        f"Ctrl-C: flow run {run_id} was cancelled (Cancelled); http://127.0.0.1:{stack.port}/runs/flow-run/{run_id}"
        in screen
    )
    assert "Aborted!" not in screen
    assert status == 130  # what the README promises, as the shell's $? shows it
    assert run_states(stack, run_id)[-1] == "Cancelled"


def test_ctrl_c_on_make_agent_mid_run_ends_the_run_cancelled(stack, tmp_path):
    worker = stack.pid("worker")  # the stack's background worker steps aside for one in a terminal
    os.killpg(worker, signal.SIGTERM)
    wait_for(lambda: process_gone(worker), timeout=60, interval=0.2)
    agent = Terminal(
        ["make", "agent", "WORKER_NAME=foreground", f"PREFECT_PORT={stack.port}"],
        stack.path,
        stack.env,
        tmp_path / "agent.log",
    )
    follower = None
    try:
        agent.wait_for("started!", timeout=120)
        follower = start_slow_run(stack)
        wait_for((stack.path / SLOW_NODE_STARTED).exists, timeout=180)
        agent.ctrl_c()  # asserts that everything the target started is gone within the limit
        stdout, stderr = follower.communicate(timeout=120)
    finally:
        if follower is not None and follower.poll() is None:
            os.killpg(follower.pid, signal.SIGKILL)
        stack.make("up")  # the other tests' stack
    run_id = flow_run_id(stdout)
    assert run_states(stack, run_id)[-1] == "Cancelled", stderr
    assert follower.returncode != 0


def test_make_down_during_a_run_ends_it_says_so_and_marks_it_cancelled(stack):
    follower = start_slow_run(stack)
    try:
        wait_for((stack.path / SLOW_NODE_STARTED).exists, timeout=180)
        down = stack.make("down", timeout=120)
        stdout, stderr = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            os.killpg(follower.pid, signal.SIGKILL)
        stack.make("up")  # the other tests' stack
    run_id = flow_run_id(stdout)
    ended = re.findall(
        r"^Ended flow run '[\w-]+' \(([0-9a-f-]{36})\): `make down` stopped its worker; marked Cancelled$",
        down.stdout,
        re.M,
    )
    assert ended == [run_id], down.stdout
    assert down.stdout.strip().splitlines()[-1] == "Stopped worker and server"
    assert f"Error: Flow run {run_id} ended Cancelled: Ended: `make down` stopped its worker" in stderr
    assert run_states(stack, run_id)[-1] == "Cancelled"


def test_ctrl_c_on_deploy_before_it_registers_changes_nothing(stack, tmp_path):
    marker = f"early-{time.time_ns()}"
    early = stack.path / "conf" / "early"
    early.mkdir(exist_ok=True)
    (early / "prefect.yml").write_text(f"deployments:\n  - name: default\n    description: {marker}\n")
    before = stack.deployment_ids()
    deploy = Terminal(
        ["make", "deploy", "ENV=early", f"PREFECT_PORT={stack.port}"], stack.path, stack.env, tmp_path / "deploy.log"
    )
    deploy.wait_for("-m kedro_prefect deploy", timeout=60)  # make's echo: the command is only starting
    deploy.child.sendintr()
    status, screen = deploy.finish(timeout=120)

    assert status == 130
    assert "Registered deployment" not in screen
    assert "Traceback" not in screen
    assert stack.deployment_ids() == before
    description = stack.api(
        "with get_client(sync_client=True) as c:\n"
        "    print(json.dumps(c.read_deployment_by_name(sys.argv[1]).description))\n",
        "night-shift-ledger/default",
    )
    assert description != marker


def test_ctrl_c_during_deploy_applies_every_deployment_or_none(stack, tmp_path):
    marker = f"marked-{time.time_ns()}"
    marked = stack.path / "conf" / "marked"
    marked.mkdir(exist_ok=True)
    (marked / "prefect.yml").write_text(
        "deployments:\n"
        f"  - name: default\n    description: {marker}\n"
        f"  - name: daily-reports\n    pipeline: reporting\n    description: {marker}\n"
    )
    deploy = Terminal(
        ["make", "deploy", "ENV=marked", f"PREFECT_PORT={stack.port}"], stack.path, stack.env, tmp_path / "deploy.log"
    )
    deploy.wait_for("Registered deployment", timeout=300)  # the first of two is applied: Ctrl-C now
    deploy.child.sendintr()
    status, screen = deploy.finish(timeout=120)

    assert "Ctrl-C: finishing the registration first, so that no deployment is left half-updated" in screen
    assert status != 0
    descriptions = stack.api(
        "with get_client(sync_client=True) as c:\n"
        "    print(json.dumps([c.read_deployment_by_name(n).description for n in sys.argv[1:]]))\n",
        "night-shift-ledger/default",
        "night-shift-ledger/daily-reports",
    )
    assert descriptions == [marker, marker]
