"""Interaction matrices: counts, spend and recency agree with a direct computation and ignore later data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.interactions import build_interactions


def test_matrices_match_a_direct_groupby(small_orders):
    cutoff = pd.Timestamp("2023-06-01")
    m = build_interactions(small_orders, cutoff, half_life_days=30)
    sales = small_orders.loc[(small_orders["ordered_at"] < cutoff) & (small_orders["quantity"] > 0) & small_orders["customer_id"].notna()]
    expected = sales.assign(spend=sales["quantity"] * sales["unit_price"]).groupby(["customer_id", "sku"]).agg(
        count=("sku", "size"), spend=("spend", "sum"))
    long = m.to_long().set_index(["customer_id", "sku"]).sort_index()
    assert len(long) == len(expected)
    np.testing.assert_allclose(long["count"], expected["count"])
    np.testing.assert_allclose(long["spend"], expected["spend"], rtol=1e-5)
    assert (long["recency"] <= long["count"] + 1e-6).all() and (long["recency"] > 0).all()
    assert list(m.customer_ids) == sorted(m.customer_ids) and list(m.skus) == sorted(m.skus)


def test_recency_halves_every_half_life():
    orders = pd.DataFrame({
        "order_id": ["1", "2"], "customer_id": ["a", "a"], "sku": ["X", "Y"], "quantity": [1, 1], "unit_price": [1.0, 1.0],
        "ordered_at": pd.to_datetime(["2024-01-01", "2023-12-02"]).astype("datetime64[us]"), "country": ["UK", "UK"],
    })
    m = build_interactions(orders, "2024-01-31", half_life_days=30)
    assert m.recency.toarray().ravel() == pytest.approx([0.5, 0.25])


def test_later_orders_do_not_change_the_matrix(small_orders):
    cutoff = pd.Timestamp("2023-06-01")
    base = build_interactions(small_orders, cutoff)
    trimmed = build_interactions(small_orders.loc[small_orders["ordered_at"] < cutoff], cutoff)
    assert (base.counts != trimmed.counts).nnz == 0 and (base.recency != trimmed.recency).nnz == 0
    assert list(base.customer_ids) == list(trimmed.customer_ids)
