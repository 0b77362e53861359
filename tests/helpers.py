"""Helpers shared by the template tests: baking, running commands with bounded time, free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
DEV_BIN = Path(sys.executable).parent


def bake(output_dir: Path, **answers: object) -> Path:
    """Generate a project with cookiecutter's API, no prompts; return its folder."""
    return Path(
        cookiecutter(
            str(TEMPLATE),
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
        self.port = port
        self.env = project_env(
            PATH=f"{venv / 'bin'}{os.pathsep}{DEV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            VIRTUAL_ENV=str(venv),
        )

    @classmethod
    def installed(cls, path: Path, venv: Path) -> Project:
        """Create `venv`, run the project's `make install` into it, and pick a free port."""
        run([str(DEV_BIN / "uv"), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=venv.parent)
        project = cls(path, venv, free_port())
        project.make("install", timeout=600)
        return project

    def make(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`make` on this project's port, unless the arguments name another one."""
        port = [] if any(arg.startswith("PREFECT_PORT=") for arg in args) else [f"PREFECT_PORT={self.port}"]
        return run(["make", *args, *port], cwd=self.path, env=self.env, timeout=timeout, check=check)

    def api(self, script: str, *args: str, timeout: float = 120, check: bool = True) -> object:
        """Run a snippet with the project's own Prefect client; it prints one JSON value (None if it failed)."""
        prelude = "import json, sys\nfrom prefect.client.orchestration import get_client\n"
        env = {**self.env, "PREFECT_API_URL": f"http://127.0.0.1:{self.port}/api"}
        result = run(["python", "-c", prelude + script, *args], cwd=self.path, env=env, timeout=timeout, check=check)
        return json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None
