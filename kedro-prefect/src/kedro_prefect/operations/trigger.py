"""Trigger a deployment (or retry one of its flow runs), follow it to the end, then the runs it
starts by itself (prefect.yml's ``after:``); exit 0 only if they all Completed.

``prefect deployment run --watch`` lingers for seconds after the run ends and prints no link; this
prints the flow run's id and UI link straight away and returns as soon as the run is final, with
where the run saved its outputs (just before its final state). While it waits it checks that some
worker polls the run's work queue: a run nobody will pick up is cancelled after
``UNPOLLED_QUEUE_SECONDS`` with the fix.

Ctrl-C cancels the run it follows, as Ctrl-C on ``kedro run`` stops that run: a terminal command
that started work and is interrupted should not leave it going unseen. (A run meant to go on
without a terminal is started from the UI, a schedule or the API.)
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from ..errors import KedroPrefectError
from ..options import RunOptions, given_over
from ..report import say, warn
from .follow_on import started_after
from .server import require_server, ui_url

UNPOLLED_QUEUE_SECONDS = 30.0
"""How long a run may wait on a work queue that no worker polls before ``make run`` gives up."""
POLLED_RECENTLY = timedelta(seconds=60)
"""A queue polled within this long has a worker (Prefect's own notion of a ready queue)."""
MAX_CHAIN = 20
"""At most this many runs followed by one command (``after:`` loops are refused at deploy)."""
CANCEL_WAIT_SECONDS = 60.0
"""How long Ctrl-C on ``make run`` waits for the run to end Cancelled; a second Ctrl-C leaves
without waiting. A node busy in a thread keeps its flow-run process alive past SIGTERM until the
worker kills it, 30 s later (Prefect's grace), and a worker without its event stream learns of
the cancel by polling, every 10 s."""


def parse_params(params_json: str | None) -> dict | None:
    """The --params JSON object, or one line saying what is wrong with it."""
    if params_json is None:
        return None
    try:
        parameters = json.loads(params_json)
    except json.JSONDecodeError as error:
        raise KedroPrefectError(
            f"--params is not valid JSON ({error.msg} at character {error.pos}): {params_json}"
        ) from None
    if not isinstance(parameters, dict):
        raise KedroPrefectError(f"--params must be a JSON object of flow parameters, not {type(parameters).__name__}")
    RunOptions.parse(parameters, source="--params")  # the flow's own model: refused here, before a run exists
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
            raise KedroPrefectError(
                f"No deployment named '{full_name}' on {api}. Register it first with `make deploy DEPLOYMENT={deployment}`."
            ) from None
        if parameters is not None:
            parameters = given_over(registered.parameters, parameters, "--params")
        try:
            flow_run = client.create_flow_run_from_deployment(registered.id, parameters=parameters)
        except PrefectHTTPStatusError as error:
            detail = error.response.json().get("detail", error.response.text) if error.response.content else ""
            raise KedroPrefectError(
                f"The server refused the run's parameters: {' '.join(str(detail).split())}"
            ) from None
        say(f"Flow run '{flow_run.name}' ({flow_run.id}) of {full_name}")
        follow_chain(client, flow_run, api, timeout, poll)


def retry(flow_run_id: str, timeout: int, poll: float) -> None:
    """Run a finished flow run of a deployment again, as the UI's Retry does, and follow it.

    The new attempt resumes: nodes the earlier attempts completed are skipped (the flow decides,
    unless the run's ``resume`` parameter is false).
    """
    from prefect.states import Scheduled

    api = require_server()
    try:
        run_id = UUID(flow_run_id)
    except ValueError:
        raise KedroPrefectError(f"RUN={flow_run_id!r} is not a flow run id; `make run` prints one.") from None
    with get_client(sync_client=True) as client:
        try:
            flow_run = client.read_flow_run(run_id)
        except ObjectNotFound:
            raise KedroPrefectError(f"No flow run {run_id} on {api}.") from None
        if flow_run.deployment_id is None:
            raise KedroPrefectError(
                f"Flow run {run_id} was not started from a deployment, so no worker can run it again; "
                "run the flow again instead."
            )
        if flow_run.state is None or not flow_run.state.is_final():
            state = flow_run.state.name if flow_run.state else "unknown"
            raise KedroPrefectError(f"Flow run {run_id} is still {state}: only a finished run can be retried.")
        client.set_flow_run_state(run_id, Scheduled(message="Retried with make retry"), force=True)
        say(f"Flow run '{flow_run.name}' ({run_id}): attempt {flow_run.run_count + 1}")
        follow_chain(client, client.read_flow_run(run_id), api, timeout, poll)


def follow_chain(client: SyncPrefectClient, flow_run: FlowRun, api: str, timeout: int, poll: float) -> None:
    """Follow the run, then each run its Completing started (prefect.yml's ``after:``), and so on:
    one command shows the chain end to end and fails if any run in it fails."""
    chain = [flow_run]
    for _ in range(MAX_CHAIN):
        if not chain:
            return
        run = chain.pop(0)
        follow(client, run, api, timeout, poll)
        chain += started_after(client, client.read_flow_run(run.id), api)
    if chain:
        warn(f"Followed {MAX_CHAIN} runs; the rest of the chain goes on without this command: {ui_url(api)}/runs")


def follow(client: SyncPrefectClient, flow_run: FlowRun, api: str, timeout: int, poll: float) -> None:
    """Print the run's link and each new state until it is final; fail unless it Completed.

    A Completed run's last lines are where it saved its outputs, then ``Completed``: the outcome
    stays the line a person (or a script's ``tail -1``) reads last.
    """
    say(f"Follow it at {ui_url(api)}/runs/flow-run/{flow_run.id}")
    try:
        state = _wait_until_final(client, flow_run, timeout, poll)
    except KeyboardInterrupt:
        _cancel_on_interrupt(client, flow_run, api)
        return
    if state.is_crashed():
        cause = crash_cause(client, flow_run.id)
        if cause:
            raise KedroPrefectError(f"Flow run {flow_run.id} ended Crashed: {cause}")
    if not state.is_completed():
        raise KedroPrefectError(f"Flow run {flow_run.id} ended {state.name}: {state.message}")
    report_outputs(flow_run.id)
    say(f"  {state.name}")


def _wait_until_final(client: SyncPrefectClient, flow_run: FlowRun, timeout: int, poll: float) -> Any:
    started = time.monotonic()
    deadline = started + timeout
    state = flow_run.state
    last_seen = None
    queue_checked = False
    while state is None or not state.is_final():
        waited = time.monotonic() - started
        if time.monotonic() > deadline:
            raise KedroPrefectError(
                f"Flow run {flow_run.id} is still {state.name if state else 'unknown'} after {timeout} s; "
                "is a worker running? Start one with `make agent` (or `make up`)."
            )
        if state is not None and state.name != last_seen:
            say(f"  {state.name}")
            last_seen = state.name
        if not queue_checked and waited >= UNPOLLED_QUEUE_SECONDS and state is not None and state.is_scheduled():
            queue_checked = True
            _refuse_unpolled_queue(client, flow_run)
        time.sleep(poll)
        state = client.read_flow_run(flow_run.id).state
    return state


def _refuse_unpolled_queue(client: SyncPrefectClient, flow_run: FlowRun) -> None:
    """Cancel a run that still waits because no worker polls its queue, and say how to fix it."""
    pool, queue = flow_run.work_pool_name, flow_run.work_queue_name
    if not pool or not queue:
        return
    try:
        work_queue = client.read_work_queue_by_name(queue, work_pool_name=pool)
    except ObjectNotFound:
        last_polled = None
    else:
        last_polled = work_queue.last_polled
    if last_polled is not None and datetime.now(UTC) - last_polled < POLLED_RECENTLY:
        return  # a worker polls it: the run waits for a free slot, not for a worker
    from prefect.states import Cancelled

    client.set_flow_run_state(flow_run.id, Cancelled(message=f"No worker polls work queue '{queue}'"), force=True)
    when = "never" if last_polled is None else f"last at {last_polled:%Y-%m-%d %H:%M:%S} UTC"
    raise KedroPrefectError(
        f"No worker polls work queue '{queue}' of pool '{pool}' (polled {when}), so flow run {flow_run.id} "
        f"was cancelled after {UNPOLLED_QUEUE_SECONDS:.0f} s. Start a worker for it (make agent WORK_QUEUE={queue}), "
        "or deploy to a queue a worker polls (make deploy without WORK_QUEUE)."
    )


def _cancel_on_interrupt(client: SyncPrefectClient, flow_run: FlowRun, api: str) -> None:
    """Ctrl-C: cancel the run (through its worker when it runs), wait briefly, exit 130."""
    from prefect.states import Cancelled, Cancelling

    link = f"{ui_url(api)}/runs/flow-run/{flow_run.id}"
    try:
        state = client.read_flow_run(flow_run.id).state
        if state is not None and state.is_final():
            raise SystemExit(130)
        running = state is not None and (state.is_running() or state.is_pending())
        # A running run is cancelled by its worker, which stops its process; one not started yet needs no one.
        new_state = Cancelling if running else Cancelled
        client.set_flow_run_state(flow_run.id, new_state(message="Cancelled by Ctrl-C on make run"), force=True)
        say(f"Ctrl-C: cancelling flow run {flow_run.id} (Ctrl-C again to stop waiting)", err=True)
        deadline = time.monotonic() + CANCEL_WAIT_SECONDS
        while time.monotonic() < deadline:
            state = client.read_flow_run(flow_run.id).state
            if state is not None and state.is_final():
                break
            time.sleep(0.3)
    except KeyboardInterrupt:
        state = None
    if state is not None and state.is_final():
        say(f"Ctrl-C: flow run {flow_run.id} was cancelled ({state.name}); {link}", err=True)
    else:
        say(f"Ctrl-C: asked flow run {flow_run.id} to cancel; its worker stops it. {link}", err=True)
    raise SystemExit(130)


def report_outputs(flow_run_id: UUID) -> None:
    """Name what the run saved, from its summary (the worker's clone may be another machine's)."""
    from ..execution.summary import last_summary

    rows = last_summary(flow_run_id)
    saved = [location for row in rows for location in str(row.get("saved to") or "").split(", ") if location]
    if saved:
        say(f"Saved: {', '.join(dict.fromkeys(saved))}")


_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?(\w*(?:Error|Exception)): (.+)$", re.MULTILINE)


def crash_cause(client: SyncPrefectClient, flow_run_id: UUID, wait: float = 3.0) -> str | None:
    """Why a run crashed before its flow could report it (e.g. its pull step failed), from its logs.

    A crashed run's state only says that its process exited; the exception went to the run's
    logs, which reach the server shortly after (bounded wait). The first exception of the last
    error record is the root cause: chained tracebacks print the original one first.
    """
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterLevel

    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]), level=LogFilterLevel(ge_=40))
    deadline = time.monotonic() + wait
    while True:
        records = client.read_logs(log_filter=log_filter, limit=20)
        for record in reversed(records):
            found = _EXCEPTION_LINE.search(record.message)
            if found:
                return f"{found[1]}: {found[2]}"
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)
