"""Synthetic pipelines for the benchmark, added to a baked project's registry.

Chains (each node consumes the previous one's output), fan-outs (one root, every other node
consumes it) of trivial nodes, and 20 independent nodes that sleep 0.2 s. All data in memory.
"""

from __future__ import annotations

import time

from kedro.pipeline import Node, Pipeline


def start() -> int:
    return 0


def step(value: int) -> int:
    return value + 1


def nap() -> int:
    time.sleep(0.2)
    return 1


def chain(n: int) -> Pipeline:
    prefix = f"chain{n}"
    nodes = [Node(start, None, f"{prefix}_0", name=f"{prefix}_node_0")]
    nodes += [Node(step, f"{prefix}_{i - 1}", f"{prefix}_{i}", name=f"{prefix}_node_{i}") for i in range(1, n)]
    return Pipeline(nodes)


def fan(n: int) -> Pipeline:
    prefix = f"fan{n}"
    nodes = [Node(start, None, f"{prefix}_root", name=f"{prefix}_root")]
    nodes += [Node(step, f"{prefix}_root", f"{prefix}_{i}", name=f"{prefix}_node_{i}") for i in range(1, n)]
    return Pipeline(nodes)


def sleepers(n: int) -> Pipeline:
    return Pipeline([Node(nap, None, f"nap_{i}", name=f"nap_{i}") for i in range(n)])


# Pipeline name -> (builder, size), for the packages run_benchmark.py writes.
BUILDERS = {f"bench_{builder}_{n}": (builder, n) for builder in ("chain", "fan") for n in (10, 200, 1000)}
BUILDERS["bench_sleep_20"] = ("sleepers", 20)
