"""Register this Kedro project's pipelines as Prefect deployments.

    python register_prefect_flow.py                      # every deployment in conf/<env>/prefect.yml
    python register_prefect_flow.py --deployment-name X  # one of them, or a new one from the options
    python register_prefect_flow.py --pipeline data_processing --deployment-name dp --version 1.0

The successor of the script on Kedro's old Prefect page, with the same options, for Prefect 3: each
deployment is registered with ``flow.from_source(...).deploy(...)`` on a ``process`` work pool, and
the worker runs it from this folder. Options given on the command line override the file. Nothing is
registered unless the server answers and every selected deployment is valid: its pipeline exists,
its work pool exists, its entry in prefect.yml is well formed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import click
import yaml

# Kedro 1.7's config loader calls an OmegaConf API that OmegaConf has deprecated: not the user's concern.
warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)

PROJECT_PATH = Path(__file__).resolve().parent
PACKAGE_NAME = "{{ cookiecutter.python_package }}"
ENTRYPOINT = f"{PACKAGE_NAME}.prefect_flow.flow.kedro_pipeline"
DEFAULT_WORK_POOL = "{{ cookiecutter.work_pool_name }}"
DEFAULT_WORK_QUEUE = "{{ cookiecutter.work_queue_name }}"


def telemetry_env() -> dict[str, str]:
    """Job environment that keeps Kedro telemetry off on workers unless the project consented."""
    try:
        consent = (yaml.safe_load((PROJECT_PATH / ".telemetry").read_text()) or {}).get("consent") is True
    except (FileNotFoundError, yaml.YAMLError, AttributeError):
        consent = False
    return {} if consent else {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


def require_work_pools(names: set[str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for name in sorted(names):
            try:
                client.read_work_pool(name)
            except ObjectNotFound:
                raise click.ClickException(
                    f"Work pool '{name}' does not exist on the server. Create it with `make agent` "
                    f"(or `prefect work-pool create {name} --type process`), then deploy again."
                ) from None


def selected_deployments(
    config, deployment_name: str | None, overrides: dict[str, str], parameters: dict[str, str]
) -> list:
    """All deployments of the file, or the named one (new if the file lacks it), with the overrides
    and extra flow parameters."""
    from {{ cookiecutter.python_package }}.prefect_flow.config import DeploymentConfig, validate_deployment

    if deployment_name is None:
        entries = config.deployments
    else:
        entries = [config.deployment(deployment_name) or DeploymentConfig(name=deployment_name)]
    defaults = {"work_pool": DEFAULT_WORK_POOL, "work_queue": DEFAULT_WORK_QUEUE}
    selected = []
    for entry in entries:
        data = defaults | entry.model_dump(exclude_none=True) | overrides
        data["parameters"] = data.get("parameters", {}) | parameters
        selected.append(validate_deployment(data, source="command line"))
    return selected


def check_dask_memory(entry) -> None:
    """For a deployment that runs on Dask, apply the memory-dataset policy now, as its runs will.

    A ``refuse`` policy with in-memory datasets stops the deploy with the run's own message; the
    other policies say what they will do. Nothing is imported from Dask: the deploying machine
    need not have it.
    """
    from kedro.framework.session import KedroSession

    from {{ cookiecutter.python_package }}.prefect_flow.config import load_prefect_config
    from {{ cookiecutter.python_package }}.prefect_flow.flow import FILTERS, dask_execution, selected_pipeline
    from {{ cookiecutter.python_package }}.prefect_flow.memory_datasets import MemoryDatasetsError, describe_policy

    parameters = entry.flow_parameters()
    execution = load_prefect_config(PROJECT_PATH, entry.env).execution
    dask = dask_execution(execution, parameters.get("task_runner"), parameters.get("dask_address"))
    if dask is None:
        return
    pipeline = selected_pipeline(entry.pipeline, {name: parameters.get(name) for name in FILTERS})
    kedro_logger = logging.getLogger("kedro")
    level = kedro_logger.level
    kedro_logger.setLevel(logging.WARNING)  # the session's INFO lines say nothing about the deployment
    try:
        with KedroSession.create(
            project_path=PROJECT_PATH, env=entry.env, runtime_params=parameters.get("runtime_params")
        ) as session:
            catalog = session.load_context().catalog
    finally:
        kedro_logger.setLevel(level)
    try:
        plan = describe_policy(pipeline, catalog, dask.config.memory_datasets)
    except MemoryDatasetsError as error:
        raise click.ClickException(f"Deployment '{entry.name}': {error}") from None
    if plan:
        click.echo(f"Deployment '{entry.name}' runs on Dask: {plan}")


def optional(name: str, *flags: str, **kwargs) -> click.Option:
    """An option whose absence means "take the value from prefect.yml"."""
    return click.option(*flags, name, default=None, **kwargs)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@optional("pipeline_name", "-p", "--pipeline", help="Kedro pipeline to run [file, else __default__].")
@optional("env", "-e", "--env", help="Kedro configuration environment [file, else Kedro's default, 'local'].")
@optional("deployment_name", "--deployment_name", "--deployment-name", help="Register only this deployment.")
@optional("work_pool_name", "--work_pool_name", "--work-pool-name", help=f"Work pool [file, else {DEFAULT_WORK_POOL}].")
@optional(
    "work_queue_name", "--work_queue_name", "--work-queue-name", help=f"Work queue [file, else {DEFAULT_WORK_QUEUE}]."
)
@optional("version", "--version", help="Version label shown on the deployment.")
@optional(
    "task_runner",
    "--task-runner",
    type=click.Choice(["threads", "dask"]),
    help="Where the nodes run [file's execution.task_runner].",
)
@optional("dask_address", "--dask-address", help="Dask scheduler, tcp://HOST:PORT [file, else a local cluster].")
def register(
    pipeline_name: str | None,
    env: str | None,
    deployment_name: str | None,
    work_pool_name: str | None,
    work_queue_name: str | None,
    version: str | None,
    task_runner: str | None,
    dask_address: str | None,
) -> None:
    """Register the deployments of conf/<env>/prefect.yml (or one, or a new one) with Prefect."""
    from {{ cookiecutter.python_package }}.prefect_flow.config import PrefectConfigError, check_env, load_prefect_config
    from {{ cookiecutter.python_package }}.prefect_flow.server import require_server, ui_url

    api = require_server()
    from {{ cookiecutter.python_package }}.prefect_flow.flow import InvalidRunOptions, check_pipeline_name, kedro_pipeline

    overrides = {"pipeline": pipeline_name, "env": env, "work_pool": work_pool_name, "work_queue": work_queue_name}
    overrides |= {"version": version}
    run_options = {"task_runner": task_runner, "dask_address": dask_address}
    try:
        config = load_prefect_config(PROJECT_PATH, env)
        deployments = selected_deployments(
            config,
            deployment_name,
            {k: v for k, v in overrides.items() if v is not None},
            {k: v for k, v in run_options.items() if v is not None},
        )
        for entry in deployments:
            check_env(PROJECT_PATH, entry.env)
            check_pipeline_name(entry.pipeline)
        for entry in deployments:
            check_dask_memory(entry)
    except (PrefectConfigError, InvalidRunOptions) as error:
        raise click.ClickException(str(error)) from None
    require_work_pools({entry.work_pool for entry in deployments})

    source = kedro_pipeline.from_source(source=str(PROJECT_PATH), entrypoint=ENTRYPOINT)
    for entry in deployments:
        # deploy() prints its own table and hints; the line below says the same in one line.
        with contextlib.redirect_stdout(io.StringIO()):
            deployment_id = source.deploy(
                name=entry.name,
                work_pool_name=entry.work_pool,
                work_queue_name=entry.work_queue,
                parameters=entry.flow_parameters(),
                job_variables={"env": telemetry_env()},
                schedule=entry.schedule.to_prefect() if entry.schedule else None,
                concurrency_limit=entry.concurrency_limit,
                tags=entry.tags,
                version=entry.version,
                description=entry.description or f"Kedro pipeline '{entry.pipeline}' of {{ cookiecutter.project_name }}",
                print_next_steps=False,
                ignore_warnings=True,
            )
        click.echo(
            f"Registered deployment '{kedro_pipeline.name}/{entry.name}' ({deployment_id}): pipeline "
            f"'{entry.pipeline}' on {entry.work_pool}/{entry.work_queue}. Run it with `make run DEPLOYMENT={entry.name}`"
        )
    click.echo(f"See them at {ui_url(api)}/deployments")


if __name__ == "__main__":
    register()
