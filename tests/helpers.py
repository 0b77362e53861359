"""Helpers shared by the template tests: baking, running commands with bounded time, free ports."""

from __future__ import annotations

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
