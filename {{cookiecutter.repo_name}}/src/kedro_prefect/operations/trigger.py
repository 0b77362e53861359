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

from ..options import InvalidRunOptions, RunOptions
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
    try:  # the flow's own model of its parameters: refused here, before a run exists
        RunOptions.parse(parameters, source="--params")
    except InvalidRunOptions as error:
        raise click.ClickException(str(error)) from None
    return parameters


def trigger(flow_name: str, deployment: str, params_json: str | None, timeout: int, poll: float) -> None:
    """Run a deployment of the project's flow and wait for its final state; fail unless it Completed."""
    parameters = parse_params(params_json)
    api = require_server()
    full_name = deployment if "/" in deployment else f"{flow_name}/{deployment}"
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
