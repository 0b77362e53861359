"""`make bench`: the generated flow against Prefect's floor, Kedro's runners and kedro-dagster, on this machine.

Bakes a project, adds synthetic pipelines (chains and fans of 200 and 1,000 trivial nodes, 10,000
nodes in 100 namespaces, 6 nodes sleeping 1 s for Dask), starts a Prefect server on a free port
(SQLite, normal priority, as `make up` starts one), runs `measure.py` inside the project for the
interleaved rounds, measures peak memory in fresh processes, and times `make run` of the example
deployment through a freshly baked project's own Makefile and a real worker. `report.py` turns the
records into medians with their spread and into targets, each marked per round. Writes
`benchmarks/results.md` and `results.json`, and the README's figures between its bench markers.
Exits 1 when a target fails on its median.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from statistics import median

import httpx
import report
import synthetic
from cookiecutter.main import cookiecutter

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent
WORK = HERE / ".work"
README = TEMPLATE / "README.md"
README_BEGIN = "<!-- bench:begin (written by `make bench`; do not edit by hand) -->"
README_END = "<!-- bench:end -->"
EXAMPLE_PROJECT_NAME = "Example Project"
SERVER_TIMEOUT = 120.0
MEASURE_TIMEOUT = 4 * 3600.0
MAKE_RUNS = 10
SECTIONS = ("make_run", "matrix", "peer", "grouped", "dask", "memory")
FULL_ROUNDS = 5
ROUNDS = int(os.environ.get("BENCH_ROUNDS", FULL_ROUNDS))
"""Fewer only to try the benchmark out: the README's figures come from full runs only."""

# kedro-dagster resolves only with dagster, dagster-webserver and dagster-dg-cli pinned to one version.
DAGSTER_REQUIREMENTS = (
    "kedro-dagster==0.8.1",
    "dagster==1.13.27",
    "dagster-webserver==1.13.27",
    "dagster-dg-cli==1.13.27",
    "kedro>=1.7,<2",
    "kedro-datasets[pandas-csvdataset]>=9.6,<10",
)
PEER_DAGSTER_YML = """\
executors:
  sequential:
    in_process:
jobs:
  chain_200:
    pipeline:
      pipeline_name: bench_chain_200
    executor: sequential
  chain_1000:
    pipeline:
      pipeline_name: bench_chain_1000
    executor: sequential
"""
# The local cluster a Dask run starts for itself, sized like the existing one it is compared with.
DASK_LOCAL_PREFECT_YML = """\
execution:
  task_runner: dask
  dask:
    n_workers: 2
    threads_per_worker: 3
    memory_datasets: group
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bake_project(project_name: str) -> Path:
    """A freshly baked project, installed (editable, without dependencies) into this environment."""
    project = Path(
        cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(WORK), extra_context={"project_name": project_name})
    )
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--no-deps", "--python", sys.executable, "-e", str(project)], check=True
    )
    return project


def package_of(project: Path) -> str:
    return project.name.replace("-", "_")


def uninstall(*packages: str) -> None:
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "pip", "uninstall", "--quiet", "--python", sys.executable, *packages], check=False)


def bake(project_name: str = "Bench Project", builders: dict = synthetic.BUILDERS) -> Path:
    """A project for the measurements: the example plus synthetic pipelines (all of them by default)."""
    project = bake_project(project_name)
    package = project / "src" / package_of(project)
    shutil.copy(HERE / "synthetic.py", package / "bench_pipelines.py")
    # One package per pipeline, as find_pipelines() discovers them.
    for name, (builder, size) in builders.items():
        folder = package / "pipelines" / name
        folder.mkdir()
        (folder / "__init__.py").write_text(
            f"import os\n\nfrom kedro.pipeline import Pipeline\n\nfrom {package.name}.bench_pipelines import {builder}\n\n\n"
            "def create_pipeline(**kwargs):\n"
            "    # In the peer's process only the pipelines it runs: kedro-dagster builds every registered\n"
            "    # pipeline again for each node it translates (hours with the 10,000-node one).\n"
            "    only = os.environ.get('BENCH_ONLY_PIPELINES')\n"
            f"    if only and {name!r} not in only.split(','):\n"
            "        return Pipeline([])\n"
            f"    return {builder}({size})\n"
        )
    # The example deployment runs the example pipeline only, as in a fresh project.
    registry = package / "pipeline_registry.py"
    default = 'pipelines["__default__"] = sum(pipelines.values())'
    text = registry.read_text()
    assert default in text, "the registry's __default__ line changed: update run_benchmark.py"
    registry.write_text(
        text.replace(
            default,
            'pipelines["__default__"] = sum(p for name, p in pipelines.items() if not name.startswith("bench_"))',
        )
    )
    return project


def start_server(home: Path, port: int) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_DATABASE_TIMEOUT": "30",
    }
    log = (WORK / "server.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("prefect")),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ui",
        ],
        env=env,
        stdin=subprocess.DEVNULL,  # typed into a terminal, `make bench` must not let Prefect ask anything
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + SERVER_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    stop_process_group(server)
    raise SystemExit(f"Prefect server did not start within {SERVER_TIMEOUT:.0f} s; see {WORK / 'server.log'}")


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, and everything it started."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def client_env(port: int, server_pid: int) -> dict[str, str]:
    """What every measuring process gets: the server, Kedro's and Prefect's logging as a deployment's
    (INFO, unless BENCH_LOG_LEVEL), telemetry off."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_HOME": str(WORK / "client-home"),
        "PREFECT_CLIENT_MAX_RETRIES": "10",
        "PREFECT_LOGGING_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "BENCH_SERVER_PID": str(server_pid),
    }
    if os.environ.get("BENCH_LOG_LEVEL", "INFO") == "WARNING":
        env["KEDRO_LOGGING_CONFIG"] = str(HERE / "quiet_logging.yml")
    return env


def measure(project: Path, env: dict[str, str], sections: list[str], dagster: Path | None) -> dict:
    """`measure.py` in the project: its output (Prefect's and Kedro's console logs) goes to a file."""
    env = env | {"BENCH_SECTIONS": ",".join(sections), "BENCH_ROUNDS": str(ROUNDS)}
    if dagster is not None:
        env["BENCH_DAGSTER_PYTHON"] = str(dagster)
    log = WORK / "measure.log"
    with log.open("w") as stderr:
        result = subprocess.run(
            [sys.executable, str(HERE / "measure.py")],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=MEASURE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    if result.returncode != 0:
        raise SystemExit(f"measure.py failed (exit {result.returncode}); see {log}")
    records = result.stdout.strip().splitlines()[-1]
    (WORK / "measure.json").write_text(records + "\n")  # kept if a later section fails
    return json.loads(records)


def peak_run(command: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """One run in a fresh process: its wall time, its peak RSS (from the kernel, at exit) and, when
    it prints one, its JSON line."""
    started = time.perf_counter()
    with (WORK / "memory.log").open("a") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True
        )
        stdout = process.stdout.read() if process.stdout else ""
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode}); see {WORK / 'memory.log'}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return {
        "wall": time.perf_counter() - started,
        "rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        **(json.loads(lines[-1]) if lines else {}),
    }


def measure_memory(project: Path, env: dict[str, str], server_pid: int) -> dict:
    """Peak RSS of our flow against `kedro run` on the 1,000-node chain, ROUNDS interleaved rounds of
    fresh processes; then the ungrouped 10,000-node run once, and how long the server then stays busy."""
    sys.path.insert(0, str(HERE))
    from measure import wait_for_idle_server

    kedro = [str(Path(sys.executable).with_name("kedro")), "run", "--pipeline", "bench_chain_1000"]
    ours = [sys.executable, str(HERE / "measure.py"), "once", "bench_chain_1000", "1000"]
    records = []
    for round_ in range(ROUNDS):
        for variant, command in report.rotated([("kedro run", kedro), ("our flow", ours)], round_):
            wait_for_idle_server(pid=server_pid)
            records.append({"round": round_, "variant": variant, **peak_run(command, project, env)})
    print("measured peak memory on the 1,000-node chain", file=sys.stderr, flush=True)
    wait_for_idle_server(pid=server_pid)
    large = peak_run(
        [sys.executable, str(HERE / "measure.py"), "once", "bench_namespaced_10000", "10000"], project, env
    )
    large["backlog"] = wait_for_idle_server(pid=server_pid, timeout=1800.0)
    print("measured the ungrouped 10,000-node run", file=sys.stderr, flush=True)
    return {"records": records, "large": large}


def make_run_times() -> list[dict]:
    """`make run` of the example deployment of a freshly baked project, MAKE_RUNS times, as a user
    runs it: the project's own Makefile (`make up` starts a server and a worker on a free port,
    `make deploy`, then `make run`, `make down`), default logging, a server of its own at normal
    priority. Each row: the command's wall time, and from the server's own timestamps the run's time
    from creation to pickup (the worker's poll and the flow-run process starting), from start to end
    (the flow body), and the command's own start and exit around them."""
    project = bake_project(EXAMPLE_PROJECT_NAME)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "MAKE", "MFLAGS"))}
    env |= {"VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    make = ["make", f"PREFECT_PORT={port}"]
    try:
        subprocess.run([*make, "up"], cwd=project, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL)
        subprocess.run([*make, "deploy", "DEPLOYMENT=default"], cwd=project, env=env, check=True, timeout=300)
        rows = []
        for index in range(MAKE_RUNS + 1):  # the first one warms the worker up and is not counted
            time.sleep(2)  # let the server write the previous run's events first
            # Wall-clock times, to set beside the server's timestamps (same machine, same clock).
            started = time.time()
            result = subprocess.run([*make, "run"], cwd=project, env=env, capture_output=True, text=True, timeout=600)
            ended = time.time()
            if result.returncode != 0:
                raise SystemExit(f"make run failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
            run_id = result.stdout.split("/runs/flow-run/")[1].split()[0]
            run = httpx.get(f"http://127.0.0.1:{port}/api/flow_runs/{run_id}", timeout=10).json()
            created, start, end = (
                datetime.fromisoformat(run[key]).timestamp() for key in ("created", "start_time", "end_time")
            )
            if index:
                rows.append(
                    {
                        "wall": ended - started,
                        "command start to created": created - started,
                        "created to completed": end - created,
                        "created to started": start - created,
                        "flow body": end - start,
                        "completed to command exit": ended - end,
                    }
                )
        return rows
    finally:
        subprocess.run([*make, "down"], cwd=project, env=env, check=False, timeout=300, stdout=subprocess.DEVNULL)
        uninstall(package_of(project))


def dagster_python(project: Path) -> Path:
    """kedro-dagster in an environment of its own (its pins are not the template's), with the peer
    project installed without dependencies."""
    uv = str(Path(sys.executable).with_name("uv"))
    venv = WORK / "dagster-venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), *DAGSTER_REQUIREMENTS], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-deps", "--python", str(python), "-e", str(project)], check=True
    )
    return python


def bench_project(with_dagster: bool) -> Path:
    project = bake()
    (project / "conf" / "dask_local").mkdir()
    (project / "conf" / "dask_local" / "prefect.yml").write_text(DASK_LOCAL_PREFECT_YML)
    if with_dagster:
        (project / "conf" / "local" / "dagster.yml").write_text(PEER_DAGSTER_YML)
    return project


def results_markdown(results: dict, sections: list[str], rounds: int = ROUNDS) -> tuple[str, list[report.Target]]:
    """The tables of the sections measured, then every target with its median verdict and per-round marks."""
    lines: list[str] = []
    targets: list[report.Target] = []
    if "matrix" in results:
        matrix_lines, matrix_targets = report.matrix_report(results["matrix"], results["workers"])
        lines += matrix_lines + report.peer_lines(results["matrix"], results.get("dagster_translate"))
        targets += matrix_targets
    for section, build in (
        ("grouped", lambda: report.grouped_report(results["grouped"])),
        ("dask", lambda: report.dask_report(results["dask"])),
        ("memory", lambda: report.memory_report(results["memory"]["records"], results["memory"].get("large"))),
        ("make_run", lambda: report.make_run_report(results["make_run"])),
    ):
        if section in results:
            section_lines, section_targets = build()
            lines += section_lines
            targets += section_targets
    passed = sum(target.passed for target in targets)
    summary = [
        f"**{passed} of {len(targets)} targets pass on their median** ({rounds} rounds; `make run`: {MAKE_RUNS} runs).",
        "",
        *report.targets_table(targets),
        "",
    ]
    return "\n".join(summary + lines), targets


def idle_sentence(results: dict) -> str:
    """How long the runs waited for the server to write earlier runs' events (`measure.wait_for_idle_server`)."""
    waits = results.get("idle", {}).get("waits", [])
    if not waits:
        return ""
    return (
        f"Every measured run of `measure.py` started once the server had written the events and logs of the runs "
        f"before it ({len(waits)} waits, untimed: median {median(waits):.1f} s, longest {max(waits):.1f} s; "
        f"{results['idle']['gave_up']} gave up after {results['idle']['timeout']:.0f} s and measured anyway).\n\n"
    )


def write_readme(body: str) -> None:
    """The README's figures, between its markers, from this run's own output."""
    text = README.read_text()
    pattern = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {README_BEGIN} ... {README_END} section to write the figures into")
    README.write_text(pattern.sub(lambda _: f"{README_BEGIN}\n{body}\n{README_END}", text))


def main() -> int:
    sections = [name for name in os.environ.get("BENCH_SECTIONS", ",".join(SECTIONS)).split(",") if name]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"BENCH_SECTIONS: unknown {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    started = time.monotonic()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    # `make run` first, on a quiet machine, with a fresh project and a server of its own.
    results: dict = {"make_run": make_run_times()} if "make_run" in sections else {}
    (WORK / "make_run.json").write_text(json.dumps(results.get("make_run")) + "\n")  # kept if a later section fails
    measured = [section for section in sections if section in ("matrix", "grouped", "dask")]
    if measured or "memory" in sections:
        project = bench_project(with_dagster="peer" in sections)
        dagster = dagster_python(project) if "peer" in sections and "matrix" in sections else None
        port = free_port()
        server = start_server(WORK / "server-home", port)
        env = client_env(port, server.pid)
        try:
            if measured:
                results |= measure(project, env, measured, dagster)
            if "memory" in sections:
                results["memory"] = measure_memory(project, env, server.pid)
        finally:
            stop_process_group(server)
            uninstall(package_of(project))
    return report_results(results, sections, minutes=(time.monotonic() - started) / 60)


def report_results(
    results: dict,
    sections: list[str],
    minutes: float,
    rounds: int = ROUNDS,
    log_level: str = os.environ.get("BENCH_LOG_LEVEL", "INFO"),
) -> int:
    """Write the results (and, after a full run at INFO, the README's figures); 1 if a target failed.

    A partial run (fewer sections or rounds) writes ``results-<sections>[-<N>rounds].md``, which git
    ignores, and leaves the README alone.
    """
    body, targets = results_markdown(results, sections, rounds)
    header = (
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores in {minutes:.0f} min, one local Prefect "
        f"server (SQLite, normal priority); sections: {', '.join(sections)}; logging at "
        f"{log_level} for every variant, shipped to the server as in a deployment "
        "(`make run`: as a user's project runs).\n\n"
    ) + idle_sentence(results)
    full = sections == list(SECTIONS) and rounds >= FULL_ROUNDS
    stem = (
        "results" if full else "-".join(["results", *sections, *([f"{rounds}rounds"] if rounds < FULL_ROUNDS else [])])
    )
    (HERE / f"{stem}.md").write_text("# Benchmark results\n\n" + header + body + "\n")
    (HERE / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    if full and log_level == "INFO":
        write_readme(header + body)
    print(body)
    print(f"\nWrote {HERE / f'{stem}.md'}")
    return 0 if all(target.passed for target in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
