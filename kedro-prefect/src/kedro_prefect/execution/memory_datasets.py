"""Datasets kept in memory, and what to do about them when nodes run in other processes.

With threads every node shares the flow's catalog, so a ``MemoryDataset`` passes data from one node
to the next. On Dask each task runs in a worker process with its own copy of the catalog: data
saved to memory there is gone before the next node, on another worker, tries to load it. Kedro
does not check this; ``plan_units`` does, before any node runs, and applies the chosen policy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..errors import KedroPrefectError
from .grouping import merge_units
from .units import Unit, unit_name

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

    from ..config import MemoryPolicy

logger = logging.getLogger(__name__)


class MemoryPlan(NamedTuple):
    """How a run is cut into tasks, and where in-memory datasets were persisted (if they were)."""

    units: list[Unit]
    persisted_in: str | None = None


class MemoryDatasetsError(KedroPrefectError):
    """In-memory datasets would be lost between processes; the message names them and the fixes."""


def memory_datasets(pipeline: Pipeline, catalog: CatalogProtocol, units: list[Unit] | None = None) -> list[str]:
    """Datasets one unit of ``pipeline`` saves and another loads, which only live in memory.

    Parameters and the pipeline's free inputs travel with the catalog itself; what cannot travel
    is data produced during the run. A dataset is in memory when its catalog entry (declared, or
    made from a dataset factory or Kedro's default pattern) is ephemeral, as ``MemoryDataset`` is.
    Inside one unit (a namespace group) such data stays in the task's memory. Without ``units``,
    every node is its own.
    """
    unit_of = {node: unit for unit in units or _one_per_node(pipeline) for node in unit}
    producer = {output: unit_of[node] for node in pipeline.nodes for output in node.outputs}
    crossing = {
        name for node in pipeline.nodes for name in node.inputs if name in producer and producer[name] != unit_of[node]
    }
    return sorted(name for name in crossing if _is_ephemeral(catalog, name))


def _one_per_node(pipeline: Pipeline) -> list[Unit]:
    return [Unit((node,)) for node in pipeline.nodes]


def _is_ephemeral(catalog: CatalogProtocol, name: str) -> bool:
    dataset = catalog.get(name, fallback_to_runtime_pattern=True)
    return dataset is None or getattr(dataset, "_EPHEMERAL", False)


def plan_units(
    pipeline: Pipeline,
    catalog: CatalogProtocol,
    policy: MemoryPolicy,
    persist_location: str | None = None,
    project_path: Path | None = None,
    run_id: str | None = None,
    units: list[Unit] | None = None,
) -> MemoryPlan:
    """Split the pipeline into units that can run in separate processes, applying ``policy``.

    ``group`` joins the nodes linked by in-memory datasets; ``persist`` re-registers those datasets
    in ``catalog`` as pickles under ``persist_location``; ``refuse`` raises ``MemoryDatasetsError``.
    Without such datasets the units stay as given (by default one per node), whatever the policy.
    """
    given = units or _one_per_node(pipeline)
    in_memory, planned = _split(pipeline, catalog, policy, given)
    if in_memory and policy == "persist":
        folder = _run_folder(persist_location, project_path, run_id)
        persist(catalog, in_memory, folder)
        return MemoryPlan(planned, persisted_in=folder)
    if in_memory:
        logger.info("Joined by in-memory datasets, run as one task each: %s", _joined(planned, given))
    return MemoryPlan(planned)


def describe_policy(
    pipeline: Pipeline, catalog: CatalogProtocol, policy: MemoryPolicy, units: list[Unit] | None = None
) -> str | None:
    """What ``plan_units`` will do to this pipeline, in one line; ``None`` when nothing is in memory.

    Raises ``MemoryDatasetsError`` for ``refuse``, so that ``make deploy`` stops where a run would.
    """
    given = units or _one_per_node(pipeline)
    in_memory, planned = _split(pipeline, catalog, policy, given)
    if not in_memory:
        return None
    if policy == "persist":
        return f"in-memory datasets {', '.join(in_memory)} will be pickled under execution.dask.persist_location"
    joined = _joined(planned, given)
    return f"nodes joined by in-memory datasets ({', '.join(in_memory)}) run as one task each: {joined}"


def _split(
    pipeline: Pipeline, catalog: CatalogProtocol, policy: MemoryPolicy, units: list[Unit]
) -> tuple[list[str], list[Unit]]:
    """The in-memory datasets between units, and the units the policy makes (raises for ``refuse``)."""
    in_memory = memory_datasets(pipeline, catalog, units)
    if in_memory and policy == "refuse":
        raise MemoryDatasetsError(refusal_message(in_memory))
    if in_memory and policy == "group":
        return in_memory, group_by_memory(pipeline, set(in_memory), units)
    return in_memory, units


def _joined(planned: list[Unit], given: list[Unit]) -> str:
    """The units the policy made by joining given ones."""
    before = set(given)
    return "; ".join(unit_name(unit) for unit in planned if unit not in before)


def refusal_message(names: Iterable[str]) -> str:
    listed = ", ".join(names)
    return (
        f"Datasets {listed} are kept in memory, but with the dask task runner each node runs in its own "
        "process, so they would be lost between nodes. Fix: set execution.dask.memory_datasets to "
        "'group' (nodes sharing them run as one task) or 'persist' (pickled under "
        "execution.dask.persist_location) in conf/<env>/prefect.yml, or declare them in conf/base/catalog.yml."
    )


def _run_folder(location: str | None, project_path: Path | None, run_id: str | None) -> str:
    """One folder per run under ``location``, so that concurrent runs never share a file."""
    if not location:
        raise MemoryDatasetsError("execution.dask.persist_location is empty; give a folder every Dask worker can reach")
    if "://" not in location and project_path is not None and not Path(location).is_absolute():
        location = str(project_path / location)
    return f"{location.rstrip('/')}/{run_id or 'run'}"


def persist(catalog: CatalogProtocol, names: Iterable[str], folder: str) -> None:
    """Register each dataset as a pickle under ``folder``, which any fsspec protocol may name."""
    from kedro_datasets.pickle import PickleDataset

    names = list(names)
    for name in names:
        catalog[name] = PickleDataset(filepath=f"{folder}/{name}.pickle")
    logger.info("In-memory datasets %s are pickled under %s for this run", ", ".join(names), folder)


def group_by_memory(pipeline: Pipeline, in_memory: set[str], units: list[Unit] | None = None) -> list[Unit]:
    """Units (by default one per node) joined by in-memory datasets, in dependency order."""
    return merge_units(pipeline, units or _one_per_node(pipeline), in_memory)
