"""Helpers shared by the template tests: baking, running commands with bounded time, free ports."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pexpect
import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
DEV_BIN = Path(sys.executable).parent


(LAYER_WHEEL,) = (TEMPLATE / "{{cookiecutter.repo_name}}" / "vendor").glob("kedro_prefect-*.whl")
"""The kedro-prefect wheel the template ships to every project (exactly one)."""
LAYER_VERSION = LAYER_WHEEL.name.split("-")[1]


def template_files() -> list[str]:
    """The template as a clone of this repository holds it: tracked files and new, unignored ones."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [name for name in listing.split("\0") if name and (TEMPLATE / name).is_file()]


def copy_template(destination: Path) -> Path:
    """Copy what git would give a user (no caches, no local leftovers) to `destination`."""
    for name in template_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(TEMPLATE / name, target)
    return destination


_CLEAN_TEMPLATE: list[Path] = []


def clean_template() -> Path:
    """One copy of the template per test session, made from what git tracks, to bake from."""
    if not _CLEAN_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="kps-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)  # nothing left in /tmp after the session
        _CLEAN_TEMPLATE.append(copy_template(folder / "kedro-prefect-starter"))
    return _CLEAN_TEMPLATE[0]


def bake(output_dir: Path, **answers: object) -> Path:
    """Generate a project with cookiecutter's API from the git-tracked template, no prompts."""
    return Path(
        cookiecutter(
            str(clean_template()),
            no_input=True,
            extra_context=dict(answers),
            output_dir=str(output_dir),
        )
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def project_env(prefect_home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment a user of the generated project has: the dev venv active, no Prefect profile."""
    # No Prefect settings and no outer make's flags leak in: the project's make runs as a user's.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "MAKE", "MFLAGS"))}
    env.update(
        PATH=f"{DEV_BIN}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=sys.prefix,
        KEDRO_DISABLE_TELEMETRY="true",
    )
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    env.update(extra)
    return env


def flow_run_id(output: str) -> str:
    """The flow run `make run` (or `make retry`) followed: the last id in its printed UI links,
    before any run it started by itself (`after:` triggers, followed after it)."""
    followed = output.split("\nIt started flow run ")[0]
    return re.findall(r"/runs/flow-run/([0-9a-f-]{36})", followed)[-1]


def wait_until_healthy(url: str, timeout: float = 60) -> None:
    """Wait (bounded) until a server answers at ``url``; fail the test otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s")


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command with a time limit; on an unexpected exit code, fail showing its output."""
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}\n--- stdout\n{result.stdout[-4000:]}"
            f"\n--- stderr\n{result.stderr[-4000:]}"
        )
    return result


# What the example pipeline persists; a completed run of it writes each of them.
OUTPUTS = [
    "data/03_primary/order_table.csv",
    "data/08_reporting/region_revenue.csv",
    "data/08_reporting/monthly_revenue.csv",
    "data/08_reporting/top_customers.csv",
]


def process_gone(pid: int) -> bool:
    """No such process, or only a zombie left for its new parent to reap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


class Project:
    """A generated project with its own venv, driven through its Makefile as a user would."""

    def __init__(self, path: Path, venv: Path, port: int) -> None:
        self.path = path
        self.venv = venv
        self.port = port
        self.env = project_env(
            PATH=f"{venv / 'bin'}{os.pathsep}{DEV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            VIRTUAL_ENV=str(venv),
        )

    @classmethod
    def installed(cls, path: Path, venv: Path, extras: str = "dev") -> Project:
        """Create `venv`, run the project's `make install` into it, and pick a free port."""
        run([str(DEV_BIN / "uv"), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=venv.parent)
        project = cls(path, venv, free_port())
        project.make("install", f"EXTRAS={extras}", timeout=600)
        return project

    @contextlib.contextmanager
    def up(self) -> Iterator[Project]:
        """Its server and worker up for the block; ``make down`` after it, also when the block's
        own setting up fails: never a server or worker left behind."""
        try:
            self.make("up")
            yield self
        finally:
            self.make("down", check=False, timeout=120)

    def make(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`make` on this project's port, unless the arguments name another one."""
        port = [] if any(arg.startswith("PREFECT_PORT=") for arg in args) else [f"PREFECT_PORT={self.port}"]
        return run(["make", *args, *port], cwd=self.path, env=self.env, timeout=timeout, check=check)

    def deployment_id(self, name: str) -> str:
        """The id the server gave the deployment ``FLOW/DEPLOYMENT``."""
        script = "with get_client(sync_client=True) as client:\n    print(json.dumps(str(client.read_deployment_by_name(sys.argv[1]).id)))\n"
        return str(self.api(script, name))

    def api(self, script: str, *args: str, timeout: float = 120, check: bool = True) -> object:
        """Run a snippet with the project's own Prefect client; it prints one JSON value (None if it failed)."""
        prelude = "import json, sys\nfrom prefect.client.orchestration import get_client\n"
        env = {**self.env, "PREFECT_API_URL": f"http://127.0.0.1:{self.port}/api"}
        result = run(["python", "-c", prelude + script, *args], cwd=self.path, env=env, timeout=timeout, check=check)
        return json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None


# Triggers N runs of a deployment at once and follows them to a final state (bounded in time).
RUNS_AT_ONCE_SCRIPT = """
import time
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
deployment, n, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with get_client(sync_client=True) as client:
    found = client.read_deployment_by_name(deployment)
    started = time.monotonic()
    ids = [client.create_flow_run_from_deployment(found.id).id for _ in range(n)]
    runs = []
    while time.monotonic() - started < limit:
        runs = [client.read_flow_run(i) for i in ids]
        if all(run.state is not None and run.state.is_final() for run in runs):
            break
        time.sleep(2)
    seconds = time.monotonic() - started
    report = []
    for run in runs:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        starts = [t.start_time.timestamp() for t in tasks if t.start_time]
        ends = [t.end_time.timestamp() for t in tasks if t.end_time]
        report.append({'id': str(run.id), 'state': run.state.name if run.state else 'None',
                       'nodes_from': min(starts, default=None), 'nodes_to': max(ends, default=None)})
    print(json.dumps({'seconds': seconds, 'runs': report}))
"""


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    open_now = most = 0
    for _, change in events:
        open_now += change
        most = max(most, open_now)
    return most


class Background:
    """A long-running command in its own process group, stopped by that group's PID only."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        pytest.fail(
            f"'{text}' not in {self.log} within {timeout:.0f} s:\n{self.log.read_text(errors='replace')[-3000:]}"
        )

    def stop(self, first_signal: int = signal.SIGINT, timeout: float = 30) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, first_signal)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def parent_of(pid: int) -> int | None:
    """`pid`'s parent (read from /proc), or None once the process is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None


def ancestors(pid: int) -> list[int]:
    """`pid`'s parent, grandparent, ... up to init."""
    found = []
    for _ in range(64):
        pid = parent_of(pid)
        if pid is None or pid <= 1:
            break
        found.append(pid)
    return found


def command_line(pid: int) -> str:
    """The process's command line, words joined by spaces ("" once it is gone)."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid`."""
    return [int(entry.name) for entry in Path("/proc").glob("[0-9]*") if parent_of(int(entry.name)) == pid]


class Postgres:
    """A throwaway PostgreSQL server from Debian's package, on a free loopback port.

    As root (CI) it runs as the `postgres` user, which PostgreSQL requires; its folder lives under
    /tmp because that user cannot enter root's pytest folders.
    """

    USER = "prefect"
    PASSWORD = "s3cret-for-tests"

    def __init__(self) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not binaries:
            pytest.fail("PostgreSQL is not installed: `apt-get install -y postgresql` (.ci/run does)")
        self.bin = binaries[-1].parent
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="kps-postgres-"))
        self.run_as = {}
        if os.geteuid() == 0:
            import pwd

            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.USER}:{self.PASSWORD}@127.0.0.1:{self.port}/prefect"

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PGPASSWORD": self.PASSWORD},
            cwd=self.folder,
            **self.run_as,
        )
        if result.returncode != 0:
            pytest.fail(f"{' '.join(command)} exited {result.returncode}: {result.stderr[-2000:]}")

    def start(self) -> None:
        data = self.folder / "data"
        (self.folder / "password").write_text(self.PASSWORD)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(data),
            "-U",
            self.USER,
            "-A",
            "scram-sha-256",
            "--pwfile",
            str(self.folder / "password"),
            "-E",
            "UTF8",
        )
        with (self.folder / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(self.folder),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.folder,
                **self.run_as,
            )
        deadline = time.monotonic() + 60
        while (
            subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"PostgreSQL did not start: {(self.folder / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER, "prefect")

    def query(self, sql: str) -> str:
        result = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.USER,
                "-d",
                "prefect",
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PGPASSWORD": self.PASSWORD},
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def add_pipeline(project: Path, package: str, name: str, source: str) -> None:
    """Add a pipeline package the registry finds, kept out of `__default__` so other runs stay as they were."""
    folder = project / "src" / package / "pipelines" / name
    folder.mkdir()
    (folder / "__init__.py").write_text("from .pipeline import create_pipeline  # noqa: F401\n")
    (folder / "pipeline.py").write_text(source)
    registry = project / "src" / package / "pipeline_registry.py"
    kept_out = "KEPT_OUT_OF_DEFAULT = "
    text = registry.read_text()
    if kept_out not in text:
        default = 'pipelines["__default__"] = sum(pipelines.values())'
        assert default in text, f"{registry} no longer builds __default__ as the template did"
        text = text.replace(
            default,
            'pipelines["__default__"] = sum(p for key, p in pipelines.items() if key not in KEPT_OUT_OF_DEFAULT)',
        )
        text += f"\n\n{kept_out}set()\n"
    registry.write_text(text + f"KEPT_OUT_OF_DEFAULT.add({json.dumps(name)})\n")


def descendants(root: int) -> list[int]:
    """Every process started, directly or not, by `root`."""
    return [int(entry.name) for entry in Path("/proc").glob("[0-9]*") if root in ancestors(int(entry.name))]


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1 as /proc/net/tcp* write them


def listening_sockets() -> list[tuple[str, int, str]]:
    """Every listening TCP socket as (local address in hex, port, inode), from /proc/net/tcp and tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                address, hex_port = fields[1].rsplit(":", 1)
                found.append((address, int(hex_port, 16), fields[9]))
    return found


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`."""
    return {address for address, listening_port, _ in listening_sockets() if listening_port == port}


def listening_addresses_of(pids: list[int]) -> set[str]:
    """Local addresses of the TCP sockets these processes listen on."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return {address for address, _, inode in listening_sockets() if inode in inodes}


# --- pseudo-terminals -------------------------------------------------------------------------

# A question a command asks (Prefect's prompts, rich's [y/n]) or Prefect's usage-data notice.
QUESTION = re.compile(r"(?m)^\? |\[[yY]/[nN]\]|How would you like to proceed|anonymous usage")
CTRL_C_LIMIT_SECONDS = 10


class Terminal:
    """One command in a pseudo-terminal of its own, its screen kept in a log file."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.command = " ".join(command)
        self.child = pexpect.spawn(
            command[0], command[1:], cwd=str(cwd), env=env, encoding="utf-8", timeout=300, dimensions=(50, 200)
        )
        self.child.logfile_read = log.open("a")

    @property
    def screen(self) -> str:
        self.child.logfile_read.flush()
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> None:
        found = self.child.expect([QUESTION, text, pexpect.EOF, pexpect.TIMEOUT], timeout=timeout)
        if found != 1:
            what = ("asked a question", "", "ended", "timed out")[found]
            pytest.fail(f"{self.command} {what} before {text!r}:\n{self.screen[-3000:]}")

    def finish(self, timeout: float = 300) -> tuple[int, str]:
        """Wait for the command to end; its status as a shell's ``$?`` shows it (128 + N when signal N
        ended it, so a command a Ctrl-C ended reports 130 whether it exited or died of the signal) and screen."""
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        screen = self.screen
        assert not QUESTION.search(screen), f"{self.command} asked:\n{screen[-3000:]}"
        if self.child.exitstatus is None:
            return 128 + self.child.signalstatus, screen
        return self.child.exitstatus, screen

    def ctrl_c(self) -> float:
        """Press Ctrl-C; seconds until the command and every process it started are gone."""
        started = descendants(self.child.pid)
        pressed = time.monotonic()
        self.child.sendintr()
        try:
            self.child.expect(pexpect.EOF, timeout=CTRL_C_LIMIT_SECONDS * 3)
        except pexpect.TIMEOUT:
            pass
        while time.monotonic() - pressed < CTRL_C_LIMIT_SECONDS * 3 and not all(map(process_gone, started)):
            time.sleep(0.1)
        seconds = time.monotonic() - pressed
        self.child.close(force=True)
        left = [pid for pid in started if not process_gone(pid)]
        assert not left, f"still running {seconds:.0f} s after Ctrl-C: {left}\n{self.screen[-2000:]}"
        return seconds
