"""The flow against a real Prefect server, in this process: a baked project, bootstrapped as `kedro run`
does, a throwaway server on a free port, and the project's folder as the working directory."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kedro.framework.hooks import hook_impl

from tests.helpers import bake, free_port

SERVER_START_TIMEOUT = 120.0


def flush_prefect_clients() -> None:
    """Send queued logs and events while the server still answers; at exit they would retry for a minute."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)


@pytest.fixture(scope="session")
def prefect_api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a throwaway Prefect server (own PREFECT_HOME, free port) for the test session."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("prefect")),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Prefect server did not start; see {home / 'server.log'}")
            time.sleep(0.3)
        yield url
    finally:
        flush_prefect_clients()
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


@pytest.fixture
def prefect_settings(prefect_api_url: str) -> Iterator[str]:
    """Point this process's Prefect client at the test server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_api_url}):
        yield prefect_api_url


@pytest.fixture(scope="session")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baked example project, its settings and pipeline registry loaded once, as `kedro run` does.

    Its own copy of `kedro_prefect` is byte-identical to the template's, which this process imports.
    """
    from kedro.framework.startup import bootstrap_project

    project = bake(tmp_path_factory.mktemp("flow-project"), project_name="Flow Tests")
    bootstrap_project(project)
    return project


@pytest.fixture(scope="session")
def baked_data(bootstrapped: Path) -> dict[Path, bytes]:
    """Every file of the project's data folder as baked (the example's raw inputs)."""
    return {path: path.read_bytes() for path in (bootstrapped / "data").rglob("*") if path.is_file()}


@pytest.fixture
def in_project(bootstrapped: Path, baked_data: dict[Path, bytes], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run from the project folder, as `kedro run` and deployments do; each test finds its data
    folder as baked, whatever the tests before it wrote (the session's server is shared: each test
    reads only its own flow runs)."""
    monkeypatch.chdir(bootstrapped)
    yield bootstrapped
    for path in (bootstrapped / "data").rglob("*"):
        if path.is_file() and path not in baked_data:
            path.unlink()
    for path, content in baked_data.items():
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)


@pytest.fixture
def conf_env(in_project: Path) -> Iterator[Callable[..., str]]:
    """Create throwaway configuration environments: ``conf_env(name, **{"file.yml": text})``."""
    created: list[Path] = []

    def make(name: str, **files: str) -> str:
        folder = in_project / "conf" / name
        folder.mkdir()
        created.append(folder)
        for filename, text in files.items():
            (folder / filename).write_text(text)
        return name

    yield make
    for folder in created:
        shutil.rmtree(folder)


class HookRecorder:
    """Records every Kedro hook call; can slow nodes down, or make a node fail on its first attempt
    (its first input is replaced by None, so the node function itself raises)."""

    def __init__(self, node_delay: float = 0.0, fail_once: frozenset[str] = frozenset()) -> None:
        self.node_delay = node_delay
        self.fail_once = set(fail_once)
        self.calls: Counter[str] = Counter()
        self.nodes_started: list[str] = []
        self.spans: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _count(self, hook: str) -> None:
        with self._lock:
            self.calls[hook] += 1

    @hook_impl
    def after_context_created(self, context):
        self._count("after_context_created")

    @hook_impl
    def after_catalog_created(self, catalog):
        self._count("after_catalog_created")

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog):
        self._count("before_pipeline_run")

    @hook_impl
    def after_pipeline_run(self, run_params, run_result, pipeline, catalog):
        self._count("after_pipeline_run")

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog):
        self._count("on_pipeline_error")

    @hook_impl
    def before_node_run(self, node):
        self._count("before_node_run")
        with self._lock:
            self.nodes_started.append(node.name)
            self.spans[node.name] = (time.monotonic(), float("inf"))
            fail_now = node.name in self.fail_once
            self.fail_once.discard(node.name)
        time.sleep(self.node_delay)
        if fail_now:
            return {node.inputs[0]: None}
        return None

    @hook_impl
    def after_node_run(self, node):
        self._count("after_node_run")
        with self._lock:
            self.spans[node.name] = (self.spans[node.name][0], time.monotonic())

    @hook_impl
    def on_node_error(self, error, node):
        self._count("on_node_error")

    @hook_impl
    def before_dataset_loaded(self, dataset_name, node):
        self._count("before_dataset_loaded")

    @hook_impl
    def after_dataset_loaded(self, dataset_name, data, node):
        self._count("after_dataset_loaded")

    @hook_impl
    def before_dataset_saved(self, dataset_name, data, node):
        self._count("before_dataset_saved")

    @hook_impl
    def after_dataset_saved(self, dataset_name, data, node):
        self._count("after_dataset_saved")


@pytest.fixture
def record_hooks(in_project: Path) -> Iterator[Callable[..., HookRecorder]]:
    """Register a HookRecorder as a project hook (settings.HOOKS) for the sessions of one test."""
    from kedro.framework.project import settings

    original = list(settings.HOOKS)

    def install(**options) -> HookRecorder:
        recorder = HookRecorder(**options)
        settings.set("HOOKS", (recorder,))
        return recorder

    yield install
    settings.set("HOOKS", original)
