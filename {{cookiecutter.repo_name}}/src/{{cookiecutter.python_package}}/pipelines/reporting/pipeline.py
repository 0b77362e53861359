"""Three independent reports over the same order table: they can all run at once."""

from kedro.pipeline import Node, Pipeline

from .nodes import monthly_revenue, revenue_by_region, top_customers


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(revenue_by_region, "order_table", "region_revenue", name="revenue_by_region"),
            Node(monthly_revenue, "order_table", "monthly_revenue", name="monthly_revenue"),
            Node(
                top_customers,
                ["order_table", "params:top_n"],
                "top_customers",
                name="top_customers",
            ),
        ],
        tags=["reporting"],
    )
