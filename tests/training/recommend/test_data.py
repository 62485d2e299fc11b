import numpy as np
import pandas as pd
import pytest

from shopml.errors import DataValidationError
from training.recommend.data import protocol_split


def test_truth_holds_only_new_items_known_in_training(shop_tables, cutoff):
    split = protocol_split(shop_tables["orders"], cutoff, products=shop_tables["products"])
    counts = split.train.interactions.counts
    for row, items in zip(split.test_rows, split.truth, strict=True):
        assert len(items) > 0
        assert (counts[row, items].toarray() == 0).all()
    assert split.train.orders["ordered_at"].max() < cutoff


def test_training_side_ignores_later_orders(shop_tables, cutoff):
    orders = shop_tables["orders"]
    later = orders.loc[orders["ordered_at"] >= cutoff].copy()
    later["quantity"] = later["quantity"] * 3
    later["sku"] = later["sku"].iloc[::-1].to_numpy()
    changed = pd.concat([orders.loc[orders["ordered_at"] < cutoff], later])
    a = protocol_split(orders, cutoff).train
    b = protocol_split(changed, cutoff).train
    assert (a.interactions.counts != b.interactions.counts).nnz == 0
    assert np.array_equal(a.skus, b.skus) and np.array_equal(a.customer_ids, b.customer_ids)


def test_empty_training_window_is_a_clear_error(shop_tables):
    first = shop_tables["orders"]["ordered_at"].min()
    with pytest.raises(DataValidationError, match="training window is empty"):
        protocol_split(shop_tables["orders"], first)
