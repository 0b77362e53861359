"""Where users stand: the README's commands typed into terminals, with a port given once.

Every command runs in a pseudo-terminal (pexpect), because Prefect and Kedro ask questions only
when stdin is a terminal; any question, or Prefect's usage-data notice, fails the test. The
environment is a user's: no PREFECT_* variable, no CI variable (Prefect sends no usage data under
CI whatever the project says), a HOME of its own to show nothing is written to ~/.prefect.
Ctrl-C is the terminal's: pexpect writes the interrupt character, and the line discipline
signals the whole foreground process group, as when a person presses it.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.helpers import (
    CTRL_C_LIMIT_SECONDS,
    QUESTION,
    Background,
    Project,
    Terminal,
    bake,
    free_port,
    run,
)

CTRL_C_ROUNDS = 20


def port_is_free(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
    except httpx.HTTPError:
        return True
    return False


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("terminals")
    path = bake(root, project_name="Harbor Tides")
    project = Project.installed(path, root / "venv", extras="dev,dask")
    # A user's shell: nothing of CI, no telemetry switch but the project's .telemetry ("no").
    project.env = {key: value for key, value in project.env.items() if key not in {"CI", "KEDRO_DISABLE_TELEMETRY"}}
    project.env["HOME"] = str(root / "home")
    (root / "home").mkdir()
    return project


def terminal(project: Project, command: str, log: str) -> Terminal:
    return Terminal(shlex.split(command), project.path, project.env, project.path.parent / f"{log}.log")


def test_documented_path_with_a_port_given_once_never_asks(project):
    port = free_port()
    server = terminal(project, f"make server PREFECT_PORT={port}", "path-server")
    agent = None
    try:
        server.wait_for("Check out the dashboard at", timeout=120)
        agent = terminal(project, "make agent", "path-agent")
        agent.wait_for("started!", timeout=120)

        status, deployed = terminal(project, "make deploy", "path-deploy").finish()
        assert status == 0, deployed
        assert f"See them at http://127.0.0.1:{port}/deployments" in deployed
        # The next command it prints works as printed.
        printed = re.findall(r"Run it with `(make run DEPLOYMENT=[\w.-]+)`", deployed)
        assert printed == ["make run DEPLOYMENT=default", "make run DEPLOYMENT=daily-reports"], deployed
        status, ran = terminal(project, printed[0], "path-run").finish(timeout=600)
        assert status == 0, ran
        assert f"Follow it at http://127.0.0.1:{port}/runs/flow-run/" in ran
        last_lines = ran.strip().splitlines()[-2:]
        assert last_lines[1].strip() == "Completed", ran
        assert last_lines[0].strip() == (
            "Saved: data/03_primary/order_table.csv, data/08_reporting/monthly_revenue.csv, "
            "data/08_reporting/region_revenue.csv, data/08_reporting/top_customers.csv"
        )

        # Every other way into the project reaches the same server, with nothing exported.
        python = str(Path(project.env["VIRTUAL_ENV"]) / "bin" / "python")
        status, registered = terminal(project, f"{python} register_prefect_flow.py", "path-register").finish()
        assert status == 0 and "Registered deployment 'harbor-tides/default'" in registered, registered
        status, listed = terminal(project, "kedro prefect run --deployment daily-reports", "path-kedro-run").finish(600)
        assert status == 0 and "Completed" in listed, listed
        status, plain = terminal(project, "prefect deployment ls", "path-prefect").finish()
        assert status == 0 and "harbor-tides/daily-reports" in re.sub(r"\x1b\[[0-9;]*m", "", plain), plain

        for screen in (server.screen, agent.screen):
            assert not QUESTION.search(screen), screen[-3000:]
        assert not (Path(project.env["HOME"]) / ".prefect").exists(), "something used ~/.prefect"
    finally:
        # Workers before the server, as a person would close the terminals.
        if agent is not None:
            assert agent.ctrl_c() <= CTRL_C_LIMIT_SECONDS
        assert server.ctrl_c() <= CTRL_C_LIMIT_SECONDS
    assert port_is_free(port)


def test_kedro_prefect_up_and_down_with_a_port_and_nothing_exported(project):
    port = free_port()
    status, up = terminal(project, f"kedro prefect up --port {port}", "up-port").finish()
    try:
        assert status == 0, up
        assert f"Up: UI at http://127.0.0.1:{port}" in up
        status, deployed = terminal(project, "make deploy DEPLOYMENT=default", "up-port-deploy").finish()
        assert status == 0 and f"http://127.0.0.1:{port}/deployments" in deployed, deployed
    finally:
        status, down = terminal(project, "kedro prefect down", "up-port-down").finish()
    assert status == 0
    assert "Stopped worker and server" in down
    assert port_is_free(port)


@pytest.fixture
def server_in_background(project):
    port = free_port()
    project.make("up", f"PREFECT_PORT={port}", f"WORKER_NAME=background-{port}")
    yield port
    project.make("down", check=False, timeout=120)


@pytest.fixture
def dask_scheduler(project):
    port = free_port()
    scheduler = Background(
        ["make", "dask-scheduler", f"DASK_PORT={port}", f"DASK_DASHBOARD_PORT={free_port()}"],
        project.path,
        project.env,
        project.path.parent / "dask-scheduler.log",
    )
    scheduler.wait_for_log("Scheduler at:", timeout=120)
    yield port
    scheduler.stop()


def ctrl_c_rounds(project: Project, command: str, ready: str) -> list[float]:
    seconds = []
    for round_number in range(CTRL_C_ROUNDS):
        foreground = terminal(project, command, f"ctrl-c-{command.split()[1]}-{round_number}")
        foreground.wait_for(ready, timeout=120)
        seconds.append(foreground.ctrl_c())
    return seconds


def assert_all_within_limit(seconds: list[float]) -> None:
    assert len(seconds) == CTRL_C_ROUNDS
    assert max(seconds) <= CTRL_C_LIMIT_SECONDS, [round(value, 1) for value in seconds]


def test_ctrl_c_on_make_server_stops_it_every_time(project):
    port = free_port()
    assert_all_within_limit(ctrl_c_rounds(project, f"make server PREFECT_PORT={port}", "Check out the dashboard at"))


def test_ctrl_c_on_make_agent_stops_it_every_time(project, server_in_background):
    assert_all_within_limit(ctrl_c_rounds(project, "make agent WORKER_NAME=foreground", "started!"))


def test_ctrl_c_on_make_dask_worker_stops_it_every_time(project, dask_scheduler):
    command = f"make dask-worker DASK_PORT={dask_scheduler}"
    assert_all_within_limit(ctrl_c_rounds(project, command, "Registered to:"))


# --- secrets -------------------------------------------------------------------------------------

# $, #, quotes and a space: make must pass each byte, and no file may hold any form of it.
USER, PASSWORD = "harbor", "pa$s#1 'q\" x"
AUTH = f"{USER}:{PASSWORD}"
CREDENTIAL = "cred-7f3a9c-never-in-a-log"


def secret_forms() -> list[bytes]:
    forms = {AUTH, PASSWORD, quote(PASSWORD), quote(PASSWORD, safe=""), CREDENTIAL}
    forms.add(base64.b64encode(AUTH.encode()).decode())
    return sorted(form.encode() for form in forms)


def send_auth_twice(port: int) -> None:
    """What an events-websocket reconnect looks like to the server: an auth message it did not expect."""
    import asyncio

    from websockets.asyncio.client import connect

    async def reconnect() -> None:
        header = {"Authorization": "Basic " + base64.b64encode(AUTH.encode()).decode()}
        url = f"ws://127.0.0.1:{port}/api/events/in"
        async with connect(url, subprotocols=["prefect"], additional_headers=header, open_timeout=10) as socket:
            await socket.send(json.dumps({"type": "auth", "token": AUTH}))
            assert "auth_success" in await asyncio.wait_for(socket.recv(), timeout=10)
            await socket.send(json.dumps({"type": "auth", "token": AUTH}))
            await asyncio.sleep(1)

    asyncio.run(reconnect())


def test_no_secret_in_any_file_the_project_writes(project):
    credentials = project.path / "conf" / "local" / "credentials.yml"
    catalog = project.path / "conf" / "base" / "catalog.yml"
    original_catalog, original_credentials = catalog.read_text(), credentials.read_text()
    credentials.write_text(f"reporting_store:\n  key: {CREDENTIAL}\n")
    # A dataset that loads with the credential (fsspec hands it to the local filesystem).
    catalog.write_text(
        original_catalog.replace("region_revenue:\n", "region_revenue:\n  credentials: reporting_store\n", 1)
    )
    assert catalog.read_text() != original_catalog
    port = free_port()
    auth = f"PREFECT_AUTH={AUTH}"
    api = f"http://127.0.0.1:{port}/api"
    try:
        project.make("up", f"PREFECT_PORT={port}", auth)
        # make passed the value byte for byte: the server takes exactly it, and nothing else.
        assert httpx.post(f"{api}/deployments/filter", json={}, auth=(USER, PASSWORD), timeout=10).status_code == 200
        assert httpx.post(f"{api}/deployments/filter", json={}, timeout=10).status_code == 401
        project.make("deploy", f"PREFECT_PORT={port}", auth)
        assert "Completed" in project.make("run", f"PREFECT_PORT={port}", auth, timeout=600).stdout
        send_auth_twice(port)
        project.make("down", f"PREFECT_PORT={port}", auth, timeout=120)
        run(["make", "up", auth], cwd=project.path, env=project.env)  # a restart, on the remembered port
        assert httpx.get(f"{api}/health", timeout=10).status_code == 200
        assert "Completed" in project.make("run", f"PREFECT_PORT={port}", auth, timeout=600).stdout
    finally:
        project.make("down", f"PREFECT_PORT={port}", auth, check=False, timeout=120)
        catalog.write_text(original_catalog)
        credentials.write_text(original_credentials)

    written = [
        path for path in project.path.rglob("*") if path.is_file() and path != credentials and ".venv" not in path.parts
    ]
    assert any(path.name == "server.log" for path in written)
    leaks = [(str(path), form) for path in written for form in secret_forms() if form in path.read_bytes()]
    assert not leaks


def test_params_pass_through_make_byte_for_byte(project, server_in_background):
    port = f"PREFECT_PORT={server_in_background}"
    project.make("deploy", "DEPLOYMENT=default", port)
    tag = '$it\'s #1 "x"'
    result = project.make("run", "PARAMS=" + json.dumps({"tags": [tag]}), port, check=False, timeout=300)
    assert result.returncode != 0
    assert f"The filters {{'tags': [{tag!r}]}} select no node of pipeline '__default__'" in result.stderr


def test_nothing_to_stop_is_said_in_one_line(project, tmp_path):
    result = run(["make", "down"], cwd=project.path, env={**project.env, "PREFECT_HOME": str(tmp_path)}, check=False)
    assert result.returncode == 0
    assert (
        result.stdout.strip().splitlines()[-1] == "Nothing to stop: no server or worker started by `make up` is running"
    )
