"""What the Prefect layer needs to know about the Kedro project it serves, read from ``pyproject.toml``.

Kedro's own ``[tool.kedro]`` table names the package and the project; an optional
``[tool.kedro_prefect]`` table names the flow and the default work pool and queue. A project made
by ``kedro new`` without this template has no such table and gets defaults derived from its name,
so adopting the layer needs no edit there.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import KedroPrefectError, first_problem

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""Names Prefect accepts without quoting in a URL or on a command line (flow, pool, queue, deployment)."""


class ProjectError(KedroPrefectError):
    """The working directory is not a Kedro project, or its pyproject.toml is unusable; one line."""


class PrefectSettings(BaseModel):
    """``[tool.kedro_prefect]`` of pyproject.toml; every key is optional."""

    model_config = ConfigDict(extra="forbid")

    flow_name: str | None = Field(default=None, pattern=NAME_PATTERN)
    work_pool: str | None = Field(default=None, pattern=NAME_PATTERN)
    work_queue: str = Field(default="default", pattern=NAME_PATTERN)


class KedroProject(BaseModel):
    """A Kedro project as the Prefect layer sees it."""

    model_config = ConfigDict(frozen=True)

    path: Path
    package_name: str
    project_name: str
    source_dir: str = "src"
    """Where the package's folder sits, relative to ``path`` (``[tool.kedro] source_dir``)."""
    flow_name: str
    """Prefect flow name; deployments are addressed as ``<flow_name>/<deployment>``."""
    work_pool: str
    work_queue: str


def slug(text: str) -> str:
    """``Sales Forecast`` -> ``sales-forecast``: the folder name ``kedro new`` gives a project."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "kedro-project"


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` whose pyproject.toml has a ``[tool.kedro]`` table."""
    for folder in (start, *start.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "[tool.kedro]" in pyproject.read_text(encoding="utf-8"):
            return folder
    raise ProjectError(
        f"{start} is not inside a Kedro project (no pyproject.toml with a [tool.kedro] table above it). "
        "Run this from the project folder."
    )


def read_project(path: Path) -> KedroProject:
    """Read the project at ``path`` (its root folder)."""
    pyproject = path / "pyproject.toml"
    try:
        tools = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ProjectError(f"Cannot read {pyproject}: {error}") from None
    kedro = tools.get("kedro", {})
    if "package_name" not in kedro:
        raise ProjectError(f"{pyproject} has no [tool.kedro] package_name: is this a Kedro project?")
    try:
        settings = PrefectSettings.model_validate(tools.get("kedro_prefect", {}))
    except ValidationError as error:
        problem = first_problem(error)
        raise ProjectError(f"{pyproject} [tool.kedro_prefect] field '{problem.field}': {problem.message}") from None
    project_name = kedro.get("project_name", kedro["package_name"])
    flow_name = settings.flow_name or slug(project_name)
    return KedroProject(
        path=path,
        package_name=kedro["package_name"],
        project_name=project_name,
        source_dir=kedro.get("source_dir", "src"),
        flow_name=flow_name,
        work_pool=settings.work_pool or f"{flow_name}-pool",
        work_queue=settings.work_queue,
    )


@cache
def _project_at(path: Path) -> KedroProject:
    return read_project(path)


def current_project(start: Path | None = None) -> KedroProject:
    """The project containing ``start`` (the working directory by default), read once per process.

    Kedro commands, ``make`` targets and deployment runs (whose pull step enters the project
    folder) all start in the project, so the working directory is where to look.
    """
    return _project_at(find_project_root((start or Path.cwd()).resolve()))


def configure_kedro(package_name: str) -> None:
    """Load a project's settings and pipeline registry, as ``bootstrap_project`` does, once per process.

    Kedro's logging configuration is not applied again: inside a running flow that would close
    Prefect's API log handler and stall the run for seconds. The project's and this layer's loggers
    get the INFO level Kedro's own configuration would give the project's, so their records reach
    the run, in the flow's process and on Dask workers alike.
    """
    import logging

    import kedro.framework.project as kedro_project

    if kedro_project.PACKAGE_NAME != package_name:
        kedro_project.configure_project(package_name, preserve_logging=True)
    for name in (package_name, __package__):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
