"""The scheduler on its own: real threads, no Prefect, no server.

Each test builds a small pipeline of no-op nodes, runs it through `Scheduler` with a `run_unit` that
sleeps instead of calling a Prefect task, and checks what the scheduler promises: dependency order,
the `max_in_flight` bound, failures stopping only what depends on them, and a chain running in one
thread with no hand-over between its links.
"""

from __future__ import annotations

import _thread
import contextvars
import threading
import time

import pytest
from kedro.pipeline import Node, Pipeline

from kedro_prefect.execution.scheduler import Scheduler
from kedro_prefect.execution.units import NodeRun, Unit, UnitOutcome


def noop(*inputs):
    return 1


def node(name: str, inputs: list[str], output: str) -> Node:
    return Node(noop, inputs or None, output, name=name)


class Executor:
    """Runs each unit by sleeping; records start/end times, threads and the most units running at once."""

    def __init__(
        self,
        seconds: float = 0.02,
        fail: frozenset[str] = frozenset(),
        slow: dict[str, float] | None = None,
    ) -> None:
        self.seconds = seconds
        self.slow = slow or {}
        """Seconds for the nodes that take longer than ``seconds``."""
        self.fail = fail
        self.spans: dict[str, tuple[float, float]] = {}
        self.threads: dict[str, int] = {}
        self.started: list[str] = []
        self.upstream_seen: dict[str, list[object]] = {}
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def run_unit(self, unit: Unit, upstream: list[object]) -> UnitOutcome:
        with self._lock:
            self.started.append(unit[0].name)
            self.upstream_seen[unit[0].name] = upstream
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        runs = {}
        try:
            for each in unit:
                started = time.monotonic()
                time.sleep(self.slow.get(each.name, self.seconds))
                runs[each.name] = NodeRun(seconds=self.seconds, process="test")
                self.spans[each.name] = (started, time.monotonic())
                self.threads[each.name] = threading.get_ident()
                if each.name in self.fail:
                    error = RuntimeError(f"{each.name} broke")
                    # as the Prefect task reports runs up to the failure
                    return UnitOutcome("Failed", error, runs)
            return UnitOutcome("Completed", None, runs, upstream=f"state of {unit[0].name}")
        finally:
            with self._lock:
                self.running -= 1


def schedule(
    pipeline: Pipeline,
    executor: Executor,
    max_in_flight: int,
    units: list[Unit] | None = None,
) -> Scheduler:
    scheduler = Scheduler(
        pipeline.node_dependencies,
        units if units is not None else [(each,) for each in pipeline.nodes],
        executor.run_unit,
        max_in_flight=max_in_flight,
    )
    runner = threading.Thread(target=scheduler.run, daemon=True)
    runner.start()
    runner.join(timeout=30)
    assert not runner.is_alive(), "the scheduler did not finish within 30 s"
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
    executor = Executor()
    scheduler = schedule(diamond(), executor, max_in_flight=4)

    spans = executor.spans
    assert spans["a"][1] <= spans["b"][0] and spans["a"][1] <= spans["c"][0]
    assert max(spans["b"][1], spans["c"][1]) <= spans["d"][0]
    assert sorted(n.name for n in scheduler.completed) == ["a", "b", "c", "d", "e"]
    assert {scheduler.state_of(n) for n in diamond().nodes} == {"Completed"}


def test_independent_nodes_run_at_the_same_time():
    fan = Pipeline([node(f"n{i}", [], f"out{i}") for i in range(4)])
    executor = Executor(seconds=0.2)
    schedule(fan, executor, max_in_flight=4)
    assert executor.most_running == 4


@pytest.mark.parametrize("bound", [1, 2, 3])
def test_max_in_flight_bounds_running_units_even_when_the_executor_has_more_room(bound):
    fan = Pipeline([node(f"n{i}", [], f"out{i}") for i in range(8)])
    executor = Executor(seconds=0.05)
    scheduler = schedule(fan, executor, max_in_flight=bound)
    assert executor.most_running == bound
    assert len(scheduler.completed) == 8


def test_a_failure_stops_everything_downstream_and_nothing_else():
    pipeline = diamond()
    executor = Executor(fail=frozenset({"b"}))
    scheduler = schedule(pipeline, executor, max_in_flight=4)

    assert "d" not in executor.started  # downstream of b
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
    executor = Executor(seconds=0.1, fail=frozenset({"fails"}))
    scheduler = schedule(slow_branch, executor, max_in_flight=2)
    assert {n.name for n in scheduler.completed} == {"slow", "after_slow"}
    assert "after_failure" not in executor.started


def test_grouped_unit_failing_midway_records_the_nodes_before_it_as_completed():
    pipeline = Pipeline([node("a", [], "a_out"), node("b", ["a_out"], "b_out"), node("c", ["b_out"], "c_out")])
    a, b, c = pipeline.nodes
    executor = Executor(fail=frozenset({"b"}))
    scheduler = schedule(pipeline, executor, max_in_flight=1, units=[(a, b, c)])
    assert [n.name for n in scheduler.completed] == ["a"]
    assert [n.name for n in scheduler.failures] == ["b"]
    assert [scheduler.state_of(n) for n in (a, b, c)] == ["Completed", "Failed", "NotRun"]


def test_a_unit_whose_runner_raises_fails_and_the_run_still_ends():
    executor = Executor()

    def refuse_c(unit: Unit, upstream: list[object]) -> UnitOutcome:
        if unit[0].name == "c":
            raise ValueError("no room for c")
        return executor.run_unit(unit, upstream)

    pipeline = diamond()
    scheduler = Scheduler(pipeline.node_dependencies, [(n,) for n in pipeline.nodes], refuse_c, max_in_flight=1)
    scheduler.run()  # bounded: a unit whose runner raises must not leave the run waiting
    assert [n.name for n in scheduler.failures] == ["c"]
    assert {n.name for n in scheduler.completed} == {"a", "b", "e"}


def test_long_chain_does_not_exhaust_the_stack():
    """Each thread goes on with the next link itself: that must be a loop, not recursion."""
    chain = chain_of(2000)
    scheduler = Scheduler(
        chain.node_dependencies,
        [(n,) for n in chain.nodes],
        lambda unit, upstream: UnitOutcome("Completed", None, {}),
        max_in_flight=1,
    )
    scheduler.run()
    assert len(scheduler.completed) == 2000


def test_a_chain_runs_in_one_thread_with_its_parents_upstream():
    """No hand-over between links (Prefect's cheapest use: tasks called one after another), and each
    link is given its parent's upstream value, which becomes the task run's edge in the UI."""
    executor = Executor(seconds=0.001)
    schedule(chain_of(6), executor, max_in_flight=4)
    assert len(set(executor.threads.values())) == 1
    assert executor.upstream_seen["n0"] == []
    assert all(executor.upstream_seen[f"n{i}"] == [f"state of n{i - 1}"] for i in range(1, 6))


def test_a_fan_out_runs_in_as_many_threads_as_slots():
    fan = Pipeline([node("root", [], "r"), *(node(f"n{i}", ["r"], f"out{i}") for i in range(6))])
    executor = Executor(seconds=0.1)
    scheduler = schedule(fan, executor, max_in_flight=3)
    assert executor.most_running == 3
    assert len(set(executor.threads.values())) == 3
    assert executor.upstream_seen["n0"] == ["state of root"]
    assert len(scheduler.completed) == 7


def test_an_empty_pipeline_ends_at_once():
    scheduler = Scheduler({}, [], lambda unit, upstream: UnitOutcome("Completed", None, {}), max_in_flight=4)
    scheduler.run()
    assert scheduler.completed == []


def test_max_in_flight_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Scheduler({}, [], lambda unit, upstream: UnitOutcome("Completed", None, {}), max_in_flight=0)


def test_each_unit_starts_once_and_a_join_is_given_both_parents_upstream():
    executor = Executor()
    schedule(diamond(), executor, max_in_flight=4)
    assert sorted(executor.started) == ["a", "b", "c", "d", "e"]
    assert sorted(executor.upstream_seen["d"]) == ["state of b", "state of c"]


def test_a_chain_keeps_its_thread_while_other_units_wait_for_a_slot():
    """Depth first: a finished unit's own child goes before units that were ready earlier."""
    pipeline = chain_of(6) + Pipeline([node(f"e{i}", [], f"e_out{i}") for i in range(6)])
    executor = Executor(seconds=0.01)
    schedule(pipeline, executor, max_in_flight=2)
    assert len({executor.threads[f"n{i}"] for i in range(6)}) == 1
    assert len(executor.started) == 12


def test_a_failure_midway_through_a_chain_stops_its_rest_while_another_branch_ends():
    pipeline = chain_of(5) + Pipeline([node("other", [], "other_out")])
    executor = Executor(fail=frozenset({"n2"}))
    scheduler = schedule(pipeline, executor, max_in_flight=2)
    assert sorted(executor.started) == ["n0", "n1", "n2", "other"]
    assert {n.name for n in scheduler.completed} == {"n0", "n1", "other"}


def test_run_unit_sees_the_context_of_the_thread_that_made_the_scheduler():
    """Prefect finds the flow run in context variables; the scheduler's threads must see them."""
    flow_run = contextvars.ContextVar("flow_run", default=None)
    seen = []

    def record(unit: Unit, upstream: list[object]) -> UnitOutcome:
        seen.append(flow_run.get())
        return UnitOutcome("Completed", None, {})

    pipeline = diamond()
    token = flow_run.set("run-1")
    try:
        scheduler = Scheduler(pipeline.node_dependencies, [(n,) for n in pipeline.nodes], record, max_in_flight=3)
    finally:
        flow_run.reset(token)
    scheduler.run()
    assert seen == ["run-1"] * 5


def test_a_failing_completion_callback_ends_the_run_with_its_error():
    """A bug in the bookkeeping must surface, not leave the run waiting for a count that never drops."""

    def cannot_release(unit: Unit) -> None:
        raise OSError("cannot release")

    pipeline = chain_of(4)
    scheduler = Scheduler(
        pipeline.node_dependencies,
        [(n,) for n in pipeline.nodes],
        Executor().run_unit,
        max_in_flight=2,
        on_completed=cannot_release,
    )
    raised: list[BaseException] = []

    def run() -> None:
        try:
            scheduler.run()
        except BaseException as error:  # noqa: BLE001 - checked below
            raised.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the run waited forever"
    assert [str(error) for error in raised] == ["cannot release"]


def test_an_interrupt_of_the_calling_thread_starts_no_further_unit():
    """Ctrl-C (or Prefect cancelling the flow run) reaches the thread waiting in `run`: the running
    unit ends, nothing after it starts, and the interrupt goes on."""
    started: list[str] = []

    def interrupt_at_n2(unit: Unit, upstream: list[object]) -> UnitOutcome:
        started.append(unit[0].name)
        if unit[0].name == "n2":
            _thread.interrupt_main()
            deadline = time.monotonic() + 10
            while not scheduler._stopping and time.monotonic() < deadline:  # the interrupt has been taken
                time.sleep(0.01)
        return UnitOutcome("Completed", None, {})

    chain = chain_of(8)
    scheduler = Scheduler(chain.node_dependencies, [(n,) for n in chain.nodes], interrupt_at_n2, max_in_flight=2)
    assert threading.current_thread() is threading.main_thread()
    with pytest.raises(KeyboardInterrupt):
        scheduler.run()
    assert started == ["n0", "n1", "n2"]


def chain_of(length: int) -> Pipeline:
    return Pipeline([node(f"n{i}", [f"d{i}"] if i else [], f"d{i + 1}") for i in range(length)])
