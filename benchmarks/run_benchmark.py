"""`make bench`: the generated flow's overhead against Kedro's runners and bare Prefect, on this machine.

Bakes a project, adds synthetic pipelines (chains and fan-outs of 10, 200 and 1,000 trivial nodes,
20 independent nodes sleeping 0.2 s, 1,000 nodes in 10 namespaces, 6 nodes sleeping 1 s for Dask),
starts a Prefect server on a free port, runs `measure.py` inside the project, then times `make run`
of the example deployment through the project's own Makefile and a real worker. Writes
`benchmarks/results.md` and `benchmarks/overhead.png`. The targets are ratios within the same run
where they can be, so they hold or fail on any machine alike.
"""

from __future__ import annotations

import json
import os
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
import synthetic
from cookiecutter.main import cookiecutter

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent
WORK = HERE / ".work"
EXAMPLE_PROJECT_NAME = "Example Project"
SERVER_TIMEOUT = 120.0
MEASURE_TIMEOUT = 2700.0
MAKE_RUNS = 10
SECTIONS = ("matrix", "grouped", "dask", "make_run", "peer")

TARGET_OVERHEAD = 1.2
TARGET_SLEEP = 1.3
TARGET_LINEAR = 1.5
TARGET_GROUPED = 1.2
TARGET_DASK_FAN_SECONDS = 2.0
TARGET_MAKE_RUN_SECONDS = 5.0
TARGET_PEER_DIRECT = 1.2

PEER_ROUNDS = 5
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
  chain:
    pipeline:
      pipeline_name: bench_chain_200
    executor: sequential
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
            f"from {package.name}.bench_pipelines import {builder}\n\n\n"
            f"def create_pipeline(**kwargs):\n    return {builder}({size})\n"
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


def start_server(home: Path, port: int, niceness: int = 19) -> subprocess.Popen:
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
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # The server writes each task's events to SQLite long after the run; at full priority that
        # backlog competes with the client for the 2 cores and buries the client's own costs.
        preexec_fn=lambda: os.nice(niceness),
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


def measure(project: Path, port: int, server_pid: int, sections: list[str]) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_HOME": str(WORK / "client-home"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_CLIENT_MAX_RETRIES": "10",
        "KEDRO_LOGGING_CONFIG": str(HERE / "quiet_logging.yml"),
        "KEDRO_DISABLE_TELEMETRY": "true",
        "BENCH_SERVER_PID": str(server_pid),
        "BENCH_SECTIONS": ",".join(sections),
    }
    return json_line_of([sys.executable, str(HERE / "measure.py")], project, env)


def json_line_of(command: list[str], cwd: Path, env: dict) -> dict:
    """Run a measuring script to its end; its last line of output is its JSON result."""
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=MEASURE_TIMEOUT, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        raise SystemExit(f"{Path(command[1]).name} failed:\n{result.stderr[-5000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


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


def peer_rounds(port: int, server_pid: int) -> list[dict]:
    """PEER_ROUNDS interleaved rounds: one of kedro-dagster on the 200-node chain (its own process and
    environment), then one of Kedro, bare Prefect and our flow on chains of 200 and 1,000 nodes
    (measure.py)."""
    project = bake("Peer Project", {"bench_chain_200": ("chain", 200), "bench_chain_1000": ("chain", 1000)})
    (project / "conf" / "local" / "dagster.yml").write_text(PEER_DAGSTER_YML)
    python = dagster_python(project)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {"KEDRO_LOGGING_CONFIG": str(HERE / "quiet_logging.yml"), "KEDRO_DISABLE_TELEMETRY": "true"}
    rounds = []
    try:
        for index in range(PEER_ROUNDS):
            dagster = json_line_of([str(python), str(HERE / "peer_dagster.py")], project, env)
            chains = measure(project, port, server_pid, ["peer"])
            rounds.append({"dagster": dagster, "idle": chains.pop("idle"), "chains": chains})
            print(f"peer round {index + 1} of {PEER_ROUNDS}", file=sys.stderr, flush=True)
    finally:
        uninstall(package_of(project))
    return rounds


def idle_sentence(results: dict) -> str:
    """How long the runs waited for the server to write earlier runs' events (`measure.wait_for_idle_server`)."""
    idle = ([results["idle"]] if "idle" in results else []) + [r["idle"] for r in results.get("peer", [])]
    waits = [seconds for each in idle for seconds in each["waits"]]
    if not waits:
        return ""
    gave_up = sum(each["gave_up"] for each in idle)
    timeout = idle[0]["timeout"]
    return (
        f"Every run of the matrix (chains, fan-outs, the 20 sleeping nodes), of the grouped section and of the "
        f"peer's rounds started once the server had written the events of the runs before it "
        f"({len(waits)} waits, untimed: median {median(waits):.1f} s, longest {max(waits):.1f} s; "
        f"{gave_up} gave up after {timeout:.0f} s and measured anyway).\n\n"
    )


def slope_ms(seconds: dict, variant: str, shapes=("chain", "fan")) -> float:
    """Cost of one more node: (t(1000) - t(10)) / 990, averaged over shapes, in milliseconds."""
    total = sum(seconds[(variant, shape, 1000)] - seconds[(variant, shape, 10)] for shape in shapes)
    return 1000 * total / (990 * len(shapes))


Target = tuple[str, float, float]


def report(results: dict) -> tuple[str, bool]:
    """The tables of the sections measured, then every target with PASS or FAIL."""
    lines: list[str] = []
    notes: list[str] = []
    targets: list[Target] = []
    if "rows" in results:
        matrix_lines, matrix_notes, matrix_targets = report_matrix(results)
        lines += matrix_lines
        notes += matrix_notes
        targets += matrix_targets
    if "grouped" in results:
        for row in results["grouped"]:
            runner = "SequentialRunner" if row["workers"] == 1 else f"ThreadRunner({row['workers']})"
            targets.append(
                (
                    f"1,000 nodes in 10 namespaces, group_by namespace, max_workers {row['workers']}: "
                    f"our node phase / Kedro {runner} node phase",
                    row["ours"]["phase"] / row["kedro"]["phase"],
                    TARGET_GROUPED,
                )
            )
            notes += [
                "",
                f"1,000 nodes in 10 namespaces, {row['workers']} worker(s): Kedro {runner} node phase "
                f"{row['kedro']['phase']:.2f} s (whole {row['kedro']['seconds']:.2f} s), our flow grouped node "
                f"phase {row['ours']['phase']:.2f} s (whole {row['ours']['seconds']:.2f} s).",
            ]
    if "dask" in results:
        dask = results["dask"]
        targets.append(
            (
                "Dask fan, 6 × 1 s nodes on 2 workers × 3 threads, warm workers: median node phase, seconds",
                median(dask["warm"]),
                TARGET_DASK_FAN_SECONDS,
            )
        )
        notes += [
            "",
            f"Dask fan node phase: first run (cold worker processes) {dask['cold']:.2f} s; warm runs "
            + ", ".join(f"{seconds:.2f}" for seconds in dask["warm"])
            + " s.",
        ]
    if "make_run" in results:
        make_runs = results["make_run"]
        targets += [
            (
                f"`make run` of the example deployment, median of {len(make_runs)}: Scheduled → Completed "
                "(server timestamps), seconds",
                median(row["created to completed"] for row in make_runs),
                TARGET_MAKE_RUN_SECONDS,
            ),
        ]
        notes += [
            "",
            f"`make run` of the example deployment ({len(make_runs)} runs, seconds). The target is the server's "
            "Scheduled → Completed; the command's wall time adds its own start (Python, Prefect's import, the "
            "request that creates the run) and its exit:",
            "",
            "| part | median | min | max |",
            "|---|---:|---:|---:|",
            *(
                f"| {part} | {median(row[part] for row in make_runs):.2f} | "
                f"{min(row[part] for row in make_runs):.2f} | {max(row[part] for row in make_runs):.2f} |"
                for part in (
                    "wall",
                    "command start to created",
                    "created to completed",
                    "created to started",
                    "flow body",
                    "completed to command exit",
                )
            ),
        ]
    if "peer" in results:
        peer_lines, peer_targets = report_peer(results["peer"])
        notes += peer_lines
        targets += peer_targets

    lines += ["", "| target | measured | limit | result |", "|---|---:|---:|---|"]
    all_pass = True
    for name, value, limit in targets:
        passed = value <= limit
        all_pass &= passed
        lines.append(f"| {name} | {value:.2f} | ≤ {limit:.4g} | {'PASS' if passed else 'FAIL'} |")
    return "\n".join(lines + notes), all_pass


def report_peer(rounds: list[dict]) -> tuple[list[str], list[Target]]:
    """kedro-dagster beside our flow and bare Prefect on the 200-node chain: medians of the rounds."""
    nodes = 200
    chain = [r["chains"]["200"] for r in rounds]
    ours, dagster_mem = (
        "our flow (ungrouped, as a deployment runs it)",
        "kedro-dagster 0.8.1 execute_in_process, mem_io_manager",
    )
    # Each variant's whole runs, paired with plain Kedro's in the same process and round.
    runs = {
        "bare Prefect tasks": [(r["bare"]["seconds"], r["kedro"]["seconds"]) for r in chain],
        ours: [(r["ours"]["seconds"], r["kedro"]["seconds"]) for r in chain],
        **{
            f"kedro-dagster 0.8.1 execute_in_process, {io}": [(r["dagster"][io], r["dagster"]["kedro"]) for r in rounds]
            for io in ("mem_io_manager", "fs_io_manager")
        },
    }
    per_node = {
        variant: [1000 * (seconds - kedro) / nodes for seconds, kedro in pairs] for variant, pairs in runs.items()
    }
    direct = {
        size: [
            (r["chains"][size]["ours"]["phase"] - r["chains"][size]["kedro"]["phase"])
            / r["chains"][size]["bare"]["phase"]
            for r in rounds
        ]
        for size in rounds[0]["chains"]
    }
    lines = [
        "",
        f"Peer, a chain of {nodes} trivial nodes, {len(rounds)} interleaved rounds (each variant after a warm-up run; "
        "kedro-dagster in its own environment and process, with plain Kedro in that process as its baseline):",
        "",
        "| variant | whole run, median | per node over plain Kedro, median (min–max) |",
        "|---|---:|---:|",
        f"| plain Kedro SequentialRunner | {median(r['kedro']['seconds'] for r in chain):.2f} s | – |",
    ]
    for variant, values in per_node.items():
        lines.append(
            f"| {variant} | {median(seconds for seconds, _ in runs[variant]):.2f} s | "
            f"{median(values):.1f} ms ({min(values):.1f}–{max(values):.1f}) |"
        )
    for size, ratios in direct.items():
        sized = [r["chains"][size] for r in rounds]
        lines += [
            "",
            f"Chain of {size}, node phases (first task start to last task end, server times; Kedro's from its "
            f"runner), medians: Kedro {median(r['kedro']['phase'] for r in sized):.2f} s, bare Prefect "
            f"{median(r['bare']['phase'] for r in sized):.2f} s, our flow {median(r['ours']['phase'] for r in sized):.2f} s; "
            "direct ratio (ours − Kedro) / bare per round: " + ", ".join(f"{value:.2f}" for value in ratios) + ".",
        ]
    if {"200", "1000"} <= set(direct):

        def phase(size: str, variant: str) -> float:
            return median(r["chains"][size][variant]["phase"] for r in rounds)

        slope = (phase("1000", "ours") - phase("200", "ours") - phase("1000", "kedro") + phase("200", "kedro")) / (
            phase("1000", "bare") - phase("200", "bare")
        )
        lines += ["", f"The same ratio as a slope between 200 and 1,000 nodes (median phases): {slope:.2f}."]
    lines += [
        "",
        "kedro-dagster translating the project into Dagster definitions (on every load of its code location): "
        f"{median(r['dagster']['translate'] for r in rounds):.1f} s.",
    ]
    targets: list[Target] = [
        (
            f"{nodes}-node chain, ungrouped: our flow's whole-run ms per node over plain Kedro ≤ kedro-dagster's "
            "(mem_io_manager), medians",
            median(per_node[ours]),
            median(per_node[dagster_mem]),
        ),
        *(
            (
                f"{size}-node chain: direct per-node ratio, (our node phase − Kedro's) / bare Prefect's, median",
                median(ratios),
                TARGET_PEER_DIRECT,
            )
            for size, ratios in direct.items()
        ),
    ]
    return lines, targets


def report_matrix(results: dict) -> tuple[list[str], list[str], list[Target]]:
    """Chains and fan-outs of 10, 200 and 1,000 nodes, and the 20 sleeping nodes."""
    seconds = {(row["variant"], row["shape"], row["n"]): row["seconds"] for row in results["rows"]}
    # The node phase (first submission to last completion) leaves out the flow run's fixed start
    # and stop, whose duration moves in steps of about a second and would drown a per-node figure.
    phases = {(row["variant"], row["shape"], row["n"]): row["phase"] for row in results["rows"] if row["phase"]}
    variants = list(dict.fromkeys(row["variant"] for row in results["rows"]))
    workers = results["workers"]
    lines = [
        "Whole runs (node phase in brackets where measured):",
        "",
        "| variant | chain 10 | chain 200 | chain 1000 | fan 10 | fan 200 | fan 1000 | ms per extra node |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant in variants:
        cells = []
        for shape in ("chain", "fan"):
            for n in (10, 200, 1000):
                phase = phases.get((variant, shape, n))
                cells.append(f"{seconds[(variant, shape, n)]:.2f} s" + (f" ({phase:.2f})" if phase else ""))
        per_node = slope_ms(phases if (variant, "chain", 10) in phases else seconds, variant)
        lines.append(f"| {variant} | {' | '.join(cells)} | {per_node:.2f} |")

    targets: list[Target] = []
    for label in ("sequential", f"concurrent({workers})"):
        ratio = slope_ms(phases, f"our flow {label}") / slope_ms(phases, f"bare Prefect {label}")
        targets.append(
            (f"per-node cost in the node phase, our flow / bare Prefect task, {label} (slope)", ratio, TARGET_OVERHEAD)
        )
    # The same figure measured directly at one size, beside the slope: a slope between sizes hides
    # what the node phase carries at every size.
    kedro_variant = {"sequential": "kedro SequentialRunner", f"concurrent({workers})": f"kedro ThreadRunner({workers})"}
    for label in ("sequential", f"concurrent({workers})"):
        for n in (200, 1000):
            ours = phases[(f"our flow {label}", "chain", n)]
            kedro = phases[(kedro_variant[label], "chain", n)]
            bare = phases[(f"bare Prefect {label}", "chain", n)]
            targets.append(
                (
                    f"per-node cost, direct: (our node phase − {kedro_variant[label]}) / bare Prefect, chain {n}, "
                    f"{label}",
                    (ours - kedro) / bare,
                    TARGET_OVERHEAD,
                )
            )
    sleep = results["sleep"]
    targets.append(
        (
            f"20 × 0.2 s nodes, node phase, our flow / Kedro ThreadRunner({workers})",
            sleep["our flow node phase"] / sleep["kedro ThreadRunner node phase"],
            TARGET_SLEEP,
        )
    )
    for label in ("sequential", f"concurrent({workers})"):
        variant = f"our flow {label}"
        per_node_200 = (phases[(variant, "chain", 200)] - phases[(variant, "chain", 10)]) / 190
        per_node_1000 = (phases[(variant, "chain", 1000)] - phases[(variant, "chain", 10)]) / 990
        targets.append(
            (
                f"linear growth: per-node cost at 1,000 / at 200 nodes, chain, {label}",
                per_node_1000 / per_node_200,
                TARGET_LINEAR,
            )
        )
    notes = [
        "",
        f"20 × 0.2 s nodes, best of {sleep['repeats']} each: "
        f"Kedro SequentialRunner {sleep['kedro SequentialRunner']:.2f} s (whole run); "
        f"node phase Kedro ThreadRunner({workers}) {sleep['kedro ThreadRunner node phase']:.2f} s, "
        f"our flow {sleep['our flow node phase']:.2f} s.",
    ]
    return lines, notes, targets


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, shape in zip(axes, ("chain", "fan"), strict=True):
        for variant in dict.fromkeys(row["variant"] for row in results["rows"]):
            points = sorted(
                (row["n"], 1000 * row["seconds"] / row["n"])
                for row in results["rows"]
                if row["variant"] == variant and row["shape"] == shape
            )
            axis.plot([n for n, _ in points], [ms for _, ms in points], marker="o", label=variant)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("nodes in the pipeline")
        axis.set_title(f"{shape}: wall time per node")
        axis.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms per node (whole run / N)")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    sections = [name for name in os.environ.get("BENCH_SECTIONS", ",".join(SECTIONS)).split(",") if name]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"BENCH_SECTIONS: unknown {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    # `make run` first, on a quiet machine, with a fresh project and a server of its own.
    results = {"make_run": make_run_times()} if "make_run" in sections else {}
    measured = [section for section in sections if section not in ("make_run", "peer")]
    if measured:
        project = bake()
        port = free_port()
        server = start_server(WORK / "server-home", port)
        try:
            results |= measure(project, port, server.pid, measured)
        finally:
            stop_process_group(server)
            uninstall(package_of(project))
    if "peer" in sections:
        # A server at normal priority, as users run it: our flow talks to it during the run, and
        # kedro-dagster's execute_in_process has no server at all.
        port = free_port()
        server = start_server(WORK / "peer-server-home", port, niceness=0)
        try:
            results["peer"] = peer_rounds(port, server.pid)
        finally:
            stop_process_group(server)
    table, all_pass = report(results)
    # A run of some sections only leaves the last full run's results in place.
    stem = "results" if sections == list(SECTIONS) else "results-" + "-".join(sections)
    header = (
        f"# Benchmark results\n\nMeasured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, one local Prefect "
        f"server (SQLite); sections: {', '.join(sections)}. Logging at WARNING for every variant except `make run`, "
        "which runs as a user's (a fresh project, its own server, `make up`). Times are whole runs unless marked "
        "node phase.\n\n"
    ) + idle_sentence(results)
    (HERE / f"{stem}.md").write_text(header + table + "\n")
    (HERE / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    if "rows" in results:
        plot(results, HERE / "overhead.png")
    print(table)
    print(f"\nWrote {HERE / f'{stem}.md'}")
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
