"""Training data and the protocol split: truth holds new items only, nothing leaks from after the cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.interactions import build_buyer_features, build_interaction_features
from features.items import build_item_features
from shopml.errors import DataValidationError
from training.recommend.data import protocol_split, training_data


def test_truth_holds_only_new_items_known_in_training(shop_tables, cutoff):
    split = protocol_split(shop_tables["orders"], cutoff, products=shop_tables["products"])
    counts = split.train.interactions.counts
    for row, items in zip(split.test_rows, split.truth, strict=True):
        assert len(items) > 0
        assert (counts[row, items].toarray() == 0).all()
    assert split.train.orders["ordered_at"].max() < cutoff


def test_training_side_ignores_later_orders(shop_tables, cutoff):
    orders, products = shop_tables["orders"], shop_tables["products"]
    later = orders.loc[orders["ordered_at"] >= cutoff].copy()
    later["quantity"] = later["quantity"] * 3
    later["unit_price"] = later["unit_price"] * 7
    later["country"] = "Elsewhere"
    later["sku"] = later["sku"].iloc[::-1].to_numpy()
    changed = pd.concat([orders.loc[orders["ordered_at"] < cutoff], later])
    a = protocol_split(orders, cutoff, products=products).train
    b = protocol_split(changed, cutoff, products=products).train
    for kind in ("counts", "spend", "recency"):
        assert (getattr(a.interactions, kind) != getattr(b.interactions, kind)).nnz == 0
    assert np.array_equal(a.skus, b.skus) and np.array_equal(a.customer_ids, b.customer_ids)
    for name in ("customer_country", "item_category", "categories", "item_price"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_training_data_reads_the_feature_layer(shop_tables, cutoff):
    orders, products = shop_tables["orders"], shop_tables["products"]
    data = training_data(orders, cutoff, products)
    sales = orders.loc[orders["customer_id"].notna() & (orders["quantity"] > 0)]
    pd.testing.assert_frame_equal(data.interaction_table, build_interaction_features(sales, cutoff))
    buyers = build_buyer_features(orders, cutoff)
    assert buyers["customer_id"].tolist() == list(data.customer_ids)
    assert buyers["last_order_country"].tolist() == list(data.customer_country)
    items = build_item_features(orders, cutoff, products)
    assert items["sku"].tolist() == list(data.skus)
    assert np.array_equal(items["median_unit_price"].to_numpy("float32"), data.item_price)
    assert items["category"].tolist() == list(data.categories[data.item_category])
    assert len(data.categories) > 1 and "unknown" not in set(data.categories)


def test_empty_training_window_is_a_clear_error(shop_tables):
    first = shop_tables["orders"]["ordered_at"].min()
    with pytest.raises(DataValidationError, match="training window is empty"):
        protocol_split(shop_tables["orders"], first)
