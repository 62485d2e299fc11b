"""Rolling origins see only the past; metrics follow their formulas."""

from __future__ import annotations

import numpy as np
import pytest

from training.forecast import metrics as M
from training.forecast.backtest import abc_classes, rolling_origin

from .conftest import seasonal_panel


def test_forecast_function_sees_only_history_up_to_each_origin():
    panel, _ = seasonal_panel(n_series=5, n_weeks=40)
    seen = []

    def spy(history):
        seen.append(history.n_periods)
        assert np.array_equal(history.values, panel.values[:, : history.n_periods], equal_nan=True)
        last = history.values[:, -1:]
        return np.repeat(np.stack([0.5 * last, last, 2 * last], axis=2), 4, axis=1)

    result = rolling_origin(panel, spy, [20, 30], horizon=4)
    assert seen == [21, 31]
    f = result.frame
    assert len(f) == 2 * 5 * 4 and set(f["horizon"]) == {1, 2, 3, 4}
    first = f.loc[(f["origin"] == panel.periods[20]) & (f["sku"] == "P000")]
    assert f.loc[first.index, "y"].tolist() == panel.values[0, 21:25].tolist()
    assert np.allclose(first["p50"], first["bl_last_value"])  # the spy is the last-value forecast
    m = result.metrics()
    assert np.isclose(m["overall"]["wape"], m["baselines"]["bl_last_value"]["wape"])
    assert set(m["by_horizon"]) == {1, 2, 3, 4} and set(m["by_abc"]) <= {"A", "B", "C"}
    with pytest.raises(ValueError, match="runs past"):
        rolling_origin(panel, spy, [38], horizon=4)


def test_metric_formulas():
    y = np.array([0.0, 2.0, 4.0])
    assert M.wape(y, np.array([1.0, 2.0, 2.0])) == pytest.approx(3 / 6)
    pred = np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    assert M.coverage(y, pred[:, 0], pred[:, 2]) == pytest.approx(2 / 3)
    # pinball at q=0.5 is half the absolute error
    assert M.pinball(y, pred[:, [1]], (0.5,)) == pytest.approx(0.5 * M.wape(y, pred[:, 1]))
    scale = M.naive_scale(np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]]))
    assert scale[0] == pytest.approx(1.5) and np.isnan(scale[1])


def test_abc_classes_split_volume_80_15_5():
    hist = np.array([[80.0], [10.0], [5.0], [3.0], [2.0]])
    assert abc_classes(hist).tolist() == ["A", "B", "B", "C", "C"]
