"""Register this Kedro project's pipeline as a Prefect deployment.

    python register_prefect_flow.py --pipeline __default__ --deployment-name default

The successor of the script on Kedro's old Prefect page, with the same options, for Prefect 3: the
flow is registered with ``flow.from_source(...).deploy(...)`` on a ``process`` work pool, and the
worker runs it from this folder. Nothing is registered unless the server answers, the pipeline
exists and the work pool exists.
"""

from __future__ import annotations

from pathlib import Path

import click
import yaml

PROJECT_PATH = Path(__file__).resolve().parent
PACKAGE_NAME = "{{ cookiecutter.python_package }}"
ENTRYPOINT = f"{PACKAGE_NAME}.prefect_flow.flow.kedro_pipeline"


def telemetry_env() -> dict[str, str]:
    """Job environment that keeps Kedro telemetry off on workers unless the project consented."""
    try:
        consent = (yaml.safe_load((PROJECT_PATH / ".telemetry").read_text()) or {}).get("consent") is True
    except (FileNotFoundError, yaml.YAMLError, AttributeError):
        consent = False
    return {} if consent else {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1"}


def require_work_pool(work_pool_name: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(work_pool_name)
        except ObjectNotFound:
            raise click.ClickException(
                f"Work pool '{work_pool_name}' does not exist on the server. Create it with `make agent` "
                f"(or `prefect work-pool create {work_pool_name} --type process`), then deploy again."
            ) from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-p", "--pipeline", "pipeline_name", default="__default__", show_default=True, help="Kedro pipeline to run."
)
@click.option("-e", "--env", default=None, help="Kedro configuration environment [default: Kedro's, 'local'].")
@click.option(
    "--deployment_name",
    "--deployment-name",
    "deployment_name",
    default="default",
    show_default=True,
    help="Deployment name.",
)
@click.option(
    "--work_pool_name",
    "--work-pool-name",
    "work_pool_name",
    default="{{ cookiecutter.work_pool_name }}",
    show_default=True,
    help="Prefect work pool (type process).",
)
@click.option(
    "--work_queue_name",
    "--work-queue-name",
    "work_queue_name",
    default="{{ cookiecutter.work_queue_name }}",
    show_default=True,
    help="Work queue within the pool.",
)
@click.option("--version", default=None, help="Version label shown on the deployment.")
def register(
    pipeline_name: str,
    env: str | None,
    deployment_name: str,
    work_pool_name: str,
    work_queue_name: str,
    version: str | None,
) -> None:
    """Register the Kedro pipeline as a Prefect deployment."""
    from {{ cookiecutter.python_package }}.prefect_flow.server import require_server, ui_url

    api = require_server()
    from {{ cookiecutter.python_package }}.prefect_flow.flow import UnknownPipelineError, check_pipeline_name, kedro_pipeline

    try:
        check_pipeline_name(pipeline_name)
    except UnknownPipelineError as error:
        raise click.ClickException(str(error)) from None
    require_work_pool(work_pool_name)

    deployment_id = kedro_pipeline.from_source(source=str(PROJECT_PATH), entrypoint=ENTRYPOINT).deploy(
        name=deployment_name,
        work_pool_name=work_pool_name,
        work_queue_name=work_queue_name,
        parameters={"pipeline_name": pipeline_name, "env": env},
        job_variables={"env": telemetry_env()},
        version=version,
        description=f"Kedro pipeline '{pipeline_name}' of {{ cookiecutter.project_name }}",
        print_next_steps=False,
    )
    click.echo(
        f"Registered deployment '{kedro_pipeline.name}/{deployment_name}' ({deployment_id}) "
        f"on {work_pool_name}/{work_queue_name}. Run it with `make run DEPLOYMENT={deployment_name}`; "
        f"see it at {ui_url(api)}/deployments"
    )


if __name__ == "__main__":
    register()
