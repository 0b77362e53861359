"""Synthetic pipelines for the benchmark, added to a baked project's registry.

Chains (each node consumes the previous one's output) and fans (one root, every other node
consumes it) of trivial nodes, 10,000 trivial nodes in 100 namespaces (a chain of 100 in each), and
6 independent nodes that sleep 1 s (for Dask). All data in memory.
"""

from __future__ import annotations

import time

from kedro.pipeline import Node, Pipeline


def start() -> int:
    return 0


def step(value: int) -> int:
    return value + 1


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


def long_nap() -> int:
    time.sleep(1.0)
    return 1


def long_sleepers(n: int) -> Pipeline:
    return Pipeline([Node(long_nap, None, f"long_nap_{i}", name=f"long_nap_{i}") for i in range(n)])


def namespaced(n: int, namespaces: int = 100) -> Pipeline:
    """``namespaces`` independent chains of n / namespaces nodes, each chain one namespace."""
    per = n // namespaces
    nodes = []
    for k in range(namespaces):
        space = f"part{k}"
        nodes.append(Node(start, None, f"{space}.value_0", name="node_0", namespace=space))
        nodes += [
            Node(step, f"{space}.value_{i - 1}", f"{space}.value_{i}", name=f"node_{i}", namespace=space)
            for i in range(1, per)
        ]
    return Pipeline(nodes)


# Pipeline name -> (builder, size), for the packages run_benchmark.py writes.
BUILDERS = {f"bench_{builder}_{n}": (builder, n) for builder in ("chain", "fan") for n in (200, 1000)}
BUILDERS["bench_namespaced_10000"] = ("namespaced", 10_000)
BUILDERS["bench_dask_fan_6"] = ("long_sleepers", 6)
