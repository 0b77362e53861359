"""Runs inside a baked project (cwd) against a live Prefect server; prints one JSON line of raw records.

Not imported by the template: `run_benchmark.py` starts it with the project as working directory,
after adding the synthetic pipelines of `synthetic.py` to the project's registry. Every figure is a
record per round; `report.py` turns them into medians, ratios and targets.

Logging is as a deployment runs it: INFO, Kedro's lines and Prefect's shipped to the server, unless
BENCH_LOG_LEVEL says otherwise (the same for every variant).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner, ThreadRunner
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from report import WITHOUT_KEDRO_LINES, rotated

WORKERS = 8
SHAPES = ("chain", "fan")
SIZES = (200, 1000)
GROUPED_PIPELINE = "bench_namespaced_10000"
DASK_PIPELINE = "bench_dask_fan_6"


@task(cache_policy=NO_CACHE, persist_result=False)
def noop(index: int) -> None:
    return None


BARE_CPU = {"seconds": 0.0}
"""CPU seconds of this process while the last bare flow ran its tasks."""


@flow(name="bare-prefect-called")
def bare_called(n: int, shape: str) -> None:
    """Prefect's cheapest use: each task called in order, the parent's state in ``wait_for`` (the UI's edge)."""
    cpu = time.process_time()
    root = noop.with_options(name="noop_0")(0, return_state=True)
    parent = root
    for index in range(1, n):
        parent = noop.with_options(name=f"noop_{index}")(
            index, wait_for=[parent if shape == "chain" else root], return_state=True
        )
    BARE_CPU["seconds"] = time.process_time() - cpu


@flow(name="bare-prefect-submitted")
def bare_submitted(n: int, shape: str, max_workers: int) -> None:
    """Tasks submitted to Prefect's thread pool: a chain one at a time after its parent's result
    (cheaper than all up front with futures as inputs), a fan's branches all at once after the root."""
    cpu = time.process_time()
    with ThreadPoolTaskRunner(max_workers=max_workers) as runner:
        root = runner.submit(noop.with_options(name="noop_0"), {"index": 0})
        root.wait()
        if shape == "chain":
            parent = root
            for index in range(1, n):
                parent = runner.submit(noop.with_options(name=f"noop_{index}"), {"index": index}, wait_for=[parent])
                parent.wait()
        else:
            branches = [
                runner.submit(noop.with_options(name=f"noop_{index}"), {"index": index}, wait_for=[root])
                for index in range(1, n)
            ]
            for branch in branches:
                branch.wait()
    BARE_CPU["seconds"] = time.process_time() - cpu


class PhaseTimer:
    """Wraps a runner class's ``_run`` to time its node phase, in wall and in this process's CPU seconds."""

    def __init__(self, runner_class: type) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        original = runner_class._run

        def timed(runner, *args, **kwargs):
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return original(runner, *args, **kwargs)
            finally:
                self.seconds = time.perf_counter() - started
                self.cpu = time.process_time() - cpu

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


IDLE_TIMEOUT = 240.0
IDLE: dict[str, Any] = {"waits": [], "gave_up": 0, "timeout": IDLE_TIMEOUT}
"""Seconds waited for an idle server before each measured run (untimed), and how many waits gave up."""


def wait_for_idle_server(
    window: float = 1.0, busy_share: float = 0.05, timeout: float = IDLE_TIMEOUT, pid: int | None = None
) -> float:
    """Wait (untimed, bounded) until the server has written the previous runs' events and logs.

    A run of N tasks leaves about 3 N events and, at INFO, as many log lines, which the server
    writes to SQLite for up to a minute afterwards on the same 2 cores. A run started before that
    ends competes with it. A wait that gives up is counted and reported beside the results.
    """
    pid = pid or int(os.environ["BENCH_SERVER_PID"])
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = server_cpu_seconds(pid)
        time.sleep(window)
        if server_cpu_seconds(pid) - before < busy_share * window:
            waited = round(time.monotonic() - started, 1)
            IDLE["waits"].append(waited)
            return waited
    IDLE["waits"].append(round(time.monotonic() - started, 1))
    IDLE["gave_up"] += 1
    print(f"the server was still busy after {timeout:.0f} s; measuring anyway", file=sys.stderr, flush=True)
    return timeout


def server_node_phase(flow_run_id, expected: int, timeout: float = 300.0) -> float:
    """First task run's start to last task run's end, from the server's own records (bounded wait:
    task runs reach the server as events, written after the run)."""
    phase, reached = server_task_runs(flow_run_id, expected, timeout)
    if reached < expected:
        raise SystemExit(f"only {reached} of {expected} task runs reached the server in {timeout:.0f} s")
    return phase


def server_task_runs(
    flow_run_id, expected: int, timeout: float, settled: float | None = None
) -> tuple[float | None, int]:
    """The node phase over the task runs the server has finished, and how many those are: once all
    ``expected`` are, at ``timeout``, or (with ``settled``) once their count stopped growing for that long."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + timeout
    last_count, last_change = -1, time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            runs = []
            for page in range(expected // 200 + 2):
                batch = client.read_task_runs(flow_run_filter=flow_filter, limit=200, offset=page * 200)
                runs += batch
                if len(batch) < 200:
                    break
            done = [run for run in runs if run.start_time and run.end_time]
            if len(done) != last_count:
                last_count, last_change = len(done), time.monotonic()
            stalled = settled is not None and time.monotonic() - last_change > settled
            if len(done) >= expected or time.monotonic() > deadline or stalled:
                if not done:
                    return None, 0
                return (max(run.end_time for run in done) - min(run.start_time for run in done)).total_seconds(), len(
                    done
                )
            time.sleep(1 if expected <= 1000 else 10)


def kedro_run(pipeline: str, runner) -> None:
    with KedroSession.create(project_path=Path.cwd()) as session:
        session.run(pipeline_names=[pipeline], runner=runner)


def flow_record(label: str, n: int, run_flow: Callable[[], Any]) -> dict:
    """One flow run's whole time and, from the server, its node phase; a run that did not complete stops the benchmark."""
    started = time.perf_counter()
    state = run_flow()
    wall = time.perf_counter() - started
    if not state.is_completed():
        raise SystemExit(f"{label}: {state.message}")
    return {"phase": server_node_phase(state.state_details.flow_run_id, n), "wall": wall}


class Bench:
    """The variants, each a callable that runs once against an idle server and returns its record."""

    def __init__(self) -> None:
        module = importlib.import_module("kedro_prefect.execution.flow")
        # The flow as a deployment runs it (Prefect's own heartbeat off, ours on); bare Prefect's
        # flows share this process, and so the same settings.
        self.project_flow = module.project_flow
        self.ours_phase = PhaseTimer(importlib.import_module("kedro_prefect.execution.runner").PrefectTaskRunner)
        self.kedro_phase = {SequentialRunner: PhaseTimer(SequentialRunner), ThreadRunner: PhaseTimer(ThreadRunner)}

    def ours(self, pipeline: str, n: int, workers: int, **parameters: Any) -> dict:
        record = flow_record(
            pipeline,
            n,
            lambda: self.project_flow(pipeline_name=pipeline, max_workers=workers, return_state=True, **parameters),
        )
        return record | {"cpu": self.ours_phase.cpu, "runner": self.ours_phase.seconds}

    def ours_without_kedro_lines(self, pipeline: str, n: int, workers: int) -> dict:
        """Our flow with Kedro's own INFO lines (three per node: running, loading, saving) held back:
        what is left of the gap to the floor once they are. Not a target; it says where the time goes."""
        kedro = logging.getLogger("kedro")
        level = kedro.level
        kedro.setLevel(logging.WARNING)
        try:
            return self.ours(pipeline, n, workers)
        finally:
            kedro.setLevel(level)

    def bare(self, n: int, shape: str, workers: int | None) -> dict:
        if workers is None:
            record = flow_record("bare Prefect", n, lambda: bare_called(n, shape, return_state=True))
        else:
            record = flow_record("bare Prefect", n, lambda: bare_submitted(n, shape, workers, return_state=True))
        return record | {"cpu": BARE_CPU["seconds"]}

    def kedro(self, pipeline: str, runner_class: type, **arguments: Any) -> dict:
        started = time.perf_counter()
        kedro_run(pipeline, runner_class(**arguments))
        timer = self.kedro_phase[runner_class]
        return {"phase": timer.seconds, "wall": time.perf_counter() - started, "cpu": timer.cpu}

    def variants(self, shape: str, n: int) -> dict[str, Any]:
        pipeline = f"bench_{shape}_{n}"
        return {
            "kedro SequentialRunner": lambda: self.kedro(pipeline, SequentialRunner),
            f"kedro ThreadRunner({WORKERS})": lambda: self.kedro(pipeline, ThreadRunner, max_workers=WORKERS),
            "bare Prefect called": lambda: self.bare(n, shape, None),
            f"bare Prefect submitted({WORKERS})": lambda: self.bare(n, shape, WORKERS),
            "our flow sequential": lambda: self.ours(pipeline, n, 1),
            f"our flow concurrent({WORKERS})": lambda: self.ours(pipeline, n, WORKERS),
            f"our flow sequential{WITHOUT_KEDRO_LINES}": lambda: self.ours_without_kedro_lines(pipeline, n, 1),
            f"our flow concurrent({WORKERS}){WITHOUT_KEDRO_LINES}": lambda: self.ours_without_kedro_lines(
                pipeline, n, WORKERS
            ),
        }


class Peer:
    """kedro-dagster in a long-lived process of its own environment (`peer_dagster.py`): it
    translates the project once, then runs a job each time it is asked, so its runs take their
    turn in the same rotation, against the same idle machine, as every other variant."""

    def __init__(self, python: str) -> None:
        self.process = subprocess.Popen(
            [python, str(Path(__file__).with_name("peer_dagster.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"BENCH_ONLY_PIPELINES": ",".join(f"bench_chain_{n}" for n in SIZES)},
        )
        self.translate = self._read()["translate"]

    def _read(self) -> dict:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise SystemExit(f"kedro-dagster's process ended (exit {self.process.wait()})")

    def run(self, n: int, io_manager: str) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(f"bench_chain_{n} {io_manager}\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def measure_matrix(bench: Bench, rounds: int, peer: Peer | None) -> list[dict]:
    """Every variant on chains and fans of each size, ``rounds`` times; each round starts the
    variants one further on, so none always follows the same one, and every run starts against an
    idle server. Records: one per run."""
    records = []
    cells = [(shape, n) for n in SIZES for shape in SHAPES]
    for round_ in range(rounds):
        for index, (shape, n) in enumerate(cells):
            variants = bench.variants(shape, n)
            if peer is not None and shape == "chain":
                for io_manager in ("mem_io_manager", "fs_io_manager"):
                    variants[f"kedro-dagster {io_manager}"] = lambda n=n, io=io_manager: peer.run(n, io)
            for variant, run in rotated(list(variants.items()), round_ + index):
                wait_for_idle_server()
                records.append({"round": round_, "shape": shape, "n": n, "variant": variant, **run()})
            print(f"round {round_ + 1}/{rounds}: measured {shape} {n}", file=sys.stderr, flush=True)
    return records


def measure_grouped(bench: Bench, rounds: int) -> list[dict]:
    """10,000 nodes in 100 namespaces: Kedro's SequentialRunner against our flow grouped by namespace."""
    records = []
    n = 10_000
    for round_ in range(rounds):
        variants = {
            "kedro SequentialRunner": lambda: bench.kedro(GROUPED_PIPELINE, SequentialRunner),
            "our flow grouped by namespace": lambda: bench.ours(GROUPED_PIPELINE, 100, 1, group_by="namespace"),
        }
        for variant, run in rotated(list(variants.items()), round_):
            wait_for_idle_server()
            records.append({"round": round_, "n": n, "variant": variant, **run()})
        print(f"round {round_ + 1}/{rounds}: measured {GROUPED_PIPELINE}", file=sys.stderr, flush=True)
    return records


def measure_dask(bench: Bench, rounds: int) -> list[dict]:
    """Six independent 1 s nodes on 2 Dask worker processes of 3 threads: on a cluster that already
    runs (warm after its first run, as a long-lived `make dask-worker` cluster is), and on the local
    cluster a run starts for itself (the default when no address is configured), in turn."""
    from distributed import LocalCluster

    records = []
    with LocalCluster(
        n_workers=2, threads_per_worker=3, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as cluster:
        bench.ours(DASK_PIPELINE, 6, 6, task_runner="dask", dask_address=cluster.scheduler_address)  # warm-up
        variants = {
            "existing cluster": lambda: bench.ours(
                DASK_PIPELINE, 6, 6, task_runner="dask", dask_address=cluster.scheduler_address
            ),
            "local cluster per run": lambda: bench.ours(DASK_PIPELINE, 6, 6, task_runner="dask", env="dask_local"),
        }
        for round_ in range(rounds):
            for variant, run in rotated(list(variants.items()), round_):
                wait_for_idle_server()
                records.append({"round": round_, "variant": variant, **run()})
        print("measured the Dask fan", file=sys.stderr, flush=True)
    return records


def once(pipeline: str, expected: int) -> None:
    """One run of our flow in this fresh process, as a deployment's flow-run process makes it (the
    parent reads the process's peak memory at exit)."""
    started = time.perf_counter()
    flow = importlib.import_module("kedro_prefect.execution.flow").project_flow
    state = flow(pipeline_name=pipeline, return_state=True)
    wall = time.perf_counter() - started
    if not state.is_completed():
        raise SystemExit(f"{pipeline}: {state.message}")
    # A very large run may leave task runs the server never finishes (seen once at 10,000 nodes on
    # SQLite): report how many did, once their count stops growing, rather than fail.
    phase, reached = server_task_runs(state.state_details.flow_run_id, expected, timeout=1800.0, settled=120.0)
    print(json.dumps({"flow": wall, "phase": phase, "reached": reached, "expected": expected}))


def main() -> None:
    from kedro.framework.startup import bootstrap_project

    if sys.argv[1:2] == ["once"]:
        bootstrap_project(Path.cwd())
        once(sys.argv[2], int(sys.argv[3]))
        return

    bootstrap_project(Path.cwd())  # as `kedro run` does, before any flow runs
    measured = Path(importlib.import_module("kedro_prefect").__file__)
    if not measured.is_relative_to(Path.cwd()):
        # Another editable install in this environment shadows the baked project's copy.
        raise SystemExit(
            f"kedro_prefect is imported from {measured.parent}, not from {Path.cwd()}: uninstall that project"
        )
    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    sections = os.environ.get("BENCH_SECTIONS", "matrix,grouped,dask").split(",")
    bench = Bench()
    # Warm up imports, the server connection and the first runs of each kind before measuring anything.
    bare_called(5, "chain")
    bare_submitted(5, "fan", WORKERS)
    bench.ours("bench_chain_200", 200, WORKERS)
    kedro_run("bench_chain_200", SequentialRunner())

    results: dict[str, Any] = {"workers": WORKERS, "rounds": rounds}
    if "matrix" in sections:
        python = os.environ.get("BENCH_DAGSTER_PYTHON")
        peer = Peer(python) if python else None
        try:
            if peer is not None:
                results["dagster_translate"] = peer.translate
            results["matrix"] = measure_matrix(bench, rounds, peer)
        finally:
            if peer is not None:
                peer.close()
    if "grouped" in sections:
        results["grouped"] = measure_grouped(bench, rounds)
    if "dask" in sections:
        results["dask"] = measure_dask(bench, rounds)
    print(json.dumps(results | {"idle": IDLE}))


if __name__ == "__main__":
    main()
