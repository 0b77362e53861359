"""The peer: one round of kedro-dagster on the same 200-node chain; prints one JSON line.

Runs with the Python of its own environment (kedro-dagster, dagster pinned; `run_benchmark.py`
makes it) inside the peer project, whose `conf/local/dagster.yml` defines the job. Measures what
kedro-dagster users run in one process, `execute_in_process`, with Dagster's in-memory and
filesystem IO managers, and plain Kedro in the same process as the baseline, each after a warm-up
run. Translating the project into Dagster definitions happens first and is reported apart: it is
paid on every load of the code location, not per run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
from kedro.framework.session import KedroSession
from kedro.runner import SequentialRunner
from kedro_dagster import KedroProjectTranslator

PIPELINE = "bench_chain_200"
JOB = "chain"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def kedro_run() -> None:
    with KedroSession.create(project_path=Path.cwd()) as session:
        session.run(pipeline_names=[PIPELINE], runner=SequentialRunner())


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    started = time.perf_counter()
    location = KedroProjectTranslator(env="local", project_path=Path.cwd()).to_dagster()
    result = {"translate": time.perf_counter() - started}
    kedro_run()
    result["kedro"] = timed(kedro_run)
    for name, io_manager in (("mem_io_manager", dg.mem_io_manager), ("fs_io_manager", dg.FilesystemIOManager())):
        definitions = dg.Definitions(
            assets=list(location.named_assets.values()),
            jobs=[location.named_jobs[JOB]],
            resources=location.named_resources | {"io_manager": io_manager},
        )
        job = definitions.resolve_job_def(location.named_jobs[JOB].name)

        def run(job=job, name=name) -> None:
            if not job.execute_in_process(run_config=QUIET).success:
                raise SystemExit(f"kedro-dagster {name} run failed")

        run()
        result[name] = timed(run)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
