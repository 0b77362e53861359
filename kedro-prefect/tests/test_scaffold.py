"""``kedro prefect init``: what it writes into a project, what it refuses, and that it refuses before writing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from kedro_prefect.config import parse_prefect_config
from kedro_prefect.operations.scaffold import (
    INCLUDED_MAKEFILE,
    InitRefused,
    deployment_names,
    layer_requirement,
    makefile_names,
    plan_init,
    prefect_yml,
    project_file,
    pyproject_with_layer,
    write_plan,
)

# pyproject.toml and requirements.txt as `kedro new --tools none --example no` (Kedro 1.7.0) writes them.
KEDRO_NEW_PYPROJECT = """\
[build-system]
requires = [
    "setuptools",
]
build-backend = "setuptools.build_meta"

[project]
requires-python = ">=3.10"
name = "plain_shop"
readme = "README.md"
dynamic = [
    "version",
]
dependencies = [
    "ipython>=8.10",
    "jupyterlab>=3.0",
    "notebook",
    "kedro~=1.7.0",
]

[project.scripts]
plain-shop = "plain_shop.__main__:main"

[tool.kedro]
package_name = "plain_shop"
project_name = "Plain Shop"
kedro_init_version = "1.7.0"
source_dir = "src"
"""
KEDRO_NEW_REQUIREMENTS = "ipython>=8.10\njupyterlab>=3.0\nnotebook\nkedro~=1.7.0\n"
REQUIREMENT = layer_requirement()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(KEDRO_NEW_PYPROJECT)
    (tmp_path / "requirements.txt").write_text(KEDRO_NEW_REQUIREMENTS)
    (tmp_path / ".gitignore").write_text("# Kedro's\n.venv\ndata/**\n")
    (tmp_path / "conf" / "base").mkdir(parents=True)
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def init(root: Path, pipelines: list[str] | None = None, force: bool = False) -> dict[str, str]:
    changes = write_plan(plan_init(root, ["__default__", "totals"] if pipelines is None else pipelines, force=force))
    return {change.path: change.action for change in changes}


def test_a_plain_kedro_project_gets_every_file_and_a_deployment_per_pipeline(project):
    assert init(project) == {
        "conf/base/prefect.yml": "create",
        "register_prefect_flow.py": "create",
        "prefect.toml": "create",
        "tests/test_deploy.py": "create",
        "Makefile": "create",
        "pyproject.toml": "update",
        "requirements.txt": "update",
        ".gitignore": "update",
        ".telemetry": "create",
    }
    for name, written in [
        ("Makefile", "Makefile"),
        ("register_prefect_flow.py", "register_prefect_flow.py"),
        ("prefect.toml", "prefect.toml"),
        ("test_deploy.py", "tests/test_deploy.py"),
    ]:
        assert (project / written).read_text() == project_file(name)
    config = parse_prefect_config(yaml.safe_load((project / "conf/base/prefect.yml").read_text()))
    assert [(entry.name, entry.pipeline) for entry in config.deployments] == [
        ("default", "__default__"),
        ("totals", "totals"),
    ]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"][-1] == REQUIREMENT
    assert pyproject["project"]["optional-dependencies"]["dev"][0].startswith("pytest")
    assert (project / "pyproject.toml").read_text().startswith(KEDRO_NEW_PYPROJECT.split('    "kedro~=1.7.0",')[0])
    assert (project / "requirements.txt").read_text() == KEDRO_NEW_REQUIREMENTS + REQUIREMENT + "\n"
    ignored = (project / ".gitignore").read_text().splitlines()
    assert ".prefect/" in ignored and ".venv/" not in ignored  # Kedro's `.venv` already covers it
    assert (project / ".telemetry").read_text() == "consent: false\n"


def test_a_second_init_changes_nothing(project):
    init(project)
    before = snapshot(project)
    assert set(init(project).values()) == {"unchanged"}
    assert snapshot(project) == before


def test_a_file_that_differs_stops_init_in_one_line_with_nothing_written(project):
    (project / "register_prefect_flow.py").write_text("# mine\n")
    (project / "conf/base/prefect.yml").write_text("deployments: []\n")
    before = snapshot(project)
    with pytest.raises(InitRefused) as refused:
        init(project)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("conf/base/prefect.yml, register_prefect_flow.py already exist and differ")
    assert "kedro prefect init --force" in message
    assert snapshot(project) == before


def test_force_replaces_what_differs(project):
    (project / "register_prefect_flow.py").write_text("# mine\n")
    assert init(project, force=True)["register_prefect_flow.py"] == "overwrite"
    assert (project / "register_prefect_flow.py").read_text() == project_file("register_prefect_flow.py")


def make(project: Path, *args: str) -> str:
    done = subprocess.run(
        ["make", "--no-print-directory", *args], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_existing_makefile_includes_ours_and_keeps_its_targets_and_default_goal(project):
    mine = "docs:\n\t@echo building the docs\n"
    (project / "Makefile").write_text(mine)
    changes = init(project)
    assert (changes["Makefile"], changes[INCLUDED_MAKEFILE]) == ("update", "create")
    assert (project / "Makefile").read_text().startswith(mine)
    assert (project / INCLUDED_MAKEFILE).read_text() == project_file("Makefile")
    assert make(project) == "building the docs\n"  # still the user's default goal
    assert "deploy " in make(project, "help")
    assert set(init(project).values()) == {"unchanged"}


def test_a_makefile_whose_names_clash_stops_init_naming_them(project):
    (project / "Makefile").write_text("PYTHON = python3\n\ntest:\n\t$(PYTHON) -m pytest\n")
    before = snapshot(project)
    with pytest.raises(InitRefused, match=r"your Makefile defines PYTHON, test, as kedro-prefect's Makefile does"):
        init(project)
    assert snapshot(project) == before
    assert init(project, force=True)["Makefile"] == "overwrite"
    assert (project / "Makefile").read_text() == project_file("Makefile")


def test_makefile_names_are_targets_and_variables_not_special_targets():
    text = (
        "export A := 1\nB ?= 2\noverride C += 3\ndefine D\nx\nendef\n.PHONY: e\ne f: g\n\t@echo $(A): x\n"
        "h::\n%.o: %.c\nI != date\n"
    )
    assert makefile_names(text) == {"A", "B", "C", "D", "e", "f", "h", "I"}
    assert {"help", "deploy", "PYTHON", "WORK_POOL"} <= makefile_names(project_file("Makefile"))


def test_no_pipeline_with_nodes_is_refused_before_anything_is_written(project):
    before = snapshot(project)
    with pytest.raises(InitRefused, match="No registered pipeline has nodes"):
        init(project, pipelines=[])
    assert snapshot(project) == before


def test_deployment_names_put_default_first_and_stay_url_safe():
    assert deployment_names(["b", "__default__", "a"]) == {"__default__": "default", "a": "a", "b": "b"}
    assert deployment_names(["__default__", "default", "Data Science"]) == {
        "__default__": "default",
        "Data Science": "data-science",
        "default": "default-pipeline",
    }


def test_the_written_prefect_yml_is_valid_and_keeps_the_execution_comments():
    text = prefect_yml(["__default__"])
    assert text.startswith(project_file("prefect.yml"))
    assert parse_prefect_config(yaml.safe_load(text)).deployments[0].name == "default"


def test_the_layer_is_pinned_to_this_minor_release():
    assert layer_requirement("0.3.0") == "kedro-prefect>=0.3.0,<0.4"
    assert layer_requirement("1.2.3") == "kedro-prefect>=1.2.3,<2"


@pytest.mark.parametrize(
    ("text", "added"),
    [
        ('[project]\nname = "p"\ndependencies = [\n    "kedro",  # the framework\n]\n', True),
        ('[project]\nname = "p"\ndependencies = [\n    "kedro"\n]\n', True),
        ('[project]\nname = "p"\ndependencies = ["kedro"]\n', False),  # one line: said, not rewritten
        ('[project]\nname = "p"\ndependencies = [\n    "kedro-prefect",\n]\n', False),  # already there
    ],
)
def test_the_dependency_is_added_to_a_multi_line_list_only(text, added):
    edited, done, skipped = pyproject_with_layer(text, REQUIREMENT)
    dependencies = tomllib.loads(edited)["project"]["dependencies"]
    assert (REQUIREMENT in dependencies) is added
    assert ("# the framework" in edited) is ("# the framework" in text)
    if "kedro-prefect" not in text:
        assert bool(skipped) is not added


def test_an_existing_dev_extra_is_left_alone_and_a_missing_one_joins_the_table():
    text = '[project]\nname = "p"\ndependencies = [\n]\n\n[project.optional-dependencies]\ndev = ["pytest"]\n'
    assert tomllib.loads(pyproject_with_layer(text, REQUIREMENT)[0])["project"]["optional-dependencies"] == {
        "dev": ["pytest"]
    }
    other = text.replace('dev = ["pytest"]', 'docs = ["mkdocs"]')
    extras = tomllib.loads(pyproject_with_layer(other, REQUIREMENT)[0])["project"]["optional-dependencies"]
    assert extras["docs"] == ["mkdocs"] and extras["dev"][1].startswith("ruff")


def test_the_deploy_marker_is_registered_with_pytest_by_the_installed_package(tmp_path):
    markers = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "@pytest.mark.deploy: deploys this project" in markers.stdout


USER_PIPELINE = """\
from kedro.pipeline import Node, Pipeline


def total(values):
    return sum(values)


def create_pipeline(**kwargs):
    return Pipeline([Node(total, "params:values", "sum_of_values", name="add_them_up")])
"""
REGISTRY = """\
from kedro.framework.project import find_pipelines


def register_pipelines():
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(pipelines.values())
    return pipelines
"""


def test_kedro_prefect_init_finds_the_projects_pipelines_through_kedro(project):
    """The command itself, in a project whose package is not installed (as after `kedro new`)."""
    package = project / "src" / "plain_shop"
    (package / "pipelines" / "totals").mkdir(parents=True)
    (package / "__init__.py").write_text('__version__ = "0.1"\n')
    (package / "settings.py").write_text("")
    (package / "pipeline_registry.py").write_text(REGISTRY)
    (package / "pipelines" / "__init__.py").write_text("")
    (package / "pipelines" / "totals" / "__init__.py").write_text("from .pipeline import create_pipeline  # noqa\n")
    (package / "pipelines" / "totals" / "pipeline.py").write_text(USER_PIPELINE)
    command = [sys.executable, "-m", "kedro_prefect", "init"]
    done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "create     conf/base/prefect.yml  (deployments: default, totals)" in done.stdout

    shutil.rmtree(package / "pipelines" / "totals")  # as `kedro new --example no` leaves it
    (project / "conf/base/prefect.yml").unlink()
    empty = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert empty.returncode == 1
    assert [line for line in empty.stderr.splitlines() if line.strip()] == [
        "Error: No registered pipeline has nodes yet, so there is nothing to deploy. Create one (kedro pipeline "
        "create <name>, then add nodes), then run kedro prefect init again."
    ]
