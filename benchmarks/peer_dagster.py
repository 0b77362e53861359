"""The peer, kedro-dagster, as a long-lived process that `measure.py` asks for one run at a time.

Runs with the Python of its own environment (kedro-dagster, dagster pinned; `run_benchmark.py`
makes it) inside the bench project, whose `conf/local/dagster.yml` defines one job per chain.
Translating the project into Dagster definitions happens once, first, and is reported apart: it
is paid on every load of the code location, not per run. Then each line `<pipeline> <io manager>`
on stdin runs that job with `execute_in_process`, what kedro-dagster users run in one process, and
answers one JSON line with its whole time and CPU time. Logging stays as configured (INFO, like every variant).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import dagster as dg
from kedro_dagster import KedroProjectTranslator

INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
IO_MANAGERS = {"mem_io_manager": dg.mem_io_manager, "fs_io_manager": dg.FilesystemIOManager()}


def answer(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main() -> None:
    started = time.perf_counter()
    location = KedroProjectTranslator(env="local", project_path=Path.cwd()).to_dagster()
    answer({"translate": time.perf_counter() - started})
    jobs = {}
    for line in sys.stdin:
        pipeline, io_manager = line.split()
        key = (pipeline, io_manager)
        if key not in jobs:
            job = location.named_jobs[pipeline.removeprefix("bench_")]
            definitions = dg.Definitions(
                assets=list(location.named_assets.values()),
                jobs=[job],
                resources=location.named_resources | {"io_manager": IO_MANAGERS[io_manager]},
            )
            jobs[key] = definitions.resolve_job_def(job.name)
            jobs[key].execute_in_process(run_config=INFO)  # a warm-up run, as every variant has
        started, cpu = time.perf_counter(), time.process_time()
        result = jobs[key].execute_in_process(run_config=INFO)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if not result.success:
            raise SystemExit(f"kedro-dagster {pipeline} with {io_manager} failed")
        answer({"wall": seconds, "phase": None, "cpu": cpu})


if __name__ == "__main__":
    main()
