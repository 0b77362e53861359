"""Two independent cleaning nodes feeding one join: the join waits for both."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_order_table, clean_customers, clean_orders


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                func=clean_orders,
                inputs=["orders", "params:valid_statuses"],
                outputs="cleaned_orders",
                name="clean_orders",
                tags=["cleaning"],
            ),
            Node(
                func=clean_customers,
                inputs="customers",
                outputs="cleaned_customers",
                name="clean_customers",
                tags=["cleaning"],
            ),
            Node(
                func=build_order_table,
                inputs=["cleaned_orders", "cleaned_customers"],
                outputs="order_table",
                name="build_order_table",
            ),
        ]
    )
