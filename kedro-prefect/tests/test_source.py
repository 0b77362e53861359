"""Where a deployment's flow run finds the project on a worker: the pull step on its own, no server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kedro_prefect.operations.processes import WorkerSpec
from kedro_prefect.operations.source import (
    PROJECT_PATH_VARIABLE,
    ProjectNotFoundError,
    ProjectSource,
    find_project,
    project_folder,
)


def clone(folder: Path, package_name: str = "ledger") -> Path:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text(f'[tool.kedro]\npackage_name = "{package_name}"\nproject_name = "Ledger"\n')
    return folder


def test_the_workers_clone_named_by_the_variable_wins_over_the_registered_path(tmp_path, monkeypatch):
    registered, workers = clone(tmp_path / "deployed-from"), clone(tmp_path / "elsewhere")
    monkeypatch.setenv(PROJECT_PATH_VARIABLE, str(workers))
    assert project_folder(str(registered), "ledger") == workers


def test_without_the_variable_the_registered_path_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv(PROJECT_PATH_VARIABLE, raising=False)
    registered = clone(tmp_path / "deployed-from")
    assert project_folder(str(registered), "ledger") == registered


def test_a_missing_clone_says_how_to_point_the_worker_at_one(tmp_path, monkeypatch):
    monkeypatch.delenv(PROJECT_PATH_VARIABLE, raising=False)
    with pytest.raises(ProjectNotFoundError, match=r"no clone of the project at .*gone.*`make agent`"):
        project_folder(str(tmp_path / "gone"), "ledger")


@pytest.mark.parametrize("package", [None, "another_project"])
def test_a_variable_naming_another_folder_is_refused_by_name(tmp_path, monkeypatch, package):
    folder = clone(tmp_path / "other", package) if package else tmp_path
    monkeypatch.setenv(PROJECT_PATH_VARIABLE, str(folder))
    registered = clone(tmp_path / "deployed-from")  # present, but the worker asked for another folder
    with pytest.raises(ProjectNotFoundError, match=f"{PROJECT_PATH_VARIABLE}=.* is not a clone of this project"):
        project_folder(str(registered), "ledger")


def test_the_pull_step_enters_the_clone(tmp_path, monkeypatch):
    workers = clone(tmp_path / "clone")
    monkeypatch.setenv(PROJECT_PATH_VARIABLE, str(workers))
    monkeypatch.chdir(tmp_path)
    assert find_project(registered="/nowhere", package_name="ledger") == {"directory": str(workers)}
    assert Path.cwd() == workers


def test_the_deployments_pull_step_names_this_modules_step_with_the_registered_path(tmp_path):
    step = ProjectSource(tmp_path, "ledger").to_pull_step()
    assert step == {
        "kedro_prefect.operations.source.find_project": {
            "registered": str(tmp_path.resolve()),
            "package_name": "ledger",
        }
    }


def test_a_worker_started_by_the_agent_names_its_clone_and_server_and_puts_its_python_first(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin")
    spec = WorkerSpec(
        project_path=tmp_path,
        pool="ledger-pool",
        queue="default",
        name="worker",
        limit=4,
        crash_after=60,
        pool_limit=None,
        pool_type="process",
    )
    env = spec.env("http://127.0.0.1:4395/api")
    assert env[PROJECT_PATH_VARIABLE] == str(tmp_path)
    # `kedro prefect up --port 4395` with nothing exported: the worker is told the port.
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4395/api"
    # A process pool's runs start with `python -m prefect.engine`: this environment's python.
    assert env["PATH"].split(os.pathsep) == [str(Path(sys.executable).parent), "/usr/bin"]
