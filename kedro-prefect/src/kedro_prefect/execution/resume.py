"""Retry that resumes: a retried flow run skips the nodes an earlier attempt completed.

Prefect's Retry (the UI's button, ``prefect flow-run retry``, ``make retry``) runs the same flow
run again, with ``run_count`` one higher. Every task would run again, since nothing is cached; this
module decides which nodes need not. The earlier attempt's run summary says which nodes completed;
Kedro's own resume logic (the one behind the ``from_nodes`` hint of a failed ``kedro run``) says
which of them must run again anyway, because a node still to run reads what they kept in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .kedro_internals import nodes_to_resume_from

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

_SKIPPED = re.compile(r"Skipped \(completed in attempt (\d+)\)")


def skipped_state(attempt: int) -> str:
    """The summary's state for a node an earlier attempt completed."""
    return f"Skipped (completed in attempt {attempt})"


@dataclass(frozen=True)
class Resume:
    """This attempt's number, and the nodes earlier attempts completed (name: attempt)."""

    attempt: int = 1
    completed: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_summary(cls, attempt: int, rows: Iterable[Mapping[str, Any]]) -> Resume:
        """What the last attempt's summary rows say completed, and in which attempt."""
        completed = {}
        for row in rows:
            if row.get("state") == "Completed":
                completed[row["node"]] = int(row.get("attempt") or attempt - 1)
            elif match := _SKIPPED.fullmatch(str(row.get("state"))):
                completed[row["node"]] = int(match[1])
        return cls(attempt=attempt, completed=completed)

    def split(self, pipeline: Pipeline, catalog: CatalogProtocol) -> tuple[Pipeline, dict[str, int]]:
        """The part of ``pipeline`` to run now, and the skipped nodes with the attempt that completed them.

        Nothing is skipped when no node completed, or when every node did (then a retry is a re-run).
        """
        done = {node for node in pipeline.nodes if node.name in self.completed}
        if not done or len(done) == len(pipeline.nodes):
            return pipeline, {}
        unfinished = set(pipeline.nodes) - done
        to_run = pipeline.from_nodes(*nodes_to_resume_from(pipeline, unfinished, catalog))
        running = set(to_run.nodes)
        return to_run, {node.name: self.completed[node.name] for node in pipeline.nodes if node not in running}
