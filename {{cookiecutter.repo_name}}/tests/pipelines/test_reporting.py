import pandas as pd
import pytest

from {{ cookiecutter.python_package }}.pipelines.reporting.nodes import monthly_revenue, revenue_by_region, top_customers


@pytest.fixture
def order_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "order_date": ["2025-01-05", "2025-01-20", "2025-02-01"],
            "customer_id": ["C1", "C2", "C1"],
            "name": ["Ada", "Ben", "Ada"],
            "region": ["North", "South", "North"],
            "segment": ["Retail", "Online", "Retail"],
            "product": ["Star Map", "Star Map", "Heat Shield"],
            "revenue": [20.0, 30.0, 600.0],
        }
    )


def test_revenue_by_region_sorts_largest_first(order_table):
    report = revenue_by_region(order_table)
    assert report["region"].tolist() == ["North", "South"]
    assert report["revenue"].tolist() == [620.0, 30.0]
    assert report["average_order_value"].tolist() == [310.0, 30.0]


def test_monthly_revenue_has_one_row_per_month(order_table):
    report = monthly_revenue(order_table)
    assert report["month"].tolist() == ["2025-01", "2025-02"]
    assert report.loc[0, "Star Map"] == 50.0
    assert report.loc[1, "Heat Shield"] == 600.0


def test_top_customers_limits_to_n(order_table):
    report = top_customers(order_table, top_n=1)
    assert report["customer_id"].tolist() == ["C1"]
    assert report["revenue"].tolist() == [620.0]
