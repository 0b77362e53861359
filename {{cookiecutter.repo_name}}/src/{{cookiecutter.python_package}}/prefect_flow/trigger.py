"""Trigger a deployment, follow it to the end, and exit 0 only if it Completed.

``prefect deployment run --watch`` lingers for seconds after the run ends and prints no link; this
prints the flow run's id and UI link straight away and returns as soon as the run is final.
"""

from __future__ import annotations

import json
import time

import click
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from . import FLOW_NAME
from .server import require_server, ui_url


def parse_params(params_json: str | None) -> dict | None:
    """The --params JSON object, or one line saying what is wrong with it."""
    if params_json is None:
        return None
    try:
        parameters = json.loads(params_json)
    except json.JSONDecodeError as error:
        raise click.ClickException(
            f"--params is not valid JSON ({error.msg} at character {error.pos}): {params_json}"
        ) from None
    if not isinstance(parameters, dict):
        raise click.ClickException(
            f"--params must be a JSON object of flow parameters, not {type(parameters).__name__}"
        )
    return parameters


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-d", "--deployment", default="default", show_default=True, help="Deployment name (or FLOW/DEPLOYMENT).")
@click.option(
    "--timeout", default=3600, show_default=True, type=click.IntRange(min=1), help="Seconds to wait for the run."
)
@click.option(
    "--poll", default=0.5, show_default=True, type=click.FloatRange(min=0.1), help="Seconds between state checks."
)
@click.option(
    "--params",
    "params_json",
    default=None,
    help='Flow parameters for this run as a JSON object, e.g. \'{"tags": ["cleaning"], "max_workers": 2}\'.',
)
def main(deployment: str, timeout: int, poll: float, params_json: str | None) -> None:
    """Run a deployment of this project's flow and wait for its final state."""
    parameters = parse_params(params_json)
    api = require_server()
    full_name = deployment if "/" in deployment else f"{FLOW_NAME}/{deployment}"
    with get_client(sync_client=True) as client:
        try:
            registered = client.read_deployment_by_name(full_name)
        except ObjectNotFound:
            raise click.ClickException(
                f"No deployment named '{full_name}' on {api}. Register it first with `make deploy DEPLOYMENT={deployment}`."
            ) from None
        try:
            flow_run = client.create_flow_run_from_deployment(registered.id, parameters=parameters)
        except PrefectHTTPStatusError as error:
            detail = error.response.json().get("detail", error.response.text) if error.response.content else ""
            raise click.ClickException(
                f"The server refused the run's parameters: {' '.join(str(detail).split())}"
            ) from None
        click.echo(f"Flow run '{flow_run.name}' ({flow_run.id}) of {full_name}")
        click.echo(f"Follow it at {ui_url(api)}/runs/flow-run/{flow_run.id}")

        deadline = time.monotonic() + timeout
        state = flow_run.state
        last_seen = None
        while state is None or not state.is_final():
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"Flow run {flow_run.id} is still {state.name if state else 'unknown'} after {timeout} s; "
                    "is a worker running? Start one with `make agent` (or `make up`)."
                )
            if state is not None and state.name != last_seen:
                click.echo(f"  {state.name}")
                last_seen = state.name
            time.sleep(poll)
            state = client.read_flow_run(flow_run.id).state

    if not state.is_completed():
        raise click.ClickException(f"Flow run {flow_run.id} ended {state.name}: {state.message}")
    click.echo(f"  {state.name}")


if __name__ == "__main__":
    main()
