"""The benchmark's arithmetic on its own (`benchmarks/report.py`): no server, no project, milliseconds.

What `make bench` prints is only as honest as these rules: medians with their spread, ratios of whole
quantities (nothing subtracted), the cheaper bare Prefect variant as the floor, a verdict on the
median with every round's own mark beside it, and the README's figures written between its markers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmark's scripts import each other by name, as `python benchmarks/run_benchmark.py` runs them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import report  # noqa: E402


def record(round_: int, variant: str, phase: float, shape: str = "chain", n: int = 200, cpu: float | None = None):
    return {"round": round_, "shape": shape, "n": n, "variant": variant, "phase": phase, "wall": phase + 1, "cpu": cpu}


def test_spread_is_the_median_with_its_lowest_and_highest():
    spread = report.Spread.of([3.0, 1.0, 2.0, 10.0, 2.5])
    assert (spread.median, spread.low, spread.high) == (2.5, 1.0, 10.0)
    assert spread.text() == "2.50 (1.00–10.00)"
    with pytest.raises(ValueError):
        report.Spread.of([])


def test_a_target_passes_on_its_median_and_marks_every_round():
    target = report.Target("x", value=1.1, limit=1.2, rounds=[1.0, 1.3, 1.1, 1.25, 1.15])
    assert target.passed
    assert target.row().endswith("| 1.10 | ≤ 1.2 | PASS | ✓ ✗ ✓ ✗ ✓ (3/5) |")
    assert not report.Target("y", value=1.21, limit=1.2, rounds=[1.21]).passed


def test_a_ratio_divides_medians_of_whole_quantities_and_pairs_rounds():
    records = report.Records(
        [record(r, "ours", phase) for r, phase in enumerate([2.0, 3.0, 4.0])]
        + [record(r, "floor", phase) for r, phase in enumerate([1.0, 2.0, 8.0])]
    )
    target = report.ratio_target("t", records, "phase", {"variant": "ours"}, {"variant": "floor"}, 1.2)
    assert target.value == pytest.approx(3.0 / 2.0)  # median over median, nothing subtracted
    assert target.rounds == pytest.approx([2.0, 1.5, 0.5])  # each round against its own floor


def test_the_floor_is_the_cheaper_bare_variant_by_median():
    rows = [record(r, "bare Prefect called", 1.0 + r) for r in range(3)]
    rows += [record(r, "bare Prefect submitted(8)", 1.5) for r in range(3)]
    records = report.Records(rows)
    assert report.floor_of(records, "chain", 200, ["bare Prefect called", "bare Prefect submitted(8)"]) == (
        "bare Prefect submitted(8)"
    )


def matrix_rows(ours_factor: float) -> list[dict]:
    rows = []
    for r in range(5):
        for shape in ("chain", "fan"):
            for n in (200, 1000):
                base = n * 0.01
                rows += [
                    record(r, "kedro SequentialRunner", base / 10, shape, n, cpu=base / 10),
                    record(r, "bare Prefect called", base, shape, n, cpu=base),
                    record(r, "bare Prefect submitted(8)", base * 2, shape, n, cpu=base * 2),
                    record(r, "our flow sequential", base * ours_factor, shape, n, cpu=base * ours_factor),
                    record(r, "our flow concurrent(8)", base * ours_factor, shape, n, cpu=base * ours_factor),
                ]
    return rows


@pytest.mark.parametrize(("factor", "passes"), [(1.1, True), (1.3, False)])
def test_matrix_targets_compare_our_flow_with_the_floor_in_every_cell_and_mode(factor, passes):
    lines, targets = report.matrix_report(matrix_rows(factor), workers=8)
    phase = [t for t in targets if t.name.startswith("node phase")]
    cpu = [t for t in targets if t.name.startswith("CPU per node")]
    linear = [t for t in targets if t.name.startswith("linear growth")]
    assert len(phase) == len(cpu) == 8  # chain and fan, 200 and 1,000, sequential and concurrent
    assert len(linear) == 4
    assert all("(bare Prefect called)" in t.name for t in phase)  # submitted was dearer here
    assert all(t.value == pytest.approx(factor) and t.passed is passes for t in phase + cpu)
    assert all(t.value == pytest.approx(1.0) and t.passed for t in linear)  # per node: 10 ms at both sizes
    assert any(line.startswith("| our flow sequential |") for line in lines)


def test_the_gap_without_kedros_lines_is_reported_beside_and_is_no_target():
    rows = matrix_rows(1.5)
    quiet = report.WITHOUT_KEDRO_LINES
    rows += [
        {**row, "variant": row["variant"] + quiet, "phase": row["phase"] / 1.5 * 1.1}
        for row in rows
        if row["variant"].startswith("our flow")
    ]
    lines, targets = report.matrix_report(rows, workers=8)
    assert not any(quiet in t.name for t in targets) and len(targets) == 20
    assert "| sequential | 1.50 → 1.10 | 1.50 → 1.10 | 1.50 → 1.10 | 1.50 → 1.10 |" in lines
    without_quiet_runs = report.matrix_report(matrix_rows(1.5), workers=8)[0]
    assert not any(line.startswith("Where the gap goes") for line in without_quiet_runs)


def test_make_run_targets_mark_each_run():
    rows = [dict.fromkeys(report.MAKE_RUN_PARTS, 1.0) | {"wall": wall} for wall in (4.0, 6.0, 4.5)]
    lines, (wall, server) = report.make_run_report(rows)
    assert wall.value == 4.5 and wall.passed and wall.rounds == [4.0, 6.0, 4.5]
    assert server.value == 1.0
    assert "| wall | 4.50 | 4.00 | 6.00 |" in lines


def test_the_readme_figures_are_replaced_between_the_markers_only(tmp_path, monkeypatch):
    import run_benchmark

    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{run_benchmark.README_BEGIN}\nold figures\n{run_benchmark.README_END}\nafter\n")
    monkeypatch.setattr(run_benchmark, "README", readme)
    run_benchmark.write_readme("new figures")
    assert (
        readme.read_text() == f"before\n{run_benchmark.README_BEGIN}\nnew figures\n{run_benchmark.README_END}\nafter\n"
    )
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="bench:begin"):
        run_benchmark.write_readme("new figures")


def test_the_large_run_says_how_many_task_runs_reached_the_server():
    records = [
        {"round": 0, "variant": "kedro run", "rss_mb": 150.0},
        {"round": 0, "variant": "our flow", "rss_mb": 180.0},
    ]
    large = {"flow": 140.2, "rss_mb": 900.0, "phase": None, "reached": 4895, "expected": 10000, "backlog": 3.0}
    lines, [target] = report.memory_report(records, large)
    text = " ".join(lines)
    assert "4895 of 10000 task runs reached the server" in text and "node phase" not in text
    assert target.value == pytest.approx(1.2) and target.passed


def test_make_bench_exits_1_on_a_failed_target_and_only_a_full_run_at_info_writes_the_readme(tmp_path, monkeypatch):
    import run_benchmark

    readme = tmp_path / "README.md"
    markers = f"{run_benchmark.README_BEGIN}\nold figures\n{run_benchmark.README_END}\n"
    readme.write_text(markers)
    monkeypatch.setattr(run_benchmark, "README", readme)
    monkeypatch.setattr(run_benchmark, "HERE", tmp_path)
    fast = {"make_run": [dict.fromkeys(report.MAKE_RUN_PARTS, 1.0) | {"wall": 3.0}] * 10}
    slow = {"make_run": [dict.fromkeys(report.MAKE_RUN_PARTS, 1.0) | {"wall": 9.0}] * 10}

    # Partial runs (a section of the whole, or fewer rounds): their own file, the README untouched.
    assert run_benchmark.report_results(fast, ["make_run"], minutes=1, rounds=5, log_level="INFO") == 0
    assert run_benchmark.report_results(slow, ["make_run"], minutes=1, rounds=2, log_level="INFO") == 1
    assert {path.name for path in tmp_path.glob("results-*.md")} == {
        "results-make_run.md",
        "results-make_run-2rounds.md",
    }
    assert readme.read_text() == markers

    monkeypatch.setattr(run_benchmark, "SECTIONS", ("make_run",))  # every section measured: a full run
    assert run_benchmark.report_results(slow, ["make_run"], minutes=1, rounds=5, log_level="WARNING") == 1
    assert readme.read_text() == markers  # the README's figures are at INFO, as deployments log
    assert run_benchmark.report_results(fast, ["make_run"], minutes=1, rounds=5, log_level="INFO") == 0
    assert "old figures" not in readme.read_text() and "targets pass on their median** (5 rounds" in readme.read_text()
