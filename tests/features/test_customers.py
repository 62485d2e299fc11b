"""The customer set: hand-computed values, the declaration, partitions equal the whole, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.customers import CUSTOMER_FEATURES, CUSTOMER_SET, build_customer_features, label_data_end
from features.partitions import compute_by_partitions, split_by
from shopml.errors import DataValidationError

CUTOFF = pd.Timestamp("2023-04-01")


def _line(order_id, customer, sku, qty, price, when, country="UK"):
    return {"order_id": order_id, "customer_id": customer, "sku": sku, "quantity": qty, "unit_price": price,
            "ordered_at": pd.Timestamp(when), "country": country}


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows).astype({"ordered_at": "datetime64[us]"})


TINY = [
    _line("1", "a", "X", 2, 5.0, "2023-01-01"),
    _line("1", "a", "Y", 1, 10.0, "2023-01-01"),
    _line("2", "a", "X", 1, 5.0, "2023-01-11"),
    _line("C2", "a", "X", -1, 5.0, "2023-01-12"),
    _line("3", "a", "Z", 4, 1.0, "2023-03-22", "FR"),
    _line("4", "b", "X", 1, 5.0, "2023-03-31"),
    _line("5", "a", "X", 1, 5.0, "2023-04-15"),  # after the cutoff
    _line("6", "c", "X", 1, 5.0, "2023-04-20"),  # new customer after the cutoff
    _line("7", "b", "Y", 1, 10.0, "2023-07-05"),  # after the horizon
]


@pytest.fixture
def tiny_orders() -> pd.DataFrame:
    return _frame(TINY)


def test_hand_computed_features(tiny_orders):
    rows = build_customer_features(tiny_orders, CUTOFF)
    assert rows["customer_id"].tolist() == ["a", "b"]  # c has no history before the cutoff
    f = rows.set_index("customer_id")
    a = f.loc["a"]
    assert a["orders_total"] == 3
    assert a["spend_total"] == pytest.approx(20 + 5 + 4)
    assert a["days_since_last_order"] == pytest.approx(10)
    assert a["days_since_first_order"] == pytest.approx(90)
    assert a["gap_mean_days"] == pytest.approx((10 + 70) / 2)
    assert a["gap_std_days"] == pytest.approx(30)
    assert a["orders_30d"] == 1 and a["orders_90d"] == 3 and a["spend_30d"] == pytest.approx(4)
    assert a["return_rate"] == pytest.approx(1 / 8)
    assert a["returned_spend"] == pytest.approx(5)
    assert a["distinct_skus"] == 3 and a["basket_lines_mean"] == pytest.approx(4 / 3)
    assert a["country"] == "UK"
    assert np.isnan(f.loc["b", "gap_mean_days"]) and np.isnan(f.loc["a", "distinct_categories"])
    products = pd.DataFrame({"sku": ["X", "Y", "Z"], "category": ["k1", "k1", "k2"]})
    with_products = build_customer_features(tiny_orders, CUTOFF, products=products).set_index("customer_id")
    assert with_products.loc["a", "distinct_categories"] == 2 and with_products.loc["b", "distinct_categories"] == 1


def test_labels_cover_only_the_horizon_and_follow_the_protocol_cleaning(tiny_orders):
    rows = build_customer_features(tiny_orders, CUTOFF, horizon_days=90).set_index("customer_id")
    assert rows.index.tolist() == ["a", "b"]
    assert rows.loc["a", "churned"] == 0 and rows.loc["a", "orders_next"] == 1
    assert rows.loc["a", "spend_next"] == pytest.approx(5)
    assert rows.loc["b", "churned"] == 1 and rows.loc["b", "spend_next"] == 0
    # A return in the horizon is set aside by the cleaning (labels count sales), while the features, which
    # see every line, would count it as a return if it were before the cutoff.
    with_return = _frame([*TINY, _line("C5", "a", "X", -1, 5.0, "2023-04-16")])
    again = build_customer_features(with_return, CUTOFF, horizon_days=90).set_index("customer_id")
    pd.testing.assert_frame_equal(again, rows)


def test_label_window_past_the_data_is_refused_and_a_partition_takes_the_data_end(tiny_orders):
    with pytest.raises(DataValidationError, match="ends .* after the data"):
        build_customer_features(tiny_orders, pd.Timestamp("2023-06-01"), horizon_days=90)
    with pytest.raises(DataValidationError, match="horizon_days must be > 0"):
        build_customer_features(tiny_orders, CUTOFF, horizon_days=0)
    only_a = tiny_orders.loc[tiny_orders["customer_id"] == "a"]  # its own last sale (04-15) ends before the window
    with pytest.raises(DataValidationError, match="after the data"):
        build_customer_features(only_a, CUTOFF, horizon_days=90)
    whole = build_customer_features(tiny_orders, CUTOFF, horizon_days=90)
    part = build_customer_features(only_a, CUTOFF, horizon_days=90, data_end=label_data_end(tiny_orders))
    pd.testing.assert_frame_equal(part, whole.iloc[:1])


def test_no_purchase_before_the_cutoff_is_explained_or_gives_empty_declared_rows(tiny_orders):
    with pytest.raises(DataValidationError, match="no purchases before the cutoff 2022-01-01.*data starts 2023-01-01"):
        build_customer_features(tiny_orders, "2022-01-01")
    with pytest.raises(DataValidationError, match="the orders are empty"):
        build_customer_features(tiny_orders.iloc[:0], CUTOFF)
    new_customers = tiny_orders.loc[tiny_orders["customer_id"] == "c"]
    empty = build_customer_features(new_customers, CUTOFF, horizon_days=90, data_end=label_data_end(tiny_orders),
                                    allow_empty=True)
    assert empty.empty
    CUSTOMER_SET.check(empty, with_labels=True)
    both = pd.concat([empty, build_customer_features(tiny_orders, CUTOFF, horizon_days=90)], ignore_index=True)
    CUSTOMER_SET.check(both, with_labels=True)  # an empty partition does not change the concatenated dtypes


def test_the_declaration_matches_the_output(small_shop):
    orders = small_shop.orders
    rows = build_customer_features(orders, "2023-05-01", products=small_shop.products, horizon_days=90)
    declared = CUSTOMER_SET.columns(with_labels=True)
    assert list(rows.columns) == [c.name for c in declared]
    for column in declared:
        actual = rows[column.name].dtype
        if column.dtype == "str":
            assert pd.api.types.is_string_dtype(actual), column.name
        else:
            assert str(actual) == column.dtype, column.name
        assert column.meaning, column.name
    assert tuple(CUSTOMER_SET.feature_names) == CUSTOMER_FEATURES
    assert CUSTOMER_SET.key_names == [CUSTOMER_SET.partition_key] == ["customer_id"]
    assert CUSTOMER_SET.spark_ddl(with_labels=True).startswith("customer_id string, days_since_last_order double")
    assert rows["customer_id"].is_unique and rows["customer_id"].is_monotonic_increasing
    assert rows[CUSTOMER_SET.feature_names[:-1]].notna().any().all()  # every column holds values, none is all NaN
    without_labels = build_customer_features(orders, "2023-05-01")
    assert list(without_labels.columns) == [c.name for c in CUSTOMER_SET.columns()]


@pytest.mark.parametrize("n_partitions", [1, 3, 7])
@pytest.mark.parametrize(("cutoff", "horizon"), [("2023-05-01", 90), ("2023-07-15", 30), ("2023-08-29", None)])
def test_computing_by_partitions_equals_computing_at_once(small_shop, n_partitions, cutoff, horizon):
    orders = small_shop.orders
    options = {"cutoff": cutoff, "products": small_shop.products, "horizon_days": horizon,
               "data_end": label_data_end(orders)}
    whole = build_customer_features(orders, **options)
    parts = [p for p in split_by(orders, "customer_id", n_partitions) if len(p)]
    assert len(parts) == n_partitions
    by_parts = compute_by_partitions(build_customer_features, orders, "customer_id", n_partitions,
                                     allow_empty=True, **options)
    by_parts = by_parts.sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(by_parts, whole, check_exact=True)


def test_row_order_does_not_matter(small_orders):
    cutoff = small_orders["ordered_at"].quantile(0.6)
    shuffled = small_orders.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(build_customer_features(small_orders, cutoff, horizon_days=30),
                                  build_customer_features(shuffled, cutoff, horizon_days=30))


def _change_lines_from(orders: pd.DataFrame, start: pd.Timestamp, data) -> pd.DataFrame:
    """``orders`` with some lines at or after ``start`` edited (quantity, price, customer) and some deleted."""
    later = np.flatnonzero((orders["ordered_at"] >= start).to_numpy())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    changed = orders.copy()
    edit = rng.choice(later, size=min(len(later), data.draw(st.integers(1, 200))), replace=False)
    changed.loc[changed.index[edit], "quantity"] = rng.integers(-5, 50, len(edit))
    changed.loc[changed.index[edit], "unit_price"] = rng.uniform(0.1, 100, len(edit))
    changed.loc[changed.index[edit], "customer_id"] = rng.choice(orders["customer_id"].dropna().unique(), len(edit))
    drop = rng.choice(later, size=min(len(later), data.draw(st.integers(0, 300))), replace=False)
    return changed.drop(changed.index[drop])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_leakage_changing_or_deleting_later_orders_changes_no_feature(small_shop, data):
    cutoff = pd.Timestamp("2023-06-01")
    before = build_customer_features(small_shop.orders, cutoff, products=small_shop.products)
    changed = _change_lines_from(small_shop.orders, cutoff, data)
    pd.testing.assert_frame_equal(build_customer_features(changed, cutoff, products=small_shop.products), before)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_leakage_changing_orders_after_the_horizon_changes_no_feature_or_label(small_shop, data):
    cutoff, horizon = pd.Timestamp("2023-04-15"), data.draw(st.sampled_from([30, 60, 90]))
    options = {"products": small_shop.products, "horizon_days": horizon, "data_end": label_data_end(small_shop.orders)}
    before = build_customer_features(small_shop.orders, cutoff, **options)
    assert 0 < before["churned"].mean() < 1  # the labels vary, so a leak could show
    changed = _change_lines_from(small_shop.orders, cutoff + pd.Timedelta(days=horizon), data)
    pd.testing.assert_frame_equal(build_customer_features(changed, cutoff, **options), before)
