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


def chain_10() -> Pipeline:
    return chain(10)


def chain_200() -> Pipeline:
    return chain(200)


def chain_1000() -> Pipeline:
    return chain(1000)


def fan_10() -> Pipeline:
    return fan(10)


def fan_200() -> Pipeline:
    return fan(200)


def fan_1000() -> Pipeline:
    return fan(1000)


def sleep_20() -> Pipeline:
    return Pipeline([Node(nap, None, f"nap_{i}", name=f"nap_{i}") for i in range(20)])


# Pipeline name -> builder function, for the packages run_benchmark.py writes.
BUILDERS = {
    f"bench_{name}": name
    for name in ("chain_10", "chain_200", "chain_1000", "fan_10", "fan_200", "fan_1000", "sleep_20")
}
