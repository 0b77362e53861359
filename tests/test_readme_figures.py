"""Figures the READMEs state come from one place: the reports the tests write, not a second copy typed by hand."""

from __future__ import annotations

import re

from tests.helpers import TEMPLATE

PROJECT_README = TEMPLATE / "{{cookiecutter.repo_name}}" / "README.md"


def table_rows(markdown: str) -> set[str]:
    """The body rows of every table in `markdown` (header and separator rows left out)."""
    rows = [line.strip() for line in markdown.splitlines() if line.startswith("|")]
    return {row for row in rows if not re.fullmatch(r"\|[-:| ]+\|", row) and row != "| what | measured |"}


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_reliability_table_is_the_tracked_report():
    report = (TEMPLATE / "reports" / "reliability.md").read_text()
    readme = section((TEMPLATE / "README.md").read_text(), "## Reliability")
    assert table_rows(readme) == table_rows(report)


def test_the_generated_readme_states_no_benchmark_figure_of_its_own():
    # Per-node costs live in the template README's Benchmark section only (they once differed between the two).
    cost = section(PROJECT_README.read_text(), "### Cost per node")
    assert not re.search(r"\d ms", cost), cost
    assert '"Benchmark" section' in cost
