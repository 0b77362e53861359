"""Unit tests of the Prefect layer (`{{cookiecutter.repo_name}}/src/kedro_prefect`), straight from the
template repository: no bake, no server, no project install. pyproject.toml puts the package's
folder on the path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import TEMPLATE

PROJECT_TREE = TEMPLATE / "{{cookiecutter.repo_name}}"


@pytest.fixture
def kedro_project(tmp_path: Path) -> Path:
    """A minimal Kedro project folder: pyproject.toml and the template's conf/base/prefect.yml."""
    (tmp_path / "pyproject.toml").write_text(
        '[tool.kedro]\npackage_name = "toy_project"\nproject_name = "Toy Project"\nkedro_init_version = "1.7.0"\n'
    )
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "local").mkdir()
    shutil.copy(PROJECT_TREE / "conf" / "base" / "prefect.yml", tmp_path / "conf" / "base" / "prefect.yml")
    return tmp_path
