"""Register the project's flow as Prefect deployments: ``kedro prefect deploy``, ``make deploy``,
``python register_prefect_flow.py``.

Every deployment of ``conf/<env>/prefect.yml`` (or one, or a new one from the command line) is
registered from the project folder on a work pool; the worker then runs it from its own clone of
the project, wherever that sits. Nothing is registered unless the server answers and every selected deployment is
valid: its pipeline exists, its environment exists, its work pool exists, its entry is well formed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import click
import yaml

from ..config import (
    DeploymentConfig,
    PrefectConfig,
    PrefectConfigError,
    check_env,
    load_prefect_config,
    validate_deployment,
)
from ..options import InvalidRunOptions
from .containers import CONTAINER_POOL_TYPES, job_variables
from .image import require_image
from .pools import check_job_variables, require_work_pools
from .server import require_server, ui_url
from .source import ProjectSource

if TYPE_CHECKING:
    from prefect.client.schemas.objects import WorkPool

    from ..project import KedroProject


def telemetry_env(project: KedroProject) -> dict[str, str]:
    """Job environment that keeps Kedro telemetry off on workers unless the project consented."""
    try:
        consent = (yaml.safe_load((project.path / ".telemetry").read_text()) or {}).get("consent") is True
    except (FileNotFoundError, yaml.YAMLError, AttributeError):
        consent = False
    return {} if consent else {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


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
        entries = [config.deployment(deployment_name) or DeploymentConfig(name=deployment_name)]
    defaults = {"work_pool": project.work_pool, "work_queue": project.work_queue}
    selected = []
    for entry in entries:
        data = defaults | entry.model_dump(exclude_none=True) | overrides
        data["parameters"] = data.get("parameters", {}) | parameters
        selected.append(validate_deployment(data, source="command line"))
    return selected


def check_dask_memory(project: KedroProject, entry: DeploymentConfig) -> None:
    """For a deployment that runs on Dask, apply the memory-dataset policy now, as its runs will.

    A ``refuse`` policy with in-memory datasets stops the deploy with the run's own message; the
    other policies say what they will do. Nothing is imported from Dask: the deploying machine
    need not have it.
    """
    from kedro.framework.session import KedroSession

    from ..execution.flow import dask_config
    from ..execution.grouping import initial_units
    from ..execution.memory_datasets import MemoryDatasetsError, describe_policy
    from ..execution.selection import selected_pipeline

    options = entry.run_options()
    execution = load_prefect_config(project.path, entry.env).execution
    config = dask_config(execution, options)
    if config is None:
        return
    pipeline = selected_pipeline(options)
    kedro_logger = logging.getLogger("kedro")
    level = kedro_logger.level
    kedro_logger.setLevel(logging.WARNING)  # the session's INFO lines say nothing about the deployment
    try:
        with KedroSession.create(
            project_path=project.path, env=entry.env, runtime_params=options.runtime_params
        ) as session:
            catalog = session.load_context().catalog
    finally:
        kedro_logger.setLevel(level)
    try:
        units = initial_units(pipeline, options.group_by or execution.group_by)
        plan = describe_policy(pipeline, catalog, config.memory_datasets, units)
    except MemoryDatasetsError as error:
        raise click.ClickException(f"Deployment '{entry.name}': {error}") from None
    if plan:
        click.echo(f"Deployment '{entry.name}' runs on Dask: {plan}")


def strict_parameter_schema(deployment: Any) -> None:
    """Refuse unknown parameters on the server, as wrongly typed ones already are.

    Prefect's schema allows any extra key, and a flow run carrying one never starts: its process
    exits before the flow body can say why, and the run ends Crashed. With the schema closed, the
    server refuses such a run when it is created, from the UI, the API or ``make run``.
    """
    from prefect.utilities.callables import ParameterSchema

    class StrictParameterSchema(ParameterSchema):
        additionalProperties: bool = False

    schema = deployment._parameter_openapi_schema.model_dump(exclude_unset=True)
    deployment._parameter_openapi_schema = StrictParameterSchema(**schema, additionalProperties=False)


def deployment_job_variables(project: KedroProject, entry: DeploymentConfig, pool: WorkPool, image: str | None) -> dict:
    """The entry's job variables on its pool; one line when they do not suit it."""
    if image and pool.type not in CONTAINER_POOL_TYPES:
        raise click.ClickException(
            f"Deployment '{entry.name}': IMAGE is for docker and kubernetes pools; work pool '{pool.name}' "
            f"is a {pool.type} pool, which runs the project's own folder. Deploy to a container pool: WORK_POOL=..."
        )
    variables = job_variables(project, pool.type, telemetry_env(project), entry.job_variables, image)
    try:
        check_job_variables(pool, variables)
    except ValueError as error:
        raise click.ClickException(f"Deployment '{entry.name}': job_variables: {error}") from None
    return variables


def deploy(
    project: KedroProject,
    deployment_name: str | None,
    overrides: dict[str, Any],
    run_options: dict[str, Any],
    image: str | None = None,
) -> None:
    """Validate every selected deployment, then register them all."""
    from ..execution.flow import ENTRYPOINT, project_flow
    from ..execution.selection import check_pipeline_name
    from ..project import configure_kedro

    api = require_server()
    configure_kedro(project.package_name)
    try:
        config = load_prefect_config(project.path, overrides.get("env"))
        deployments = selected_deployments(project, config, deployment_name, overrides, run_options)
        for entry in deployments:
            check_env(project.path, entry.env)
            check_pipeline_name(entry.pipeline)
        for entry in deployments:
            check_dask_memory(project, entry)
    except (PrefectConfigError, InvalidRunOptions) as error:
        raise click.ClickException(str(error)) from None
    pools = require_work_pools({entry.work_pool for entry in deployments})
    variables = {
        entry.name: deployment_job_variables(project, entry, pools[entry.work_pool], image) for entry in deployments
    }
    # Images a docker worker on this machine would start, each checked once; a registry's are pulled.
    local_images = {
        variables[entry.name]["image"]
        for entry in deployments
        if pools[entry.work_pool].type == "docker" and variables[entry.name].get("image_pull_policy") != "Always"
    }
    for local_image in sorted(local_images):
        require_image(local_image)

    # Workers enter their own clone of the project, wherever it sits (source.py).
    flow = project_flow.from_source(source=ProjectSource(project.path, project.package_name), entrypoint=ENTRYPOINT)
    for entry in deployments:
        deployment = flow.to_deployment(
            name=entry.name,
            work_pool_name=entry.work_pool,
            work_queue_name=entry.work_queue,
            parameters=entry.flow_parameters(),
            job_variables=variables[entry.name],
            schedule=entry.schedule.to_prefect() if entry.schedule else None,
            concurrency_limit=entry.concurrency_limit,
            tags=entry.tags,
            version=entry.version,
            description=entry.description or f"Kedro pipeline '{entry.pipeline}' of {project.project_name}",
        )
        strict_parameter_schema(deployment)
        deployment_id = deployment.apply(work_pool_name=entry.work_pool)
        click.echo(
            f"Registered deployment '{flow.name}/{entry.name}' ({deployment_id}): pipeline "
            f"'{entry.pipeline}' on {entry.work_pool}/{entry.work_queue}. Run it with `make run DEPLOYMENT={entry.name}`"
        )
    click.echo(f"See them at {ui_url(api)}/deployments")
