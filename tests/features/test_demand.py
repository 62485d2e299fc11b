"""Demand panels and features: complete periods, a slow oracle, and no leakage across the cutoff."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.demand import DemandFeatureSpec, demand_features, demand_series


def _lines(dates, skus, qty, country="UK"):
    return pd.DataFrame({
        "order_id": [str(i) for i in range(len(dates))], "customer_id": None, "sku": skus, "quantity": qty,
        "unit_price": 1.0, "ordered_at": pd.to_datetime(dates).astype("datetime64[us]"), "country": country,
    })


def test_weekly_panel_is_complete_starts_monday_and_drops_the_partial_week():
    lines = _lines(["2024-01-02", "2024-01-03", "2024-01-17", "2024-01-30"], ["A", "A", "A", "A"], [1, 2, 5, -1])
    panel = demand_series(lines, freq="W", cutoff="2024-01-31")
    assert panel["period_start"].dt.day_of_week.eq(0).all()
    assert panel["period_start"].dt.strftime("%m-%d").tolist() == ["01-01", "01-08", "01-15", "01-22"]
    assert panel["quantity"].tolist() == [3.0, 0.0, 5.0, 0.0]  # the return is not demand; the week of 01-29 is partial


def test_regions_split_the_series():
    lines = pd.concat([_lines(["2024-01-01"], ["A"], [2], "UK"), _lines(["2024-01-02"], ["A"], [3], "FR")])
    panel = demand_series(lines, freq="D", cutoff="2024-01-03", by_region=True)
    assert panel.set_index(["region", "period_start"])["quantity"].to_dict() == {
        ("FR", pd.Timestamp("2024-01-02")): 3.0,
        ("UK", pd.Timestamp("2024-01-01")): 2.0,
        ("UK", pd.Timestamp("2024-01-02")): 0.0,
    }


def _oracle(panel: pd.DataFrame, spec: DemandFeatureSpec) -> pd.DataFrame:
    """Plain per-series pandas: shift and rolling, the obvious way."""
    out = []
    for _, series in panel.sort_values(["sku", "period_start"]).groupby("sku", sort=True):
        s = series["quantity"].reset_index(drop=True)
        frame = pd.DataFrame({f"qty_lag_{k}": s.shift(k) for k in spec.lags})
        past = s.shift(1)
        for w in spec.windows:
            frame[f"qty_rollmean_{w}"] = past.rolling(w, min_periods=1).mean()
            frame[f"qty_rollstd_{w}"] = past.rolling(w, min_periods=2).std(ddof=0)
        frame["qty_nonzero_share_13"] = (past > 0).astype(float).where(past.notna()).rolling(13, min_periods=1).mean()
        since = []
        last = None
        for i, q in enumerate(s):
            since.append(np.nan if last is None else i - last)
            if q > 0:
                last = i
        frame["periods_since_sale"] = since
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def test_fast_features_equal_the_slow_oracle(small_orders):
    spec = DemandFeatureSpec(lags=(1, 2, 7), windows=(3, 7, 28))
    panel = demand_series(small_orders, freq="D")
    fast = demand_features(panel, spec, freq="D")
    slow = _oracle(panel, spec)
    for column in slow.columns:
        np.testing.assert_allclose(fast[column].to_numpy(), slow[column].to_numpy(), rtol=1e-9, atol=1e-6, err_msg=column)
    assert set(spec.names("D")) <= set(fast.columns)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_no_leakage_across_the_cutoff(small_orders, freq):
    cutoff = pd.Timestamp("2023-06-05")
    base = demand_features(demand_series(small_orders, freq=freq, cutoff=cutoff), freq=freq)
    changed = small_orders.copy()
    later = changed["ordered_at"] >= cutoff
    changed.loc[later, "quantity"] = changed.loc[later, "quantity"].abs() * 7
    changed = pd.concat([changed, changed.loc[later].head(50)])
    again = demand_features(demand_series(changed, freq=freq, cutoff=cutoff), freq=freq)
    pd.testing.assert_frame_equal(base, again)
    assert base["period_start"].max() < cutoff
