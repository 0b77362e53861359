"""Register the project's flow as Prefect deployments: ``kedro prefect deploy``, ``make deploy``,
``python register_prefect_flow.py``.

Every deployment of ``conf/<env>/prefect.yml`` (or one, or a new one from the command line) is
registered from the project folder on a work pool; the worker then runs it from its own clone of
the project, wherever that sits. Three steps, so that nothing is half-applied:

1. ``plan``: everything that can be checked here is, before the server is asked anything: the file,
   the names its overrides use, each deployment's name, pipeline, filters and environment.
2. the server's part: it answers, each work pool exists and takes the job variables, images exist.
3. ``register``: every deployment is built first, then all are applied with Ctrl-C held back until
   the last one is: some deployments new and some old would be the worst outcome of an interrupt.
"""

from __future__ import annotations

import functools
import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import (
    DeploymentConfig,
    ExecutionConfig,
    PrefectConfig,
    PrefectConfigError,
    check_override_names,
    first_loop,
    load_kedro_parameters,
    load_prefect_config,
    validate_deployment,
)
from ..environment import no_tracking_environment
from ..project import NAME_PATTERN
from ..report import say
from .containers import CONTAINER_POOL_TYPES, job_variables
from .deployment_triggers import prefect_triggers
from .image import require_image
from .pools import check_job_variables, require_work_pools
from .run_form import FORM_FIELD, closed_schema, form_refusal
from .server import require_server, ui_url
from .source import ProjectSource

if TYPE_CHECKING:
    from prefect.client.schemas.objects import WorkPool

    from ..project import KedroProject


@dataclass(frozen=True)
class Planned:
    """A deployment as it will be registered."""

    entry: DeploymentConfig
    execution: ExecutionConfig
    """The execution settings of the deployment's Kedro environment."""
    kedro_parameters: dict[str, Any] | None = None
    """The project's parameters as the deployment's runs see them, for the run form; None: unreadable here."""

    @property
    def work_pool(self) -> str:
        """The entry's work pool (``selected_deployments`` gives every entry one)."""
        assert self.entry.work_pool is not None
        return self.entry.work_pool


def one_edit_apart(a: str, b: str) -> bool:
    """True when one character inserted, removed or replaced turns ``a`` into ``b``."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    shorter, longer = sorted((a, b), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def check_deployment_name(name: str, config: PrefectConfig, has_own_options: bool) -> None:
    """A name Prefect accepts, and not a near miss of one in the file (``daily-report``)."""
    import re

    if not re.fullmatch(NAME_PATTERN, name):
        raise PrefectConfigError(
            f"Deployment name '{name}' is not valid: use letters, digits, '.', '_' and '-', starting with a "
            "letter or digit (it becomes part of the deployment's URL)."
        )
    if config.deployment(name) is not None or has_own_options:
        return
    near = [entry.name for entry in config.deployments if one_edit_apart(name, entry.name)]
    if near:
        raise PrefectConfigError(
            f"prefect.yml has no deployment '{name}'; did you mean '{near[0]}'? "
            f"To register a new deployment '{name}', give it options (e.g. PIPELINE=...)."
        )


def selected_deployments(
    project: KedroProject,
    config: PrefectConfig,
    deployment_name: str | None,
    overrides: dict[str, Any],
    parameters: dict[str, Any],
) -> list[DeploymentConfig]:
    """All deployments of the file, or the named one (new if the file lacks it), with the
    command line's overrides and extra flow parameters."""
    if deployment_name is None:
        entries = config.deployments
    else:
        has_own_options = bool(set(overrides) - {"env"} or parameters)
        check_deployment_name(deployment_name, config, has_own_options)
        entries = [config.deployment(deployment_name) or DeploymentConfig(name=deployment_name)]
    defaults = {"work_pool": project.work_pool, "work_queue": project.work_queue}
    selected = []
    for entry in entries:
        data = defaults | entry.model_dump(exclude_none=True) | overrides
        data["parameters"] = data.get("parameters", {}) | parameters
        selected.append(validate_deployment(data, source="command line"))
    return selected


def project_catalog(project: KedroProject, entry: DeploymentConfig) -> Any:
    """The catalog a run of the deployment would get (its env, its runtime params), built by Kedro."""
    from kedro.framework.session import KedroSession

    options = entry.run_options()
    kedro_logger = logging.getLogger("kedro")
    level = kedro_logger.level
    kedro_logger.setLevel(logging.WARNING)  # the session's INFO lines say nothing about the deployment
    try:
        with KedroSession.create(
            project_path=project.path, env=entry.env, runtime_params=options.kedro_runtime_params()
        ) as session:
            # KedroSession's: the context manager is typed as Kedro's base session class.
            return session.load_context().catalog  # type: ignore[attr-defined]
    finally:
        kedro_logger.setLevel(level)


def check_dask_memory(project: KedroProject, entry: DeploymentConfig, execution: ExecutionConfig) -> None:
    """For a deployment that runs on Dask, apply the memory-dataset policy now, as its runs will.

    A ``refuse`` policy with in-memory datasets stops the deploy with the run's own message; the
    other policies say what they will do. Nothing is imported from Dask: the deploying machine
    need not have it.
    """
    from ..execution.grouping import initial_units
    from ..execution.memory_datasets import MemoryDatasetsError, describe_policy
    from ..execution.selection import selected_pipeline

    options = entry.run_options()
    execution = execution.for_run(options)
    if execution.task_runner != "dask":
        return
    pipeline = selected_pipeline(options)
    catalog = project_catalog(project, entry)
    try:
        units = initial_units(pipeline, execution.group_by)
        plan = describe_policy(pipeline, catalog, execution.dask.memory_datasets, units)
    except MemoryDatasetsError as error:
        raise PrefectConfigError(f"Deployment '{entry.name}': {error}") from None
    if plan:
        say(f"Deployment '{entry.name}' runs on Dask: {plan}")


def check_dataset_triggers(project: KedroProject, entry: DeploymentConfig) -> None:
    """An ``on_dataset`` trigger names a dataset some node saves to storage: a typo, or a dataset
    kept in memory, would be a trigger that never fires."""
    from ..execution.locations import configured_locations
    from ..execution.selection import registered_pipelines

    names = [trigger.on_dataset for trigger in entry.triggers if trigger.on_dataset is not None]
    if not names:
        return
    outputs = {name for pipeline in registered_pipelines().values() for name in pipeline.all_outputs()}
    persisted = configured_locations(project_catalog(project, entry), outputs)
    for name in names:
        if name not in outputs:
            known = ", ".join(sorted(persisted)) or "none"
            raise PrefectConfigError(
                f"Deployment '{entry.name}': on_dataset '{name}' is no node's output, so no run saves it. "
                f"Datasets the pipelines save to storage: {known}."
            )
        if name not in persisted:
            raise PrefectConfigError(
                f"Deployment '{entry.name}': on_dataset '{name}' is kept in memory (catalog.yml gives it no "
                "filepath), so no run saves it to storage; add it to catalog.yml, or trigger on a dataset that is."
            )


def check_trigger_loops(config: PrefectConfig) -> None:
    """A deployment whose runs save a dataset that starts it, directly or through others (``after``
    or ``on_dataset``), would run for ever: refused, as loops of ``after`` alone are when
    prefect.yml is read. Only when some trigger is ``on_dataset``: it needs each pipeline's outputs."""
    from ..execution.selection import selected_pipeline

    if not any(trigger.on_dataset for entry in config.deployments for trigger in entry.triggers):
        return
    saves = {entry.name: selected_pipeline(entry.run_options()).all_outputs() for entry in config.deployments}
    upstream = {
        entry.name: [
            *(trigger.after for trigger in entry.triggers if trigger.after is not None),
            *(
                saver
                for trigger in entry.triggers
                if trigger.on_dataset is not None
                for saver, outputs in saves.items()
                if trigger.on_dataset in outputs
            ),
        ]
        for entry in config.deployments
    }
    loop = first_loop(upstream)
    if loop:
        raise PrefectConfigError(
            f"Triggers form a loop ({' -> '.join(loop)}): each run would start the next for ever. "
            "Trigger on a dataset the deployment does not save, or drop one of the triggers."
        )


def form_parameters(project: KedroProject, entry: DeploymentConfig) -> dict[str, Any] | None:
    """The project's parameters for the entry's run form; when they cannot be read here (say, a
    ``${runtime_params:...}`` without a default), the form keeps one free-form field, and says so."""
    options = entry.run_options()
    try:
        kedro_parameters = load_kedro_parameters(project.path, entry.env, options.kedro_runtime_params())
    except PrefectConfigError as error:
        say(f"Deployment '{entry.name}': the run form shows `parameters` as one JSON field: {error}")
        return None
    # The server would refuse these when applying the deployment or starting the trigger's runs.
    given = [("parameters", entry.parameters), *((f"trigger {t.describe()}", t.parameters) for t in entry.triggers)]
    for where, flow_parameters in given:
        if FORM_FIELD in flow_parameters:
            refusal = form_refusal(flow_parameters[FORM_FIELD], kedro_parameters)
            if refusal:
                raise PrefectConfigError(f"Deployment '{entry.name}', {where}: {refusal}")
    return kedro_parameters


def plan(
    project: KedroProject, deployment_name: str | None, overrides: dict[str, Any], run_options: dict[str, Any]
) -> list[Planned]:
    """Every selected deployment, checked as far as this machine can check it (no server needed)."""
    from ..execution.selection import all_nodes_and_tags, selected_pipeline
    from ..project import configure_kedro

    configure_kedro(project.package_name)
    # Each Kedro environment's prefect.yml is loaded (and its environment checked) once.
    config_of = functools.cache(functools.partial(load_prefect_config, project.path))
    deployments = selected_deployments(
        project, config_of(overrides.get("env")), deployment_name, overrides, run_options
    )
    node_names, tags = all_nodes_and_tags()
    planned = []
    for entry in deployments:
        execution = config_of(entry.env).execution
        check_override_names(execution, node_names, tags, f"prefect.yml (env '{entry.env or 'local'}')")
        selected_pipeline(entry.run_options())
        planned.append(Planned(entry, execution, form_parameters(project, entry)))
    for item in planned:
        check_dask_memory(project, item.entry, item.execution)
        check_dataset_triggers(project, item.entry)
    check_trigger_loops(config_of(overrides.get("env")))  # after the names: a typo is named as one
    return planned


def run_form(deployment: Any, kedro_parameters: dict[str, Any] | None) -> None:
    """The deployment's parameter schema: closed to unknown parameters, with the project's Kedro
    parameters as typed fields of ``parameters`` (``run_form.py``).

    Prefect keeps the schema in a private attribute of the deployment it builds and edits it there
    itself (for frozen parameters); ``test_run_form.py`` fails if that attribute goes away.
    """
    from prefect.utilities.callables import ParameterSchema

    class ClosedParameterSchema(ParameterSchema):
        additionalProperties: bool = False

    schema = closed_schema(deployment._parameter_openapi_schema.model_dump(exclude_unset=True), kedro_parameters)
    deployment._parameter_openapi_schema = ClosedParameterSchema(**schema)


def deployment_job_variables(project: KedroProject, entry: DeploymentConfig, pool: WorkPool, image: str | None) -> dict:
    """The entry's job variables on its pool; one line when they do not suit it."""
    if image and pool.type not in CONTAINER_POOL_TYPES:
        raise PrefectConfigError(
            f"Deployment '{entry.name}': IMAGE is for docker and kubernetes pools; work pool '{pool.name}' "
            f"is a {pool.type} pool, which runs the project's own folder. Deploy to a container pool: WORK_POOL=..."
        )
    variables = job_variables(project, pool.type, no_tracking_environment(project.path), entry.job_variables, image)
    try:
        check_job_variables(pool, variables)
    except ValueError as error:
        raise PrefectConfigError(f"Deployment '{entry.name}': job_variables: {error}") from None
    return variables


def server_checks(project: KedroProject, planned: list[Planned], image: str | None) -> dict[str, dict]:
    """What only the server can say: pools exist and take the job variables; images exist here."""
    pools = require_work_pools({item.work_pool for item in planned})
    variables = {
        item.entry.name: deployment_job_variables(project, item.entry, pools[item.work_pool], image) for item in planned
    }
    # Images a docker worker on this machine would start, each checked once; a registry's are pulled.
    local_images = {
        variables[item.entry.name]["image"]
        for item in planned
        if pools[item.work_pool].type == "docker" and variables[item.entry.name].get("image_pull_policy") != "Always"
    }
    for local_image in sorted(local_images):
        require_image(local_image)
    return variables


class _HeldInterrupt:
    """Holds Ctrl-C back while the deployments are applied; says so, and exits 130 at the end."""

    def __enter__(self) -> _HeldInterrupt:
        self.interrupted = False
        self._previous = signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum: int, frame: object) -> None:
        if not self.interrupted:
            say("Ctrl-C: finishing the registration first, so that no deployment is left half-updated", err=True)
        self.interrupted = True

    def __exit__(self, *exc_info: object) -> None:
        signal.signal(signal.SIGINT, self._previous)
        if self.interrupted and exc_info[0] is None:
            raise SystemExit(130)


def register(project: KedroProject, planned: list[Planned], variables: dict[str, dict]) -> str:
    """Build every deployment, then apply them all; returns the flow's name."""
    from ..execution.flow import ENTRYPOINT, project_flow

    # Workers enter their own clone of the project, wherever it sits (source.py).
    flow = project_flow.from_source(source=ProjectSource(project.path, project.package_name), entrypoint=ENTRYPOINT)
    built = []
    for item in planned:
        entry = item.entry
        deployment = flow.to_deployment(
            name=entry.name,
            work_pool_name=item.work_pool,
            work_queue_name=entry.work_queue,
            parameters=entry.flow_parameters(),
            job_variables=variables[entry.name],
            schedule=entry.schedule.to_prefect() if entry.schedule else None,
            concurrency_limit=entry.concurrency_limit,
            tags=entry.tags,
            version=entry.version,
            description=entry.description or f"Kedro pipeline '{entry.pipeline}' of {project.project_name}",
            triggers=prefect_triggers(entry, flow.name),
        )
        run_form(deployment, item.kedro_parameters)
        built.append((item, deployment))
    with _HeldInterrupt():
        for item, deployment in built:
            entry = item.entry
            deployment_id = deployment.apply(work_pool_name=item.work_pool)
            say(
                f"Registered deployment '{flow.name}/{entry.name}' ({deployment_id}): pipeline "
                f"'{entry.pipeline}' on {item.work_pool}/{entry.work_queue}. "
                f"Run it with `make run DEPLOYMENT={entry.name}`"
            )
            for trigger in entry.triggers:
                say(f"  It also starts by itself {trigger.describe()}")
    return flow.name


def deploy(
    project: KedroProject,
    deployment_name: str | None,
    overrides: dict[str, Any],
    run_options: dict[str, Any],
    image: str | None = None,
) -> None:
    """Check every selected deployment here, then on the server, then register them all."""
    try:
        planned = plan(project, deployment_name, overrides, run_options)
        api = require_server()
        variables = server_checks(project, planned, image)
        register(project, planned, variables)
    except KeyboardInterrupt:
        # Only possible before the first deployment is applied: register() holds Ctrl-C from there.
        say("Ctrl-C: stopped before registering anything; no deployment changed", err=True)
        raise SystemExit(130) from None
    say(f"See them at {ui_url(api)}/deployments")
