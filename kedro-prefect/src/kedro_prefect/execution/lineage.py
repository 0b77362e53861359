"""The run's lineage: its nodes and datasets as a Mermaid flowchart, and what each persisted output
holds, published as a markdown artifact beside the node summary.

Nodes are coloured by their final state (Completed, Failed, not run, skipped because an earlier
attempt completed them); datasets kept in storage are drawn as cylinders with their location,
those kept in memory as rounded boxes. Parameters are left out: they are inputs of many nodes and
would bury the graph. Sizes come from the storage's metadata (fsspec ``size``: a local ``stat`` or
an object store's HEAD), never from reading the data back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .units import NodeOutcome

_STYLES = {
    "completed": "fill:#dcfce7,stroke:#16a34a",
    "failed": "fill:#fee2e2,stroke:#dc2626",
    "notrun": "fill:#f3f4f6,stroke:#9ca3af,stroke-dasharray:4 3",
    "skipped": "fill:#e0f2fe,stroke:#0284c7",
    "persisted": "fill:#eff6ff,stroke:#2563eb",
    "memory": "fill:#ffffff,stroke:#6b7280,stroke-dasharray:3 3",
}


def _style_of(state: str) -> str:
    first = state.split(" ", 1)[0].lower()
    return first if first in _STYLES else "notrun"


_ESCAPES = {'"': "#quot;", "<": "#lt;", ">": "#gt;"}


def _escape(match: re.Match[str]) -> str:
    return _ESCAPES[match.group(0)]


def _label(*lines: str) -> str:
    """Text Mermaid shows inside a shape: quotes and markup escaped, lines joined with <br/>."""
    escaped = [re.sub(r"[\"<>]", _escape, line) for line in lines]
    return '"' + "<br/>".join(escaped) + '"'


def _shown(name: str) -> bool:
    return name != "parameters" and not name.startswith("params:")


MERMAID_MAX_EDGES = 500
"""Mermaid's default ``maxEdges``: a larger chart shows as an error in the UI, not a picture."""
MERMAID_MAX_TEXT = 50_000
"""Mermaid's default ``maxTextSize`` (characters of the chart's source)."""


def lineage_mermaid(outcomes: Iterable[NodeOutcome], locations: dict[str, str]) -> str:
    """A left-to-right flowchart: dataset -> node -> dataset, every node and dataset of the run once."""
    outcomes = list(outcomes)
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}

    def dataset(name: str) -> str:
        if name not in ids:
            ids[name] = f"d{len(ids)}"
            if name in locations:
                lines.append(f"  {ids[name]}[({_label(name, locations[name])})]:::persisted")
            else:
                lines.append(f"  {ids[name]}([{_label(name, 'in memory')}]):::memory")
        return ids[name]

    for index, outcome in enumerate(outcomes):
        seconds = f" {outcome.seconds:.2f} s" if outcome.seconds is not None else ""
        lines.append(f"  n{index}[{_label(outcome.node, outcome.state + seconds)}]:::{_style_of(outcome.state)}")
    for index, outcome in enumerate(outcomes):
        for name in filter(_shown, outcome.inputs):
            lines.append(f"  {dataset(name)} --> n{index}")
        for name in filter(_shown, outcome.outputs):
            lines.append(f"  n{index} --> {dataset(name)}")
    lines.extend(f"  classDef {name} {style}" for name, style in _STYLES.items())
    return "\n".join(lines)


def stored_bytes(location_uri: str) -> int | None:
    """Bytes the storage says the dataset takes (a folder: its files summed); None when it cannot say."""
    try:
        import fsspec

        filesystem, path = fsspec.core.url_to_fs(location_uri)
        if filesystem.isdir(path):
            return sum(filesystem.du(path, total=False).values())
        return int(filesystem.size(path))
    except Exception:  # noqa: BLE001 - a missing file, no credentials, an unknown protocol: unknown size
        return None


def _human(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _rows_and_columns(shape: list[int] | None) -> str:
    if not shape:
        return "—"
    return " × ".join(f"{size:,}" for size in shape)


def lineage_markdown(
    outcomes: Iterable[NodeOutcome],
    locations: dict[str, str],
    sizes: dict[str, int | None],
    shapes: dict[str, list[int]],
) -> str:
    """The artifact: the flowchart, then one row per persisted output this run saved, with the
    bytes it takes in storage and, for a table, its rows × columns when saved."""
    outcomes = list(outcomes)
    chart = lineage_mermaid(outcomes, locations)
    edges = sum(1 for line in chart.splitlines() if " --> " in line)
    if edges <= MERMAID_MAX_EDGES and len(chart) <= MERMAID_MAX_TEXT:
        picture = ["```mermaid", chart, "```"]
    else:
        picture = [
            f"{len(outcomes)} nodes and {edges} edges: more than Prefect's UI draws (Mermaid stops at "
            f"{MERMAID_MAX_EDGES} edges or {MERMAID_MAX_TEXT:,} characters). The run summary lists every node."
        ]
    rows = [
        f"| {name} | {outcome.node} | `{locations[name]}` | {_human(sizes.get(name))} | {_rows_and_columns(shapes.get(name))} |"
        for outcome in outcomes
        if outcome.state == "Completed"
        for name in outcome.outputs
        if name in locations
    ]
    header = ["| dataset | saved by | location | size | rows × columns |", "|---|---|---|---|---|"]
    table = [*header, *rows] if rows else ["No dataset saved."]
    return "\n".join(
        [
            "### Lineage of this run",
            "",
            *picture,
            "",
            "### Saved by this run",
            "",
            *table,
        ]
    )
