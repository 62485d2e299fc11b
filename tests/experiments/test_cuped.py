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


# Issue 21: the relative lift divides the adjusted difference by the unadjusted control mean (gbstats, Deng et
# al. 2013), not by the adjusted one. Reference case: 400 units per arm (seed 21: x ~ Gamma(2, 30),
# y = 20 + 0.8 x + N(0, 25^2), +6 in treatment); gbstats 0.8.0's TwoSidedTTest on RegressionAdjustedStatistic
# with theta set to shopml's within-arm theta 0.7829249974469447 after construction (gbstats pools theta across
# arms) gives the figures below.
REF_CONTROL = {"n": 400, "sum": 28861.089695712188, "sum_sq": 2752036.222344849, "cov_sum": 24464.63625655781,
               "cov_sum_sq": 2207768.7105991654, "cov_cross_sum": 2313375.909026867}
REF_TREATMENT = {"n": 400, "sum": 29741.970225923542, "sum_sq": 2855006.383069683, "cov_sum": 22841.102890246606,
                 "cov_sum_sq": 1922653.328564909, "cov_cross_sum": 2191324.6107385755}
GBSTATS_CUPED = {"absolute": 5.379963467213955, "relative": 0.07456355285175861,
                 "relative_ci_delta": (0.025771822685856947, 0.12335528301766027)}


def test_cuped_relative_lift_divides_by_the_unadjusted_control_mean_as_gbstats():
    spec = two_arm_spec(METRIC, REF_CONTROL, REF_TREATMENT, settings={"relative_interval": "delta", "correction": "none"})
    comp = evaluate(spec).comparison("revenue", "treatment")
    assert comp.absolute_lift == pytest.approx(GBSTATS_CUPED["absolute"], rel=1e-9)
    assert comp.relative_lift == pytest.approx(GBSTATS_CUPED["relative"], rel=1e-9)  # before: 0.0762 (+2.2 %)
    assert comp.control_mean == pytest.approx(REF_CONTROL["sum"] / 400, rel=1e-12)  # the observed control mean
    assert comp.treatment_mean - comp.control_mean == pytest.approx(comp.absolute_lift, rel=1e-9)
    # gbstats ignores the covariance of numerator and denominator (shopml's se is checked against OLS below);
    # at a 7 % lift the two half-widths differ by 2.3 %
    lower, upper = GBSTATS_CUPED["relative_ci_delta"]
    assert (comp.relative_upper - comp.relative_lower) == pytest.approx(upper - lower, rel=0.03)


def test_cuped_relative_lift_and_its_se_match_the_ols_oracle():
    """OLS of y on [1, treatment, x - mean(x_control)]: the intercept is the control mean, the slope of the
    treatment its adjusted difference; the relative lift is their ratio, its se the delta method on HC0."""
    x, y, treat = _data(7, n=3000, effect=0.4)
    spec = two_arm_spec(
        METRIC, stats_from_values(y[treat == 0], x[treat == 0]), stats_from_values(y[treat == 1], x[treat == 1]),
        settings={"relative_interval": "delta", "correction": "none"},
    )
    comp = evaluate(spec).comparison("revenue", "treatment")
    ols = sm.OLS(y, sm.add_constant(np.column_stack([treat, x - x[treat == 0].mean()]))).fit(cov_type="HC0")
    b0, b1 = ols.params[:2]
    assert comp.relative_lift == pytest.approx(b1 / b0, rel=1e-9)
    gradient = np.array([-b1 / b0**2, 1 / b0])
    se_oracle = float(np.sqrt(gradient @ ols.cov_params()[:2, :2] @ gradient))
    se = (comp.relative_upper - comp.relative_lower) / 2 / 1.96
    assert se == pytest.approx(se_oracle, rel=0.01)


def _orders(seed: int, n: int, effect: float = 0.0):
    """Customers' orders and revenue in the test, and their revenue before it (the covariate)."""
    rng = np.random.default_rng(seed)
    taste = rng.gamma(4.0, 10.0, 2 * n)  # a customer's typical order value
    pre_revenue = taste * (rng.poisson(2.0, 2 * n) + 1)
    treat = np.repeat([0, 1], n)
    orders = rng.poisson(1.5, 2 * n) + 1
    revenue = orders * taste * (1 + effect * treat) * rng.lognormal(0, 0.3, 2 * n)
    return revenue, orders.astype(float), pre_revenue, treat


RATIO = {"name": "revenue_per_order", "type": "ratio", "cuped": True}


def _ratio_spec(revenue, orders, pre, treat, **settings):
    arms = [stats_from_values(revenue[treat == k], pre[treat == k], orders[treat == k]) for k in (0, 1)]
    return two_arm_spec(RATIO, *arms, settings={"correction": "none", **settings})


def test_ratio_cuped_matches_the_regression_oracle_on_linearised_units():
    """Oracle (Deng, Knoblich & Lu 2018): per unit, w_i = R_arm + (N_i - R_arm D_i) / mean(D_arm); OLS of w on
    [1, treatment, covariate] gives the CUPED ratio difference as the treatment coefficient and, with HC0,
    its standard error."""
    revenue, orders, pre, treat = _orders(11, 2500, effect=0.05)
    comp = evaluate(_ratio_spec(revenue, orders, pre, treat)).comparison("revenue_per_order", "treatment")
    w = np.empty_like(revenue)
    for k in (0, 1):
        arm = treat == k
        ratio, den = revenue[arm].sum() / orders[arm].sum(), orders[arm].mean()
        w[arm] = ratio + (revenue[arm] - ratio * orders[arm]) / den
    ols = sm.OLS(w, sm.add_constant(np.column_stack([treat, pre]))).fit(cov_type="HC0")
    assert comp.absolute_lift == pytest.approx(ols.params[1], rel=1e-9)
    assert comp.standard_error == pytest.approx(ols.bse[1], rel=0.01)
    plain = evaluate(_ratio_spec(revenue, orders, pre, treat) | {"metrics": [RATIO | {"cuped": False}]})
    assert comp.cuped_variance_reduction > 0.1  # the covariate helps
    assert comp.standard_error < plain.comparison("revenue_per_order", "treatment").standard_error


def test_ratio_cuped_with_unit_denominators_is_mean_cuped():
    x, y, treat = _data(5, n=500)
    ones = np.ones_like(y)
    arms = [stats_from_values(y[treat == k], x[treat == k], ones[treat == k]) for k in (0, 1)]
    ratio = evaluate(two_arm_spec(RATIO, *arms)).comparison("revenue_per_order", "treatment")
    mean = evaluate(two_arm_spec(METRIC | {"name": "revenue_per_order"}, *arms)).comparison("revenue_per_order", "treatment")
    for field in ("absolute_lift", "standard_error", "relative_lift", "relative_lower", "relative_upper", "p_value"):
        assert getattr(ratio, field) == pytest.approx(getattr(mean, field), rel=1e-9), field


def test_ratio_cuped_is_unbiased_and_covers_over_simulations():
    lifts, covered = [], 0
    for seed in range(150):
        revenue, orders, pre, treat = _orders(1000 + seed, 400, effect=0.0)
        comp = evaluate(_ratio_spec(revenue, orders, pre, treat)).comparison("revenue_per_order", "treatment")
        lifts.append(comp.absolute_lift)
        covered += comp.absolute_lower <= 0 <= comp.absolute_upper
    assert abs(np.mean(lifts)) < 3 * np.std(lifts) / np.sqrt(len(lifts))
    assert covered / 150 > 0.9


def test_ratio_cuped_from_raw_rows_needs_and_aggregates_the_denominator_covariate_product():
    import pandas as pd

    revenue, orders, pre, treat = _orders(3, 300)
    rows = pd.DataFrame({"unit_id": np.arange(600), "variant": np.where(treat == 1, "treatment", "control"),
                         "revenue": revenue, "orders": orders, "pre_revenue": pre})
    metric = RATIO | {"column": "revenue", "denominator_column": "orders", "covariate_column": "pre_revenue"}
    spec = _ratio_spec(revenue, orders, pre, treat) | {"metrics": [metric]}
    from_rows = evaluate({k: v for k, v in spec.items() if k != "data"}, rows).comparison("revenue_per_order", "treatment")
    from_stats = evaluate(spec).comparison("revenue_per_order", "treatment")
    assert from_rows.absolute_lift == pytest.approx(from_stats.absolute_lift, rel=1e-9)
    del spec["data"]["control"]["revenue_per_order"]["den_cov_cross_sum"]
    with pytest.raises(ExperimentError, match="den_cov_cross_sum"):
        evaluate(spec)
