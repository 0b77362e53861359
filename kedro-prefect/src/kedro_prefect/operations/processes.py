"""The Prefect server and worker processes: ``kedro prefect server | agent | up | down``.

``server`` and ``agent`` run in the foreground, and Ctrl-C stops them and what they started within
seconds (``stopping.supervise``). ``up`` starts both in the background, their output going through
``redaction`` into logs under the state folder (``PREFECT_HOME``, the project's ``.prefect/``), and
tracks them by PID files; ``down`` stops them by those PIDs only, ending the worker's flow runs
first (``flow_runs``). Whichever starts a server remembers its address (``address``).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from prefect.client.orchestration import get_client

from ..environment import state_dir
from ..errors import KedroPrefectError
from ..report import say
from .address import ServerAddress, remember, remembered_address
from .containers import require_container_engine
from .crashes import ensure_crash_detection
from .flow_runs import end_flow_runs, flow_run_processes
from .pools import ensure_work_pool, set_pool_limit
from .server import is_healthy, require_server, ui_url, wait_for_server, warn_if_exposed
from .source import PROJECT_PATH_VARIABLE
from .stopping import gone, stop_process, supervise

SERVER_START_TIMEOUT = 90.0
WORKER_START_TIMEOUT = 45.0
AGENT_SERVER_WAIT = 60.0
"""Seconds ``make agent`` waits for a server that is starting: it takes 10-20 s on a small machine."""


def environment_bin() -> Path:
    """The scripts folder of the environment this module runs in (its ``python``, ``prefect``)."""
    return Path(sys.executable).parent


def prefect_command(*args: str) -> list[str]:
    """The ``prefect`` CLI of the environment this module runs in."""
    return [str(environment_bin() / "prefect"), *args]


def prepare_server(
    pool: str, queue: str, crash_after: int, pool_limit: int | None = None, pool_type: str = "process"
) -> None:
    """What a worker needs on the server: reachable with our credentials, its pool and queue, and
    crashed-run detection (all left as they are when already there), and the pool's limit if given."""
    require_server()
    require_container_engine(pool_type)
    ensure_work_pool(pool, queue, pool_type)
    if pool_limit is not None:
        set_pool_limit(pool, pool_limit)
        say(f"Work pool '{pool}' runs at most {pool_limit} flow runs at once, over all its workers")
    ensure_crash_detection(crash_after)


class ManagedProcess:
    """A background process known by its PID file; stale files (process gone) are cleaned up.

    The PID is that of the ``redaction`` process, which leads the process group it shares with
    the command it runs: signals go to the group.
    """

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.pid_file = folder / f"{name}.pid"
        self.log_file = folder / f"{name}.log"

    def pid(self) -> int | None:
        """The PID if the recorded process is alive and still one of ours, else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
            process = psutil.Process(pid)
            # A PID can be reused after a crash or reboot: only a prefect process is ours.
            return pid if not gone(process) and any("prefect" in part for part in process.cmdline()) else None
        except (FileNotFoundError, ValueError, psutil.Error):
            return None

    def clear_stale(self) -> None:
        if self.pid_file.exists() and self.pid() is None:
            self.pid_file.unlink()
            say(f"Removed stale {self.pid_file} (its process is gone)")

    def start(self, command: list[str], env: dict[str, str] | None = None) -> int:
        import subprocess

        redacted = [sys.executable, "-m", f"{__package__}.redaction", str(self.log_file), "--", *command]
        # Nothing of the caller's terminal or pipes is inherited: `make up | tail` must end when
        # make does. The wrapper's own errors, if any, go to the log.
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                redacted,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
                env=env,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def stop(self, first_signal: signal.Signals) -> bool:
        """Stop the process group, escalating to SIGKILL; True if something ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        stop_process(psutil.Process(pid), first_signal, group=True, say=say)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _wait_until(condition, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _port_in_use(address: ServerAddress) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in address.host else socket.AF_INET) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((address.host, address.port)) == 0


def _worker_is_polling(pool: str, name: str, since: datetime) -> bool:
    with get_client(sync_client=True) as client:
        workers = client.read_workers_for_work_pool(pool)
    return any(
        worker.name == name and worker.last_heartbeat_time and worker.last_heartbeat_time >= since for worker in workers
    )


def database_description() -> str:
    """The server's database for messages: SQLite by default, else the URL without its password."""
    url = os.environ.get("PREFECT_SERVER_DATABASE_CONNECTION_URL")
    if not url:
        return f"SQLite in {state_dir()}"
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def server_command(address: ServerAddress) -> list[str]:
    return prefect_command("server", "start", "--host", address.host, "--port", str(address.port), "--analytics-off")


def worker_command(pool: str, queue: str, name: str, limit: int) -> list[str]:
    return prefect_command(
        "worker", "start", "--pool", pool, "--work-queue", queue, "--name", name, "--limit", str(limit)
    )


@dataclass(frozen=True)
class WorkerSpec:
    """One worker as `agent` and `up` start it: the clone it serves, its pool and queue, its limits."""

    project_path: Path
    pool: str
    queue: str
    name: str
    limit: int
    crash_after: int
    pool_limit: int | None
    pool_type: str

    def prepare_server(self) -> None:
        prepare_server(self.pool, self.queue, self.crash_after, self.pool_limit, self.pool_type)

    def command(self) -> list[str]:
        return worker_command(self.pool, self.queue, self.name, self.limit)

    def env(self, api_url: str) -> dict[str, str]:
        """This environment, plus the server to poll and the clone the worker's flow runs enter
        (``source.find_project``), with this interpreter's folder first on PATH: a process pool's runs
        start with ``python`` (``containers.PROCESS_RUN_COMMAND``), which must be the one that has the
        project installed."""
        path = os.pathsep.join(filter(None, (str(environment_bin()), os.environ.get("PATH"))))
        return os.environ | {PROJECT_PATH_VARIABLE: str(self.project_path), "PATH": path, "PREFECT_API_URL": api_url}


def refuse_second_server(address: ServerAddress, using_a_running_one: bool) -> None:
    """One server per project: refuse to start another at a new address while the project's runs.

    ``using_a_running_one`` (``up``): the project's server at ``address`` itself is fine.
    """
    remembered = remembered_address()
    managed = ManagedProcess("server", state_dir()).pid()
    if remembered is None or (remembered == address and using_a_running_one):
        return
    running = managed is not None or is_healthy(remembered.api_url, timeout=1.0)
    if not running:
        return
    started_by = f"pid {managed}, started by `make up`" if managed else "started by `make server`"
    if remembered == address:
        raise KedroPrefectError(
            f"This project's Prefect server already runs at {ui_url(address.api_url)} ({started_by}). "
            "Use it (make agent, make deploy, make run), or stop it first (Ctrl-C on `make server`, or `make down`)."
        )
    raise KedroPrefectError(
        f"This project's Prefect server already runs at {ui_url(remembered.api_url)} ({started_by}), "
        f"not at port {address.port}. Stop it first (Ctrl-C on `make server`, or `make down`), "
        "or leave PREFECT_PORT out to use it."
    )


def _refuse_taken_port(address: ServerAddress) -> None:
    if is_healthy(address.api_url, timeout=1.0):
        raise KedroPrefectError(
            f"Another Prefect server already answers at {ui_url(address.api_url)} (not this project's). "
            f"Use another port: make server PREFECT_PORT={address.port + 1}"
        )
    if _port_in_use(address):
        raise KedroPrefectError(
            f"Port {address.port} on {address.host} is taken by something that is not a Prefect server. "
            f"Free it, or use another port: make up PREFECT_PORT={address.port + 1}"
        )


def run_server(address: ServerAddress) -> None:
    """Become the Prefect server (foreground), after checking it is the project's only one."""
    warn_if_exposed(address.host)
    refuse_second_server(address, using_a_running_one=False)
    _refuse_taken_port(address)
    remember(address)
    say(f"Database: {database_description()}")
    supervise(server_command(address), dict(os.environ))


def run_agent(spec: WorkerSpec, api_url: str) -> None:
    """Create the work pool and queue when missing, then run the worker (foreground).

    Ctrl-C ends the flow runs the worker is running (marked Cancelled) and stops it within seconds.
    """
    wait_for_server(AGENT_SERVER_WAIT)
    spec.prepare_server()

    def end_runs(worker_pid: int) -> None:
        for line in end_flow_runs(flow_run_processes(worker_pid), "its worker was stopped (Ctrl-C on `make agent`)"):
            say(line)

    supervise(spec.command(), spec.env(api_url), before_stop=end_runs)


def start_stack(address: ServerAddress, spec: WorkerSpec) -> None:
    """Start server and worker in the background; return once both are ready."""
    folder = state_dir()
    server, worker = ManagedProcess("server", folder), ManagedProcess("worker", folder)
    api = address.api_url
    warn_if_exposed(address.host)
    server.clear_stale()
    worker.clear_stale()
    refuse_second_server(address, using_a_running_one=True)

    if server.pid():
        say(f"Server already running (pid {server.pid()})")
    elif is_healthy(api):
        say(f"A Prefect server already answers at {api}; using it")
    else:
        _refuse_taken_port(address)
        remember(address)
        pid = server.start(server_command(address))
        say(f"Starting Prefect server (pid {pid}, log {server.log_file}, database {database_description()})")
    remember(address)
    if not _wait_until(lambda: is_healthy(api, timeout=1.0), SERVER_START_TIMEOUT, interval=0.3):
        raise KedroPrefectError(
            f"The server did not become healthy at {api} within {SERVER_START_TIMEOUT:.0f} s. "
            f"Last lines of {server.log_file}:\n{server.log_tail()}"
        )
    spec.prepare_server()
    if worker.pid():
        say(f"Worker already running (pid {worker.pid()})")
    else:
        since = datetime.now(UTC) - timedelta(seconds=1)
        pid = worker.start(spec.command(), env=spec.env(api))
        say(f"Starting worker '{spec.name}' on {spec.pool}/{spec.queue} (pid {pid}, log {worker.log_file})")
        if not _wait_until(lambda: _worker_is_polling(spec.pool, spec.name, since), WORKER_START_TIMEOUT, interval=0.3):
            raise KedroPrefectError(
                f"The worker did not start polling within {WORKER_START_TIMEOUT:.0f} s. "
                f"Last lines of {worker.log_file}:\n{worker.log_tail()}"
            )
    say(f"Up: UI at {ui_url(api)}, worker polling {spec.pool}/{spec.queue}. Stop with `make down`.")


def stop_stack() -> None:
    """Stop the worker and server that ``start_stack`` started (by PID), worker first.

    The worker's flow runs are ended first and marked Cancelled, while the server still answers.
    """
    folder = state_dir()
    worker, server = ManagedProcess("worker", folder), ManagedProcess("server", folder)
    worker_pid = worker.pid()
    if worker_pid is not None:
        for line in end_flow_runs(flow_run_processes(worker_pid), "`make down` stopped its worker"):
            say(line)
    stopped_worker = worker.stop(signal.SIGINT)
    stopped_server = server.stop(signal.SIGTERM)
    if stopped_worker or stopped_server:
        say("Stopped " + " and ".join(n for n, s in (("worker", stopped_worker), ("server", stopped_server)) if s))
    else:
        say("Nothing to stop: no server or worker started by `make up` is running")
