"""The Dask strategy replaces prefect-dask's ``submit`` and uses two of its private members, so it
runs only with the prefect-dask releases it was tested with, and says so otherwise."""

from __future__ import annotations

import contextvars
import re

import pytest

from kedro_prefect.execution.dask import TESTED_PREFECT_DASK, DaskUnavailable, check_prefect_dask_version

DaskTaskRunner = pytest.importorskip("prefect_dask").DaskTaskRunner  # with the [dask] extra only


@pytest.mark.parametrize("installed", ["0.3.6", "0.4.0", "1.0.0"])
def test_a_prefect_dask_outside_the_tested_range_is_refused_with_the_fix(installed):
    with pytest.raises(DaskUnavailable, match=re.escape(f"pip install 'prefect-dask{TESTED_PREFECT_DASK}'")):
        check_prefect_dask_version(installed)


def test_the_tested_range_is_the_dask_extras_pin_and_the_installed_release_is_in_it():
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    pins = [Requirement(text) for text in requires("kedro-prefect") or []]
    dask_pins = [pin.specifier for pin in pins if pin.name == "prefect-dask" and pin.marker is not None]
    assert dask_pins == [SpecifierSet(TESTED_PREFECT_DASK)]
    check_prefect_dask_version(version("prefect-dask"))  # no error


def test_the_private_members_the_strategy_uses_are_still_there():
    from prefect.context import SettingsContext

    runner = DaskTaskRunner()  # nothing starts before it is entered
    assert runner._started is False
    assert callable(runner._optimize_futures)
    assert isinstance(SettingsContext.__var__, contextvars.ContextVar)
