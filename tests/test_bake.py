"""Baking over the option matrix: the exact file list, nothing left unrendered, valid files."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.helpers import LAYER_VERSION, TEMPLATE, bake

# Every file a project contains; {pkg} is the python_package answer.
EXPECTED_FILES = """
.dockerignore
.gitignore
.telemetry
Dockerfile
Makefile
README.md
conf/base/catalog.yml
conf/base/parameters.yml
conf/base/prefect.yml
conf/local/.gitkeep
conf/local/credentials.yml
data/01_raw/customers.csv
data/01_raw/orders.csv
data/02_intermediate/.gitkeep
data/03_primary/.gitkeep
data/08_reporting/.gitkeep
prefect.toml
pyproject.toml
register_prefect_flow.py
src/{pkg}/__init__.py
src/{pkg}/__main__.py
src/{pkg}/pipeline_registry.py
src/{pkg}/pipelines/__init__.py
src/{pkg}/pipelines/data_processing/__init__.py
src/{pkg}/pipelines/data_processing/nodes.py
src/{pkg}/pipelines/data_processing/pipeline.py
src/{pkg}/pipelines/reporting/__init__.py
src/{pkg}/pipelines/reporting/nodes.py
src/{pkg}/pipelines/reporting/pipeline.py
src/{pkg}/settings.py
tests/__init__.py
tests/pipelines/__init__.py
tests/pipelines/test_data_processing.py
tests/pipelines/test_reporting.py
tests/test_deploy.py
vendor/kedro_prefect-{layer}-py3-none-any.whl
""".split()


def expected_files(package: str) -> set[str]:
    """The file list of a project whose python_package is `package`."""
    return {name.format(pkg=package, layer=LAYER_VERSION) for name in EXPECTED_FILES}


# (answers, expected repo_name, expected python_package)
MATRIX = [
    ({}, "kedro-prefect-project", "kedro_prefect_project"),
    ({"telemetry_consent": True}, "kedro-prefect-project", "kedro_prefect_project"),
    ({"project_name": "Rocket Launch Planner"}, "rocket-launch-planner", "rocket_launch_planner"),
    ({"project_name": "ACME Fuel-Cell Tracker"}, "acme-fuel-cell-tracker", "acme_fuel_cell_tracker"),
    ({"project_name": "Données Météo Été", "telemetry_consent": "yes"}, "donnees-meteo-ete", "donnees_meteo_ete"),
    (
        {"project_name": "Custom Names", "repo_name": "My.Repo_2", "python_package": "custom_pkg2"},
        "My.Repo_2",
        "custom_pkg2",
    ),
    (
        {
            "project_name": "Pools",
            "kedro_version": "1.7.2",
            "work_pool_name": "gpu.pool-1",
            "work_queue_name": "high_priority",
        },
        "pools",
        "pools",
    ),
]


def all_files(project: Path) -> list[Path]:
    return sorted(path for path in project.rglob("*") if path.is_file())


@pytest.fixture(
    scope="module", params=MATRIX, ids=lambda case: case[1] + ("-consent" if case[0].get("telemetry_consent") else "")
)
def baked(request, tmp_path_factory):
    answers, repo_name, package = request.param
    project = bake(tmp_path_factory.mktemp("bake"), **answers)
    return project, answers, repo_name, package


def test_folder_and_package_names(baked):
    project, _, repo_name, package = baked
    assert project.name == repo_name
    assert (project / "src" / package / "__init__.py").is_file()


def test_exact_file_list(baked):
    project, _, _, package = baked
    found = sorted(path.relative_to(project).as_posix() for path in all_files(project))
    assert found == sorted(expected_files(package))


def test_nothing_left_unrendered(baked):
    project, *_ = baked
    for path in all_files(project):
        if path.suffix == ".whl":
            continue  # the kedro-prefect wheel: copied as bytes (test_layer_wheel.py checks it)
        text = path.read_text()
        assert "{{" not in text and "{%" not in text and "cookiecutter" not in text, path


def test_answers_reach_pyproject_and_the_makefile_holds_none(baked):
    project, answers, repo_name, package = baked
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    default_version = json.loads((TEMPLATE / "cookiecutter.json").read_text())["kedro_version"]
    assert pyproject["tool"]["kedro"]["kedro_init_version"] == answers.get("kedro_version", default_version)
    prefect = pyproject["tool"]["kedro_prefect"]
    assert prefect == {
        "flow_name": repo_name,
        "work_pool": answers.get("work_pool_name", f"{repo_name}-pool"),
        "work_queue": answers.get("work_queue_name", "default"),
    }
    # The Makefile is the same in every project, so it can be copied into any Kedro project.
    assert (project / "Makefile").read_bytes() == (TEMPLATE / "{{cookiecutter.repo_name}}" / "Makefile").read_bytes()


def test_the_prefect_layer_is_the_vendored_wheel_and_the_user_package_holds_kedro_code(baked):
    project, _, _, package = baked
    assert not (project / "src" / "kedro_prefect").exists()
    (wheel,) = (project / "vendor").glob("kedro_prefect-*.whl")
    assert wheel.read_bytes() == (TEMPLATE / "{{cookiecutter.repo_name}}" / "vendor" / wheel.name).read_bytes()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    (layer,) = [Requirement(text) for text in pyproject["project"]["dependencies"] if text.startswith("kedro-prefect")]
    assert LAYER_VERSION in layer.specifier
    assert pyproject["tool"]["uv"]["find-links"] == ["vendor"]
    user_package = {
        path.relative_to(project / "src" / package).parts[0] for path in (project / "src" / package).rglob("*.py")
    }
    assert user_package == {"__init__.py", "__main__.py", "pipeline_registry.py", "pipelines", "settings.py"}
    assert {path.name for path in (project / "src").iterdir()} == {package}
    assert (project / "register_prefect_flow.py").read_bytes() == (
        TEMPLATE / "{{cookiecutter.repo_name}}" / "register_prefect_flow.py"
    ).read_bytes()


def test_telemetry_file_records_the_answer(baked):
    project, answers, *_ = baked
    consent = str(answers.get("telemetry_consent", False)).lower() in {"true", "yes"}
    assert yaml.safe_load((project / ".telemetry").read_text()) == {"consent": consent}
    assert ".telemetry" not in [line.strip() for line in (project / ".gitignore").read_text().splitlines()]


IGNORED = [
    "data/03_primary/order_table.csv",
    "data/08_reporting/top_customers.csv",
    "data/.dask-shared/run/cleaned_orders.pickle",
    "conf/local/credentials.yml",
    "conf/local/prefect.yml",
    "conf/base/credentials.yml",
    "conf/prod/db_credentials.yml",
    ".prefect/server.pid",
    ".prefect/profiles.toml",
    ".venv/bin/python",
    "src/pkg/__pycache__/nodes.cpython-311.pyc",
]


def test_gitignore_keeps_outputs_secrets_and_local_state_out_and_every_shipped_file_in(baked, tmp_path):
    project, *_ = baked
    clone = shutil.copytree(project, tmp_path / project.name)
    subprocess.run(["git", "init", "--quiet", str(clone)], check=True)
    for relative in IGNORED:
        (clone / relative).parent.mkdir(parents=True, exist_ok=True)
        (clone / relative).touch()
    visible = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.split()
    shipped = [path.relative_to(project).as_posix() for path in all_files(project)]
    # Every shipped file is kept (raw data, .gitkeep, .telemetry) but the local credentials placeholder.
    assert sorted(visible) == sorted(path for path in shipped if path != "conf/local/credentials.yml")


def test_python_compiles_and_config_parses(baked):
    project, _, _, package = baked
    for path in project.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # in memory: py_compile would leave __pycache__ behind
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["kedro"]["package_name"] == package
    assert pyproject["project"]["name"] == package
    for path in project.rglob("*.yml"):
        yaml.safe_load(path.read_text())
