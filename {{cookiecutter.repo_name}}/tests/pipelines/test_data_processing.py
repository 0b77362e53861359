import pandas as pd
import pytest

from {{ cookiecutter.python_package }}.pipelines.data_processing.nodes import (
    build_order_table,
    clean_customers,
    clean_orders,
)


@pytest.fixture
def raw_orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3", "O4"],
            "order_date": ["2025-01-05", "2025-01-20", "2025-02-01", "2025-02-03"],
            "customer_id": ["C1", "C2", "C1", "C2"],
            "product": ["Star Map", "  star map ", "Heat Shield", "Heat Shield"],
            "quantity": [2, 3, None, 1],
            "unit_price": [10.0, 10.0, 300.0, 310.0],
            "status": ["completed", "completed", "completed", "cancelled"],
        }
    )


def test_clean_orders_normalises_products_and_drops_unpriceable(raw_orders):
    cleaned = clean_orders(raw_orders, valid_statuses=["completed"])
    assert cleaned["order_id"].tolist() == ["O1", "O2"]
    assert set(cleaned["product"]) == {"Star Map"}
    assert cleaned["revenue"].tolist() == [20.0, 30.0]


def test_clean_customers_deduplicates_and_normalises():
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C1", "C2"], "region": [" north", "north", "South "], "segment": ["retail"] * 3}
    )
    cleaned = clean_customers(customers)
    assert cleaned["customer_id"].tolist() == ["C1", "C2"]
    assert cleaned["region"].tolist() == ["North", "South"]
    assert cleaned["segment"].tolist() == ["Retail", "Retail"]


def test_build_order_table_joins_customer_attributes(raw_orders):
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "region": ["North", "South"]})
    table = build_order_table(clean_orders(raw_orders, ["completed"]), customers)
    assert table[["order_id", "region"]].values.tolist() == [["O1", "North"], ["O2", "South"]]
