"""Three independent reports over the same order table: they can all run at once.

The pipeline is a Kedro namespace (node names ``reporting.*``), so ``--namespaces reporting`` and
the flow's ``namespaces`` parameter select it; dataset and parameter names stay unprefixed.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import monthly_revenue, revenue_by_region, top_customers


def create_pipeline(**kwargs) -> Pipeline:
    reports = Pipeline(
        [
            Node(revenue_by_region, "order_table", "region_revenue", name="revenue_by_region"),
            Node(monthly_revenue, "order_table", "monthly_revenue", name="monthly_revenue"),
            Node(top_customers, ["order_table", "params:top_n"], "top_customers", name="top_customers"),
        ],
        tags=["reporting"],
    )
    return Pipeline(
        reports,
        namespace="reporting",
        inputs={"order_table"},
        outputs={"region_revenue", "monthly_revenue", "top_customers"},
        parameters={"params:top_n"},
    )
