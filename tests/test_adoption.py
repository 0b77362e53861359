"""An existing Kedro project gains the Prefect layer by the README's steps ("Add it to an existing
Kedro project"): install kedro-prefect's wheel, `kedro prefect init`, then `make server`,
`make agent`, `make deploy` and `make run` end Completed, and `make test`, `make lint` and
`make test-deploy` work.

The project is made by plain `kedro new` (Kedro's default template, no starter download); its
pipeline is a user's own, written here, which no other test runs. The wheel is installed with
`uv pip install`, pip's interface at uv's speed.
"""

from __future__ import annotations

import sys

from tests.helpers import (
    DEV_BIN,
    LAYER_WHEEL,
    Background,
    Project,
    Terminal,
    free_port,
    project_env,
    run,
    wait_until_healthy,
)

NODES = '''"""A user's own pipeline: totals of a few numbers, written where the test can read them."""

from pathlib import Path


def numbers(count: int) -> list[int]:
    return list(range(1, count + 1))


def total(values: list[int]) -> int:
    return sum(values)


def write_report(value: int) -> None:
    Path("data/08_reporting").mkdir(parents=True, exist_ok=True)
    Path("data/08_reporting/total.txt").write_text(f"{value}\\n")
'''

PIPELINE = """from kedro.pipeline import Node, Pipeline

from .nodes import numbers, total, write_report


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(numbers, "params:count", "values", name="make_numbers"),
            Node(total, "values", "sum_of_values", name="add_them_up"),
            Node(write_report, "sum_of_values", None, name="write_report"),
        ]
    )
"""


def add_users_pipeline(project) -> None:
    folder = project / "src" / "legacy_ledger" / "pipelines" / "totals"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("from .pipeline import create_pipeline  # noqa: F401\n")
    (folder / "nodes.py").write_text(NODES)
    (folder / "pipeline.py").write_text(PIPELINE)
    (project / "conf" / "base" / "parameters.yml").write_text("count: 10\n")


def kedro_prefect_init(project: Project, log) -> tuple[int, str]:
    """`kedro prefect init` as a person types it: in a terminal, through Kedro's CLI."""
    terminal = Terminal(["kedro", "prefect", "init"], project.path, project.env, log)
    return terminal.finish(timeout=180)


def tree(path) -> dict[str, bytes]:
    return {str(file.relative_to(path)): file.read_bytes() for file in sorted(path.rglob("*")) if file.is_file()}


def test_plain_kedro_project_runs_on_prefect_after_kedro_prefect_init(tmp_path):
    new = run(
        [
            str(DEV_BIN / "kedro"),
            "new",
            "--name",
            "Legacy Ledger",
            "--tools",
            "none",
            "--example",
            "n",
            "--telemetry",
            "no",
        ],
        cwd=tmp_path,
        env=project_env(),
        timeout=300,
    )
    path = tmp_path / "legacy-ledger"
    assert (path / "pyproject.toml").is_file(), new.stdout
    venv = tmp_path / "venv"
    run([str(DEV_BIN / "uv"), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=tmp_path)
    project = Project(path, venv, free_port())
    # The README's first step: the layer's wheel (`pip install kedro-prefect` once it is on PyPI).
    install = [str(DEV_BIN / "uv"), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
    run([*install, str(LAYER_WHEEL)], cwd=path, env=project.env, timeout=600)

    # `kedro new --example n` has no nodes yet: init says so in one line and writes nothing.
    before = tree(path)
    status, screen = kedro_prefect_init(project, tmp_path / "init-empty.log")
    assert status == 1, screen
    assert "Error: No registered pipeline has nodes yet, so there is nothing to deploy." in screen
    assert tree(path) == before

    add_users_pipeline(path)
    status, screen = kedro_prefect_init(project, tmp_path / "init.log")
    assert status == 0, screen
    for line in [
        "create     conf/base/prefect.yml  (deployments: default, totals)",
        "create     Makefile",
        "create     tests/test_deploy.py  (make test-deploy)",
        "update     pyproject.toml  (depends on kedro-prefect>=",
    ]:
        assert line in screen, screen
    # The project and the dev tools init added (kedro-prefect from the wheel's folder until it is on PyPI).
    project.make("install", f"INSTALL_FLAGS=--find-links={LAYER_WHEEL.parent}", timeout=600)
    assert "No node or pipeline tests yet" in project.make("test").stdout
    project.make("format")  # Kedro's own files are not formatted by ruff
    project.make("lint")
    assert "1 passed" in project.make("test-deploy", timeout=900).stdout
    run(["git", "init", "--quiet"], cwd=path, env=project.env)
    ignored = run(["git", "check-ignore", ".prefect/prefect.db", ".venv/bin/python"], cwd=path, env=project.env)
    assert ignored.stdout.split() == [".prefect/prefect.db", ".venv/bin/python"]

    # `make server` and `make agent` in the foreground, as the README's first steps do.
    server = Background(["make", "server", f"PREFECT_PORT={project.port}"], path, project.env, tmp_path / "server.log")
    agent = None
    try:
        server.wait_for_log("Check out the dashboard at", timeout=120)
        wait_until_healthy(f"http://127.0.0.1:{project.port}/api/health")
        agent = Background(["make", "agent"], path, project.env, tmp_path / "agent.log")
        agent.wait_for_log("started!", timeout=120)
        assert "Created work pool 'legacy-ledger-pool'" in (tmp_path / "agent.log").read_text()

        deploy = run(["make", "deploy"], cwd=path, env=project.env)
        assert "Registered deployment 'legacy-ledger/default'" in deploy.stdout
        result = run(["make", "run"], cwd=path, env=project.env, timeout=600)
        assert "Completed" in result.stdout
        assert (path / "data" / "08_reporting" / "total.txt").read_text() == "55\n"
    finally:
        if agent is not None:
            agent.stop()  # workers before the server
        server.stop()
