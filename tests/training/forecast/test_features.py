"""The model's input: the demand feature table's numbers (features.demand) scaled; slow loops; no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.demand import DemandFeatureSpec, DemandPanel, demand_feature_rows
from training.forecast.features import design_matrix, feature_names, scaled_state
from training.forecast.predict import Forecaster

SPEC = DemandFeatureSpec(lags=(1, 2, 5), windows=(3, 6), scale_window=4)


def _panel(seed=1) -> DemandPanel:
    rng = np.random.default_rng(seed)
    values = rng.poisson(1.0, (5, 20)).astype(float) * rng.integers(0, 2, (5, 20))
    values[1, :6] = np.nan  # a series that starts later
    values[1, 6] = 3.0
    values[2] = 0.0
    values[2, 10] = 4.0
    periods = pd.date_range("2024-01-01", periods=20, freq="7D").astype("datetime64[us]")
    return DemandPanel(pd.DataFrame({"sku": list("ABCDE"), "region": "ALL"}), pd.DatetimeIndex(periods), values, "W")


def test_model_state_is_the_feature_table_at_the_next_period_divided_by_its_scale():
    panel = _panel()
    state, scale = scaled_state(panel.values, SPEC)
    table = demand_feature_rows(panel, SPEC).set_index(["sku", "period_start"])
    names, units = SPEC.series_names(), set(SPEC.unit_names())
    checked = 0
    for i, sku in enumerate(panel.keys["sku"]):
        for o in np.flatnonzero(~np.isnan(panel.values[i])):
            row = table.loc[(sku, panel.periods[o] + panel.step)]
            assert row["qty_scale"] == scale[i, o]
            expected = [row[n] / row["qty_scale"] if n in units else row[n] for n in names]
            np.testing.assert_array_equal(state[i, o], np.array(expected, dtype=float))
            checked += 1
    assert checked == len(table) == int((~np.isnan(panel.values)).sum()) > 80


def test_series_level_features_match_slow_loops():
    panel = _panel()
    state, scale = scaled_state(panel.values, SPEC)
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
    before, _ = scaled_state(panel.values, SPEC)
    changed = panel.values.copy()
    changed[:, 12:] = np.where(np.isnan(changed[:, 12:]), np.nan, 99.0)
    after, _ = scaled_state(changed, SPEC)
    np.testing.assert_array_equal(before[:, :12], after[:, :12])
    assert not np.allclose(np.nan_to_num(before[:, 15]), np.nan_to_num(after[:, 15]))


def test_feature_names_are_deterministic_unique_and_match_the_design_matrix():
    names = feature_names(DemandFeatureSpec(), "D")
    assert len(names) == len(set(names)) and names == feature_names(DemandFeatureSpec(), "D")
    assert "qty_lag_52" in names and "target_day_of_week" in names and "horizon" in names
    panel = _panel()
    state, _ = scaled_state(panel.values, SPEC, origins=[panel.n_periods - 1])
    X = design_matrix(state[:, 0], np.ones(panel.n_series), np.repeat(panel.periods[-1:], panel.n_series),
                      np.zeros((panel.n_series, 3)), SPEC, "W")
    assert X.shape == (panel.n_series, len(feature_names(SPEC, "W")))


def test_state_at_chosen_origins_equals_the_full_computation():
    panel = _panel()
    full, full_scale = scaled_state(panel.values, SPEC)
    some, some_scale = scaled_state(panel.values, SPEC, origins=[0, 7, 19])
    np.testing.assert_array_equal(some, full[:, [0, 7, 19]])
    np.testing.assert_array_equal(some_scale, full_scale[:, [0, 7, 19]])


def test_the_forecaster_predicts_from_the_last_row_of_the_feature_table(fitted):
    model, panel, products = fitted
    forecaster = Forecaster.from_model(model, panel, products)
    spec = model.fitted_.spec
    last = demand_feature_rows(panel, spec, products).groupby(["sku", "region"], sort=True).tail(1)
    assert (last["period_start"] == panel.periods[-1] + panel.step).all()
    units = set(spec.unit_names())
    expected = np.stack([last[n] / last["qty_scale"] if n in units else last[n] for n in spec.series_names()], axis=1)
    np.testing.assert_array_equal(forecaster.state, expected.astype("float32"))
    np.testing.assert_array_equal(forecaster.scale, last["qty_scale"].to_numpy())
    np.testing.assert_array_equal(forecaster.static[:, 1], last["log_price"].to_numpy())
    np.testing.assert_array_equal(forecaster.static[:, 2], last["is_total"].to_numpy().astype(float))
