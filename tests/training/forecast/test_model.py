"""The global model: planted seasonality, quantile order, determinism, parameter checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.demand import DemandPanel
from shopml.errors import DataValidationError
from training.forecast import metrics as M
from training.forecast.baselines import seasonal_naive
from training.forecast.model import GlobalForecastModel, ModelParams

from .conftest import FAST, seasonal_panel


def test_recovers_planted_yearly_season_and_beats_seasonal_naive(planted, fitted):
    model, panel, products = fitted
    full, season = seasonal_panel(n_weeks=138)  # same seed: the 8 weeks after the training panel
    origin = 122
    history = DemandPanel(full.keys, full.periods[: origin + 1], full.values[:, : origin + 1], "W")
    model = GlobalForecastModel(FAST).fit(history, products)
    pred = model.predict(history, products)
    actual = full.values[:, origin + 1: origin + 9]
    naive = seasonal_naive(history.values, 8, 52)
    assert M.wape(actual, pred[:, :, 1]) < M.wape(actual, naive)
    # the season's shape over the horizon: mean forecast per week follows the planted multiplier
    profile = pred[:, :, 1].sum(axis=0)
    assert np.corrcoef(profile, season[origin + 1: origin + 9])[0, 1] > 0.8


def test_recovers_planted_weekday_pattern_daily():
    rng = np.random.default_rng(5)
    days = pd.date_range("2024-01-01", periods=140, freq="D")
    weekday = np.array([1.3, 1.2, 1.1, 1.0, 0.9, 0.5, 1.0])[days.day_of_week]
    level = rng.gamma(2.0, 8.0, 30)
    values = rng.poisson(level[:, None] * weekday[None, :]).astype(float)
    panel = DemandPanel(pd.DataFrame({"sku": [f"D{i}" for i in range(30)], "region": "ALL"}),
                        pd.DatetimeIndex(days[:133]).astype("datetime64[us]"), values[:, :133], "D")
    params = ModelParams(horizon=7, n_estimators=40, learning_rate=0.15, num_leaves=15, min_child_samples=20,
                         max_origins=60, calibration_origins=0, max_rows=20_000)
    pred = GlobalForecastModel(params).fit(panel).predict(panel)
    actual = values[:, 133:140]
    assert M.wape(actual, pred[:, :, 1]) < M.wape(actual, seasonal_naive(panel.values, 7, 7))
    assert np.corrcoef(pred[:, :, 1].sum(axis=0), weekday[133:140])[0, 1] > 0.8


def test_quantiles_are_ordered_non_negative_and_deterministic(fitted):
    model, panel, products = fitted
    pred = model.predict(panel, products)
    assert pred.shape == (panel.n_series, 8, 3) and np.isfinite(pred).all()
    assert (pred >= 0).all() and (np.diff(pred, axis=2) >= 0).all()
    again = GlobalForecastModel(FAST).fit(panel, products).predict(panel, products)
    np.testing.assert_array_equal(pred, again)
    assert set(model.fitted_.stretch) == {0.1, 0.9}


def test_row_order_of_the_panel_does_not_change_forecasts(fitted):
    model, panel, products = fitted
    perm = np.random.default_rng(0).permutation(panel.n_series)
    shuffled = DemandPanel(panel.keys.iloc[perm].reset_index(drop=True), panel.periods, panel.values[perm], "W")
    np.testing.assert_allclose(model.predict(shuffled, products), model.predict(panel, products)[perm])


def test_per_horizon_strategy_and_all_zero_series():
    panel, _ = seasonal_panel(n_series=12, n_weeks=60)
    panel.values[3] = 0.0
    params = ModelParams(strategy="per_horizon", horizon=3, n_estimators=15, calibration_origins=0, max_rows=5_000)
    model = GlobalForecastModel(params).fit(panel)
    assert sorted(model.fitted_.boosters) == sorted(f"q{q:g}_h{h}" for q in (0.1, 0.5, 0.9) for h in (1, 2, 3))
    pred = model.predict(panel)
    assert np.isfinite(pred).all() and pred[3].max() < 1.0


@pytest.mark.parametrize("bad", [{"horizon": 0}, {"quantiles": (0.1, 0.9)}, {"quantiles": (0.5, 0.1)},
                                 {"strategy": "recursive"}, {"max_origins": 0}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(DataValidationError):
        ModelParams(**bad)


def test_too_short_history_is_refused():
    panel, _ = seasonal_panel(n_series=3, n_weeks=2)
    with pytest.raises(DataValidationError, match="at least 3"):
        GlobalForecastModel(FAST).fit(panel)


def test_young_series_get_their_category_profile(fitted):
    from training.forecast.features import scaled_state
    from training.forecast.model import apply_fallback, category_profile, static_features

    model, panel, products = fitted
    values = panel.values.copy()
    values[0, :-2] = np.nan  # series 0 is two periods old
    young = DemandPanel(panel.keys, panel.periods, values, "W")
    static, _ = static_features(young.keys, products)
    state, _ = scaled_state(young.values, model.fitted_.spec)
    profile = category_profile(young, static, (0.1, 0.5, 0.9), min_history=3)
    pred = apply_fallback(np.ones((panel.n_series, 2, 3)), state[:, -1], static, profile, 3, model.fitted_.spec)
    np.testing.assert_allclose(pred[0, 0], profile[(static[0, 0], 1.0)])
    assert (pred[1:] == 1).all()
