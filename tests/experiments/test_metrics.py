"""Per-arm estimates: quantile order statistics and their intervals, the ratio delta method, bad statistics."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import ExperimentError, evaluate
from experiments.aggregate import _quantile_stats
from experiments.frequentist import absolute_interval, critical_value, welch_test
from experiments.metrics import (
    MOMENT_TOLERANCE,
    MetricSpec,
    MetricStats,
    arm_estimate,
    moment_tolerance,
    second_moments,
)

from .conftest import stats_from_values, two_arm_spec


@pytest.mark.parametrize("q", [0.1, 0.5, 0.9, 0.99])
def test_quantile_estimate_is_the_type_1_order_statistic(q):
    values = np.random.default_rng(1).lognormal(3, 1, 1001)
    stats = _quantile_stats(values, q)
    assert stats["estimate"] == np.quantile(values, q, method="inverted_cdf")
    assert stats["lower"] <= stats["estimate"] <= stats["upper"]


@pytest.mark.parametrize("q", [0.5, 0.9])
def test_quantile_difference_interval_covers_at_its_nominal_rate(q):
    """Exponential order values, treatment 10% larger: the true difference of quantiles is known."""
    rng = np.random.default_rng(int(100 * q))
    metric = MetricSpec(name="order_value", type="quantile", quantile=q)
    sims, n, scale = 1000, 500, 10.0
    truth = -np.log(1 - q) * scale * 0.1
    covered = 0
    for _ in range(sims):
        c, t = (arm_estimate(MetricStats(n=n, **_quantile_stats(rng.exponential(s, n), q)), metric, arm)
                for s, arm in ((scale, "c"), (1.1 * scale, "t")))
        diff, se, _, df, _ = welch_test(c.mean, c.var, n, t.mean, t.var, n, df_free=True)
        lower, upper = absolute_interval(diff, se, critical_value(0.05, df))
        covered += lower <= truth <= upper
    assert abs(covered / sims - 0.95) < 3.5 * np.sqrt(0.05 * 0.95 / sims)


def test_ratio_delta_method_variance_matches_the_spread_over_simulations():
    rng = np.random.default_rng(2)
    metric = MetricSpec(name="revenue_per_session", type="ratio")
    ratios, variances = [], []
    for _ in range(2000):
        sessions = rng.poisson(3, 300) + 1
        revenue = rng.gamma(2, 5, 300) * sessions * rng.uniform(0.5, 1.5, 300)
        est = arm_estimate(MetricStats(**stats_from_values(revenue, denominator=sessions)), metric, "arm")
        ratios.append(est.mean)
        variances.append(est.var)
    assert np.mean(variances) == pytest.approx(np.var(ratios), rel=0.1)


def test_bad_statistics_are_explained():
    quantile = MetricSpec(name="p90", type="quantile", quantile=0.9)
    with pytest.raises(ExperimentError, match="lower <= estimate <= upper"):
        arm_estimate(MetricStats(n=100, estimate=5, lower=6, upper=7), quantile, "control")
    with pytest.raises(ExperimentError, match="needs lower"):
        arm_estimate(MetricStats(n=100, estimate=5, upper=7), quantile, "control")
    ratio = MetricSpec(name="rps", type="ratio")
    with pytest.raises(ExperimentError, match="denominator sums to 0"):
        arm_estimate(MetricStats(n=10, sum=5, sum_sq=5, den_sum=0, den_sum_sq=0, cross_sum=0), ratio, "control")
    with pytest.raises(ExperimentError, match="den_sum"):
        arm_estimate(MetricStats(n=10, sum=5, sum_sq=5), ratio, "control")


def test_metric_spec_rules():
    with pytest.raises(ValueError, match="needs a non-inferiority margin"):
        MetricSpec(name="latency", type="mean", role="guardrail")
    with pytest.raises(ValueError, match="needs \"quantile\""):
        MetricSpec(name="p90", type="quantile")
    with pytest.raises(ValueError, match="CUPED is supported for mean, proportion and ratio"):
        MetricSpec(name="p90", type="quantile", quantile=0.9, cuped=True)
    assert MetricSpec(name="revenue_per_order", type="ratio", cuped=True).cuped  # issue 21: ratio CUPED


BINARY = MetricSpec(name="conversion", type="proportion")
MEAN = MetricSpec(name="revenue", type="mean")


@pytest.mark.parametrize(
    ("stats", "field"),
    [
        ({"n": 100, "sum": 50.0, "sum_sq": 1.0}, "sum_sq"),  # negative variance
        ({"n": 100, "sum": 50.0, "sum_sq": 100.0, "cov_sum": 10.0, "cov_sum_sq": 0.5}, "cov_sum_sq"),
        ({"n": 100, "sum": 50.0, "sum_sq": 100.0, "den_sum": 100.0, "den_sum_sq": 200.0, "cross_sum": 1e6},
         "cross_sum"),
        ({"n": 100, "sum": 50.0, "sum_sq": 100.0, "cov_sum": 50.0, "cov_sum_sq": 100.0, "cov_cross_sum": -1e4},
         "cov_cross_sum"),
        ({"n": -1, "sum": 0.0}, "n"),
        ({"n": 100, "sum": float("nan"), "sum_sq": 1.0}, "sum"),
        ({"n": 100, "sum": 1.0, "sum_sq": float("inf")}, "sum_sq"),
        ({"n": 100, "sum": 1e300, "sum_sq": 1e300}, "sum"),
        ({"n": 100, "estimate": float("nan"), "lower": 0.0, "upper": 1.0}, "estimate"),
        ({"n": 10**12, "sum": 1.0}, "n"),
    ],
)
def test_impossible_statistics_are_refused_naming_the_field(stats: dict, field: str):
    with pytest.raises(ValueError) as caught:
        MetricStats(**stats)
    assert field in str(caught.value)


def test_a_proportion_variance_above_p_one_minus_p_is_refused():
    stats = MetricStats(n=1000, sum=100, sum_sq=300.0)  # a variance above p(1-p): not 0/1 data
    with pytest.raises(ExperimentError, match=r"metric 'conversion', arm 'b': sum_sq=300 exceeds"):
        arm_estimate(stats, BINARY, "b")
    assert arm_estimate(MetricStats(n=1000, sum=100, sum_sq=100.0), BINARY, "b").mean == pytest.approx(0.1)


@pytest.mark.parametrize("values", [[0.1] * 50, [1e6, 1e6 + 1, 1e6 + 2] * 20, list(np.linspace(-5, 5, 101))])
def test_statistics_of_real_data_are_always_accepted(values):
    # the moment checks allow rounding: sums computed from real rows, however degenerate, pass
    covariate = np.asarray(values) * 2 + 1
    stats = MetricStats(**stats_from_values(values, covariate=covariate, denominator=np.abs(values) + 1))
    assert arm_estimate(stats, MEAN, "a").var >= 0


# Issue 21: impossible statistics were clipped to a zero variance in ``_centered``. The schema refuses them when
# a spec is built; the estimate refuses them too (statistics changed after validation, a proportion's implied
# sum_sq), naming metric, arm and field, and clips only rounding-size excursions, cross-products included.
ISSUE_ARM = {"n": 2, "sum": 1396.87, "sum_sq": 52377.98}  # centred sum of squares -923,245


def test_the_issue_example_is_refused_by_the_spec_naming_arm_metric_and_field():
    spec = two_arm_spec({"name": "revenue", "type": "mean"}, ISSUE_ARM, stats_from_values(np.linspace(0, 1, 50)))
    with pytest.raises(ValueError) as caught:
        evaluate(spec)
    text = str(caught.value)
    assert "data.control.revenue" in text and "sum_sq=52378 is below sum**2/n=975623" in text
    assert "sum of the squared per-unit values" in text


def test_the_issue_example_is_refused_by_the_estimate_not_clipped():
    # model_construct skips validation: before issue 21 this returned a zero variance (p = 0, "do not ship")
    stats = MetricStats.model_construct(**ISSUE_ARM)
    with pytest.raises(ExperimentError, match=r"metric 'revenue', arm 'control': sum_sq=52378 is below"):
        arm_estimate(stats, MEAN, "control")


def test_a_ratio_denominator_with_a_negative_variance_is_refused_naming_den_sum_sq():
    ratio = MetricSpec(name="revenue_per_order", type="ratio")
    stats = MetricStats.model_construct(n=100, sum=500.0, sum_sq=4000.0, den_sum=200.0, den_sum_sq=300.0,
                                        cross_sum=1100.0)  # den_sum**2 / n = 400 > 300
    with pytest.raises(ExperimentError, match=r"metric 'revenue_per_order', arm 'b': den_sum_sq=300 is below"):
        arm_estimate(stats, ratio, "b")


def test_a_cross_product_beyond_cauchy_schwarz_is_refused_naming_it():
    ratio = MetricSpec(name="revenue_per_order", type="ratio")
    stats = MetricStats.model_construct(n=100, sum=500.0, sum_sq=4000.0, den_sum=200.0, den_sum_sq=500.0,
                                        cross_sum=3000.0)  # |2000| > sqrt(1500 * 100)
    with pytest.raises(ExperimentError, match=r"arm 'b': cross_sum=3000 implies a correlation beyond"):
        arm_estimate(stats, ratio, "b")


def test_rounding_size_negatives_are_clipped_with_the_cross_product():
    """Constant denominators (one order each) whose den_sum_sq came out a rounding below den_sum**2/n: the
    denominator's variance is 0, and so is its covariance with the numerator (clipped to Cauchy-Schwarz),
    so the ratio's variance is the numerator's alone, as with exact sums."""
    ratio = MetricSpec(name="revenue_per_order", type="ratio")
    values = np.random.default_rng(4).gamma(2.0, 20.0, 1000)
    exact = stats_from_values(values, denominator=np.ones(1000))
    rounded = exact | {"den_sum_sq": exact["den_sum_sq"] * (1 - 5e-10), "cross_sum": exact["cross_sum"] * (1 + 5e-10)}
    got = arm_estimate(MetricStats(**rounded), ratio, "a")
    assert got.var == pytest.approx(arm_estimate(MetricStats(**exact), ratio, "a").var, rel=1e-6)
    assert got.var == pytest.approx(np.var(values, ddof=1) / 1000, rel=1e-6)


def test_a_proportion_covariate_cross_product_is_checked_although_sum_sq_is_omitted():
    # the schema cannot check cov_cross_sum without sum_sq; for a proportion sum_sq is implied (= sum)
    metric = {"name": "conversion", "type": "proportion", "cuped": True}
    arm = {"n": 1000, "sum": 100, "cov_sum": 500.0, "cov_sum_sq": 600.0, "cov_cross_sum": 300.0}  # 250 > 177
    ok = {"n": 1000, "sum": 100, "cov_sum": 500.0, "cov_sum_sq": 600.0, "cov_cross_sum": 60.0}
    with pytest.raises(ExperimentError, match=r"metric 'conversion', arm 'control': cov_cross_sum=300 implies"):
        evaluate(two_arm_spec(metric, arm, ok))


def test_the_rounding_tolerance_is_relative_and_grows_with_the_units_summed():
    assert moment_tolerance(0) == MOMENT_TOLERANCE
    assert moment_tolerance(10**9) == pytest.approx(MOMENT_TOLERANCE + 4e9 * 2.0**-53)
    s = 1.1e8  # 10**8 units of 1.1 summed one by one: a relative error of several 1e-9 is rounding
    values = {"sum": s, "sum_sq": s * s / 10**8 * (1 - 3e-9)}
    assert second_moments(values, 10**8)[1] is None
    assert "negative variance" in second_moments({"sum": 110.0, "sum_sq": 121.0 * (1 - 3e-9)}, 100)[1]
