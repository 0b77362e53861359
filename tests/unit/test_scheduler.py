"""The scheduler on its own: real threads and `concurrent.futures`, no Prefect, no server.

Each test builds a small pipeline of no-op nodes, runs it through `Scheduler` with a thread pool
standing in for Prefect's task runner, and checks what the scheduler promises: dependency order,
the `max_in_flight` bound, failures stopping only what depends on them, and with `lookahead` units
submitted one step ahead that still run only after their parents.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from kedro.pipeline import Node, Pipeline
from kedro_prefect.execution.runner import NodeRun, Unit
from kedro_prefect.execution.scheduler import NOT_READY, Scheduler, UnitOutcome


def noop(*inputs):
    return 1


def node(name: str, inputs: list[str], output: str) -> Node:
    return Node(noop, inputs or None, output, name=name)


class Executor:
    """Runs each unit on a thread pool; records start/end times and the most units running at once."""

    def __init__(
        self,
        workers: int,
        seconds: float = 0.02,
        fail: frozenset[str] = frozenset(),
        slow: dict[str, float] | None = None,
    ) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.seconds = seconds
        self.slow = slow or {}
        """Seconds for the nodes that take longer than ``seconds``."""
        self.fail = fail
        self.spans: dict[str, tuple[float, float]] = {}
        self.submitted: list[str] = []
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def submit(self, unit: Unit, wait_for: list[Future]) -> Future:
        assert all(parent.done() for parent in wait_for), "a unit was submitted before its parents finished"
        self.submitted.append(unit[0].name)
        return self.pool.submit(self._run, unit)

    def _run(self, unit: Unit) -> dict[str, NodeRun]:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            runs = {}
            for each in unit:
                started = time.monotonic()
                time.sleep(self.slow.get(each.name, self.seconds))
                runs[each.name] = NodeRun(seconds=self.seconds, process="test")
                self.spans[each.name] = (started, time.monotonic())
                if each.name in self.fail:
                    error = RuntimeError(f"{each.name} broke")
                    error.kedro_node_runs = runs  # as the Prefect task reports runs up to the failure
                    raise error
            return runs
        finally:
            with self._lock:
                self.running -= 1


class WaitingExecutor(Executor):
    """Takes units before their parents finished and waits on them in the worker thread, as Prefect's
    task runner does with ``wait_for``: a unit whose parent failed ends NotReady without running."""

    def __init__(
        self,
        workers: int,
        seconds: float = 0.02,
        fail: frozenset[str] = frozenset(),
        slow: dict[str, float] | None = None,
    ) -> None:
        super().__init__(workers, seconds, fail, slow)
        self.submitted_at: dict[str, float] = {}
        self.unfinished = 0
        self.most_unfinished = 0

    def submit(self, unit: Unit, wait_for: list[Future]) -> Future:
        with self._lock:
            self.submitted.append(unit[0].name)
            self.submitted_at[unit[0].name] = time.monotonic()
            self.unfinished += 1
            self.most_unfinished = max(self.most_unfinished, self.unfinished)
        return self.pool.submit(self._wait_then_run, unit, wait_for)

    def _wait_then_run(self, unit: Unit, wait_for: list[Future]) -> dict[str, NodeRun] | str:
        try:
            for parent in wait_for:
                if parent.exception(timeout=10) is not None or parent.result() == NOT_READY:
                    return NOT_READY
            return self._run(unit)
        finally:
            with self._lock:
                self.unfinished -= 1


def outcome(future: Future) -> UnitOutcome:
    error = future.exception()
    if error is None and future.result() == NOT_READY:
        return UnitOutcome(NOT_READY, None, {})
    if error is None:
        return UnitOutcome("Completed", None, future.result())
    return UnitOutcome("Failed", error, getattr(error, "kedro_node_runs", {}))


def schedule(
    pipeline: Pipeline,
    executor: Executor,
    max_in_flight: int,
    units: list[Unit] | None = None,
    lookahead: bool = False,
) -> Scheduler:
    scheduler = Scheduler(
        pipeline.node_dependencies,
        units if units is not None else [(each,) for each in pipeline.nodes],
        executor.submit,
        outcome,
        max_in_flight=max_in_flight,
        lookahead=lookahead,
    )
    runner = threading.Thread(target=scheduler.run, daemon=True)
    runner.start()
    runner.join(timeout=30)
    assert not runner.is_alive(), "the scheduler did not finish within 30 s"
    executor.pool.shutdown()
    return scheduler


def diamond() -> Pipeline:
    """a -> (b, c) -> d, plus e independent of everything."""
    return Pipeline(
        [
            node("a", [], "a_out"),
            node("b", ["a_out"], "b_out"),
            node("c", ["a_out"], "c_out"),
            node("d", ["b_out", "c_out"], "d_out"),
            node("e", [], "e_out"),
        ]
    )


def test_every_node_starts_after_all_its_parents_ended():
    executor = Executor(workers=4)
    scheduler = schedule(diamond(), executor, max_in_flight=4)

    spans = executor.spans
    assert spans["a"][1] <= spans["b"][0] and spans["a"][1] <= spans["c"][0]
    assert max(spans["b"][1], spans["c"][1]) <= spans["d"][0]
    assert sorted(n.name for n in scheduler.completed) == ["a", "b", "c", "d", "e"]
    assert {scheduler.state_of(n) for n in diamond().nodes} == {"Completed"}


def test_independent_nodes_run_at_the_same_time():
    fan = Pipeline([node(f"n{i}", [], f"out{i}") for i in range(4)])
    executor = Executor(workers=4, seconds=0.2)
    schedule(fan, executor, max_in_flight=4)
    assert executor.most_running == 4


@pytest.mark.parametrize("bound", [1, 2, 3])
def test_max_in_flight_bounds_running_units_even_when_the_executor_has_more_room(bound):
    fan = Pipeline([node(f"n{i}", [], f"out{i}") for i in range(8)])
    executor = Executor(workers=8, seconds=0.05)  # the executor alone would run all eight at once
    scheduler = schedule(fan, executor, max_in_flight=bound)
    assert executor.most_running == bound
    assert len(scheduler.completed) == 8


def test_a_failure_stops_everything_downstream_and_nothing_else():
    pipeline = diamond()
    executor = Executor(workers=4, fail=frozenset({"b"}))
    scheduler = schedule(pipeline, executor, max_in_flight=4)

    assert "d" not in executor.submitted  # downstream of b
    assert {n.name for n in scheduler.completed} == {"a", "c", "e"}  # c and e do not depend on b
    assert [n.name for n in scheduler.failures] == ["b"]
    states = {n.name: scheduler.state_of(n) for n in pipeline.nodes}
    assert states == {"a": "Completed", "b": "Failed", "c": "Completed", "d": "NotRun", "e": "Completed"}


def test_independent_branch_finishes_after_a_failure_elsewhere():
    slow_branch = Pipeline(
        [
            node("fails", [], "x"),
            node("after_failure", ["x"], "y"),
            node("slow", [], "s"),
            node("after_slow", ["s"], "t"),
        ]
    )
    executor = Executor(workers=2, seconds=0.1, fail=frozenset({"fails"}))
    scheduler = schedule(slow_branch, executor, max_in_flight=2)
    assert {n.name for n in scheduler.completed} == {"slow", "after_slow"}
    assert "after_failure" not in executor.submitted


def test_grouped_unit_failing_midway_records_the_nodes_before_it_as_completed():
    pipeline = Pipeline([node("a", [], "a_out"), node("b", ["a_out"], "b_out"), node("c", ["b_out"], "c_out")])
    a, b, c = pipeline.nodes
    executor = Executor(workers=1, fail=frozenset({"b"}))
    scheduler = schedule(pipeline, executor, max_in_flight=1, units=[(a, b, c)])
    assert [n.name for n in scheduler.completed] == ["a"]
    assert [n.name for n in scheduler.failures] == ["b"]
    assert [scheduler.state_of(n) for n in (a, b, c)] == ["Completed", "Failed", "NotRun"]


def test_a_unit_that_cannot_be_submitted_fails_and_the_run_still_ends():
    executor = Executor(workers=2)

    def refuse_c(unit: Unit, wait_for: list[Future]) -> Future:
        if unit[0].name == "c":
            raise ValueError("no room for c")
        return executor.submit(unit, wait_for)

    pipeline = diamond()
    scheduler = Scheduler(
        pipeline.node_dependencies, [(n,) for n in pipeline.nodes], refuse_c, outcome, max_in_flight=1
    )
    scheduler.run()  # bounded: a unit that is never submitted must not leave the run waiting
    executor.pool.shutdown()
    assert [n.name for n in scheduler.failures] == ["c"]
    assert {n.name for n in scheduler.completed} == {"a", "b", "e"}


def test_long_chain_does_not_exhaust_the_stack():
    """Already-finished parents call back in the submitting thread; the scheduler must loop, not recurse."""
    chain = Pipeline([node(f"n{i}", [f"d{i}"] if i else [], f"d{i + 1}") for i in range(2000)])

    class Immediate:
        def submit(self, unit: Unit, wait_for: list[Future]) -> Future:
            done: Future = Future()
            done.set_result({})
            return done

    scheduler = Scheduler(chain.node_dependencies, [(n,) for n in chain.nodes], Immediate().submit, outcome, 1)
    scheduler.run()
    assert len(scheduler.completed) == 2000


def test_an_empty_pipeline_ends_at_once():
    scheduler = Scheduler({}, [], lambda unit, wait_for: None, outcome, max_in_flight=4)
    scheduler.run()
    assert scheduler.completed == []


def test_max_in_flight_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Scheduler({}, [], lambda unit, wait_for: None, outcome, max_in_flight=0)


def chain_of(length: int) -> Pipeline:
    return Pipeline([node(f"n{i}", [f"d{i}"] if i else [], f"d{i + 1}") for i in range(length)])


def test_lookahead_submits_each_link_of_a_chain_while_its_parent_runs_and_runs_it_after():
    executor = WaitingExecutor(workers=2)
    scheduler = schedule(chain_of(6), executor, max_in_flight=2, lookahead=True)

    assert len(scheduler.completed) == 6
    for i in range(1, 6):
        parent_started, parent_ended = executor.spans[f"n{i - 1}"]
        assert executor.submitted_at[f"n{i}"] < parent_ended, f"n{i} was not submitted ahead"
        assert parent_ended <= executor.spans[f"n{i}"][0], f"n{i} started before its parent ended"
    assert executor.most_unfinished == 2  # one step ahead, never more


def test_lookahead_stays_within_max_in_flight():
    fan = Pipeline([node("root", [], "r"), *(node(f"n{i}", ["r"], f"out{i}") for i in range(6))])
    executor = WaitingExecutor(workers=8)
    scheduler = schedule(fan, executor, max_in_flight=3, lookahead=True)
    assert executor.most_unfinished == 3
    assert executor.most_running <= 3
    assert len(scheduler.completed) == 7


def test_with_one_slot_nothing_is_submitted_ahead():
    executor = WaitingExecutor(workers=2)
    schedule(chain_of(4), executor, max_in_flight=1, lookahead=True)
    for i in range(1, 4):
        assert executor.submitted_at[f"n{i}"] >= executor.spans[f"n{i - 1}"][1]


def test_lookahead_below_a_failure_never_runs_and_nothing_after_it_is_submitted():
    pipeline = chain_of(4)
    executor = WaitingExecutor(workers=2, fail=frozenset({"n0"}))
    scheduler = schedule(pipeline, executor, max_in_flight=2, lookahead=True)

    assert executor.submitted == ["n0", "n1"]  # n1 waited on n0, which failed
    assert set(executor.spans) == {"n0"}
    assert [n.name for n in scheduler.failures] == ["n0"]
    assert [scheduler.state_of(n) for n in pipeline.nodes] == ["Failed", "NotRun", "NotRun", "NotRun"]


def test_lookahead_keeps_a_failure_from_stopping_independent_branches():
    pipeline = diamond()
    executor = WaitingExecutor(workers=4, fail=frozenset({"b"}))
    scheduler = schedule(pipeline, executor, max_in_flight=4, lookahead=True)

    assert "d" not in executor.spans  # downstream of b: at most submitted ahead, never run
    states = {n.name: scheduler.state_of(n) for n in pipeline.nodes}
    assert states == {"a": "Completed", "b": "Failed", "c": "Completed", "d": "NotRun", "e": "Completed"}


def test_a_unit_below_one_that_never_started_is_not_submitted_when_its_other_parent_completes():
    """fails -> waits (submitted ahead, ends NotReady); waits + slow -> after: `after` must never be
    submitted, even though `slow` completes later and leaves `waits` as its only unfinished parent."""
    pipeline = Pipeline(
        [
            node("fails", [], "f"),
            node("waits", ["f"], "w"),
            node("slow", [], "s"),
            node("after", ["w", "s"], "a"),
        ]
    )
    executor = WaitingExecutor(workers=4, fail=frozenset({"fails"}), slow={"slow": 0.3})
    scheduler = schedule(pipeline, executor, max_in_flight=4, lookahead=True)

    assert "waits" in executor.submitted  # it was submitted ahead, and ended without running
    assert "after" not in executor.submitted
    states = {n.name: scheduler.state_of(n) for n in pipeline.nodes}
    assert states == {"fails": "Failed", "waits": "NotRun", "slow": "Completed", "after": "NotRun"}
