"""The lineage artifact: nodes and datasets as a Mermaid flowchart, and the sizes of saved outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from kedro.io import DataCatalog

from kedro_prefect.execution.lineage import lineage_markdown, lineage_mermaid, stored_bytes
from kedro_prefect.execution.locations import written_locations
from kedro_prefect.execution.units import NodeOutcome


def outcome(node: str, state: str, inputs: list[str], outputs: list[str]) -> NodeOutcome:
    return NodeOutcome(node=node, state=state, seconds=0.5, attempt=1, inputs=inputs, outputs=outputs)


RUN = [
    outcome("clean", "Completed", ["orders", "params:valid"], ["cleaned"]),
    outcome("build", "Failed", ["cleaned"], ["table"]),
    outcome("report", "NotRun", ["table"], ["report"]),
]
LOCATIONS = {"orders": "data/01_raw/orders.csv", "table": "data/03_primary/table.csv", "report": 's3://b/"r".csv'}


def test_each_node_and_dataset_appears_once_styled_by_state_and_storage():
    chart = lineage_mermaid(RUN, LOCATIONS).splitlines()
    assert chart[0] == "flowchart LR"
    assert '  n0["clean<br/>Completed 0.50 s"]:::completed' in chart
    assert '  n1["build<br/>Failed 0.50 s"]:::failed' in chart
    assert '  n2["report<br/>NotRun 0.50 s"]:::notrun' in chart
    assert '  d0[("orders<br/>data/01_raw/orders.csv")]:::persisted' in chart
    assert '  d1(["cleaned<br/>in memory"]):::memory' in chart
    assert '  d3[("report<br/>s3://b/#quot;r#quot;.csv")]:::persisted' in chart  # quotes escaped
    assert [line for line in chart if "-->" in line] == [
        "  d0 --> n0",
        "  n0 --> d1",
        "  d1 --> n1",
        "  n1 --> d2",
        "  d2 --> n2",
        "  n2 --> d3",
    ]
    assert not [line for line in chart if "params:" in line]


def test_skipped_nodes_of_a_resumed_run_have_their_own_style():
    chart = lineage_mermaid([outcome("clean", "Skipped (completed in attempt 1)", [], [])], {})
    assert ":::skipped" in chart.splitlines()[1]


def test_the_artifact_lists_what_completed_nodes_saved_with_sizes(tmp_path):
    saved = tmp_path / "table.csv"
    saved.write_text("a,b\n1,2\n")
    assert stored_bytes(saved.as_uri()) == 8
    assert stored_bytes((tmp_path / "missing.csv").as_uri()) is None
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "p1").write_bytes(b"x" * 2048)
    assert stored_bytes((tmp_path / "parts").as_uri()) == 2048

    run = [outcome("clean", "Completed", ["orders"], ["table"]), outcome("x", "Failed", [], ["report"])]
    markdown = lineage_markdown(run, LOCATIONS, {"table": 2048}, {"table": [12000, 3]})
    assert "```mermaid\nflowchart LR\n" in markdown
    assert markdown.endswith("| table | clean | `data/03_primary/table.csv` | 2.0 KiB | 12,000 × 3 |")
    assert lineage_markdown(run, LOCATIONS, {}, {}).endswith("| `data/03_primary/table.csv` | unknown | — |")
    assert "| report |" not in markdown  # its node failed: nothing saved


def test_a_run_too_large_for_the_ui_to_draw_says_so_instead_of_showing_an_error():
    chain = [outcome(f"step_{i}", "Completed", [f"d{i}"], [f"d{i + 1}"]) for i in range(300)]
    markdown = lineage_markdown(chain, {}, {}, {})
    assert "```mermaid" not in markdown
    assert "300 nodes and 600 edges: more than Prefect's UI draws" in markdown
    assert "```mermaid" in lineage_markdown(chain[:200], {}, {}, {})  # 400 edges: drawn


def test_a_versioned_output_is_sized_by_the_version_this_run_wrote_not_all_of_them(tmp_path):
    config = {"table": {"type": "pandas.CSVDataset", "filepath": str(tmp_path / "table.csv"), "versioned": True}}
    DataCatalog.from_config(config, save_version="2026-12-06T10.00.00.000Z").save(
        "table", pd.DataFrame({"a": [1] * 500})
    )
    catalog = DataCatalog.from_config(config, save_version="2026-12-07T10.00.00.000Z")
    catalog.save("table", pd.DataFrame({"a": [1, 2]}))
    (written,) = written_locations(catalog, ["table"]).values()
    assert written == f"{tmp_path / 'table.csv'}/2026-12-07T10.00.00.000Z/table.csv"
    assert stored_bytes(Path(written).as_uri()) == len("a\n1\n2\n")
