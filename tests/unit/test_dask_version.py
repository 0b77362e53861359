"""The Dask strategy replaces prefect-dask's ``submit`` and uses two of its private members, so it
runs only with the prefect-dask releases it was tested with, and says so otherwise."""

from __future__ import annotations

import contextvars
import re
import tomllib

import pytest
from kedro_prefect.execution.dask import TESTED_PREFECT_DASK, DaskUnavailable, check_prefect_dask_version
from prefect_dask import DaskTaskRunner

from tests.unit.conftest import PROJECT_TREE


@pytest.mark.parametrize("installed", ["0.3.6", "0.4.0", "1.0.0"])
def test_a_prefect_dask_outside_the_tested_range_is_refused_with_the_fix(installed):
    with pytest.raises(DaskUnavailable, match=re.escape(f"pip install 'prefect-dask{TESTED_PREFECT_DASK}'")):
        check_prefect_dask_version(installed)


def test_the_tested_range_is_the_one_the_project_pins_and_the_installed_release_is_in_it():
    text = (PROJECT_TREE / "pyproject.toml").read_text().replace("{{ cookiecutter.python_package }}", "package")
    text = text.replace("{{ cookiecutter.project_name }}", "p").replace("{{ cookiecutter.repo_name }}", "p")
    extras = tomllib.loads(re.sub(r"\{\{[^}]*\}\}", "x", text))["project"]["optional-dependencies"]["dask"]
    assert f"prefect-dask{TESTED_PREFECT_DASK}" in extras
    from importlib.metadata import version

    check_prefect_dask_version(version("prefect-dask"))  # no error


def test_the_private_members_the_strategy_uses_are_still_there():
    from prefect.context import SettingsContext

    runner = DaskTaskRunner()  # nothing starts before it is entered
    assert runner._started is False
    assert callable(runner._optimize_futures)
    assert isinstance(SettingsContext.__var__, contextvars.ContextVar)
