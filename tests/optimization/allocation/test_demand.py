"""Demand curves: quantile parsing, the expected-shortage curve against Monte Carlo, forecast collapsing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimization.allocation import AllocationInputError, demand_from_forecast, quantile_levels, sum_quantiles
from optimization.allocation.demand import build_curves, quantile_knots


def test_quantile_levels_parse_and_sort():
    assert quantile_levels(["sku", "p90", "p10", "p50", "p975", "p05"]) == {
        "p05": 0.05, "p10": 0.1, "p50": 0.5, "p90": 0.9, "p975": 0.975,
    }
    assert quantile_levels(["p1", "pp50", "demand"]) == {}


def _curves(q, pieces=1):
    kx, kf = quantile_knots(np.array([0.1, 0.5, 0.9]), np.asarray(q, dtype=float))
    return build_curves(kx, kf, pieces)


def test_expected_shortage_matches_monte_carlo_at_breakpoints():
    curves = _curves([[2.0, 5.0, 11.0], [0.0, 0.5, 3.0]], pieces=2)
    draws = curves.sample(np.random.default_rng(0), 200_000)
    for pair in range(2):
        lo = curves.seg_lo[curves.seg_pair == pair]
        for x in lo:
            mc = np.maximum(draws[:, pair] - x, 0).mean()
            x_vec = np.zeros(2)
            x_vec[pair] = x
            assert curves.expected_shortage(x_vec)[pair] == pytest.approx(mc, abs=0.03)
    assert curves.mean == pytest.approx(draws.mean(axis=0), abs=0.03)


def test_quantiles_round_trip_and_curves_are_convex():
    q = np.array([[2.0, 5.0, 11.0], [1.0, 1.0, 4.0]])
    curves = _curves(q, pieces=3)
    assert curves.quantile(0.1) == pytest.approx(q[:, 0])
    assert curves.median() == pytest.approx(q[:, 1])
    for pair in range(2):
        frac = curves.seg_frac[curves.seg_pair == pair]
        assert np.all(np.diff(frac) <= 1e-12) and frac.min() >= 0 and frac.max() <= 1
    # The chord overstates the exact shortage between breakpoints, never understates it.
    x = np.array([3.5, 2.3])
    assert np.all(curves.expected_shortage(x) >= curves.exact_expected_shortage(x) - 1e-12)


def test_point_demand_curve_is_exact_at_whole_units():
    curves = build_curves(np.array([[4.0], [2.5]]), np.ones((2, 1)))
    for x in range(0, 6):
        assert curves.expected_shortage(np.array([x, x])) == pytest.approx([max(4 - x, 0), max(2.5 - x, 0)])


def test_demand_from_forecast_sums_periods():
    forecast = pd.DataFrame({
        "sku": ["A"] * 4 + ["A"] * 2,
        "region": ["FR", "FR", "DE", "DE", "ALL", "ALL"],
        "period_start": pd.to_datetime(["2024-01-01", "2024-01-08"] * 3),
        "horizon": [1, 2] * 3,
        "p10": [2.0, 2.0, 1.0, 1.0, 3.0, 3.0],
        "p50": [5.0, 5.0, 3.0, 4.0, 8.0, 9.0],
        "p90": [9.0, 8.0, 4.0, 6.0, 13.0, 14.0],
    })
    out = demand_from_forecast(forecast).set_index("region")
    assert list(out.index) == ["DE", "FR"]  # the all-regions rows are not counted twice
    assert out.loc["FR", "p50"] == pytest.approx(10.0)
    assert out.loc["FR", "p10"] == pytest.approx(10.0 - np.sqrt(9 + 9))
    assert out.loc["FR", "p90"] == pytest.approx(10.0 + np.sqrt(16 + 9))
    one = demand_from_forecast(forecast, horizons=[1]).set_index("region")
    assert one.loc["DE", ["p10", "p50", "p90"]].tolist() == [1.0, 3.0, 4.0]


def test_sum_of_independent_normals_is_exact():
    rng = np.random.default_rng(1)
    mu, sd = rng.uniform(5, 10, 6), rng.uniform(1, 3, 6)
    z = 1.2815515655446004
    frame = pd.DataFrame({"sku": "A", "p10": mu - z * sd, "p50": mu, "p90": mu + z * sd})
    out = sum_quantiles(frame, ["sku"]).iloc[0]
    assert out["p90"] == pytest.approx(mu.sum() + z * np.sqrt((sd**2).sum()))


def test_forecast_errors_name_the_problem():
    with pytest.raises(AllocationInputError, match="p50"):
        demand_from_forecast(pd.DataFrame({"sku": ["A"], "region": ["FR"], "p10": [1.0]}))
    with pytest.raises(AllocationInputError, match="no rows for horizons"):
        demand_from_forecast(pd.DataFrame({"sku": ["A"], "region": ["FR"], "horizon": [1], "p50": [1.0]}), horizons=[5])
