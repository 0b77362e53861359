"""Revenue reports built from the order table."""

from __future__ import annotations

import pandas as pd


def revenue_by_region(order_table: pd.DataFrame) -> pd.DataFrame:
    """Revenue, order count and average order value per region, largest first."""
    report = order_table.groupby("region").agg(revenue=("revenue", "sum"), orders=("order_id", "count")).reset_index()
    report["average_order_value"] = (report["revenue"] / report["orders"]).round(2)
    report["revenue"] = report["revenue"].round(2)
    return report.sort_values("revenue", ascending=False).reset_index(drop=True)


def monthly_revenue(order_table: pd.DataFrame) -> pd.DataFrame:
    """Revenue per calendar month and product, one row per month, one column per product."""
    months = pd.to_datetime(order_table["order_date"]).dt.strftime("%Y-%m")
    report = order_table.assign(month=months).pivot_table(
        index="month", columns="product", values="revenue", aggfunc="sum", fill_value=0.0
    )
    return report.round(2).reset_index().rename_axis(columns=None)


def top_customers(order_table: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """The ``top_n`` customers by revenue, with their region and segment."""
    totals = order_table.groupby(["customer_id", "name", "region", "segment"])["revenue"].sum().round(2).reset_index()
    return totals.nlargest(top_n, "revenue").reset_index(drop=True)
