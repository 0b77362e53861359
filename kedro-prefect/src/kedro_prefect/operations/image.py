"""``make image`` / ``kedro prefect image``: the project's container image, for docker and kubernetes pools.

The image is built from the project's ``Dockerfile`` with whatever engine speaks Docker's command
line (``docker``, ``podman``). Its dependencies come from ``requirements.lock``, compiled from
``pyproject.toml`` by uv when missing or older than ``pyproject.toml``, so that an image built
today and one built next month hold the same packages. Tags are never ``latest``: Prefect's docker
worker would then try to pull the image from a registry on every run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from ..errors import KedroPrefectError
from ..project import KedroProject
from ..report import say

LOCK_FILE = "requirements.lock"
LOCK_PYTHON = "3.11"
"""The Python the lock is compiled for: the Dockerfile's default base image's."""


class ImageError(KedroPrefectError):
    """A build that cannot start or did not succeed; one line saying why and what to do."""


def default_tag(project: KedroProject) -> str:
    """The git commit of the project when it has one, else its package version."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=project.path, capture_output=True, text=True, check=False
    )
    if commit.returncode == 0 and commit.stdout.strip():
        return commit.stdout.strip()
    try:
        return metadata.version(project.package_name)
    except metadata.PackageNotFoundError:
        return "0.1"


def default_image(project: KedroProject) -> str:
    return f"{project.flow_name}:{default_tag(project)}"


def check_image_name(image: str) -> None:
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    if not tag or tag == "latest":
        raise ImageError(
            f"Image '{image}' has no tag or the tag 'latest': Prefect's docker worker then pulls it from a registry "
            f"before every run. Give it a version: IMAGE={name or image}:1.0"
        )


def require_engine(engine: str) -> str:
    """The engine's executable, once it answers; else one line on how to get it running."""
    executable = shutil.which(engine)
    if executable is None:
        raise ImageError(
            f"Container engine '{engine}' is not installed (not on PATH). Install Docker, or use podman: "
            "CONTAINER_ENGINE=podman"
        )
    info = subprocess.run([executable, "info"], capture_output=True, text=True, check=False, timeout=60)
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImageError(f"Container engine '{engine}' is not running ({engine} info: {last}). Start it, then retry.")
    return executable


def lock_dependencies(project: KedroProject) -> Path:
    """``requirements.lock``, compiled again when ``pyproject.toml`` or a wheel in ``vendor/`` is newer
    (a newer kedro-prefect there is what ``make update-layer`` installs)."""
    lock = project.path / LOCK_FILE
    sources = [project.path / "pyproject.toml", *(project.path / "vendor").glob("*.whl")]
    if lock.exists() and lock.stat().st_mtime >= max(source.stat().st_mtime for source in sources):
        return lock
    beside_python = Path(sys.executable).with_name("uv")  # the project's venv, active or not
    uv = str(beside_python) if beside_python.is_file() else shutil.which("uv")
    if uv is None:
        raise ImageError(f"uv compiles {LOCK_FILE} and is not installed: `make install` (the dev extra brings it)")
    say(f"Locking the dependencies of pyproject.toml into {LOCK_FILE} (Python {LOCK_PYTHON})")
    compiling = lock.with_name(f"{LOCK_FILE}.tmp")  # never a half-written lock
    compiled = subprocess.run(  # relative paths: uv writes its command line into the lock's header
        [uv, "pip", "compile", "--quiet", "--python-version", LOCK_PYTHON, "pyproject.toml", "-o", compiling.name],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        compiling.unlink(missing_ok=True)
        raise ImageError(f"uv could not lock pyproject.toml's dependencies: {compiled.stderr.strip()[-500:]}")
    compiling.replace(lock)
    return lock


def build_image(project: KedroProject, image: str | None, engine: str, base_image: str | None) -> str:
    """Build the image; print its size and how long the build took."""
    image = image or default_image(project)
    check_image_name(image)
    executable = require_engine(engine)
    if not (project.path / "Dockerfile").is_file():
        raise ImageError(f"No Dockerfile in {project.path}: copy the one of kedro-prefect-starter's template")
    lock_dependencies(project)
    command = [executable, "build", "--tag", image]
    if base_image:
        command += ["--build-arg", f"BASE_IMAGE={base_image}"]
    started = time.monotonic()
    if subprocess.run([*command, str(project.path)], check=False).returncode != 0:
        raise ImageError(f"{engine} build of {image} failed: its output above says why")
    seconds = time.monotonic() - started
    inspected = subprocess.run([executable, "image", "inspect", image], capture_output=True, text=True, check=False)
    try:
        megabytes = f"{json.loads(inspected.stdout)[0]['Size'] / 1e6:.0f} MB"
    except (ValueError, LookupError, TypeError):
        megabytes = "size unknown"
    say(f"Built {image} in {seconds:.0f} s ({megabytes}). Deploy on a docker pool: make deploy IMAGE={image}")
    return image


def push_image(image: str, engine: str) -> None:
    executable = require_engine(engine)
    if subprocess.run([executable, "push", image], check=False).returncode != 0:
        raise ImageError(f"{engine} push {image} failed: IMAGE must name a registry you are logged in to")


def require_image(image: str, engine: str | None = None) -> None:
    """Stop when the image is missing from this machine's engine, which a docker worker here would run.

    Without an engine on this machine (the workers run elsewhere), say that nothing was checked.
    """
    engine = engine or os.environ.get("CONTAINER_ENGINE") or "docker"
    if shutil.which(engine) is None:
        say(f"Not checked that image {image} exists: no {engine} here. The docker workers' engine must have it.")
        return
    executable = require_engine(engine)
    if subprocess.run([executable, "image", "inspect", image], capture_output=True, check=False).returncode != 0:
        raise ImageError(
            f"Image '{image}' is not among {engine}'s images. Build it with `make image IMAGE={image}` "
            "(or push it to a registry the workers pull from and set image_pull_policy: Always), then deploy again."
        )
