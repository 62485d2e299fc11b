"""CUPED equals the ANCOVA (OLS) treatment effect and reduces the variance by about r^2."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from experiments import evaluate
from experiments.errors import ExperimentError

from .conftest import stats_from_values, two_arm_spec

METRIC = {"name": "revenue", "type": "mean", "cuped": True}


def _data(seed: int, n: int = 2000, effect: float = 0.3, rho: float = 0.8):
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 2, 2 * n)
    y = 5 + rho * (x - 10) + np.sqrt(1 - rho**2) * 2 * rng.normal(size=2 * n)
    treat = np.repeat([0, 1], n)
    return x, y + effect * treat, treat


def test_cuped_effect_equals_ancova_coefficient():
    x, y, treat = _data(1)
    spec = two_arm_spec(
        METRIC, stats_from_values(y[treat == 0], x[treat == 0]), stats_from_values(y[treat == 1], x[treat == 1])
    )
    comp = evaluate(spec).comparison("revenue", "treatment")
    ols = sm.OLS(y, sm.add_constant(np.column_stack([treat, x - x[treat == 0].mean()]))).fit()
    assert comp.absolute_lift == pytest.approx(ols.params[1], rel=1e-9)


def test_cuped_reduces_variance_by_about_r_squared():
    x, y, treat = _data(2, n=20_000, rho=0.8)
    c, t = (stats_from_values(y[treat == k], x[treat == k]) for k in (0, 1))
    adjusted = evaluate(two_arm_spec(METRIC, c, t)).comparison("revenue", "treatment")
    plain = evaluate(two_arm_spec({"name": "revenue", "type": "mean"}, c, t)).comparison("revenue", "treatment")
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    assert adjusted.cuped_variance_reduction == pytest.approx(r2, abs=0.02)
    assert adjusted.standard_error**2 == pytest.approx(plain.standard_error**2 * (1 - adjusted.cuped_variance_reduction))


def test_cuped_is_unbiased_over_simulations():
    lifts = []
    for seed in range(40):
        x, y, treat = _data(100 + seed, n=500, effect=0.3)
        spec = two_arm_spec(
            METRIC, stats_from_values(y[treat == 0], x[treat == 0]), stats_from_values(y[treat == 1], x[treat == 1])
        )
        lifts.append(evaluate(spec).comparison("revenue", "treatment").absolute_lift)
    assert np.mean(lifts) == pytest.approx(0.3, abs=3 * np.std(lifts) / np.sqrt(len(lifts)))


def test_constant_covariate_reports_unadjusted_with_a_warning():
    rng = np.random.default_rng(3)
    c, t = rng.normal(10, 1, 100), rng.normal(10, 1, 100)
    spec = two_arm_spec(METRIC, stats_from_values(c, np.ones(100)), stats_from_values(t, np.ones(100)))
    result = evaluate(spec)
    assert result.comparison("revenue", "treatment").cuped_variance_reduction is None
    assert any("covariate has zero variance" in w for w in result.warnings)


def test_missing_covariate_statistics_is_an_error():
    spec = two_arm_spec(METRIC, stats_from_values([1.0, 2, 3]), stats_from_values([1.0, 2, 4]))
    with pytest.raises(ExperimentError, match="cov_sum"):
        evaluate(spec)
