"""Flow runs in containers, through the README's commands: `make image`, a docker work pool served
by `make agent WORK_POOL_TYPE=docker`, `make deploy IMAGE=...`, `make run`.

The engine is podman with its Docker-compatible API socket (`scripts/podman-engine.sh`, which
`.ci/run` sets up as root): there is no Docker engine on the machines that test this template and
no image registry, so the image is built on a Python base image built there from Debian packages.
The server listens on 127.0.0.1; containers reach it on the host's network, as prefect-docker
chooses by itself for a loopback API URL. Every process is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest

from tests.helpers import (
    OUTPUTS,
    TEMPLATE,
    Background,
    Project,
    add_pipeline,
    bake,
    flow_run_id,
    wait_until_healthy,
)

ENGINE_SCRIPT = TEMPLATE / "scripts" / "podman-engine.sh"
ENGINE_STATE = "/tmp/podman-engine"
BASE_IMAGE = "localhost/python-base:3.11-bookworm"
IMAGE = "container-ledger:e2e"
POOL = "containers"

BROKEN_PIPELINE = '''"""A node that always fails, to show a failure inside a container fails the flow run."""

from kedro.pipeline import Node, Pipeline


def explode(orders):
    raise ValueError("the container saw this node fail")


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([Node(explode, "orders", "never_written", name="explode")])
'''


def engine_script(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ENGINE_SCRIPT), command, ENGINE_STATE], capture_output=True, text=True, timeout=60, check=False
    )


def service_alive() -> bool:
    try:
        os.kill(int(open(f"{ENGINE_STATE}/service.pid").read().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def engine_env() -> tuple[dict[str, str], bool]:
    """Start podman's API service unless it already runs; what clients need to reach it, and
    whether this call started it (then the fixture stops it, by the PID file the script keeps)."""
    if shutil.which("podman") is None or not os.path.exists(f"{ENGINE_STATE}/containers.conf"):
        pytest.fail(f"podman is not set up: run `{ENGINE_SCRIPT} setup` as root (.ci/run does)")
    already_running = service_alive()
    started = engine_script("start")
    if started.returncode != 0:
        pytest.fail(f"podman's API service did not start: {started.stderr[-2000:]}")
    return dict(pair.split("=", 1) for pair in started.stdout.split()), not already_running


@pytest.fixture(scope="module")
def containers(tmp_path_factory):
    """A project whose image holds the example and a broken pipeline, a server, and a docker worker."""
    root = tmp_path_factory.mktemp("containers")
    engine, started_engine = engine_env()
    started: list[Background] = []
    try:
        path = bake(root, project_name="Container Ledger", work_pool_name=POOL)
        add_pipeline(path, "container_ledger", "broken", BROKEN_PIPELINE)
        project = Project.installed(path, root / "venv", extras="dev,docker")
        project.env |= engine | {"CONTAINER_ENGINE": "podman"}
        project.image_build = project.make("image", f"IMAGE={IMAGE}", f"BASE_IMAGE={BASE_IMAGE}", timeout=900)
        started.append(
            Background(["make", "server", f"PREFECT_PORT={project.port}"], path, project.env, root / "server.log")
        )
        wait_until_healthy(f"http://127.0.0.1:{project.port}/api/health", timeout=120)
        worker = Background(
            ["make", "agent", f"PREFECT_PORT={project.port}", f"WORK_POOL={POOL}", "WORK_POOL_TYPE=docker"],
            path,
            project.env,
            root / "worker.log",
        )
        started.append(worker)
        worker.wait_for_log("started", timeout=120)
        project.make("deploy", f"IMAGE={IMAGE}")
        project.make("deploy", "DEPLOYMENT=broken", "PIPELINE=broken", f"IMAGE={IMAGE}")
        yield project
    finally:  # also when setting up failed: the worker before the server, then the engine if ours
        for process in reversed(started):
            process.stop()
        if started_engine:
            engine_script("stop")


def test_make_image_builds_from_the_locked_dependencies_and_reports_size_and_time(containers):
    assert f"Built {IMAGE} in " in containers.image_build.stdout
    assert " MB)" in containers.image_build.stdout
    lock = (containers.path / "requirements.lock").read_text()
    assert "kedro==" in lock and "prefect==" in lock  # pinned, not ranges
    inspected = subprocess.run(
        ["podman", "image", "inspect", IMAGE], capture_output=True, text=True, env=containers.env, check=True
    )
    config = json.loads(inspected.stdout)[0]["Config"]
    assert config["User"] == "kedro"
    assert config["WorkingDir"] == "/home/kedro/project"


def test_nothing_local_or_secret_is_in_the_image(containers):
    listing = subprocess.run(
        ["podman", "run", "--rm", IMAGE, "find", "/home/kedro/project", "-not", "-path", "*/__pycache__*"],
        capture_output=True,
        text=True,
        env=containers.env,
        check=True,
        timeout=120,
    ).stdout.split()
    assert "/home/kedro/project/conf/base/catalog.yml" in listing
    assert "/home/kedro/project/.telemetry" in listing
    leaked = [p for p in listing if p.startswith(("/home/kedro/project/data/", "/home/kedro/project/.venv"))]
    assert leaked == [] and "/home/kedro/project/conf/local/credentials.yml" not in listing


def test_a_deployment_on_the_docker_pool_completes_inside_a_container(containers):
    for output in OUTPUTS:
        (containers.path / output).unlink(missing_ok=True)

    result = containers.make("run", timeout=600)

    assert "Completed" in result.stdout.splitlines()[-1], result.stdout + result.stderr
    for output in OUTPUTS:  # written through the mounted data folder, which outlives the container
        assert (containers.path / output).is_file(), output
    script = (
        "from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterType\n"
        "with get_client(sync_client=True) as client:\n"
        "    run = client.read_flow_run(sys.argv[1])\n"
        "    found = client.read_artifacts(artifact_filter=ArtifactFilter(\n"
        "        flow_run_id=ArtifactFilterFlowRunId(any_=[sys.argv[1]]), type=ArtifactFilterType(any_=['table'])))\n"
        "print(json.dumps({'name': run.name, 'infra': run.infrastructure_pid, 'rows': json.loads(found[0].data)}))\n"
    )
    found = containers.api(script, flow_run_id(result.stdout))
    assert found["infra"] and "http+docker://" in found["infra"]  # started by the docker worker
    # On the host's network a container's host name is this machine's: the summary names the
    # container by its ID instead, the one the docker worker recorded for the run.
    container_id = found["infra"].rsplit(":", 1)[1]
    hosts = {row["process"].rsplit(":", 1)[0] for row in found["rows"]}
    assert hosts == {container_id[:12]} and socket.gethostname() not in hosts, (hosts, found["infra"])
    assert {row["state"] for row in found["rows"]} == {"Completed"}


def test_a_failing_node_in_a_container_fails_the_run_naming_it(containers):
    result = containers.make("run", "DEPLOYMENT=broken", timeout=600, check=False)
    assert result.returncode != 0
    assert "node 'explode' failed: ValueError: the container saw this node fail" in result.stderr


def test_a_missing_image_stops_deploy_with_one_line_and_registers_nothing(containers):
    result = containers.make("deploy", "DEPLOYMENT=ghost", "IMAGE=container-ledger:never-built", check=False)
    assert result.returncode != 0
    assert "Image 'container-ledger:never-built' is not among podman's images" in result.stderr
    assert "make image IMAGE=container-ledger:never-built" in result.stderr
    assert "Traceback" not in result.stderr
    script = "with get_client(sync_client=True) as client:\n    print(json.dumps([d.name for d in client.read_deployments()]))\n"
    assert "ghost" not in containers.api(script)


def test_a_docker_worker_without_a_reachable_engine_is_one_line(containers):
    env = containers.env | {"DOCKER_HOST": "unix:///nonexistent/engine.sock"}
    result = subprocess.run(
        ["make", "agent", f"PREFECT_PORT={containers.port}", f"WORK_POOL={POOL}", "WORK_POOL_TYPE=docker"],
        cwd=containers.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "cannot reach a container engine at unix:///nonexistent/engine.sock" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_image_build_with_an_engine_that_is_missing_is_one_line(containers):
    result = containers.make("image", "CONTAINER_ENGINE=no-such-engine", f"IMAGE={IMAGE}", check=False)
    assert result.returncode != 0
    assert "Container engine 'no-such-engine' is not installed" in result.stderr
    assert "Traceback" not in result.stderr
