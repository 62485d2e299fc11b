"""The history matrix: gaps, returns, all-zero series and truncation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.errors import DataValidationError
from training.forecast.data import ALL_REGIONS, DemandPanel


def _long(rows):
    return pd.DataFrame(rows, columns=["sku", "period_start", "quantity"]).assign(
        period_start=lambda f: pd.to_datetime(f["period_start"]))


def test_gaps_inside_a_series_become_zero_and_nan_before_it_starts():
    long = _long([("A", "2024-01-01", 3), ("A", "2024-01-15", 2), ("B", "2024-01-08", 5)])
    panel = DemandPanel.from_long(long, "W")
    assert list(panel.keys["region"]) == [ALL_REGIONS, ALL_REGIONS]
    np.testing.assert_array_equal(panel.values[0], [3, 0, 2])
    assert np.isnan(panel.values[1, 0]) and list(panel.values[1, 1:]) == [5, 0]


def test_negative_quantities_are_rejected_with_the_row():
    long = _long([("A", "2024-01-01", 3), ("A", "2024-01-08", -1)])
    with pytest.raises(DataValidationError, match="negative or missing quantity.*sku A"):
        DemandPanel.from_long(long, "W")


def test_all_zero_series_is_kept_and_periods_must_align():
    panel = DemandPanel.from_long(_long([("Z", "2024-01-01", 0), ("Z", "2024-01-08", 0)]), "W")
    assert panel.values.tolist() == [[0.0, 0.0]]
    with pytest.raises(DataValidationError, match="different weekdays"):
        DemandPanel.from_long(_long([("A", "2024-01-01", 1), ("A", "2024-01-09", 1)]), "W")


def test_from_orders_ignores_returns_and_adds_region_totals():
    orders = pd.DataFrame({
        "sku": ["A", "A", "A", "A"], "quantity": [4, -2, 1, 3], "country": ["UK", "UK", "FR", "UK"],
        "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-10"]),
    })
    panel = DemandPanel.from_orders(orders, freq="W", by_region=True, cutoff="2024-01-15")
    table = {(s, r): list(v) for s, r, v in zip(panel.keys["sku"], panel.keys["region"], panel.values, strict=True)}
    assert table[("A", ALL_REGIONS)] == [5.0, 3.0]
    assert table[("A", "UK")] == [4.0, 3.0]
    assert table[("A", "FR")] == [1.0, 0.0]


def test_truncate_drops_series_that_had_not_started():
    panel = DemandPanel.from_long(_long([("A", "2024-01-01", 1), ("B", "2024-01-15", 2), ("A", "2024-01-15", 1)]), "W")
    early = panel.truncate(2)
    assert list(early.keys["sku"]) == ["A"] and early.n_periods == 2
