"""Nodes on a Dask cluster, through prefect-dask's ``DaskTaskRunner``.

Prefect schedules the tasks and records their states; Dask places them on its workers. What this
module adds is what Kedro needs there: the project's hooks rebuilt in each worker process (a
plugin manager does not travel), and the memory-dataset policy applied before any node runs.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import KedroPrefectError
from .grouping import initial_units
from .memory_datasets import plan_units
from .units import HookManagerRecipe, TaskCaller, Unit, outcome_of

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from pluggy import PluginManager

    from ..config import DaskConfig
    from ..options import GroupBy

INSTALL_HINT = "pip install -e '.[dask]'"


class DaskUnavailable(KedroPrefectError):
    """prefect-dask is not installed, or not a release this layer was tested with; the message says what to install."""


_HOOKS_LOCK = threading.Lock()


def project_hook_manager(package_name: str) -> PluginManager:
    """The hooks ``KedroSession`` would register (settings.HOOKS and plugins), once per process,
    however many of its threads run nodes at once (``threads_per_worker``)."""
    with _HOOKS_LOCK:
        return _project_hook_manager(package_name)


@functools.cache
def _project_hook_manager(package_name: str) -> PluginManager:
    from kedro.framework.project import settings

    from ..project import configure_kedro
    from .kedro_internals import session_hook_manager

    configure_kedro(package_name)
    return session_hook_manager(settings.HOOKS, settings.DISABLE_HOOKS_FOR_PLUGINS)


class DaskExecution:
    """Tasks on the scheduler at ``config.address``, else on a local cluster started for the run."""

    in_process = False

    def __init__(self, config: DaskConfig, project_path: Path, package_name: str) -> None:
        self.config = config
        self.project_path = project_path
        self.package_name = package_name
        self._persisted_in: str | None = None

    def units(self, pipeline: Pipeline, catalog: CatalogProtocol, run_id: str | None, group_by: GroupBy) -> list[Unit]:
        """Tasks for the run, after grouping, persisting or refusing the in-memory datasets between them.

        A namespace group is one unit of work on one worker, so its own in-memory datasets stay in
        memory. Persisted datasets go to a folder named after the flow run, so concurrent runs
        never share a file.
        """
        from prefect.runtime import flow_run

        plan = plan_units(
            pipeline,
            catalog,
            self.config.memory_datasets,
            persist_location=self.config.persist_location,
            project_path=self.project_path,
            run_id=flow_run.id or run_id,
            units=initial_units(pipeline, group_by),
        )
        self._persisted_in = plan.persisted_in
        return plan.units

    @contextmanager
    def task_caller(self, max_workers: int) -> Iterator[TaskCaller]:
        """Send each task to Dask and wait for it in the scheduler's thread (at most ``max_workers``)."""
        with self.task_runner() as runner:
            # prefect-dask makes its client (and a local cluster) on first use, unguarded: the
            # scheduler's threads, starting together, would each make one and lose each other's work.
            runner.client  # noqa: B018 - the property starts the client

            def submit_and_wait(task: Any, parameters: dict[str, Any], upstream: list[Any]) -> Any:
                future = runner.submit(task, parameters=parameters, wait_for=upstream)
                # The task's final state; raises what kept Dask from running it (a lost worker, say),
                # where `future.wait()` would swallow it and `future.state` ask the API for a state
                # the server may not have recorded yet.
                state = future.wrapped_future.result()
                return outcome_of(state, upstream=future, results_carry_runs=True)

            yield submit_and_wait

    def task_runner(self) -> Any:
        """prefect-dask's runner: the scheduler at ``address``, else a local cluster for this run."""
        runner_class = dask_task_runner_class()
        if self.config.address:
            return runner_class(address=self.config.address)
        return runner_class(
            cluster_kwargs={
                "n_workers": self.config.n_workers,
                "threads_per_worker": self.config.threads_per_worker,
                "processes": True,
                "dashboard_address": "127.0.0.1:0",  # health routes only, on loopback, any free port
            }
        )

    def hooks(self, hook_manager: PluginManager | None) -> HookManagerRecipe:
        return HookManagerRecipe(self.package_name, project_hook_manager)

    def after_run(self, completed: bool) -> None:
        """Delete a completed run's intermediate pickles; a failed run keeps them for inspection."""
        if not (completed and self._persisted_in):
            return
        from fsspec.core import url_to_fs

        filesystem, path = url_to_fs(self._persisted_in)
        if filesystem.exists(path):
            filesystem.rm(path, recursive=True)


TESTED_PREFECT_DASK = ">=0.3.7,<0.4"
"""The prefect-dask releases ``_with_cheap_submission`` was written and tested against: it overrides
``submit`` and uses the runner's private ``_started`` and ``_optimize_futures``."""


def check_prefect_dask_version(installed: str) -> None:
    """Refuse a prefect-dask this layer was not tested with, rather than fail in its internals mid-run."""
    from packaging.specifiers import SpecifierSet

    if installed not in SpecifierSet(TESTED_PREFECT_DASK):
        raise DaskUnavailable(
            f"prefect-dask {installed} is installed; this layer works with prefect-dask{TESTED_PREFECT_DASK}: "
            f"run `pip install 'prefect-dask{TESTED_PREFECT_DASK}'` (or `{INSTALL_HINT}`) where the flow runs."
        )


@functools.cache
def dask_task_runner_class() -> Any:
    """prefect-dask's ``DaskTaskRunner`` with cheaper submission; says how to install it when missing."""
    from importlib.metadata import version

    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise DaskUnavailable(
            f"task_runner 'dask' needs prefect-dask, which is not installed: run `{INSTALL_HINT}` "
            "(or `make install EXTRAS=dev,dask`) where the flow and the Dask workers run."
        ) from None
    check_prefect_dask_version(version("prefect-dask"))
    return _with_cheap_submission(DaskTaskRunner)


def _with_cheap_submission(base: type) -> type:
    """A subclass of prefect-dask's runner that sends each task for a fraction of the cost.

    For every task, prefect-dask serializes all of Prefect's settings again (about 150 ms of CPU
    on 2 cores) and lets Dask hash the task and its arguments to name it (about 40 ms): six tasks
    submitted at once started over a second apart. The settings cannot change during a run, so
    they are serialized once per runner; every task gets a unique key, so Dask hashes nothing.
    What reaches the worker is the same as before.
    """
    import threading
    from uuid import uuid4

    from prefect.context import SettingsContext
    from prefect_dask.task_runners import PrefectDaskFuture
    from pydantic import PrivateAttr

    class SettingsSerializedOnce(SettingsContext):
        _serialized: dict[bool, dict[str, Any]] = PrivateAttr(default_factory=dict)
        _lock: Any = PrivateAttr(default_factory=threading.Lock)

        def serialize(self, include_secrets: bool = True) -> dict[str, Any]:
            with self._lock:
                if include_secrets not in self._serialized:
                    self._serialized[include_secrets] = super().serialize(include_secrets=include_secrets)
                return self._serialized[include_secrets]

    class KedroDaskTaskRunner(base):
        _settings: SettingsSerializedOnce | None = None

        def submit(self, task: Any, parameters: dict[str, Any], wait_for: Any = None, dependencies: Any = None) -> Any:
            if not self._started:
                raise RuntimeError("The task runner must be started before submitting work.")
            if self._settings is None:
                current = SettingsContext.get()
                assert current is not None  # a flow run always has its settings
                self._settings = SettingsSerializedOnce(profile=current.profile, settings=current.settings)
            # The context variable, not `with`: several threads submit at once.
            token = SettingsContext.__var__.set(self._settings)
            try:
                future = self.client.submit(
                    task,
                    key=f"{task.name}-{uuid4().hex}",
                    parameters=self._optimize_futures(parameters),
                    wait_for=self._optimize_futures(wait_for) if wait_for else None,
                    dependencies=dependencies,
                    return_type="state",
                )
            finally:
                SettingsContext.__var__.reset(token)
            return PrefectDaskFuture(wrapped_future=future, task_run_id=future.task_run_id)

    KedroDaskTaskRunner.__name__ = KedroDaskTaskRunner.__qualname__ = "KedroDaskTaskRunner"
    return KedroDaskTaskRunner
