"""Planted shocks (``features.synthetic.shocks``): each does what it says from its start and nothing before,
the same arguments give the same tables, and bad arguments are refused naming the parameter."""

from __future__ import annotations

import pandas as pd
import pytest

from features.synthetic import ShopConfig, ShopConfigError, generate_shop
from features.synthetic.shocks import plant_shock

START = pd.Timestamp("2023-05-01")


@pytest.fixture(scope="module")
def tables():
    return generate_shop(ShopConfig(customers=1_500, products=80, days=240, seed=3)).tables()


def _before(orders: pd.DataFrame) -> pd.DataFrame:
    return orders.loc[orders["ordered_at"] < START].reset_index(drop=True)


def _sales_after(orders: pd.DataFrame) -> pd.DataFrame:
    return orders.loc[(orders["ordered_at"] >= START) & (orders["quantity"] > 0)]


def test_a_demand_drop_removes_that_share_of_orders_from_the_start(tables):
    shocked = plant_shock(tables, "demand_drop", START, 0.3, seed=1)
    orders = shocked["orders"]
    pd.testing.assert_frame_equal(_before(orders), _before(tables["orders"]))
    kept = _sales_after(orders)["order_id"].nunique() / _sales_after(tables["orders"])["order_id"].nunique()
    assert kept == pytest.approx(0.7, abs=0.03)
    assert set(orders["order_id"]) <= set(tables["orders"]["order_id"])
    assert list(orders.dtypes) == list(tables["orders"].dtypes)


def test_a_price_change_scales_prices_from_the_start_and_its_returns(tables):
    shocked = plant_shock(tables, "price_change", START, -0.2, seed=1)
    old, new = tables["orders"], shocked["orders"]
    assert len(new) == len(old)
    after = (old["ordered_at"] >= START) & (old["quantity"] > 0)
    ratio = new.loc[after, "unit_price"] / old.loc[after, "unit_price"]
    assert ratio.between(0.79, 0.81).mean() > 0.95  # to the penny
    assert (new.loc[old["ordered_at"] < START, "unit_price"] == old.loc[old["ordered_at"] < START, "unit_price"]).all()
    assert (shocked["products"]["price"] < tables["products"]["price"]).all()


def test_a_churn_wave_stops_that_share_of_active_customers(tables):
    shocked = plant_shock(tables, "churn_wave", START, 0.5, seed=1)
    old, new = tables["orders"], shocked["orders"]
    recent = old.loc[(old["ordered_at"] >= START - pd.Timedelta(days=90)) & (old["ordered_at"] < START)
                     & (old["quantity"] > 0), "customer_id"].dropna().unique()
    buying_before = set(_sales_after(old)["customer_id"].dropna()) & set(recent)
    buying_after = set(_sales_after(new)["customer_id"].dropna()) & set(recent)
    assert len(buying_after) / len(buying_before) == pytest.approx(0.5, abs=0.1)
    newcomers = set(_sales_after(old)["customer_id"].dropna()) - set(recent)
    assert newcomers <= set(_sales_after(new)["customer_id"].dropna())  # only active customers leave
    pd.testing.assert_frame_equal(_before(new), _before(old))


def test_a_defection_keeps_a_geometric_number_of_each_customers_orders(tables):
    size = 0.4
    shocked = plant_shock(tables, "defection", START, size, seed=2)
    old, new = _sales_after(tables["orders"]), _sales_after(shocked["orders"])
    known = old["customer_id"].notna()
    before = old.loc[known].groupby("customer_id")["order_id"].nunique()
    after = new.loc[new["customer_id"].notna()].groupby("customer_id")["order_id"].nunique().reindex(before.index,
                                                                                                     fill_value=0)
    assert (after <= before).all()
    assert (after == 0).mean() == pytest.approx(size, abs=0.05)  # left at the start: P(kept = 0) = size
    kept = set(new["order_id"])  # a customer who left buys nothing more: the orders kept are their first ones
    for customer, orders in old.loc[known].sort_values("ordered_at", kind="stable").groupby("customer_id"):
        ids = list(dict.fromkeys(orders["order_id"]))
        assert [i in kept for i in ids] == sorted((i in kept for i in ids), reverse=True), customer
    guests = old.loc[~known, "order_id"].nunique()
    assert new.loc[new["customer_id"].isna(), "order_id"].nunique() == guests  # guests are not customers to lose
    pd.testing.assert_frame_equal(_before(shocked["orders"]), _before(tables["orders"]))


def test_a_defection_in_some_countries_leaves_the_others_alone(tables):
    country = tables["orders"]["country"].value_counts().index[0]
    shocked = plant_shock(tables, "defection", START, 1.0, seed=2, countries=[country])
    old, new = _sales_after(tables["orders"]), _sales_after(shocked["orders"])
    assert not (new["country"] == country).any() or new.loc[new["country"] == country, "customer_id"].isna().all()
    pd.testing.assert_frame_equal(new.loc[new["country"] != country].reset_index(drop=True),
                                  old.loc[old["country"] != country].reset_index(drop=True))


@pytest.mark.parametrize("kind", ["demand_drop", "price_change", "churn_wave", "defection"])
def test_same_arguments_same_tables_and_returns_never_outlive_their_sales(tables, kind):
    a = plant_shock(tables, kind, START, 0.25, seed=4)
    b = plant_shock(tables, kind, START, 0.25, seed=4)
    pd.testing.assert_frame_equal(a["orders"], b["orders"])
    orders = a["orders"].loc[a["orders"]["customer_id"].notna()]
    net = orders.groupby(["customer_id", "sku"])["quantity"].sum()
    assert (net >= 0).all()
    assert a["customers"] is tables["customers"]


@pytest.mark.parametrize(("kind", "start", "size", "named"), [
    ("flash_sale", START, 0.2, "shock kind"),
    ("demand_drop", START, 0.0, "size"),
    ("churn_wave", START, 1.5, "size"),
    ("defection", START, 0.0, "size"),
    ("price_change", START, 0.0, "size"),
    ("demand_drop", "2030-01-01", 0.2, "outside the orders"),
    ("demand_drop", "someday", 0.2, "not a date"),
])
def test_bad_arguments_are_refused(tables, kind, start, size, named):
    with pytest.raises(ShopConfigError, match=named):
        plant_shock(tables, kind, start, size)
