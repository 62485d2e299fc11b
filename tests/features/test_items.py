"""Item attributes: price, category, buyers and age; partitions by SKU equal all at once, and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.interactions import build_interaction_features
from features.items import ITEM_SET, UNKNOWN_CATEGORY, build_item_features
from features.partitions import compute_by_partitions

CUTOFF = pd.Timestamp("2023-06-01")


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    return table.sort_values("sku", kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("n_partitions", [1, 3, 7])
def test_partitions_by_sku_equal_all_at_once(small_shop, n_partitions):
    orders, products = small_shop.orders, small_shop.products
    at_once = build_item_features(orders, CUTOFF, products)
    parts = compute_by_partitions(build_item_features, orders, ITEM_SET.partition_key, n_partitions,
                                  cutoff=CUTOFF, products=products)
    assert len(at_once) > 20
    pd.testing.assert_frame_equal(_sorted(parts), at_once)


def test_median_price_and_category_match_a_direct_computation(small_shop):
    orders, products = small_shop.orders, small_shop.products
    items = build_item_features(orders, CUTOFF, products).set_index("sku")
    sales = orders.loc[(orders["ordered_at"] < CUTOFF) & orders["customer_id"].notna() & (orders["quantity"] > 0)]
    for sku, lines in list(sales.groupby("sku"))[:20]:
        assert items.loc[sku, "median_unit_price"] == float(np.median(lines["unit_price"]))
        assert items.loc[sku, "category"] == products.set_index("sku").loc[sku, "category"]
    recent = sales.loc[sales["ordered_at"] >= CUTOFF - pd.Timedelta(days=28)]
    window = sales.loc[(sales["ordered_at"] >= CUTOFF - pd.Timedelta(days=56)) & (sales["ordered_at"] < CUTOFF - pd.Timedelta(days=28))]
    for column, lines in (("buyers", sales), ("buyers_28d", recent), ("buyers_28d_before", window)):
        expected = lines.groupby("sku")["customer_id"].nunique().reindex(items.index, fill_value=0)
        np.testing.assert_array_equal(items[column], expected, err_msg=column)
    assert items["buyers_28d"].sum() > 0 and items["buyers_28d_before"].sum() > 0
    age = sales.groupby("sku")["ordered_at"].agg(["min", "max"]).reindex(items.index)
    np.testing.assert_array_equal(items["days_since_first_sale"], (CUTOFF - age["min"]) / pd.Timedelta(days=1))
    np.testing.assert_array_equal(items["days_since_last_sale"], (CUTOFF - age["max"]) / pd.Timedelta(days=1))
    assert (items["days_since_first_sale"] >= items["days_since_last_sale"]).all()
    interaction_skus = set(build_interaction_features(orders, CUTOFF)["sku"])
    assert set(items.index) == interaction_skus  # the matrix's columns, no more, no fewer


def test_unknown_category_without_products_or_for_a_missing_sku(small_shop):
    orders, products = small_shop.orders, small_shop.products
    assert (build_item_features(orders, CUTOFF)["category"] == UNKNOWN_CATEGORY).all()
    missing = build_item_features(orders, CUTOFF, products)["sku"].iloc[0]
    items = build_item_features(orders, CUTOFF, products.loc[products["sku"] != missing]).set_index("sku")
    assert items.loc[missing, "category"] == UNKNOWN_CATEGORY
    assert (items["category"] != UNKNOWN_CATEGORY).sum() == len(items) - 1


def test_rows_ignore_orders_at_or_after_the_cutoff(small_shop):
    orders, products = small_shop.orders, small_shop.products
    before = orders.loc[orders["ordered_at"] < CUTOFF]
    later = orders.loc[orders["ordered_at"] >= CUTOFF].copy()
    later["unit_price"] = later["unit_price"] * 10
    later["sku"] = later["sku"].iloc[::-1].to_numpy()
    at_cutoff = later.head(50).assign(ordered_at=CUTOFF, sku=before["sku"].iloc[0])
    expected = build_item_features(orders, CUTOFF, products)
    for changed in (before, pd.concat([before, later, at_cutoff]), pd.concat([later, at_cutoff, before])):
        pd.testing.assert_frame_equal(build_item_features(changed, CUTOFF, products), expected)


def test_output_matches_the_declaration(small_shop):
    table = build_item_features(small_shop.orders, CUTOFF, small_shop.products)
    assert [c.name for c in ITEM_SET.columns()] == list(table.columns)
    assert table["sku"].is_unique and table["sku"].is_monotonic_increasing
    assert ITEM_SET.spark_ddl().startswith("sku string, median_unit_price double, category string, buyers bigint")
    empty = build_item_features(small_shop.orders, small_shop.orders["ordered_at"].min(), small_shop.products)
    assert empty.empty and list(empty.columns) == list(table.columns)
