"""``kedro prefect ...``: the commands of the Prefect layer, as a Kedro project plugin.

Registered through the ``kedro.project_commands`` entry point (as ``kedro airflow`` and ``kedro
dagster`` are); ``python -m kedro_prefect`` runs the same group without Kedro's CLI start-up, which
is what the Makefile calls, and ``register_prefect_flow.py`` is ``deploy``.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .environment import enter_project_environment
from .errors import KedroPrefectError
from .project import KedroProject, current_project
from .report import use_output

if TYPE_CHECKING:
    from .operations.processes import WorkerSpec

CONTEXT = {"help_option_names": ["-h", "--help"]}
F = TypeVar("F", bound=Callable[..., Any])


def _click_output(message: str, *, err: bool, warning: bool) -> None:
    # Only a warning is styled: click.style ends every styled line with a reset code, which a
    # plain line must not carry (it reaches logs and anyone matching the output).
    click.echo(click.style(message, fg="yellow") if warning else message, err=err)


class _LayerErrors(click.Command):
    """Layer errors (``KedroPrefectError``) print as one ``Error: ...`` line and exit 1, and what
    the operations say goes through click.

    The layer raises them; this is the one place they become click's errors.
    """

    def invoke(self, ctx: click.Context) -> Any:
        use_output(_click_output)
        try:
            return super().invoke(ctx)
        except KedroPrefectError as error:
            raise click.ClickException(str(error)) from None


class LayerCommand(_LayerErrors):
    """A ``kedro prefect`` command."""


class LayerGroup(_LayerErrors, click.Group):
    """``kedro prefect``: its own callback and every command in it (``LayerCommand``) turn layer errors into one line."""

    command_class = LayerCommand


def entered_project() -> KedroProject:
    """The project in the working directory, its environment entered (before Prefect is imported)."""
    project = current_project()
    enter_project_environment(project.path)
    return project


def optional(name: str, *flags: str, **kwargs: Any) -> Callable[[F], F]:
    """An option whose absence means "as prefect.yml (or pyproject.toml) says"."""
    return click.option(*flags, name, default=None, **kwargs)


host_option = optional(
    "host", "--host", help="Address the server binds to [the one last used in this project, else 127.0.0.1]."
)
port_option = optional(
    "port", "--port", type=click.IntRange(1, 65535), help="Server port [the one last used in this project, else 4200]."
)


_WORKER_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    optional("pool", "--pool", help="Work pool [pyproject's tool.kedro_prefect.work_pool, else <flow>-pool]."),
    optional("queue", "--queue", help="Work queue in the pool [tool.kedro_prefect.work_queue, else default]."),
    optional("name", "--name", help="Worker name [<pool>-<hostname>]."),
    click.option(
        "--limit", default=4, show_default=True, type=click.IntRange(min=1), help="Flow runs this worker runs at once."
    ),
    click.option(
        "--crash-after",
        default=60,
        show_default=True,
        type=click.IntRange(min=30),
        help="A flow run whose process sent no heartbeat for this many seconds is marked Crashed.",
    ),
    optional(
        "pool_limit",
        "--pool-limit",
        type=click.IntRange(min=1),
        help="Flow runs the whole pool runs at once, over all workers [unchanged].",
    ),
    click.option(
        "--pool-type", default="process", show_default=True, help="Work pool type, used when creating the pool."
    ),
]


def worker_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of every command that starts a worker (`agent`, `up`), handed to it as one
    ``worker`` argument: the ``WorkerSpec`` they describe, with the project's defaults filled in."""

    @functools.wraps(command)
    def with_worker(pool, queue, name, limit, crash_after, pool_limit, pool_type, **others) -> None:
        from .operations.processes import WorkerSpec

        project = entered_project()
        pool = pool or project.work_pool
        worker = WorkerSpec(
            project_path=project.path,
            pool=pool,
            queue=queue or project.work_queue,
            name=name or f"{pool}-{socket.gethostname()}",
            limit=limit,
            crash_after=crash_after,
            pool_limit=pool_limit,
            pool_type=pool_type,
        )
        command(worker=worker, **others)

    decorated: Callable[..., Any] = with_worker
    for option in reversed(_WORKER_OPTIONS):
        decorated = option(decorated)
    return decorated


def follow_options(command: Callable[..., None]) -> Callable[..., None]:
    """How long a command that follows a flow run waits for it, and how often it looks (`run`, `retry`)."""
    command = click.option(
        "--poll", default=0.2, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between state checks."
    )(command)
    return click.option(
        "--timeout", default=3600, show_default=True, type=click.IntRange(min=1), help="Seconds to wait."
    )(command)


@click.group(name="prefect", cls=LayerGroup, context_settings=CONTEXT)
@click.pass_context
def prefect(context: click.Context) -> None:
    """Deploy and run this Kedro project on a self-hosted Prefect server."""
    if context.invoked_subcommand == "init":
        current_project()  # init needs no Prefect, and writes nothing (not even .prefect/) before its checks pass
    else:
        entered_project()


@prefect.command()
@host_option
@port_option
def server(host: str | None, port: int | None) -> None:
    """Run the Prefect server in the foreground; Ctrl-C stops it. Later commands find it at this address."""
    from .operations.address import server_address
    from .operations.processes import run_server

    run_server(server_address(host, port))


@prefect.command()
@worker_options
def agent(worker: WorkerSpec) -> None:
    """Create the work pool and queue when missing, then run a worker in the foreground; Ctrl-C stops it."""
    from .operations.processes import run_agent
    from .operations.server import api_url

    run_agent(worker, api_url())


@prefect.command()
@host_option
@port_option
@worker_options
def up(host: str | None, port: int | None, worker: WorkerSpec) -> None:
    """Start server and worker in the background; return once both are ready."""
    from .operations.address import server_address
    from .operations.processes import start_stack
    from .operations.server import using_server

    address = server_address(host, port)
    with using_server(address.api_url):
        start_stack(address, worker)


@prefect.command()
def down() -> None:
    """Stop the server and worker that `up` started."""
    from .operations.processes import stop_stack

    stop_stack()


@prefect.command(context_settings=CONTEXT)
@optional("pipeline_name", "-p", "--pipeline", help="Kedro pipeline to run [file, else __default__].")
@optional("env", "-e", "--env", help="Kedro configuration environment [file, else Kedro's default, 'local'].")
@optional("deployment_name", "--deployment_name", "--deployment-name", help="Register only this deployment.")
@optional("work_pool_name", "--work_pool_name", "--work-pool-name", help="Work pool [file, else the project's].")
@optional("work_queue_name", "--work_queue_name", "--work-queue-name", help="Work queue [file, else the project's].")
@optional("version", "--version", help="Version label shown on the deployment.")
@optional(
    "task_runner",
    "--task-runner",
    type=click.Choice(["threads", "dask"]),
    help="Where the nodes run [file's execution].",
)
@optional("dask_address", "--dask-address", help="Dask scheduler, tcp://HOST:PORT [file, else a local cluster].")
@optional("image", "--image", help="Image, on docker and kubernetes pools [file's job_variables, else make image's].")
def deploy(
    pipeline_name: str | None,
    env: str | None,
    deployment_name: str | None,
    work_pool_name: str | None,
    work_queue_name: str | None,
    version: str | None,
    task_runner: str | None,
    dask_address: str | None,
    image: str | None,
) -> None:
    """Register the deployments of conf/<env>/prefect.yml (or one, or a new one) with Prefect."""
    # First: register_prefect_flow.py calls this command without the group, and Prefect must be
    # imported only inside the project's environment.
    project = entered_project()
    from .operations.deploy import deploy as register

    overrides = {
        "pipeline": pipeline_name,
        "env": env,
        "work_pool": work_pool_name,
        "work_queue": work_queue_name,
        "version": version,
    }
    run_options = {"task_runner": task_runner, "dask_address": dask_address}
    register(
        project,
        deployment_name,
        {key: value for key, value in overrides.items() if value is not None},
        {key: value for key, value in run_options.items() if value is not None},
        image,
    )


engine_option = click.option(
    "--engine", default="docker", show_default=True, help="Container engine with Docker's command line (or podman)."
)


@prefect.command()
@optional("image", "--image", help="Image name and tag [<flow name>:<git commit, else package version>].")
@engine_option
@optional("base_image", "--base-image", help="The Dockerfile's BASE_IMAGE [python:3.11-slim].")
@click.option("--push", is_flag=True, help="Push the image once built (IMAGE must name a registry).")
def image(image: str | None, engine: str, base_image: str | None, push: bool) -> None:
    """Build the project's image from its Dockerfile, for docker and kubernetes work pools."""
    from .operations.image import build_image, push_image

    built = build_image(entered_project(), image, engine, base_image)
    if push:
        push_image(built, engine)


@prefect.command()
@click.option("-d", "--deployment", default="default", show_default=True, help="Deployment name (or FLOW/DEPLOYMENT).")
@click.option(
    "--params",
    "params_json",
    default=None,
    envvar="KEDRO_PREFECT_PARAMS",
    help='Flow parameters for this run as a JSON object, e.g. \'{"tags": ["cleaning"], "max_workers": 2}\' '
    "[env KEDRO_PREFECT_PARAMS, which `make run PARAMS=...` sets].",
)
@follow_options
def run(deployment: str, params_json: str | None, timeout: int, poll: float) -> None:
    """Trigger a deployment, follow it, and exit 0 only when it Completed."""
    from .operations.trigger import trigger

    trigger(entered_project().flow_name, deployment, params_json, timeout, poll)


@prefect.command()
@click.argument("flow_run_id", metavar="FLOW_RUN_ID")
@follow_options
def retry(flow_run_id: str, timeout: int, poll: float) -> None:
    """Retry a finished deployment run, skipping the nodes it completed; exit 0 only when it Completed."""
    from .operations.trigger import retry as retry_run

    retry_run(flow_run_id, timeout, poll)


@prefect.command()
@click.option(
    "--force",
    is_flag=True,
    help="Replace files that exist and differ from kedro-prefect's, and a Makefile whose names clash with its.",
)
def init(force: bool) -> None:
    """Set this Kedro project up for Prefect: prefect.yml (a deployment per pipeline), the deploy script,
    the Makefile, a deploy test, .gitignore entries; nothing you wrote is replaced without --force."""
    from .operations.scaffold import init_project

    for change in init_project(current_project(), force):
        detail = f"  ({change.detail})" if change.detail else ""
        click.echo(f"  {change.action:<10} {change.path}{detail}")
    click.echo(
        "Next: make server, then make agent in a second terminal (or make up for both), make deploy, make run. "
        "A fresh clone installs the project with make install."
    )


@click.group(name="Kedro-Prefect")
def commands() -> None:
    """Kedro's entry point for project commands: adds `kedro prefect`."""


commands.add_command(prefect)
