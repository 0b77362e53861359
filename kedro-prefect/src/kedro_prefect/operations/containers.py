"""Job variables of a deployment: what its work pool's workers need to start a run.

A process pool needs the run's environment and the command that starts it. A container pool
(docker, kubernetes) also needs the image, a pull policy that uses an image built here, and a place
for the run's data that outlives the container: on docker, the project's ``data/`` folder mounted
where the image's project expects it, with the container running as that folder's owner so that
what it writes there belongs to the same user. ``job_variables`` of a deployment in ``prefect.yml`` are merged
over these defaults (``env`` key by key, everything else replaced).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import KedroPrefectError
from .image import check_image_name, default_image
from .pools import default_job_template
from .source import PROJECT_PATH_VARIABLE

if TYPE_CHECKING:
    from ..project import KedroProject

IMAGE_PROJECT = "/home/kedro/project"
"""Where the Dockerfile puts the project inside the image (its WORKDIR)."""

CONTAINER_POOL_TYPES = frozenset({"docker", "kubernetes"})

PROCESS_RUN_COMMAND = "python -m prefect.engine"
"""How a process worker starts a run: Prefect's engine, which runs the pull step and the flow.

Without a command, Prefect 3.9's process worker starts a supervisor process that runs the pull
step and then starts the engine as a second Python process: one more interpreter start and Prefect
import per run (over a second of a small run's few), and one more process held for the run's whole
length. ``python`` is the worker's own: ``kedro prefect agent``
puts its environment first on PATH (``WorkerSpec.env``). ``job_variables: {command: null}`` in
prefect.yml brings Prefect's supervisor back."""


def job_variables(
    project: KedroProject,
    pool_type: str,
    env: dict[str, str],
    configured: dict[str, Any],
    image: str | None = None,
) -> dict[str, Any]:
    """The deployment's job variables for a pool of ``pool_type``; on a container pool, ``image``
    (the command line's) wins over ``configured``'s."""
    defaults: dict[str, Any] = {"env": dict(env)}
    if pool_type == "process":
        defaults["command"] = PROCESS_RUN_COMMAND
    if pool_type in CONTAINER_POOL_TYPES:
        defaults["image_pull_policy"] = "IfNotPresent"
        # The image's own settings would be overridden by the worker's: its PREFECT_HOME may not
        # exist in the container, and its KEDRO_PROJECT_PATH names a folder on the worker's host.
        defaults["env"] |= {PROJECT_PATH_VARIABLE: IMAGE_PROJECT, "PREFECT_HOME": "/tmp/.prefect"}
    if pool_type == "docker":
        data = project.path / "data"
        defaults["volumes"] = [f"{data}:{IMAGE_PROJECT}/data"]
        defaults["container_create_kwargs"] = {"user": _owner(data if data.exists() else project.path)}
    merged = defaults | {key: value for key, value in configured.items() if key != "env"}
    merged["env"] = defaults["env"] | configured.get("env", {})
    if pool_type in CONTAINER_POOL_TYPES:
        merged["image"] = image or configured.get("image") or default_image(project)
        check_image_name(merged["image"])
    return merged


def _owner(folder: Path) -> str:
    stat = folder.stat()
    return f"{stat.st_uid}:{stat.st_gid}"


def require_container_engine(pool_type: str) -> None:
    """A docker worker needs its package and an engine it can reach; one line when either is missing."""
    if pool_type != "docker":
        return
    default_job_template(pool_type)  # stops with one line when prefect-docker is missing
    import docker

    where = os.environ.get("DOCKER_HOST") or "the default socket, unix:///var/run/docker.sock"
    try:
        docker.from_env(timeout=10).ping()
    except docker.errors.DockerException as error:
        reason = str(error).splitlines()[0][:200]
        raise KedroPrefectError(
            f"The docker worker cannot reach a container engine at {where} ({reason}). Start Docker, or podman's "
            'API service with DOCKER_HOST pointing at its socket (README, "Containers"), then retry.'
        ) from None
