"""An existing Kedro project gains the Prefect layer by the README's steps ("Add it to an existing
Kedro project"), then `make server`, `make agent`, `make deploy` and `make run` end Completed.

The project is made by plain `kedro new` (Kedro's default template, no starter download); its
pipeline is a user's own, written here, which no other test runs.
"""

from __future__ import annotations

import shutil
import tomllib

import yaml

from tests.helpers import DEV_BIN, TEMPLATE, Background, Project, project_env, run, wait_until_healthy

LAYER = TEMPLATE / "{{cookiecutter.repo_name}}"

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


def adopt_by_the_readme(project) -> None:
    """The README's steps, one by one."""
    # 1. Copy the layer, the Makefile and prefect.yml from the template.
    shutil.copytree(LAYER / "src" / "kedro_prefect", project / "src" / "kedro_prefect")
    shutil.copy(LAYER / "Makefile", project / "Makefile")
    shutil.copy(LAYER / "conf" / "base" / "prefect.yml", project / "conf" / "base" / "prefect.yml")
    # 2. Keep the deployments that fit your pipelines (`daily-reports` is the example's).
    prefect_yml = project / "conf" / "base" / "prefect.yml"
    config = yaml.safe_load(prefect_yml.read_text())
    config["deployments"] = [entry for entry in config["deployments"] if entry["name"] == "default"]
    prefect_yml.write_text(yaml.safe_dump(config, sort_keys=False))
    # 3. pyproject.toml: Prefect as a dependency, `kedro prefect` as a project command.
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert "dependencies = [\n" in text
    text = text.replace("dependencies = [\n", 'dependencies = [\n    "prefect>=3.9,<4",\n', 1)
    text += '\n[project.entry-points."kedro.project_commands"]\nprefect = "kedro_prefect.cli:commands"\n'
    pyproject.write_text(text)
    tomllib.loads(text)  # still valid TOML


def test_plain_kedro_project_runs_on_prefect_by_the_readme_steps(tmp_path):
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
    add_users_pipeline(path)
    adopt_by_the_readme(path)

    project = Project.installed(path, tmp_path / "venv")
    listed = run(["kedro", "prefect", "--help"], cwd=path, env=project.env, timeout=120).stdout
    assert "deploy" in listed and "agent" in listed

    # `make server` and `make agent` in the foreground, as the README's first steps do.
    server = Background(["make", "server", f"PREFECT_PORT={project.port}"], path, project.env, tmp_path / "server.log")
    agent = None
    try:
        server.wait_for_log("Check out the dashboard at", timeout=120)
        wait_until_healthy(f"http://127.0.0.1:{project.port}/api/health")
        agent = Background(["make", "agent", f"PREFECT_PORT={project.port}"], path, project.env, tmp_path / "agent.log")
        agent.wait_for_log("started!", timeout=120)
        assert "Created work pool 'legacy-ledger-pool'" in (tmp_path / "agent.log").read_text()

        deploy = project.make("deploy")
        assert "Registered deployment 'legacy-ledger/default'" in deploy.stdout
        result = project.make("run", timeout=600)
        assert "Completed" in result.stdout.splitlines()[-1]
        assert (path / "data" / "08_reporting" / "total.txt").read_text() == "55\n"
    finally:
        if agent is not None:
            agent.stop()  # workers before the server
        server.stop()
