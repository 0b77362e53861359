"""An existing Kedro project gains the Prefect layer by the README's steps ("Add it to an existing
Kedro project"), then `make server`, `make agent`, `make deploy` and `make run` end Completed.

The project is made by plain `kedro new` (Kedro's default template, no starter download); its
pipeline is a user's own, written here, which no other test runs.
"""

from __future__ import annotations

import re
import shutil
import tomllib

import yaml

from tests.helpers import DEV_BIN, LAYER_WHEEL, TEMPLATE, Background, Project, project_env, run, wait_until_healthy

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
    # 1. Copy the layer's wheel, the Makefile, prefect.toml, the deploy test and prefect.yml from the template.
    (project / "vendor").mkdir()
    shutil.copy(LAYER_WHEEL, project / "vendor" / LAYER_WHEEL.name)
    for name in ("Makefile", "prefect.toml"):
        shutil.copy(LAYER / name, project / name)
    (project / "tests").mkdir(exist_ok=True)
    shutil.copy(LAYER / "tests" / "test_deploy.py", project / "tests" / "test_deploy.py")
    shutil.copy(LAYER / "conf" / "base" / "prefect.yml", project / "conf" / "base" / "prefect.yml")
    with (project / ".gitignore").open("a") as ignore:
        ignore.write("\n.prefect/\n.venv/\n")
    # 2. Keep what fits your pipelines: `daily-reports` and the `reporting` tag are the example's.
    prefect_yml = project / "conf" / "base" / "prefect.yml"
    config = yaml.safe_load(prefect_yml.read_text())
    config["deployments"] = [entry for entry in config["deployments"] if entry["name"] == "default"]
    del config["execution"]["tag_overrides"]["reporting"]
    prefect_yml.write_text(yaml.safe_dump(config, sort_keys=False))
    # 3. pyproject.toml: the README's block, pasted.
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert "dependencies = [\n" in text
    added = "".join(f'    "{requirement}",\n' for requirement in README_DEPENDENCIES)
    text = text.replace("dependencies = [\n", "dependencies = [\n" + added, 1)
    text += README_PYPROJECT_TABLES
    pyproject.write_text(text)
    tomllib.loads(text)  # still valid TOML


def readme_block(language: str, containing: str) -> str:
    """The code block of the README's adoption section that holds `containing`."""
    section = README.split("### Add the Prefect layer to an existing Kedro project", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(rf"```{language}\n(.*?)```", section, re.S)
    return next(block for block in blocks if containing in block)


README = (TEMPLATE / "README.md").read_text()
# What the README says to add to pyproject.toml, after the dependencies (which the test adds above).
README_PYPROJECT_TABLES = "\n" + readme_block("toml", "[project.optional-dependencies]").split("\n\n", 1)[1]
README_DEPENDENCIES = tomllib.loads(readme_block("toml", "[project.optional-dependencies]"))["project"]["dependencies"]


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
    adopt_by_the_readme(path)
    project = Project.installed(path, tmp_path / "venv")
    listed = run(["kedro", "prefect", "--help"], cwd=path, env=project.env, timeout=120).stdout
    assert "deploy" in listed and "agent" in listed

    # `kedro new --example n` has no nodes yet: the first deploy says so, in one line.
    empty = project.make("deploy", check=False)
    assert empty.returncode != 0
    assert [line for line in empty.stderr.splitlines() if line.startswith("Error:")] == [
        "Error: Pipeline '__default__' has no nodes. Add nodes to it (kedro pipeline create <name> makes a pipeline "
        "package that find_pipelines() registers), or run another pipeline."
    ]

    add_users_pipeline(path)
    assert "No node or pipeline tests yet" in project.make("test").stdout
    project.make("format")
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
