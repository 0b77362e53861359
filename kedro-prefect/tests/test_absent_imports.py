"""Optional data libraries that are not installed are remembered as absent, and Kedro's
MemoryDataset still picks its copy mode: no server, no project."""

from __future__ import annotations

import importlib
import sys

import pytest
from kedro.io import MemoryDataset

from kedro_prefect.execution.absent_imports import remember_absent_data_libraries

NOT_INSTALLED = "kedro_prefect_no_such_library"
INSTALLED_NOT_IMPORTED = "tabnanny"  # in the standard library, imported by nothing here


@pytest.fixture(autouse=True)
def restore_sys_modules():
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_a_library_that_is_not_installed_is_marked_and_its_import_fails_at_once():
    assert remember_absent_data_libraries([NOT_INSTALLED]) == [NOT_INSTALLED]
    assert sys.modules[NOT_INSTALLED] is None
    with pytest.raises(ModuleNotFoundError, match="halted; None in sys.modules"):
        importlib.import_module(NOT_INSTALLED)


def test_an_installed_library_is_neither_marked_nor_imported():
    assert INSTALLED_NOT_IMPORTED not in sys.modules
    assert remember_absent_data_libraries([INSTALLED_NOT_IMPORTED]) == []
    assert INSTALLED_NOT_IMPORTED not in sys.modules
    assert importlib.import_module(INSTALLED_NOT_IMPORTED).__name__ == INSTALLED_NOT_IMPORTED


def test_calling_again_finds_the_same_libraries_absent():
    remember_absent_data_libraries([NOT_INSTALLED])
    assert remember_absent_data_libraries([NOT_INSTALLED]) == [NOT_INSTALLED]
    assert sys.modules[NOT_INSTALLED] is None


def test_memory_datasets_still_copy_as_kedro_decides():
    remember_absent_data_libraries()
    numbers = [1, 2]
    dataset = MemoryDataset()
    dataset.save(numbers)
    loaded = dataset.load()
    assert loaded == numbers and loaded is not numbers  # deep-copied, Kedro's choice for a list
