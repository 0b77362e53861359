"""Cleaning and joining the raw sales data."""

from __future__ import annotations

import logging

import pandas as pd

logger = logging.getLogger(__name__)


def clean_orders(orders: pd.DataFrame, valid_statuses: list[str]) -> pd.DataFrame:
    """Keep orders that count as sales, with canonical product names and a revenue column.

    Product names arrive with stray spaces and lowercase spellings, and a few orders lack a
    quantity; those cannot be priced, so they are dropped rather than guessed.
    """
    cleaned = orders.dropna(subset=["quantity"]).copy()
    cleaned["product"] = cleaned["product"].str.strip().str.title()
    cleaned["quantity"] = cleaned["quantity"].astype(int)
    cleaned = cleaned[cleaned["status"].isin(valid_statuses)]
    cleaned["revenue"] = (cleaned["quantity"] * cleaned["unit_price"]).round(2)
    logger.info("Kept %d of %d orders", len(cleaned), len(orders))
    return cleaned.reset_index(drop=True)


def clean_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """Normalise region and segment labels and drop duplicate customer rows."""
    cleaned = customers.drop_duplicates(subset="customer_id").copy()
    cleaned["region"] = cleaned["region"].str.strip().str.title()
    cleaned["segment"] = cleaned["segment"].str.strip().str.title()
    return cleaned.reset_index(drop=True)


def build_order_table(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Attach each order's customer attributes; orders of unknown customers are an error upstream."""
    table = orders.merge(customers, on="customer_id", how="inner", validate="many_to_one")
    missing = len(orders) - len(table)
    if missing:
        logger.warning("%d orders reference unknown customers and were left out", missing)
    return table.sort_values("order_id").reset_index(drop=True)
