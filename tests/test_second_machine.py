"""A worker whose clone of the project sits at another path than the deploying machine's.

As the README's "Workers on other machines" tells a user: the first clone (the machine that
deploys) runs the server and registers the deployments; a second clone at another path, with its
own venv, runs `make agent`. The first clone's folder is then moved away, so the path the
deployments were registered from no longer exists, and the second clone's `make run` must still
end Completed, writing its outputs into the second clone. A worker that was not started from a
clone (plain `prefect worker start`, no KEDRO_PROJECT_PATH) fails the run with the one line that
says how to fix it. One server, two workers, all on 127.0.0.1; every process stopped by its PID.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.helpers import OUTPUTS, Background, Project, bake, run, wait_until_healthy

POOL = "second-machine-ledger-pool"
QUEUE = "default"


@pytest.fixture(scope="module")
def clones(tmp_path_factory):
    """The deploying clone with a server of its own (its database outside both clones), and a
    second clone at another path with its own venv and nothing started yet."""
    root = tmp_path_factory.mktemp("machines")
    first = Project.installed(bake(root / "deployer", project_name="Second Machine Ledger"), root / "venv-first")
    second_path = shutil.copytree(first.path, root / "second-machine" / "ledger-clone")
    second = Project.installed(second_path, root / "venv-second")
    second.port = first.port  # both talk to the first machine's server
    server = Background(
        ["make", "server", f"PREFECT_PORT={first.port}", f"PREFECT_HOME={root / 'server-home'}"],
        first.path,
        first.env,
        root / "server.log",
    )
    try:
        wait_until_healthy(f"http://127.0.0.1:{first.port}/api/health", timeout=120)
        # The pool deploy needs, whichever test runs first (`make agent` would also create it).
        api = {**first.env, "PREFECT_API_URL": f"http://127.0.0.1:{first.port}/api"}
        run([str(first.venv / "bin" / "prefect"), "work-pool", "create", POOL, "--type", "process"], root, api)
        yield first, second
    finally:
        server.stop()


def test_a_worker_runs_deployments_from_its_own_clone_when_the_deploying_clone_is_gone(clones, tmp_path):
    first, second = clones
    worker = Background(["make", "agent", f"PREFECT_PORT={second.port}"], second.path, second.env, tmp_path / "w.log")
    moved = first.path.with_name("moved-away")
    try:
        worker.wait_for_log("started", timeout=90)  # `make agent` also creates the pool deploy needs
        first.make("deploy")
        first.path.rename(moved)  # the registered path no longer exists on any machine
        for output in OUTPUTS:
            (second.path / output).unlink(missing_ok=True)  # a clone copied after a run carries outputs
        started = time.time()

        result = second.make("run", timeout=600)

        assert "Completed" in result.stdout.splitlines()[-1], result.stdout + result.stderr
        for output in OUTPUTS:
            written = second.path / output
            assert written.is_file(), f"{output} not written in the second clone"
            assert written.stat().st_mtime >= started - 1, f"{output} in the second clone is older than the run"
        # A run that went to the registered path would have recreated it (Kedro makes data folders).
        assert not first.path.exists(), "the run wrote to the path the deployment was registered from"
    finally:
        worker.stop()
        if moved.exists():
            moved.rename(first.path)


def test_a_worker_without_a_clone_fails_the_run_with_the_fix(clones, tmp_path):
    first, second = clones
    first.make("deploy")
    elsewhere = first.path.with_name("moved-away-too")
    # A worker started by hand, not from a clone: nothing tells its runs where the project is.
    plain = Background(
        [str(second.venv / "bin" / "prefect"), "worker", "start", "--pool", POOL, "--work-queue", QUEUE],
        tmp_path,
        {**second.env, "PREFECT_API_URL": f"http://127.0.0.1:{second.port}/api", "PREFECT_WORKER_QUERY_SECONDS": "1"},
        tmp_path / "plain.log",
    )
    try:
        plain.wait_for_log("started", timeout=90)
        first.path.rename(elsewhere)

        result = second.make("run", timeout=600, check=False)

        assert result.returncode != 0
        message = result.stdout + result.stderr
        assert "no clone of the project at" in message and "`make agent`" in message, message
        assert "Traceback" not in result.stderr
    finally:
        plain.stop()
        if elsewhere.exists():
            elsewhere.rename(first.path)
