"""Baselines: hand-checked values and Croston/TSB against a per-series loop."""

from __future__ import annotations

import numpy as np

from training.forecast.baselines import croston, last_value, moving_average, seasonal_naive, tsb

HIST = np.array([[np.nan, 2.0, 0.0, 4.0, 0.0, 6.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])


def test_simple_baselines():
    assert last_value(HIST, 3).tolist() == [[6.0] * 3, [1.0] * 3]
    assert moving_average(HIST, 2, window=4).tolist() == [[2.5, 2.5], [1.0, 1.0]]
    seasonal = seasonal_naive(HIST, 3, season=3)
    assert seasonal.tolist() == [[4.0, 0.0, 6.0], [1.0, 1.0, 1.0]]
    assert seasonal_naive(HIST, 5, season=2)[0].tolist() == [0.0, 6.0, 0.0, 6.0, 0.0]


def _croston_loop(y, alpha):
    size = interval = None
    since = 1
    for v in y:
        if np.isnan(v):
            continue
        if v > 0:
            if size is None:
                size, interval = v, since
            else:
                size += alpha * (v - size)
                interval += alpha * (since - interval)
            since = 1
        else:
            since += 1
    return 0.0 if size is None else size / interval


def _tsb_loop(y, alpha, beta):
    size = prob = None
    for v in y:
        if np.isnan(v):
            continue
        if prob is None:
            prob = float(v > 0)
        else:
            prob += beta * (float(v > 0) - prob)
        if v > 0:
            size = v if size is None else size + alpha * (v - size)
    return 0.0 if size is None else size * prob


def test_croston_and_tsb_match_loops():
    rng = np.random.default_rng(3)
    hist = rng.poisson(0.7, (30, 25)).astype(float) * rng.integers(0, 2, (30, 25))
    hist[0, :10] = np.nan
    hist[1] = 0.0
    for i in range(30):
        assert np.isclose(croston(hist, 1, alpha=0.2)[i, 0], _croston_loop(hist[i], 0.2))
        assert np.isclose(tsb(hist, 1, alpha=0.2, beta=0.3)[i, 0], _tsb_loop(hist[i], 0.2, 0.3))
    assert croston(hist, 4)[1].tolist() == [0.0] * 4
