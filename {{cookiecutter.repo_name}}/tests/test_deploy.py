"""This project deployed to a real Prefect server and run to Completed: `make test-deploy`.

It starts a throwaway server and worker (own PREFECT_HOME, a free port: a server you have
running is not touched), registers every deployment of conf/<env>/prefect.yml and runs the
first one, which writes its outputs to data/ as `kedro run` would: each file the run says it
saved must have been written by it. `make test` skips it (marker `deploy`, which kedro-prefect
registers with pytest).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.deploy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kedro_prefect(env: dict[str, str], *args: str, timeout: float = 300):
    """`kedro prefect ...`, as the Makefile runs it; the caller reads the exit code."""
    command = [sys.executable, "-m", "kedro_prefect", *args]
    return subprocess.run(
        command,
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def prefect_env(tmp_path: Path):
    """A server and a worker of this project's pool, started for this test, stopped after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PREFECT_WORKER_QUERY_SECONDS"] = "1"
    try:
        up = kedro_prefect(env, "up", "--port", str(port))
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        kedro_prefect(env, "down", timeout=120)


def test_deployments_register_and_the_first_runs_to_completed(prefect_env):
    from kedro_prefect.config import load_prefect_config

    deployments = [entry.name for entry in load_prefect_config(PROJECT).deployments]

    deploy = kedro_prefect(prefect_env, "deploy")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    for name in deployments:
        registered = f"/{name}' (" in deploy.stdout
        assert registered, f"{name} not registered:\n{deploy.stdout}"

    started = time.time()
    run = kedro_prefect(prefect_env, "run", "--deployment", deployments[0], timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1].strip() == "Completed"
    for location in saved_locations(run.stdout):
        if "://" in location:
            continue  # remote storage: its own tests say where it went
        path = PROJECT / location
        assert path.exists(), f"the run says it saved {location}, which is not there"
        assert path.stat().st_mtime >= started - 1, f"{location} is older than the run"


def saved_locations(output: str) -> list[str]:
    """The locations of the `Saved: a, b` line `kedro prefect run` prints for a Completed run."""
    saved = [line for line in output.splitlines() if line.startswith("Saved: ")]
    return saved[0].removeprefix("Saved: ").split(", ") if saved else []
