"""Protocol metrics against obvious oracles."""

from __future__ import annotations

import numpy as np
import pytest

from training.customers.metrics import expected_calibration_error, normalized_gini, top_decile_lift


def _slow_gini(actual, predicted):
    """Area between the Lorenz curve of ``actual`` ordered by ``predicted`` and the diagonal, point by point."""
    order = sorted(range(len(actual)), key=lambda i: (-predicted[i], i))
    total, running, area = sum(actual), 0.0, 0.0
    for rank, i in enumerate(order, start=1):
        running += actual[i]
        area += running / total - rank / len(actual)
    return area / len(actual)


def test_normalized_gini_matches_slow_oracle_and_bounds():
    rng = np.random.default_rng(3)
    actual = rng.gamma(0.5, 100, 200) * (rng.random(200) < 0.6)
    predicted = actual + rng.normal(0, 50, 200)
    expected = _slow_gini(list(actual), list(predicted)) / _slow_gini(list(actual), list(actual))
    assert normalized_gini(actual, predicted) == pytest.approx(expected, rel=1e-9)
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) < 0


def test_ece_is_small_when_calibrated_and_large_when_shifted():
    rng = np.random.default_rng(4)
    p = rng.random(50_000)
    y = (rng.random(50_000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.15


def test_top_decile_lift():
    y = np.array([1] * 10 + [0] * 90)
    assert top_decile_lift(y, np.arange(100)[::-1]) == pytest.approx(10.0)
