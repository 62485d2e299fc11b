"""Interactions and buyer attributes: a direct oracle, partitions equal all at once, and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from features.interactions import (
    BUYER_SET,
    INTERACTION_SET,
    InteractionMatrix,
    build_buyer_features,
    build_interaction_features,
    build_interactions,
)
from features.partitions import compute_by_partitions
from shopml.errors import DataValidationError

CUTOFF = pd.Timestamp("2023-06-01")
SETS = {"interactions": (INTERACTION_SET, build_interaction_features), "buyers": (BUYER_SET, build_buyer_features)}


def _matrices_at_once(orders: pd.DataFrame, cutoff: pd.Timestamp, half_life_days: float) -> dict[str, sp.csr_matrix]:
    """The matrices as ``build_interactions`` built them before the feature set existed: one scipy pass."""
    sales = orders.loc[(orders["ordered_at"] < cutoff) & orders["customer_id"].notna() & (orders["quantity"] > 0)]
    rows, _ = pd.factorize(sales["customer_id"], sort=True)
    cols, _ = pd.factorize(sales["sku"], sort=True)
    shape = (rows.max() + 1, cols.max() + 1)
    age = ((cutoff - sales["ordered_at"]) / np.timedelta64(1, "D")).to_numpy()
    out = {}
    for kind, values in (("counts", np.ones(len(sales))), ("spend", (sales["quantity"] * sales["unit_price"]).to_numpy()),
                         ("recency", np.power(0.5, age / half_life_days))):
        m = sp.csr_matrix((values.astype("float32"), (rows, cols)), shape=shape)
        m.sum_duplicates()
        out[kind] = m
    return out


def _assert_same_csr(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)  # bit for bit, not approximately


def _sorted(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def test_rows_and_matrices_match_a_direct_groupby(small_orders):
    table = build_interaction_features(small_orders, CUTOFF, half_life_days=30)
    m = build_interactions(small_orders, CUTOFF, half_life_days=30)
    sales = small_orders.loc[(small_orders["ordered_at"] < CUTOFF) & (small_orders["quantity"] > 0) & small_orders["customer_id"].notna()]
    expected = sales.assign(spend=sales["quantity"] * sales["unit_price"], age=(CUTOFF - sales["ordered_at"]).dt.days).groupby(
        ["customer_id", "sku"]).agg(order_lines=("sku", "size"), spend=("spend", "sum"), age=("age", "min"))
    long = table.set_index(["customer_id", "sku"])
    assert long.index.equals(expected.index)  # sorted by customer, then item
    np.testing.assert_array_equal(long["order_lines"], expected["order_lines"])
    np.testing.assert_allclose(long["spend"], expected["spend"], rtol=1e-5)
    np.testing.assert_array_equal(np.floor(long["days_since_last_purchase"]), expected["age"])
    assert (long["recency"] <= long["order_lines"] + 1e-6).all() and (long["recency"] > 0).all()
    assert list(m.customer_ids) == sorted(m.customer_ids) and list(m.skus) == sorted(m.skus)
    np.testing.assert_array_equal(m.counts.data, table["order_lines"])  # CSR order is the table's order
    np.testing.assert_array_equal(m.recency.data, table["recency"])


def test_recency_halves_every_half_life():
    orders = pd.DataFrame({
        "order_id": ["1", "2"], "customer_id": ["a", "a"], "sku": ["X", "Y"], "quantity": [1, 1], "unit_price": [1.0, 1.0],
        "ordered_at": pd.to_datetime(["2024-01-01", "2023-12-02"]).astype("datetime64[us]"), "country": ["UK", "UK"],
    })
    m = build_interactions(orders, "2024-01-31", half_life_days=30)
    assert m.recency.toarray().ravel() == pytest.approx([0.5, 0.25])


@pytest.mark.parametrize("n_partitions", [1, 3, 7])
@pytest.mark.parametrize("name", sorted(SETS))
def test_partitions_by_customer_equal_all_at_once(small_orders, name, n_partitions):
    feature_set, function = SETS[name]
    at_once = function(small_orders, CUTOFF)
    parts = compute_by_partitions(function, small_orders, feature_set.partition_key, n_partitions, cutoff=CUTOFF)
    assert len(at_once) > 100
    pd.testing.assert_frame_equal(_sorted(parts, feature_set.key_names), _sorted(at_once, feature_set.key_names))


@pytest.mark.parametrize("n_partitions", [1, 3, 7])
def test_matrix_from_partitions_is_bit_for_bit_the_one_built_at_once(small_orders, n_partitions):
    table = compute_by_partitions(build_interaction_features, small_orders, "customer_id", n_partitions,
                                  cutoff=CUTOFF, half_life_days=45.0)
    m = InteractionMatrix.from_table(table.sample(frac=1.0, random_state=n_partitions), CUTOFF, 45.0)
    oracle = _matrices_at_once(small_orders, CUTOFF, 45.0)
    for kind in ("counts", "spend", "recency"):
        _assert_same_csr(getattr(m, kind), oracle[kind])
    assert list(m.customer_ids) == sorted(small_orders.loc[small_orders["ordered_at"] < CUTOFF, "customer_id"].dropna().unique())


@pytest.mark.parametrize("name", sorted(SETS))
def test_rows_ignore_orders_at_or_after_the_cutoff(small_orders, name):
    feature_set, function = SETS[name]
    before = small_orders.loc[small_orders["ordered_at"] < CUTOFF]
    later = small_orders.loc[small_orders["ordered_at"] >= CUTOFF].copy()
    later["quantity"] = later["quantity"] * 3
    later["sku"] = later["sku"].iloc[::-1].to_numpy()
    later["country"] = "Elsewhere"
    at_cutoff = later.head(50).assign(ordered_at=CUTOFF, customer_id=before["customer_id"].dropna().iloc[0])
    for changed in (before, pd.concat([before, later, at_cutoff]), pd.concat([later, at_cutoff, before])):
        pd.testing.assert_frame_equal(function(changed, CUTOFF), function(small_orders, CUTOFF))


@pytest.mark.parametrize("name", sorted(SETS))
def test_output_matches_the_declaration(small_orders, name):
    feature_set, function = SETS[name]
    table = function(small_orders, CUTOFF)
    assert [c.name for c in feature_set.columns()] == list(table.columns)
    assert all(c.meaning for c in feature_set.columns())
    assert not table.duplicated(feature_set.key_names).any()
    empty = function(small_orders, small_orders["ordered_at"].min())
    assert empty.empty and list(empty.columns) == list(table.columns)
    feature_set.check(empty)


def test_returns_and_guests_are_not_interactions(small_orders):
    table = build_interaction_features(small_orders, CUTOFF)
    assert (table["order_lines"] >= 1).all() and table["customer_id"].notna().all()
    buyers = build_buyer_features(small_orders, CUTOFF)
    assert set(buyers["customer_id"]) == set(table["customer_id"])


def test_buyers_latest_country_orders_and_recency():
    at = pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-05", "2024-01-03", "2024-01-20", "2024-02-01"])
    orders = pd.DataFrame({"order_id": ["1", "2", "2", "3", "9", "4"], "customer_id": ["a", "a", "a", "b", "b", "a"],
                           "sku": "X", "quantity": [1, 1, 2, 1, -1, 1], "unit_price": 1.0,
                           "ordered_at": at.astype("datetime64[us]"),
                           "country": ["UK", "France", "France", "Spain", "Italy", "Germany"]})
    buyers = build_buyer_features(orders, "2024-01-31")  # b's return on the 20th is not a purchase
    assert buyers["last_order_country"].tolist() == ["France", "Spain"]
    assert buyers["orders_total"].tolist() == [2, 1]
    assert buyers["days_since_last_purchase"].tolist() == [26.0, 28.0]


def test_overlapping_partitions_are_refused(small_orders):
    table = build_interaction_features(small_orders, CUTOFF)
    with pytest.raises(DataValidationError, match="partitions overlap"):
        InteractionMatrix.from_table(pd.concat([table, table.head(3)]), CUTOFF)
    with pytest.raises(DataValidationError, match="pick a later cutoff"):
        InteractionMatrix.from_table(table.iloc[:0], CUTOFF)


def test_feature_build_writes_the_declared_tables(small_shop, tmp_path):
    from features.items import ITEM_SET, build_item_features
    from features.pipeline import build_features

    build = build_features(small_shop.tables(), tmp_path, cutoff=CUTOFF, horizon_days=30)
    products = small_shop.tables()["products"]
    for feature_set, expected in (
        (INTERACTION_SET, build_interaction_features(small_shop.orders, CUTOFF)),
        (BUYER_SET, build_buyer_features(small_shop.orders, CUTOFF)),
        (ITEM_SET, build_item_features(small_shop.orders, CUTOFF, products)),
    ):
        written = pd.read_parquet(build.directory / f"{feature_set.name}.parquet")
        pd.testing.assert_frame_equal(feature_set.check(written), expected, check_dtype=False)
        assert build.manifest["tables"][feature_set.name]["features"] == feature_set.feature_names
