"""The Kedro functions this layer needs that Kedro keeps private, wrapped in one place.

Kedro 1.x has no public API for either: where a failed run resumes (its runners print it, they
do not return it), and the hook manager a ``KedroSession`` builds (needed again on a Dask worker,
where no session runs). kedro-prefect's ``tests/test_kedro_internals.py`` checks them against the
installed Kedro, so an upgrade that renames or reshapes them fails there, not in a flow run
(kedro-prefect's requirements keep Kedro below 2).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

from kedro.framework.hooks.manager import _create_hook_manager, _register_hooks, _register_hooks_entry_points
from kedro.runner.runner import _find_nodes_to_resume_from

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager


def nodes_to_resume_from(pipeline: Pipeline, unfinished: Collection[Node], catalog: CatalogProtocol) -> set[str]:
    """Kedro's own resume suggestion: from the unfinished nodes back to ones whose inputs persist."""
    return _find_nodes_to_resume_from(pipeline, unfinished, catalog)


def session_hook_manager(hooks: Iterable[object], disabled_plugins: Iterable[str]) -> PluginManager:
    """The hook manager a ``KedroSession`` builds: the project's hooks, then installed plugins' hooks."""
    manager = _create_hook_manager()
    _register_hooks(manager, hooks)
    _register_hooks_entry_points(manager, disabled_plugins)
    return manager
