"""Customer features: hand-computed values, labels, and no leakage from after the cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.customers import CUSTOMER_FEATURES, customer_features, customer_labels
from shopml.errors import DataValidationError

CUTOFF = pd.Timestamp("2023-04-01")


def _line(order_id, customer, sku, qty, price, when, country="UK"):
    return {"order_id": order_id, "customer_id": customer, "sku": sku, "quantity": qty, "unit_price": price,
            "ordered_at": pd.Timestamp(when), "country": country}


@pytest.fixture
def tiny_orders() -> pd.DataFrame:
    rows = [
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
    return pd.DataFrame(rows).astype({"ordered_at": "datetime64[us]"})


def test_hand_computed_features(tiny_orders):
    f = customer_features(tiny_orders, CUTOFF)
    assert list(f.columns) == list(CUSTOMER_FEATURES)
    assert f.index.tolist() == ["a", "b"]  # c has no history before the cutoff
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
    assert np.isnan(f.loc["b", "gap_mean_days"])


def test_labels_cover_only_the_horizon(tiny_orders):
    labels = customer_labels(tiny_orders, CUTOFF, horizon_days=90)
    assert labels.index.tolist() == ["a", "b"]
    assert labels.loc["a", "churned"] == 0 and labels.loc["a", "spend_next"] == pytest.approx(5)
    assert labels.loc["b", "churned"] == 1 and labels.loc["b", "spend_next"] == 0


def test_labels_refuse_a_window_past_the_data(tiny_orders):
    with pytest.raises(DataValidationError, match="ends .* after the data"):
        customer_labels(tiny_orders, pd.Timestamp("2023-06-01"), horizon_days=90)


def test_cutoff_before_any_purchase_is_explained(tiny_orders):
    with pytest.raises(DataValidationError, match="no purchases before the cutoff"):
        customer_features(tiny_orders, "2022-01-01")


def test_row_order_does_not_matter(small_orders):
    cutoff = small_orders["ordered_at"].quantile(0.6)
    shuffled = small_orders.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(customer_features(small_orders, cutoff), customer_features(shuffled, cutoff))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_leakage_changing_or_deleting_later_orders_changes_nothing(small_orders, data):
    cutoff = pd.Timestamp("2023-06-01")
    before = customer_features(small_orders, cutoff)
    later = np.flatnonzero((small_orders["ordered_at"] >= cutoff).to_numpy())
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    changed = small_orders.copy()
    edit = rng.choice(later, size=min(len(later), data.draw(st.integers(1, 200))), replace=False)
    changed.loc[changed.index[edit], "quantity"] = rng.integers(-5, 50, len(edit))
    changed.loc[changed.index[edit], "unit_price"] = rng.uniform(0.1, 100, len(edit))
    changed.loc[changed.index[edit], "customer_id"] = rng.choice(small_orders["customer_id"].dropna().unique(), len(edit))
    drop = rng.choice(later, size=min(len(later), data.draw(st.integers(0, 300))), replace=False)
    changed = changed.drop(changed.index[drop])
    pd.testing.assert_frame_equal(customer_features(changed, cutoff), before)
