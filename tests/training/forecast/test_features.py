"""Features at an origin: equal to features.demand (the tested oracle) and to slow loops; no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.demand import DemandFeatureSpec, demand_features
from training.forecast.data import DemandPanel
from training.forecast.features import ForecastFeatureSpec, series_state

SPEC = ForecastFeatureSpec(DemandFeatureSpec(lags=(1, 2, 5), windows=(3, 6)), scale_window=4)


def _panel(seed=1) -> DemandPanel:
    rng = np.random.default_rng(seed)
    values = rng.poisson(1.0, (5, 20)).astype(float) * rng.integers(0, 2, (5, 20))
    values[1, :6] = np.nan  # a series that starts later
    values[1, 6] = 3.0
    values[2] = 0.0
    values[2, 10] = 4.0
    periods = pd.date_range("2024-01-01", periods=20, freq="7D").astype("datetime64[us]")
    return DemandPanel(pd.DataFrame({"sku": list("ABCDE"), "region": "ALL"}), pd.DatetimeIndex(periods), values, "W")


def test_series_features_equal_features_demand_at_the_next_row():
    panel = _panel()
    state, scale = series_state(panel.values, SPEC)
    names = SPEC.series_names()
    oracle = demand_features(panel.to_long().drop(columns="region"), SPEC.demand, freq="W")
    oracle = oracle.set_index(["sku", "period_start"])
    checked = 0
    for i, sku in enumerate(panel.keys["sku"]):
        for o in range(panel.n_periods - 1):
            key = (sku, panel.periods[o + 1])
            if key not in oracle.index or np.isnan(panel.values[i, o]):
                continue
            row = oracle.loc[key]
            for name in [f"qty_lag_{k}" for k in SPEC.demand.lags] + [f"qty_rollmean_{w}" for w in SPEC.demand.windows] \
                    + [f"qty_rollstd_{w}" for w in SPEC.demand.windows]:
                ours = state[i, o, names.index(name)] * scale[i, o]
                np.testing.assert_allclose(ours, row[name], rtol=1e-9, atol=1e-9, equal_nan=True)
            for name in ("qty_nonzero_share_13", "periods_since_sale"):
                np.testing.assert_allclose(state[i, o, names.index(name)], row[name], equal_nan=True)
            checked += 1
    assert checked > 60


def test_series_level_features_match_slow_loops():
    panel = _panel()
    state, scale = series_state(panel.values, SPEC)
    names = SPEC.series_names()
    for i in range(panel.n_series):
        for o in range(panel.n_periods):
            hist = panel.values[i, : o + 1]
            obs = hist[~np.isnan(hist)]
            assert state[i, o, names.index("series_age")] == len(obs)
            if len(obs) == 0:
                continue
            recent = hist[-4:][~np.isnan(hist[-4:])]
            expect_scale = recent.mean() if recent.mean() > 0 else (obs.mean() if obs.mean() > 0 else 1.0)
            assert np.isclose(scale[i, o], expect_scale)
            window = hist[-13:][~np.isnan(hist[-13:])]
            assert np.isclose(state[i, o, names.index("qty_rollmax_13")] * scale[i, o], window.max())
            assert np.isclose(state[i, o, names.index("qty_expanding_mean")] * scale[i, o], obs.mean())


def test_features_at_an_origin_ignore_everything_after_it():
    panel = _panel()
    before, _ = series_state(panel.values, SPEC)
    changed = panel.values.copy()
    changed[:, 12:] = np.where(np.isnan(changed[:, 12:]), np.nan, 99.0)
    after, _ = series_state(changed, SPEC)
    np.testing.assert_array_equal(before[:, :12], after[:, :12])
    assert not np.allclose(np.nan_to_num(before[:, 15]), np.nan_to_num(after[:, 15]))


def test_feature_names_are_deterministic_and_unique():
    names = ForecastFeatureSpec().names("D")
    assert len(names) == len(set(names)) and names == ForecastFeatureSpec().names("D")
    assert "qty_lag_52" in names and "target_day_of_week" in names and "horizon" in names


def test_state_at_chosen_origins_equals_the_full_computation():
    panel = _panel()
    full, full_scale = series_state(panel.values, SPEC)
    some, some_scale = series_state(panel.values, SPEC, origins=[0, 7, 19])
    np.testing.assert_array_equal(some, full[:, [0, 7, 19]])
    np.testing.assert_array_equal(some_scale, full_scale[:, [0, 7, 19]])
