"""``conf/<env>/prefect.yml``: how nodes run as Prefect tasks, and which deployments exist.

The file is read through Kedro's config loader (``conf/local`` or any env overrides ``conf/base``,
nested keys merged) and validated by one pydantic model per concern, so a mistake is reported as
one line naming the entry and the field, before anything runs or is registered.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import KedroPrefectError, first_problem
from .options import GroupBy, InvalidRunOptions, RunOptions, TaskRunnerName, given_over, without_unset
from .project import NAME_PATTERN

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

MemoryPolicy = Literal["group", "persist", "refuse"]


class PrefectConfigError(KedroPrefectError):
    """prefect.yml is malformed; the message is one line naming the entry and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskSettings(_Strict):
    """Prefect task options for a node; ``None`` leaves the value to the next, broader level."""

    retries: int | None = Field(default=None, ge=0)
    retry_delay_seconds: float | None = Field(default=None, ge=0)
    timeout_seconds: PositiveFloat | None = None

    def as_options(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DaskConfig(_Strict):
    """Where the ``dask`` task runner sends nodes, and what becomes of datasets kept in memory.

    Nodes on Dask run in other processes, often on other machines, so a dataset that only lives in
    memory cannot travel from the node that makes it to the node that reads it.
    """

    address: str | None = None
    """Scheduler of an existing cluster (``tcp://host:8786``); ``None`` starts a local one per run."""
    n_workers: PositiveInt = 2
    """Worker processes of the local cluster (ignored with ``address``)."""
    threads_per_worker: PositiveInt = 1
    """Nodes each local worker process runs at once (ignored with ``address``): more suits nodes that
    wait (I/O, sleeps, native code releasing the GIL)."""
    memory_datasets: MemoryPolicy = "group"
    """``group``: nodes joined by in-memory datasets run together in one task; ``persist``: such
    datasets are pickled under ``persist_location``; ``refuse``: the run stops before any node."""
    persist_location: str = "data/.dask-shared"
    """fsspec folder every Dask worker can reach (relative paths: inside the project)."""


class ExecutionConfig(_Strict):
    """How the flow runs nodes: concurrency, and task options by default, by tag and by node."""

    max_workers: PositiveInt | None = None
    task_runner: TaskRunnerName = "threads"
    group_by: GroupBy = "none"
    """``namespace``: one Prefect task per top-level namespace (Kedro's ``group_nodes_by``)."""
    dask: DaskConfig = DaskConfig()
    task_defaults: TaskSettings = TaskSettings()
    tag_overrides: dict[str, TaskSettings] = {}
    node_overrides: dict[str, TaskSettings] = {}

    def for_run(self, options: RunOptions) -> ExecutionConfig:
        """This run's execution: each run option that is set wins over its prefect.yml setting.

        The one place that rule is written; the flow and ``make deploy``'s checks both go through it.
        """
        update: dict[str, Any] = {
            name: value
            for name in ("max_workers", "task_runner", "group_by")
            if (value := getattr(options, name)) is not None
        }
        if options.dask_address:
            update["dask"] = self.dask.model_copy(update={"address": options.dask_address})
        return self.model_copy(update=update)

    def task_options(self, node: Node) -> dict[str, Any]:
        """Defaults, then the node's tags in alphabetical order, then the node's own entry."""
        options = self.task_defaults.as_options()
        for tag in sorted(node.tags & self.tag_overrides.keys()):
            options.update(self.tag_overrides[tag].as_options())
        if node.name in self.node_overrides:
            options.update(self.node_overrides[node.name].as_options())
        return options


class ScheduleConfig(_Strict):
    """Exactly one of ``cron`` (with an optional IANA ``timezone``) or ``interval`` seconds."""

    cron: str | None = None
    interval: PositiveFloat | None = None
    timezone: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleConfig:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of 'cron' or 'interval'")
        return self

    @model_validator(mode="after")
    def _valid_for_prefect(self) -> ScheduleConfig:
        """Prefect's own schedule schema decides what a valid cron string and time zone are."""
        from prefect.client.schemas.schedules import CronSchedule

        if self.cron is not None:
            try:
                CronSchedule(cron=self.cron, timezone=self.timezone)
            except ValidationError as error:
                raise ValueError(first_problem(error).message) from None
        return self

    def to_prefect(self) -> Any:
        from datetime import timedelta

        from prefect.schedules import Cron, Interval

        if self.cron is not None:
            return Cron(self.cron, timezone=self.timezone)
        assert self.interval is not None  # exactly one of the two (_one_kind)
        return Interval(timedelta(seconds=self.interval), timezone=self.timezone)


def _checked_run_parameters(value: dict[str, Any]) -> dict[str, Any]:
    """Flow parameters checked by the flow's own model, so deploying fails where a run would."""
    if {"pipeline_name", "env"} & value.keys():
        raise ValueError("set the pipeline and env with the entry's 'pipeline' and 'env' keys")
    try:
        RunOptions.parse(value, source="parameters")
    except InvalidRunOptions as error:
        raise ValueError(str(error)) from None
    return value


class TriggerConfig(_Strict):
    """What starts a deployment besides its schedule: exactly one of ``after`` (a run of that
    deployment of this project Completed) or ``on_dataset`` (any run of this project saved that
    catalog dataset), with flow parameters for the run it starts (none: the deployment's own)."""

    after: str | None = Field(default=None, pattern=NAME_PATTERN)
    on_dataset: str | None = Field(default=None, min_length=1)
    parameters: dict[str, Any] = {}

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerConfig:
        if (self.after is None) == (self.on_dataset is None):
            raise ValueError("give exactly one of 'after: <deployment>' or 'on_dataset: <catalog dataset>'")
        return self

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _checked_run_parameters(value)

    def describe(self) -> str:
        """``after default Completes`` or ``when a run saves order_table``."""
        return f"after {self.after} Completes" if self.after else f"when a run saves {self.on_dataset}"


class DeploymentConfig(_Strict):
    """One Prefect deployment of the flow."""

    name: str = Field(pattern=NAME_PATTERN)
    pipeline: str = "__default__"
    env: str | None = None
    parameters: dict[str, Any] = {}
    work_pool: str | None = Field(default=None, pattern=NAME_PATTERN)
    work_queue: str | None = Field(default=None, pattern=NAME_PATTERN)
    tags: list[str] = []
    version: str | None = None
    description: str | None = None
    schedule: ScheduleConfig | None = None
    concurrency_limit: PositiveInt | None = None
    job_variables: dict[str, Any] = {}
    """Prefect job variables for the pool's workers, over the defaults its type gets (README,
    "Containers"); ``make deploy`` checks them against the pool's job template first."""
    triggers: list[TriggerConfig] = []
    """Runs that start by themselves, after another deployment's run or on a saved dataset."""

    @field_validator("job_variables")
    @classmethod
    def _env_is_a_mapping(cls, value: dict[str, Any]) -> dict[str, Any]:
        env = value.get("env")
        if env is not None and not isinstance(env, dict):
            example = "env: {MY_VARIABLE: value}"
            raise ValueError(f"'env' must map variable names to values, e.g. {example}, not {type(env).__name__}")
        return value

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _checked_run_parameters(value)

    @model_validator(mode="after")
    def _triggers_set_what_they_can(self) -> DeploymentConfig:
        for trigger in self.triggers:
            try:
                given_over(self.parameters, trigger.parameters, f"trigger {trigger.describe()}")
            except InvalidRunOptions as error:
                raise ValueError(str(error)) from None
        return self

    def flow_parameters(self) -> dict[str, Any]:
        """The parameters the deployment stores: its pipeline and env, and the options it sets."""
        return without_unset({"pipeline_name": self.pipeline, "env": self.env, **self.parameters})

    def run_options(self) -> RunOptions:
        return RunOptions.parse(self.flow_parameters(), source=f"deployment '{self.name}'")


class PrefectConfig(_Strict):
    execution: ExecutionConfig = ExecutionConfig()
    deployments: list[DeploymentConfig] = [DeploymentConfig(name="default")]

    @field_validator("deployments")
    @classmethod
    def _unique_names(cls, value: list[DeploymentConfig]) -> list[DeploymentConfig]:
        names = [deployment.name for deployment in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"deployment names must be unique; repeated: {duplicates}")
        _check_after_names(value)
        return value

    def deployment(self, name: str) -> DeploymentConfig | None:
        return next((deployment for deployment in self.deployments if deployment.name == name), None)


def _check_after_names(deployments: list[DeploymentConfig]) -> None:
    """``after:`` names another deployment of the file, and no chain of them comes back to where it
    started (each run would start the next for ever)."""
    names = [deployment.name for deployment in deployments]
    upstream = {d.name: [t.after for t in d.triggers if t.after is not None] for d in deployments}
    for name, afters in upstream.items():
        for after in afters:
            if after not in names:
                raise ValueError(
                    f"deployment '{name}' runs after '{after}', which prefect.yml does not list; "
                    f"known: {', '.join(names)}"
                )
    loop = first_loop(upstream)
    if loop:
        raise ValueError(f"'after' triggers form a loop ({' -> '.join(loop)}): each run would start the next for ever")


def first_loop(upstream: dict[str, list[str]]) -> list[str] | None:
    """A cycle of the "runs after" graph, as the names along it (first = last), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        visiting.append(name)
        for after in upstream.get(name, []):
            if after in visiting:
                return [*visiting[visiting.index(after) :], after]
            if after not in done:
                found = visit(after)
                if found:
                    return found
        visiting.pop()
        done.add(name)
        return None

    for name in upstream:
        if name not in done:
            found = visit(name)
            if found:
                return found
    return None


def parse_prefect_config(raw: dict[str, Any], source: str = "prefect.yml") -> PrefectConfig:
    """Validate raw configuration, turning the first error into one line."""
    if raw is not None and not isinstance(raw, dict):
        raise PrefectConfigError(
            f"{source}: the file holds a {type(raw).__name__} at its top level; it must be a mapping with "
            "'execution:' and 'deployments:' keys."
        )
    try:
        return PrefectConfig.model_validate(raw or {})
    except ValidationError as error:
        raise PrefectConfigError(f"{source}: {_describe(error, raw or {})}") from None


def validate_deployment(data: dict[str, Any], source: str) -> DeploymentConfig:
    """One deployment entry, e.g. after command-line overrides, with the same one-line errors."""
    try:
        return DeploymentConfig.model_validate(data)
    except ValidationError as error:
        raise PrefectConfigError(f"{source}: deployment '{data.get('name')}': {_describe(error, {})}") from None


def _describe(error: ValidationError, raw: dict[str, Any]) -> str:
    problem = first_problem(error)
    location = list(problem.location)
    where = ""
    if location[:1] == ["deployments"] and len(location) > 1 and isinstance(location[1], int):
        index = location[1]
        try:
            name = raw["deployments"][index].get("name")
        except (AttributeError, IndexError, KeyError, TypeError):
            name = None
        where = f"deployments[{index}]" + (f" ('{name}')" if name else "")
        location = location[2:]
    field = ".".join(str(part) for part in location)
    parts = [part for part in (where, f"field '{field}'" if field else "") if part]
    return f"{', '.join(parts) or 'top level'}: {problem.message}"


def check_override_names(execution: ExecutionConfig, node_names: set[str], tags: set[str], source: str) -> None:
    """``node_overrides`` and ``tag_overrides`` name nodes and tags that exist: a typo there would
    silently change nothing. ``node_names`` and ``tags``: those of every registered pipeline."""
    import difflib

    for field, known, what in (("node_overrides", node_names, "node"), ("tag_overrides", tags, "tag")):
        for name in getattr(execution, field):
            if name in known:
                continue
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = (
                f"did you mean '{close[0]}'?" if close else f"known {what}s: {', '.join(sorted(known)[:12]) or 'none'}"
            )
            raise PrefectConfigError(f"{source}: execution.{field}: no {what} is named '{name}'; {hint}")


def check_env(project_path: Path, env: str | None) -> None:
    """An unknown environment would silently fall back to conf/base; refuse it instead."""
    if env is None:
        return
    conf = project_path / "conf"
    if not (conf / env).is_dir():
        known = sorted(path.name for path in conf.iterdir() if path.is_dir())
        raise PrefectConfigError(
            f"Unknown Kedro environment '{env}': there is no folder conf/{env}. Known: {', '.join(known)}."
        )


PREFECT_PATTERNS = ["prefect*", "prefect*/**"]


def _config_loader(project_path: Path, env: str | None, runtime_params: dict[str, Any] | None = None) -> Any:
    """The project's own config loader for ``env``, with the ``prefect`` pattern and its "soft" merge
    (``conf/local/prefect.yml`` may change one nested value of ``conf/base``'s) added, so a
    project's settings.py needs no edit."""
    from kedro.framework.project import settings

    check_env(project_path, env)
    arguments = dict(settings.CONFIG_LOADER_ARGS)
    arguments["config_patterns"] = {"prefect": PREFECT_PATTERNS, **arguments.get("config_patterns", {})}
    arguments["merge_strategy"] = {"prefect": "soft", **arguments.get("merge_strategy", {})}
    return settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / settings.CONF_SOURCE), env=env, runtime_params=runtime_params, **arguments
    )


def load_prefect_config(project_path: Path, env: str | None = None) -> PrefectConfig:
    """Read prefect.yml for ``env`` with the project's own config loader settings."""
    from kedro.config import MissingConfigException

    loader = _config_loader(project_path, env)
    source = f"prefect.yml (env '{env or loader.default_run_env}')"
    try:
        raw = loader["prefect"]
    except MissingConfigException:
        raw = {}
    except Exception as error:  # noqa: BLE001 - YAML and OmegaConf errors, each turned into one line
        raise PrefectConfigError(f"{source}: {describe_load_error(error)}") from None
    return parse_prefect_config(raw, source=source)


def load_kedro_parameters(project_path: Path, env: str | None, runtime_params: dict[str, Any] | None) -> dict[str, Any]:
    """The project's parameters for ``env`` as a run with these runtime params sees them."""
    from kedro.config import MissingConfigException

    try:
        return dict(_config_loader(project_path, env, runtime_params)["parameters"])
    except MissingConfigException:
        return {}
    except Exception as error:  # noqa: BLE001 - YAML and OmegaConf errors, each turned into one line
        raise PrefectConfigError(f"parameters (env '{env or 'local'}'): {describe_load_error(error)}") from None


def describe_load_error(error: Exception) -> str:
    """What the config loader could not read, as one line with its fix."""
    import yaml
    from omegaconf.errors import ConfigAttributeError, InterpolationResolutionError, OmegaConfBaseException

    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, yaml.YAMLError):
        return f"{first_line} Fix the YAML there (indentation, a missing ':' or closing bracket)."
    if isinstance(error, ConfigAttributeError) and "ListConfig" in first_line:
        return "the file holds a list at its top level; it must be a mapping with 'execution:' and 'deployments:' keys."
    if isinstance(error, InterpolationResolutionError):
        key = getattr(error, "full_key", None) or "a value"
        hint = ""
        if "oc.env" in first_line:
            hint = " Kedro resolves ${oc.env:...} only in credentials files; write the value, or use ${runtime_params:...}."
        return f"{key}: {first_line}.{hint}"
    if isinstance(error, OmegaConfBaseException):
        key = getattr(error, "full_key", None)
        return f"{key + ': ' if key else ''}{first_line}"
    raise error
