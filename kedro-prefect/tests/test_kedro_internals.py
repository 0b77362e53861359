"""The Kedro functions the layer needs and Kedro keeps private (``execution/kedro_internals.py``),
checked against the installed Kedro: a release that renames or reshapes them fails here first."""

from __future__ import annotations

import inspect

import kedro.framework.hooks.manager as hooks_manager
import kedro.runner.runner as kedro_runner
import pytest
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset, DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node

from kedro_prefect.execution.kedro_internals import nodes_to_resume_from, session_hook_manager


@pytest.mark.parametrize(
    ("module", "name", "parameters"),
    [
        (kedro_runner, "_find_nodes_to_resume_from", ["pipeline", "unfinished_nodes", "catalog"]),
        (hooks_manager, "_create_hook_manager", []),
        (hooks_manager, "_register_hooks", ["hook_manager", "hooks"]),
        (hooks_manager, "_register_hooks_entry_points", ["hook_manager", "disabled_plugins"]),
    ],
)
def test_kedro_still_has_the_private_function_with_these_parameters(module, name, parameters):
    function = getattr(module, name, None)
    assert function is not None, f"Kedro no longer has {module.__name__}.{name}: update kedro_internals.py"
    assert list(inspect.signature(function).parameters) == parameters


def _identity(x):
    return x


class _Stored(AbstractDataset):
    """A dataset that persists (Kedro resumes from nodes whose inputs are not in memory)."""

    def __init__(self) -> None:
        self._data: object = 1

    def _load(self) -> object:
        return self._data

    def _save(self, data: object) -> None:
        self._data = data

    def _describe(self) -> dict:
        return {}


def _pipeline_and_catalog(middle_persists: bool) -> tuple[Pipeline, DataCatalog]:
    pipeline = Pipeline(
        [node(_identity, "raw", "middle", name="first"), node(_identity, "middle", "out", name="second")]
    )
    return pipeline, DataCatalog({"raw": _Stored(), "middle": _Stored() if middle_persists else MemoryDataset()})


@pytest.mark.parametrize(("middle_persists", "expected"), [(True, {"second"}), (False, {"first"})])
def test_resume_starts_at_the_first_node_whose_inputs_persist(middle_persists, expected):
    pipeline, catalog = _pipeline_and_catalog(middle_persists)
    second = next(each for each in pipeline.nodes if each.name == "second")
    assert nodes_to_resume_from(pipeline, {second}, catalog) == expected


class _RecordingHooks:
    def __init__(self) -> None:
        self.nodes: list[str] = []

    @hook_impl
    def before_node_run(self, node) -> None:
        self.nodes.append(node.name)


def test_session_hook_manager_fires_the_project_hooks_it_was_given():
    hooks = _RecordingHooks()
    manager = session_hook_manager([hooks], disabled_plugins=[])
    pipeline, catalog = _pipeline_and_catalog(middle_persists=True)
    manager.hook.before_node_run(node=pipeline.nodes[0], catalog=catalog, inputs={}, is_async=False, run_id=None)
    assert hooks.nodes == ["first"]
