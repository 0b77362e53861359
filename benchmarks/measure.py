"""Runs inside a baked project (cwd) against a live Prefect server; prints one JSON line of timings.

Not imported by the template: `run_benchmark.py` starts it with the project as working directory,
after adding the synthetic pipelines of `synthetic.py` to the project's registry.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import time
from pathlib import Path

from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner, ThreadRunner
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

SIZES = (10, 200, 1000)
CONCURRENT_WORKERS = 8
REPEATS = 3
DASK_WARM_RUNS = 5


@task(cache_policy=NO_CACHE, persist_result=False)
def noop(index: int) -> None:
    return None


BARE_PHASE = {"seconds": 0.0}


@flow(name="bare-prefect-benchmark")
def bare_prefect(n: int, shape: str, max_workers: int) -> None:
    """N no-op tasks with the same edges as the Kedro pipeline, no Kedro involved."""
    started = time.perf_counter()
    with ThreadPoolTaskRunner(max_workers=max_workers) as runner:
        futures = []
        root = None
        for index in range(n):
            if shape == "chain":
                wait_for = futures[-1:]
            else:
                wait_for = [root] if root is not None else []
            future = runner.submit(noop.with_options(name=f"noop_{index}"), {"index": index}, wait_for=wait_for)
            root = root or future
            futures.append(future)
        for future in futures:
            future.wait()
    BARE_PHASE["seconds"] = time.perf_counter() - started


class PhaseTimer:
    """Wraps a runner class's `_run` to time the node phase alone."""

    def __init__(self, runner_class: type) -> None:
        self.seconds = 0.0
        original = runner_class._run

        def timed(runner, *args, **kwargs):
            started = time.perf_counter()
            try:
                return original(runner, *args, **kwargs)
            finally:
                self.seconds = time.perf_counter() - started

        runner_class._run = timed


def server_cpu_seconds(pid: int) -> float:
    """CPU time used so far by the server process and its children."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):  # the server, or its child
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


IDLE_TIMEOUT = 180.0
IDLE = {"waits": [], "gave_up": 0, "timeout": IDLE_TIMEOUT}
"""Seconds waited for an idle server before each measured run (untimed), and how many waits gave up."""


def wait_for_idle_server(window: float = 1.0, busy_share: float = 0.05, timeout: float = IDLE_TIMEOUT) -> None:
    """Wait (untimed, bounded) until the server has written the previous runs' events.

    A run of N tasks leaves about 3 N events that the server writes to SQLite for up to a minute
    afterwards (1,000 tasks here: 30-60 s), on the same 2 cores. A run started before that ends
    competes with it, by as much as the backlog left: with a 30 s bound, a Prefect variant that
    followed another one started into the other's backlog. A wait that gives up is counted and
    reported beside the results.
    """
    pid = int(os.environ["BENCH_SERVER_PID"])
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = server_cpu_seconds(pid)
        time.sleep(window)
        if server_cpu_seconds(pid) - before < busy_share * window:
            IDLE["waits"].append(round(time.monotonic() - started, 1))
            return
    IDLE["waits"].append(round(time.monotonic() - started, 1))
    IDLE["gave_up"] += 1
    print(f"the server was still busy after {timeout:.0f} s; measuring anyway", file=sys.stderr, flush=True)


def run_once(call, phase=None) -> tuple[float, float | None]:
    """One run started against an idle server: its whole time and, where `phase` reads one, its
    node phase (submitting the first task to finishing the last)."""
    wait_for_idle_server()
    started = time.perf_counter()
    call()
    return time.perf_counter() - started, phase() if phase else None


def best_of(runs: list[tuple[float, float | None]]) -> dict:
    """The best whole run and the best node phase, each taken on its own: whole runs move in steps
    of about a second, so the run with the best whole time is not the one with the best phase."""
    phases = [phase for _, phase in runs if phase is not None]
    return {"seconds": min(seconds for seconds, _ in runs), "phase": min(phases) if phases else None}


def timed(call, phase=None) -> dict:
    """Best of REPEATS runs (`best_of`)."""
    return best_of([run_once(call, phase) for _ in range(REPEATS)])


def kedro_run(pipeline: str, runner) -> None:
    with KedroSession.create(project_path=Path.cwd()) as session:
        session.run(pipeline_names=[pipeline], runner=runner)


def main() -> None:
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(Path.cwd())  # as `kedro run` does, before any flow runs
    measured = Path(importlib.import_module("kedro_prefect").__file__)
    if not measured.is_relative_to(Path.cwd()):
        # Another editable install in this environment shadows the baked project's copy.
        raise SystemExit(
            f"kedro_prefect is imported from {measured.parent}, not from {Path.cwd()}: uninstall that project"
        )
    module = importlib.import_module("kedro_prefect.execution.flow")
    ours_phase = PhaseTimer(importlib.import_module("kedro_prefect.execution.runner").PrefectTaskRunner)
    thread_phase = PhaseTimer(ThreadRunner)
    sequential_phase = PhaseTimer(SequentialRunner)
    flow_fn = module.kedro_pipeline
    sections = os.environ.get("BENCH_SECTIONS", "matrix,grouped,dask").split(",")
    if sections == ["peer"]:
        print(json.dumps(measure_peer_round(module.project_flow, sequential_phase) | {"idle": IDLE}))
        return

    def ours(pipeline: str, workers: int, **parameters) -> None:
        state = flow_fn(pipeline_name=pipeline, max_workers=workers, return_state=True, **parameters)
        if not state.is_completed():
            raise SystemExit(f"{pipeline}: {state.message}")

    # Warm up imports, the server connection and the first flow run before measuring anything.
    bare_prefect(5, "chain", 2)
    ours("bench_chain_10", 2)

    variants = [
        (
            "kedro SequentialRunner",
            lambda pipeline, n, shape: kedro_run(pipeline, SequentialRunner()),
            lambda: sequential_phase.seconds,
        ),
        (
            f"kedro ThreadRunner({CONCURRENT_WORKERS})",
            lambda pipeline, n, shape: kedro_run(pipeline, ThreadRunner(max_workers=CONCURRENT_WORKERS)),
            lambda: thread_phase.seconds,
        ),
    ]
    for workers, label in ((1, "sequential"), (CONCURRENT_WORKERS, f"concurrent({CONCURRENT_WORKERS})")):
        variants.append(
            (
                f"bare Prefect {label}",
                lambda pipeline, n, shape, workers=workers: bare_prefect(n, shape, workers),
                lambda: BARE_PHASE["seconds"],
            )
        )
        variants.append(
            (
                f"our flow {label}",
                lambda pipeline, n, shape, workers=workers: ours(pipeline, workers),
                lambda: ours_phase.seconds,
            )
        )

    results: dict = {"workers": CONCURRENT_WORKERS}
    if "matrix" in sections:
        results |= measure_matrix(variants, ours, ours_phase, thread_phase)
    if "grouped" in sections:
        results["grouped"] = measure_grouped(ours, ours_phase, sequential_phase, thread_phase)
        print("measured bench_namespaced_1000", file=sys.stderr, flush=True)
    if "dask" in sections:
        results["dask"] = measure_dask_fan(ours, ours_phase)
        print("measured bench_dask_fan_6", file=sys.stderr, flush=True)
    print(json.dumps(results | {"idle": IDLE}))


def measure_matrix(variants, ours, ours_phase, thread_phase) -> dict:
    """Every variant on chains and fan-outs of each size, then the 20 sleeping nodes."""
    rows = []
    for shape in ("chain", "fan"):
        for n in SIZES:
            pipeline = f"bench_{shape}_{n}"
            # Rounds of every variant in turn, rather than each variant's repeats back to back: a
            # slow stretch of the machine (2 vCPUs shared with the server's event backlog) then
            # falls on one round of all variants alike, and each variant keeps its best (`best_of`).
            runs: dict[str, list] = {variant: [] for variant, _, _ in variants}
            for round_ in range(REPEATS):
                # Each round starts one variant further on, so no variant always follows the same one.
                for variant, run, phase in variants[round_:] + variants[:round_]:
                    runs[variant].append(run_once(functools.partial(run, pipeline, n, shape), phase))
            rows += [{"shape": shape, "n": n, "variant": variant, **best_of(each)} for variant, each in runs.items()]
            print(f"measured {pipeline}", file=sys.stderr, flush=True)

    # Best of REPEATS each, every run after the server has written the runs before it (the
    # 1,000-node fan-outs just above leave it the most to write).
    threads = timed(
        lambda: kedro_run("bench_sleep_20", ThreadRunner(max_workers=CONCURRENT_WORKERS)), lambda: thread_phase.seconds
    )
    flow = timed(lambda: ours("bench_sleep_20", CONCURRENT_WORKERS), lambda: ours_phase.seconds)
    sleep = {
        "repeats": REPEATS,
        "kedro ThreadRunner node phase": threads["phase"],
        "our flow node phase": flow["phase"],
        "kedro SequentialRunner": timed(lambda: kedro_run("bench_sleep_20", SequentialRunner()))["seconds"],
    }
    print("measured bench_sleep_20", file=sys.stderr, flush=True)
    return {"rows": rows, "sleep": sleep}


def measure_grouped(ours, ours_phase, sequential_phase, thread_phase) -> list[dict]:
    """1,000 trivial nodes in 10 namespaces: Kedro's runners against our flow with group_by namespace."""
    pipeline = "bench_namespaced_1000"
    rows = []
    for workers, kedro_runner, phase in (
        (1, SequentialRunner, sequential_phase),
        (CONCURRENT_WORKERS, lambda: ThreadRunner(max_workers=CONCURRENT_WORKERS), thread_phase),
    ):
        kedro = timed(lambda make=kedro_runner: kedro_run(pipeline, make()), lambda timer=phase: timer.seconds)
        grouped = timed(lambda n=workers: ours(pipeline, n, group_by="namespace"), lambda: ours_phase.seconds)
        rows.append({"workers": workers, "kedro": kedro, "ours": grouped})
    return rows


def measure_dask_fan(ours, ours_phase) -> dict:
    """Six independent 1 s nodes on a local Dask cluster of 2 worker processes with 3 threads each.

    The first run meets cold worker processes (imports, the project's settings and hooks); the
    next runs find them warm, as a long-lived cluster (`make dask-worker`) is.
    """
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=3, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:

        def run() -> float:
            ours("bench_dask_fan_6", 6, task_runner="dask", dask_address=cluster.scheduler_address)
            return ours_phase.seconds

        cold = run()
        warm = sorted(run() for _ in range(DASK_WARM_RUNS))
    return {"cold": cold, "warm": warm}


PEER_SIZES = (200, 1000)


def server_node_phase(flow_run_id, expected: int, timeout: float = 120.0) -> float:
    """First task run's start to last task run's end, from the server's own records (bounded wait:
    task runs reach the server as events, written after the run)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = []
            for page in range(expected // 200 + 2):
                batch = client.read_task_runs(flow_run_filter=flow_filter, limit=200, offset=page * 200)
                runs += batch
                if len(batch) < 200:
                    break
            done = [run for run in runs if run.start_time and run.end_time]
            if len(done) >= expected:
                return (max(run.end_time for run in done) - min(run.start_time for run in done)).total_seconds()
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(done)} of {expected} task runs reached the server in {timeout:.0f} s")
            time.sleep(1)


def measure_peer_round(project_flow, sequential_phase: PhaseTimer) -> dict:
    """One round on chains of 200 and 1,000 nodes: Kedro SequentialRunner, bare Prefect tasks and our
    flow as a deployment runs it (``project_flow``: Prefect's own heartbeat off, which bare Prefect
    in this process then shares), ungrouped, each after a warm-up and against an idle server. Whole
    runs from the client, node phases from the server's task-run times (Kedro's from its runner)."""

    def ours(pipeline: str):
        state = project_flow(pipeline_name=pipeline, return_state=True)
        if not state.is_completed():
            raise SystemExit(f"{pipeline}: {state.message}")
        return state

    bare_prefect(5, "chain", 4)
    ours("bench_chain_200")
    kedro_run("bench_chain_200", SequentialRunner())
    result = {}
    for n in PEER_SIZES:
        pipeline = f"bench_chain_{n}"
        wait_for_idle_server()
        started = time.perf_counter()
        kedro_run(pipeline, SequentialRunner())
        sizes = {"kedro": {"seconds": time.perf_counter() - started, "phase": sequential_phase.seconds}}
        for name, run in (
            ("bare", lambda n=n: bare_prefect(n, "chain", 4, return_state=True)),
            ("ours", lambda pipeline=pipeline: ours(pipeline)),
        ):
            wait_for_idle_server()
            started = time.perf_counter()
            state = run()
            seconds = time.perf_counter() - started
            sizes[name] = {"seconds": seconds, "phase": server_node_phase(state.state_details.flow_run_id, n)}
        result[str(n)] = sizes
    return result


if __name__ == "__main__":
    main()
