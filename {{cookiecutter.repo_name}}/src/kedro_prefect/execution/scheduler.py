"""Dependency-ordered dispatch of units (a node, or nodes that run together) to any executor.

The scheduler knows nothing of Prefect: it is given a ``submit`` function that returns a handle
with ``add_done_callback`` (a Prefect future in a run, a ``concurrent.futures.Future`` in the unit
tests) and an ``outcome`` function that reads a finished handle. That keeps the part of the runner
with the most cases (order, concurrency bound, failure, independent branches) testable in
milliseconds.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from kedro.pipeline.node import Node

    from .runner import NodeRun, Unit


class Handle(Protocol):
    """A submitted unit: something that calls back once it has finished."""

    def add_done_callback(self, fn: Callable[[Any], object]) -> None: ...


NOT_READY = "NotReady"
"""The state of a unit submitted ahead that never started: a parent it waited for did not complete
(Prefect's own name for it)."""


class UnitOutcome(NamedTuple):
    """How a finished unit ended: its final state's name, the error if it failed, its nodes' runs."""

    state: str
    error: BaseException | None
    runs: dict[str, NodeRun]


class Scheduler:
    """Submits each unit once all its parents completed, at most ``max_in_flight`` at a time.

    Units are submitted from the thread where their last parent finished: handing every finished
    unit back to one thread put a thread wake-up and a GIL hand-over on every edge of the DAG,
    which made each node of a chain cost about a millisecond more than a bare Prefect task. When a
    unit fails, nothing downstream of it runs; branches that do not depend on it run to the end.
    The bookkeeping is a few counters under one lock.

    With ``lookahead``, a unit whose last unfinished parent is running is submitted one step ahead,
    when a slot is free and nothing is ready: its handle waits on the parent's, so the executor
    sets it up (in Prefect: the task run, its engine, its thread) while the parent still runs,
    instead of between the two. Bare Prefect flows overlap that set-up the same way; without it a
    chain paid it on every edge. Only one step: a unit submitted ahead does not pull its own
    children in until its parent has completed, so waiting units never hold more slots than the
    units they wait on. A unit submitted ahead of a parent that then fails ends ``NotReady``
    without running (Prefect shows its task run so), and the units after it are never submitted.
    """

    def __init__(
        self,
        node_dependencies: dict[Node, set[Node]],
        units: list[Unit],
        submit: Callable[[Unit, list[Any]], Handle],
        outcome: Callable[[Handle], UnitOutcome],
        max_in_flight: int,
        on_completed: Callable[[Unit], None] = lambda unit: None,
        runs: dict[str, NodeRun] | None = None,
        lookahead: bool = False,
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
        self._submit = submit
        self._outcome = outcome
        self._on_completed = on_completed
        self._max_in_flight = max_in_flight
        # Submitting may need the caller's context (Prefect reads the flow run from context variables).
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._in_this_thread = threading.local()
        self._ready: deque[Unit] = deque(unit for unit in units if not self._parents[unit])
        self._lookahead = lookahead
        self._ahead: deque[Unit] = deque()
        """Children of running units that may be submitted ahead (checked again when taken)."""
        self._taken: set[Unit] = set()
        self._waiting: set[Unit] = set()
        """Units submitted ahead whose parent has not completed yet."""
        self._in_flight = 0
        self._all_done = threading.Event()
        self.handles: dict[Unit, Handle] = {}
        self.states: dict[Unit, str] = {}
        self.runs: dict[str, NodeRun] = runs if runs is not None else {}
        """Each node's last run; tasks in this process may write here themselves."""
        self.completed: list[Node] = []
        self.failures: dict[Node, BaseException] = {}

    def run(self) -> None:
        """Submit what is ready, then wait until no unit is running and none can start."""
        with self._lock:
            startable = self._take_startable()
            if self._in_flight == 0:
                self._all_done.set()
        self._start(startable)
        self._all_done.wait()

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
        """Under the lock: ready units that fit under the bound, then units to submit ahead, now counted in flight."""
        startable = []
        while self._ready and self._in_flight < self._max_in_flight:
            startable.append(self._ready.popleft())
            self._in_flight += 1
        while self._ahead and self._in_flight < self._max_in_flight:
            unit = self._ahead.popleft()
            if self._may_go_ahead(unit):
                startable.append(unit)
                self._waiting.add(unit)
                self._in_flight += 1
        self._taken.update(startable)
        return startable

    def _may_go_ahead(self, unit: Unit) -> bool:
        """Under the lock: not taken yet, and its one parent that has not completed is running.

        A parent that failed or never started has ended without completing: a unit below it
        then has no running parent and never qualifies.
        """
        if unit in self._taken or self._unfinished_parents[unit] != 1:
            return False
        running = [parent for parent in self._parents[unit] if parent not in self.states]
        return len(running) == 1 and running[0] in self.handles and running[0] not in self._waiting

    def _look_ahead_of(self, units: Iterable[Unit]) -> list[Unit]:
        """Queue the children of units that now run, and take what may start."""
        if not self._lookahead:
            return []
        with self._lock:
            self._ahead.extend(child for unit in units for child in self._children[unit])
            return self._take_startable()

    def _start(self, units: Iterable[Unit]) -> None:
        """Submit units already counted in flight.

        A handle that is already done runs its callback at once, in this thread; units it makes
        ready join this loop's queue instead of recursing (a long chain would exhaust the stack).
        """
        queued = getattr(self._in_this_thread, "queued", None)
        if queued is not None:
            queued.extend(units)
            return
        self._in_this_thread.queued = queued = deque(units)
        try:
            while queued:
                unit = queued.popleft()
                try:
                    parents = [self.handles[parent] for parent in self._parents[unit]]
                    handle = self._context.copy().run(self._submit, unit, parents)
                except BaseException as error:  # noqa: BLE001 - the run must end, not wait forever
                    queued.extend(self._finish(unit, UnitOutcome("Failed", error, {})))
                    continue
                self.handles[unit] = handle
                handle.add_done_callback(lambda _, unit=unit: self._on_done(unit))
                queued.extend(self._look_ahead_of([unit]))
        finally:
            self._in_this_thread.queued = None

    def _on_done(self, unit: Unit) -> None:
        try:
            outcome = self._outcome(self.handles[unit])
        except BaseException as unexpected:  # noqa: BLE001 - a callback that raises is lost
            outcome = UnitOutcome("Failed", unexpected, {})
        self._start(self._finish(unit, outcome))

    def _finish(self, unit: Unit, outcome: UnitOutcome) -> list[Unit]:
        """Record one finished unit; return the units that may start now, already counted in flight."""
        with self._lock:
            self.runs.update(outcome.runs)
            self._waiting.discard(unit)
            self.states[unit] = outcome.state
            if outcome.state == NOT_READY:
                pass  # submitted ahead of a parent that failed: it never ran (state_of says NotRun)
            elif outcome.error is None:
                self.completed.extend(unit)
                self._on_completed(unit)
                for child in self._children[unit]:
                    self._unfinished_parents[child] -= 1
                    if self._unfinished_parents[child] == 0:
                        if child in self._waiting:  # submitted ahead: it runs now, so its children may follow
                            self._waiting.discard(child)
                            self._ahead.extend(self._children[child])
                        elif child not in self._taken:
                            self._ready.append(child)
                    elif self._lookahead and self._unfinished_parents[child] == 1:
                        self._ahead.append(child)
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
