"""Turns the benchmark's raw records into tables and targets; no server, no project (unit-tested).

Every figure is a median over rounds with its min–max. A ratio divides whole quantities measured in
the same run: our node phase by the floor's, nothing subtracted. The floor is Prefect's cheapest
correct use for that shape and mode: tasks called one after another (one thread) for sequential,
and for concurrent the cheaper by median of called and submitted to a pool of the same size. A
target passes on its median; each round's own value is marked beside it, so a pass that holds in
one round out of five shows as such.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import median

SIZES = (200, 1000)
SHAPES = ("chain", "fan")
WITHOUT_KEDRO_LINES = ", Kedro's node lines at WARNING"
"""Suffix of our flow's variants run with Kedro's three INFO lines per node held back (not targets)."""


@dataclass(frozen=True)
class Spread:
    """A median with the lowest and highest value it was taken over."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        values = list(values)
        if not values:
            raise ValueError("no values to summarise")
        return cls(median(values), min(values), max(values))

    def text(self, digits: int = 2, unit: str = "") -> str:
        return f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}–{self.high:.{digits}f})"


@dataclass
class Target:
    """What is measured, its median value, the limit it must not exceed, and each round's value."""

    name: str
    value: float
    limit: float
    rounds: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    def row(self) -> str:
        marks = " ".join("✓" if each <= self.limit else "✗" for each in self.rounds)
        return (
            f"| {self.name} | {self.value:.2f} | ≤ {self.limit:g} | {'PASS' if self.passed else 'FAIL'} | "
            f"{marks} ({sum(each <= self.limit for each in self.rounds)}/{len(self.rounds)}) |"
        )


def rotated(items: list, by: int) -> list:
    """``items`` starting ``by`` places further on: each round starts the variants one further on,
    so no variant always follows the same one."""
    by %= max(len(items), 1)
    return items[by:] + items[:by]


def targets_table(targets: list[Target]) -> list[str]:
    return [
        "| target | median | limit | result | each round |",
        "|---|---:|---:|---|---|",
        *(target.row() for target in targets),
    ]


class Records:
    """Per-run records (round, variant, and what was measured), selectable by any of their keys."""

    def __init__(self, records: list[dict]) -> None:
        self.records = records

    def where(self, **keys: object) -> list[dict]:
        return [record for record in self.records if all(record.get(key) == value for key, value in keys.items())]

    def by_round(self, quantity: str, **keys: object) -> dict[int, float]:
        return {record["round"]: record[quantity] for record in self.where(**keys) if record[quantity] is not None}

    def spread(self, quantity: str, **keys: object) -> Spread:
        return Spread.of(self.by_round(quantity, **keys).values())

    def variants(self) -> list[str]:
        return list(dict.fromkeys(record["variant"] for record in self.records))


def ratio_target(
    name: str,
    records: Records,
    quantity: str,
    ours: dict,
    base: dict,
    limit: float,
    scale: Callable[[float], float] = lambda value: value,
) -> Target:
    """median(ours) / median(base), and the same ratio within each round both were measured in."""
    mine, theirs = records.by_round(quantity, **ours), records.by_round(quantity, **base)
    rounds = [mine[r] / theirs[r] for r in sorted(mine.keys() & theirs.keys())]
    return Target(name, scale(median(mine.values()) / median(theirs.values())), limit, [scale(r) for r in rounds])


def modes(workers: int) -> dict[str, list[str]]:
    """Each mode: our variant, then the bare Prefect variants that may be its floor."""
    return {
        "sequential": ["our flow sequential", "bare Prefect called"],
        f"concurrent({workers})": [
            f"our flow concurrent({workers})",
            "bare Prefect called",
            f"bare Prefect submitted({workers})",
        ],
    }


def floor_of(records: Records, shape: str, n: int, candidates: list[str]) -> str:
    """The bare Prefect variant with the lowest median node phase in this cell."""
    return min(candidates, key=lambda variant: records.spread("phase", shape=shape, n=n, variant=variant).median)


MATRIX_PHASE_LIMIT = 1.2
MATRIX_CPU_LIMIT = 1.2
LINEAR_LIMIT = 1.2


def matrix_report(raw: list[dict], workers: int) -> tuple[list[str], list[Target]]:
    """Node phases and CPU per node of every variant, per shape and size; the targets against the floor."""
    records = Records(raw)
    cells = [(shape, n) for n in SIZES for shape in SHAPES if records.where(shape=shape, n=n)]
    header = "| variant | " + " | ".join(f"{shape} {n}" for shape, n in cells) + " |"
    rule = "|---|" + "---:|" * len(cells)

    def table(quantity: str, render: Callable[[Spread, int], str]) -> list[str]:
        rows = [header, rule]
        for variant in records.variants():
            cells_text = []
            for shape, n in cells:
                values = records.by_round(quantity, shape=shape, n=n, variant=variant)
                cells_text.append(render(Spread.of(values.values()), n) if values else "–")
            rows.append(f"| {variant} | " + " | ".join(cells_text) + " |")
        return rows

    lines = [
        "Node phase, seconds: first task start to last task end (Prefect variants: the server's task-run "
        "times; Kedro's runners: their `_run`), median (min–max):",
        "",
        *table("phase", lambda spread, n: spread.text()),
        "",
        "Whole run, seconds (the flow call or `KedroSession.run`; kedro-dagster: `execute_in_process`):",
        "",
        *table("wall", lambda spread, n: spread.text()),
        "",
        "CPU of the measuring process during the node phase, ms per node (all its threads: Prefect's event "
        "and log shipping included):",
        "",
        *table(
            "cpu", lambda spread, n: Spread(*(1000 * v / n for v in (spread.median, spread.low, spread.high))).text()
        ),
        "",
    ]
    targets: list[Target] = []
    floors = []
    for mode, (ours, *candidates) in modes(workers).items():
        for shape, n in cells:
            floor = floor_of(records, shape, n, candidates)
            floors.append(f"{shape} {n} {mode}: {floor}")
            cell = {"shape": shape, "n": n}
            for name, metric, limit in (
                (f"node phase, {shape} {n}, {mode}: our flow / floor ({floor})", "phase", MATRIX_PHASE_LIMIT),
                (f"CPU per node, {shape} {n}, {mode}: our flow / {floor}", "cpu", MATRIX_CPU_LIMIT),
            ):
                targets.append(
                    ratio_target(name, records, metric, {**cell, "variant": ours}, {**cell, "variant": floor}, limit)
                )
        for shape in SHAPES:
            if {(shape, 200), (shape, 1000)} <= set(cells):
                targets.append(
                    ratio_target(
                        f"linear growth, {shape}, {mode}: our node phase per node at 1,000 / at 200",
                        records,
                        "phase",
                        {"shape": shape, "n": 1000, "variant": ours},
                        {"shape": shape, "n": 200, "variant": ours},
                        LINEAR_LIMIT,
                        scale=lambda value: value / 5,  # 1,000 nodes over 200: per node
                    )
                )
    lines += ["Floors (the cheaper bare Prefect variant by median node phase): " + "; ".join(floors) + ".", ""]
    lines += without_kedro_lines(records, cells, workers)
    return lines, targets


def without_kedro_lines(records: Records, cells: list[tuple[str, int]], workers: int) -> list[str]:
    """Where the gap to the floor goes: our node phase / the floor's, with and without Kedro's own log lines."""

    def over_floor(variant: str, floor: str, cell: dict) -> float:
        return (
            records.spread("phase", **cell, variant=variant).median
            / records.spread("phase", **cell, variant=floor).median
        )

    rows = []
    for mode, (ours, *candidates) in modes(workers).items():
        quiet = ours + WITHOUT_KEDRO_LINES
        if not all(records.where(shape=shape, n=n, variant=quiet) for shape, n in cells):
            return []
        ratios = []
        for shape, n in cells:
            cell = {"shape": shape, "n": n}
            floor = floor_of(records, shape, n, candidates)
            ratios.append(f"{over_floor(ours, floor, cell):.2f} → {over_floor(quiet, floor, cell):.2f}")
        rows.append(f"| {mode} | " + " | ".join(ratios) + " |")
    return [
        "Where the gap goes: our node phase / the floor's at INFO, then with Kedro's own three INFO lines per node "
        "(running, loading, saving: each printed by Prefect's console handler and shipped by its API handler) held "
        "at WARNING, same rounds (not a target: deployments log at INFO):",
        "",
        "| mode | " + " | ".join(f"{shape} {n}" for shape, n in cells) + " |",
        "|---|" + "---:|" * len(cells),
        *rows,
        "",
    ]


def peer_lines(raw: list[dict], translate: float | None) -> list[str]:
    """kedro-dagster beside our flow: whole runs on the chains, the same rounds and conditions."""
    records = Records(raw)
    dagster = [variant for variant in records.variants() if variant.startswith("kedro-dagster")]
    if not dagster:
        return []
    rows = ["| chain | " + " | ".join(["kedro SequentialRunner", "our flow sequential", *dagster]) + " |"]
    rows.append("|---|" + "---:|" * (2 + len(dagster)))
    for n in SIZES:
        cells = [
            records.spread("wall", shape="chain", n=n, variant=variant).text(unit=" s")
            for variant in ["kedro SequentialRunner", "our flow sequential", *dagster]
            if records.where(shape="chain", n=n, variant=variant)
        ]
        if cells:
            rows.append(f"| {n} | " + " | ".join(cells) + " |")
    lines = [
        "The peer, whole runs on the same chains in the same rounds (kedro-dagster 0.8.1 `execute_in_process` in "
        "a process of its own environment; our flow as a deployment runs it, ungrouped), median (min–max):",
        "",
        *rows,
        "",
    ]
    if translate is not None:
        lines += [
            f"kedro-dagster translating the project into Dagster definitions, once per load of its code location: "
            f"{translate:.1f} s.",
            "",
        ]
    return lines


GROUPED_LIMIT = 0.5


def grouped_report(raw: list[dict]) -> tuple[list[str], list[Target]]:
    """10,000 nodes in 100 namespaces: our flow grouped by namespace against Kedro's SequentialRunner."""
    records = Records(raw)
    ours = {"variant": "our flow grouped by namespace"}
    kedro = {"variant": "kedro SequentialRunner"}
    lines = [
        "10,000 nodes in 100 namespaces (a chain of 100 in each), one worker, median (min–max): Kedro "
        f"SequentialRunner `_run` {records.spread('phase', **kedro).text(unit=' s')}; our flow with "
        f"`group_by: namespace`, the runner's `_run` (grouping included) {records.spread('runner', **ours).text(unit=' s')}, "
        f"node phase {records.spread('phase', **ours).text(unit=' s')}.",
        "",
    ]
    target = ratio_target(
        "10,000 nodes in 100 namespaces, group_by namespace: our runner's `_run` / Kedro SequentialRunner's",
        Records([{**r, "phase": r.get("runner", r["phase"])} for r in raw]),
        "phase",
        ours,
        kedro,
        GROUPED_LIMIT,
    )
    return lines, [target]


DASK_EXISTING_LIMIT = 2.0
DASK_LOCAL_LIMIT = 3.0


def dask_report(raw: list[dict]) -> tuple[list[str], list[Target]]:
    records = Records(raw)
    targets = []
    for variant, limit in (("existing cluster", DASK_EXISTING_LIMIT), ("local cluster per run", DASK_LOCAL_LIMIT)):
        rounds = records.by_round("phase", variant=variant)
        targets.append(
            Target(
                f"Dask fan, 6 × 1 s nodes on 2 workers × 3 threads, {variant}: node phase, seconds",
                median(rounds.values()),
                limit,
                [rounds[r] for r in sorted(rounds)],
            )
        )
        rounds = records.by_round("wall", variant=variant)
    lines = [
        "Dask fan, whole flow run, median (min–max): existing cluster "
        f"{records.spread('wall', variant='existing cluster').text(unit=' s')}; local cluster started by the run "
        f"{records.spread('wall', variant='local cluster per run').text(unit=' s')} (its start included).",
        "",
    ]
    return lines, targets


MAKE_RUN_WALL_LIMIT = 5.0
MAKE_RUN_SERVER_LIMIT = 3.5
MAKE_RUN_PARTS = (
    "wall",
    "command start to created",
    "created to completed",
    "created to started",
    "flow body",
    "completed to command exit",
)


def make_run_report(rows: list[dict]) -> tuple[list[str], list[Target]]:
    lines = [
        f"`make run` of the example deployment ({len(rows)} runs, seconds; the parts from the server's timestamps):",
        "",
        "| part | median | min | max |",
        "|---|---:|---:|---:|",
        *(
            f"| {part} | {Spread.of(row[part] for row in rows).median:.2f} | "
            f"{Spread.of(row[part] for row in rows).low:.2f} | {Spread.of(row[part] for row in rows).high:.2f} |"
            for part in MAKE_RUN_PARTS
        ),
        "",
    ]
    targets = [
        Target(
            f"`make run` of the example, median of {len(rows)}: wall time, seconds",
            median(row["wall"] for row in rows),
            MAKE_RUN_WALL_LIMIT,
            [row["wall"] for row in rows],
        ),
        Target(
            f"`make run` of the example, median of {len(rows)}: created → Completed (server), seconds",
            median(row["created to completed"] for row in rows),
            MAKE_RUN_SERVER_LIMIT,
            [row["created to completed"] for row in rows],
        ),
    ]
    return lines, targets


MEMORY_LIMIT = 1.5


def memory_report(raw: list[dict], large: dict | None) -> tuple[list[str], list[Target]]:
    """Peak RSS of our flow's process against `kedro run`'s on the 1,000-node chain; the ungrouped 10,000."""
    records = Records(raw)
    ours, kedro = {"variant": "our flow"}, {"variant": "kedro run"}
    lines = [
        "Peak RSS on the 1,000-node chain, each run a fresh process, median (min–max): `kedro run` "
        f"{records.spread('rss_mb', **kedro).text(0, ' MB')}, our flow (a flow run in its own process, as a "
        f"deployment's) {records.spread('rss_mb', **ours).text(0, ' MB')}.",
        "",
    ]
    if large:
        lines += [
            "10,000 nodes in 100 namespaces, ungrouped, once: the flow run took "
            f"{large['flow']:.0f} s, its process peaked at {large['rss_mb']:.0f} MB; "
            f"{large.get('reached', '?')} of {large.get('expected', 10_000)} task runs reached the server as "
            "finished" + (f" (node phase {large['phase']:.0f} s)" if large.get("phase") else "") + ", and the "
            f"server was busy writing events and logs for {large['backlog']:.0f} s after the run.",
            "",
        ]
    target = ratio_target(
        "peak RSS on the 1,000-node chain: our flow's process / `kedro run`'s",
        records,
        "rss_mb",
        ours,
        kedro,
        MEMORY_LIMIT,
    )
    return lines, [target]
