"""The Prefect server and worker processes: ``kedro prefect server | agent | up | down``.

Processes started in the background are tracked by PID files under the state folder
(``PREFECT_HOME``, the project's ``.prefect/`` by default) and stopped by those PIDs only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from prefect.client.orchestration import get_client

from .containers import require_container_engine
from .crashes import ensure_crash_detection
from .pools import ensure_work_pool, set_pool_limit
from .server import api_url, is_healthy, require_server, ui_url, warn_if_exposed
from .source import PROJECT_PATH_VARIABLE

SERVER_START_TIMEOUT = 90.0
WORKER_START_TIMEOUT = 45.0
STOP_TIMEOUT = 20.0


def environment_bin() -> Path:
    """The scripts folder of the environment this module runs in (its ``python``, ``prefect``)."""
    return Path(sys.executable).parent


def prefect_command(*args: str) -> list[str]:
    """The ``prefect`` CLI of the environment this module runs in."""
    return [str(environment_bin() / "prefect"), *args]


def state_dir() -> Path:
    path = Path(os.environ.get("PREFECT_HOME") or ".prefect")
    path.mkdir(parents=True, exist_ok=True)
    return path


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
        click.echo(f"Work pool '{pool}' runs at most {pool_limit} flow runs at once, over all its workers")
    ensure_crash_detection(crash_after)


class ManagedProcess:
    """A background process known by its PID file; stale files (process gone) are cleaned up."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.pid_file = folder / f"{name}.pid"
        self.log_file = folder / f"{name}.log"

    def pid(self) -> int | None:
        """The PID if the recorded process is alive and still a Prefect process, else None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ProcessLookupError, PermissionError, FileNotFoundError):
            return None
        # A PID can be reused after a crash or reboot: only a prefect process is ours.
        return pid if b"prefect" in cmdline else None

    def clear_stale(self) -> None:
        if self.pid_file.exists() and self.pid() is None:
            self.pid_file.unlink()
            click.echo(f"Removed stale {self.pid_file} (its process is gone)")

    def start(self, command: list[str], env: dict[str, str] | None = None) -> int:
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def stop(self, first_signal: signal.Signals) -> bool:
        """Send ``first_signal``, wait, then SIGKILL the process group; True if something ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, first_signal)
        if not _wait_until(lambda: not _alive(pid), STOP_TIMEOUT):
            click.echo(f"{self.name} (pid {pid}) ignored {first_signal.name}; killing it")
            os.killpg(pid, signal.SIGKILL)
            _wait_until(lambda: not _alive(pid), 5.0)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_until(condition, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


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


def server_command(host: str, port: int) -> list[str]:
    return prefect_command("server", "start", "--host", host, "--port", str(port), "--analytics-off")


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

    def env(self) -> dict[str, str]:
        """This environment, plus the clone the worker's flow runs enter (``source.find_project``),
        with this interpreter's folder first on PATH: a process pool's runs start with ``python``
        (``containers.PROCESS_RUN_COMMAND``), which must be the one that has the project installed."""
        path = os.pathsep.join(filter(None, (str(environment_bin()), os.environ.get("PATH"))))
        return os.environ | {PROJECT_PATH_VARIABLE: str(self.project_path), "PATH": path}


def run_agent(spec: WorkerSpec) -> None:
    """Create the work pool and queue when missing, then become the worker (foreground)."""
    spec.prepare_server()
    command = spec.command()
    os.execve(command[0], command, spec.env())


def run_server(host: str, port: int) -> None:
    """Become the Prefect server (foreground), after warning when it is exposed without auth."""
    warn_if_exposed(host)
    click.echo(f"Database: {database_description()}")
    command = server_command(host, port)
    os.execv(command[0], command)


def start_stack(host: str, port: int, spec: WorkerSpec) -> None:
    """Start server and worker in the background; return once both are ready."""
    folder = state_dir()
    server, worker = ManagedProcess("server", folder), ManagedProcess("worker", folder)
    api = api_url()
    warn_if_exposed(host)
    server.clear_stale()
    worker.clear_stale()

    if server.pid():
        click.echo(f"Server already running (pid {server.pid()})")
    elif is_healthy(api):
        click.echo(f"A Prefect server already answers at {api}; using it")
    elif _port_in_use(host, port):
        raise click.ClickException(
            f"Port {port} on {host} is taken by something that is not a Prefect server. "
            f"Free it, or use another port: make up PREFECT_PORT={port + 1}"
        )
    else:
        pid = server.start(server_command(host, port))
        click.echo(f"Starting Prefect server (pid {pid}, log {server.log_file}, database {database_description()})")
    if not _wait_until(lambda: is_healthy(api, timeout=1.0), SERVER_START_TIMEOUT, interval=0.3):
        raise click.ClickException(
            f"The server did not become healthy at {api} within {SERVER_START_TIMEOUT:.0f} s. "
            f"Last lines of {server.log_file}:\n{server.log_tail()}"
        )
    spec.prepare_server()
    if worker.pid():
        click.echo(f"Worker already running (pid {worker.pid()})")
    else:
        since = datetime.now(timezone.utc) - timedelta(seconds=1)
        pid = worker.start(spec.command(), env=spec.env())
        click.echo(f"Starting worker '{spec.name}' on {spec.pool}/{spec.queue} (pid {pid}, log {worker.log_file})")
        if not _wait_until(lambda: _worker_is_polling(spec.pool, spec.name, since), WORKER_START_TIMEOUT, interval=0.3):
            raise click.ClickException(
                f"The worker did not start polling within {WORKER_START_TIMEOUT:.0f} s. "
                f"Last lines of {worker.log_file}:\n{worker.log_tail()}"
            )
    click.echo(f"Up: UI at {ui_url(api)}, worker polling {spec.pool}/{spec.queue}. Stop with `make down`.")


def stop_stack() -> None:
    """Stop the worker and server that ``start_stack`` started (by PID), worker first."""
    folder = state_dir()
    # A worker ignores SIGTERM for a long time but stops cleanly on SIGINT.
    stopped_worker = ManagedProcess("worker", folder).stop(signal.SIGINT)
    stopped_server = ManagedProcess("server", folder).stop(signal.SIGTERM)
    if stopped_worker or stopped_server:
        click.echo(
            "Stopped " + " and ".join(n for n, s in (("worker", stopped_worker), ("server", stopped_server)) if s)
        )
    else:
        click.echo("Nothing to stop: no server or worker started by `make up` is running")
