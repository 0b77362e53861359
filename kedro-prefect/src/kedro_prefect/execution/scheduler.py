"""Dependency-ordered execution of units (a node, or nodes that run together) on a pool of threads.

The scheduler knows nothing of Prefect: it is given a ``run_unit`` function that runs one unit to
its end and returns its outcome (in a flow run: calling the unit's Prefect task, or sending it to
Dask and waiting). That keeps the part of the runner with the most cases (order, concurrency bound,
failure, independent branches) testable in milliseconds.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .units import UnitOutcome

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

    from .units import NodeRun, Unit


RunUnit = Callable[["Unit", list[Any]], UnitOutcome]
"""Runs one unit to its end, given its parents' ``upstream``; returns how it ended."""


class Scheduler:
    """Runs each unit once all its parents completed, at most ``max_in_flight`` at a time.

    A thread that finishes a unit goes straight on with one of that unit's children that became
    ready (its own children go first in the ready queue), and hands any others to the pool: a chain
    runs in one thread with no hand-over between its links, the way a
    flow that *calls* its tasks one after another runs them (Prefect's cheapest use: submitting
    each task to a task runner costs it a thread hand-over, and a task waiting on futures costs
    more). When a unit fails, nothing downstream of it runs; branches that do not depend on it run
    to the end. When the calling thread is interrupted (Ctrl-C, a cancelled flow run), no further
    unit starts: the running ones end and the interrupt goes on. The bookkeeping is a few counters
    under one lock.
    """

    def __init__(
        self,
        node_dependencies: dict[Node, set[Node]],
        units: list[Unit],
        run_unit: RunUnit,
        max_in_flight: int,
        on_completed: Callable[[Unit], None] = lambda unit: None,
        runs: dict[str, NodeRun] | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        unit_of = {node: unit for unit in units for node in unit}
        self._parents = {
            unit: list(
                dict.fromkeys(unit_of[p] for node in unit for p in node_dependencies[node] if unit_of[p] != unit)
            )
            for unit in units
        }
        self._children: dict[Unit, list[Unit]] = {unit: [] for unit in units}
        for unit, parents in self._parents.items():
            for parent in parents:
                self._children[parent].append(unit)
        self._unfinished_parents = {unit: len(parents) for unit, parents in self._parents.items()}
        self._unit_of = unit_of
        self._run_unit = run_unit
        self._on_completed = on_completed
        self._max_in_flight = max_in_flight
        # Running a unit may need the caller's context (Prefect reads the flow run from context variables).
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._ready: deque[Unit] = deque(unit for unit in units if not self._parents[unit])
        self._in_flight = 0
        self._all_done = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._stopping = False
        self._bookkeeping_error: BaseException | None = None
        self._upstream: dict[Unit, Any] = {}
        self.states: dict[Unit, str] = {}
        self.runs: dict[str, NodeRun] = runs if runs is not None else {}
        """Each node's last run; tasks in this process may write here themselves."""
        self.completed: list[Node] = []
        self.failures: dict[Node, BaseException] = {}

    def run(self) -> None:
        """Start what is ready, then wait until no unit is running and none can start."""
        self._pool = ThreadPoolExecutor(max_workers=self._max_in_flight, thread_name_prefix="kedro-node")
        try:
            with self._lock:
                startable = self._take_startable()
                if self._in_flight == 0:
                    self._all_done.set()
            for unit in startable:
                self._hand_over(unit)
            self._all_done.wait()
        finally:
            # Normally nothing is left to start; after an interrupt, nothing more may.
            self._stopping = True
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._bookkeeping_error is not None:
            raise self._bookkeeping_error

    def state_of(self, node: Node) -> str:
        """The node's final state: its unit's, except nodes of a failed unit that completed or never ran."""
        unit = self._unit_of[node]
        state = self.states.get(unit)
        if state is None:
            return "NotRun"
        if state != "Completed" and node not in self.failures:
            return "Completed" if node in self.completed else "NotRun"
        return state

    def _take_startable(self) -> list[Unit]:
        """Under the lock: ready units that fit under the bound, now counted in flight."""
        startable = []
        while self._ready and self._in_flight < self._max_in_flight and not self._stopping:
            startable.append(self._ready.popleft())
            self._in_flight += 1
        return startable

    def _hand_over(self, unit: Unit) -> None:
        assert self._pool is not None
        self._pool.submit(self._work_from, unit)

    def _work_from(self, unit: Unit | None) -> None:
        """Run ``unit``, then one unit it made ready, and so on; the other ready units go to the pool.

        Counted in flight before it got here, so the pool (``max_in_flight`` threads) always has a
        thread for each.
        """
        try:
            while unit is not None and not self._stopping:
                parents = [self._upstream.get(parent) for parent in self._parents[unit]]
                try:
                    outcome = self._context.copy().run(self._run_unit, unit, parents)
                except BaseException as error:  # noqa: BLE001 - the run must end, not wait forever
                    outcome = UnitOutcome("Failed", error, {})
                startable = self._finish(unit, outcome)
                unit = startable[0] if startable else None
                for other in startable[1:]:
                    self._hand_over(other)
        except BaseException as error:  # noqa: BLE001 - lost in the pool otherwise, and the run would wait forever
            # A bug in the bookkeeping or in `on_completed`: the counts can no longer be trusted, so
            # the run ends here and `run` raises it once the running units have ended.
            with self._lock:
                self._bookkeeping_error = self._bookkeeping_error or error
                self._stopping = True
                self._all_done.set()

    def _finish(self, unit: Unit, outcome: UnitOutcome) -> list[Unit]:
        """Record one finished unit; return the units that may start now, already counted in flight."""
        with self._lock:
            self.runs.update(outcome.runs)
            self.states[unit] = outcome.state
            if outcome.error is None:
                self._upstream[unit] = outcome.upstream
                self.completed.extend(unit)
                self._on_completed(unit)
                ready_children = []
                for child in self._children[unit]:
                    self._unfinished_parents[child] -= 1
                    if self._unfinished_parents[child] == 0:
                        ready_children.append(child)
                # First in the queue, so this thread goes on with its own child: depth first.
                self._ready.extendleft(reversed(ready_children))
            else:
                # The nodes of the unit ran in order: the last one with a record failed, those before
                # it completed (no record at all: the task failed around its nodes, e.g. timed out).
                ran = [node for node in unit if node.name in self.runs]
                self.completed.extend(ran[:-1])
                self.failures[ran[-1] if ran else unit[0]] = outcome.error
            # This unit's slot is free; whoever takes it is counted in the same step, so no other
            # thread can see zero in between and end the run early.
            self._in_flight -= 1
            startable = self._take_startable()
            if self._in_flight == 0:
                self._all_done.set()
        return startable
