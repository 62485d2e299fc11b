"""End-to-end evaluation: coverage of the intervals, corrections, and explicit answers on degenerate input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydantic import ValidationError

from experiments import ExperimentError, evaluate
from experiments.frequentist import (
    absolute_interval,
    critical_value,
    delta_relative,
    fieller_relative,
    welch_test,
)

from .conftest import stats_from_values, two_arm_spec

ALPHA = 0.05
MEAN = {"name": "revenue", "type": "mean"}


def test_simulated_ab_intervals_cover_the_true_effect_at_their_nominal_rate():
    rng = np.random.default_rng(3)
    sims, n, mu_c, effect, sd = 20_000, 200, 10.0, 1.5, 8.0
    means, variances = [], []
    for mu in (mu_c, mu_c + effect):  # exact sampling distributions of the mean and variance of normal units
        means.append(rng.normal(mu, sd / np.sqrt(n), sims))
        variances.append(sd**2 * rng.chisquare(n - 1, sims) / (n - 1) / n)
    diff, se, _, df, _ = welch_test(means[0], variances[0], n, means[1], variances[1], n)
    lower, upper = absolute_interval(diff, se, critical_value(ALPHA, df))
    coverage = np.mean((lower <= effect) & (effect <= upper))
    assert abs(coverage - (1 - ALPHA)) < 3.5 * np.sqrt(ALPHA * (1 - ALPHA) / sims)
    _, lo, hi = fieller_relative(means[0], variances[0], means[1], variances[1], critical_value(ALPHA, df))
    rel_coverage = np.mean((lo <= effect / mu_c) & (effect / mu_c <= hi))
    assert abs(rel_coverage - (1 - ALPHA)) < 0.01


def test_fieller_keeps_coverage_where_the_delta_method_loses_it():
    """Noisy control (cv of the control mean 0.25): why Fieller is the default."""
    rng = np.random.default_rng(4)
    sims, mu_c, mu_t, se_mean = 40_000, 1.0, 1.3, 0.25
    m_c, m_t = rng.normal(mu_c, se_mean, sims), rng.normal(mu_t, se_mean, sims)
    v = np.full(sims, se_mean**2)
    truth = mu_t / mu_c - 1
    _, f_lo, f_hi = fieller_relative(m_c, v, m_t, v, 1.96)
    _, d_lo, d_hi, _ = delta_relative(m_c, v, m_t, v, 1.96)
    fieller = np.mean((f_lo <= truth) & (truth <= f_hi))
    delta = np.mean((d_lo <= truth) & (truth <= d_hi))
    assert fieller >= 0.945
    assert delta < fieller - 0.02


def test_evaluate_gives_welch_lift_and_json_safe_result():
    rng = np.random.default_rng(5)
    c, t = rng.normal(10, 2, 500), rng.normal(11, 2, 500)
    result = evaluate(two_arm_spec(MEAN, stats_from_values(c), stats_from_values(t)))
    comp = result.comparison("revenue", "treatment")
    assert comp.absolute_lift == pytest.approx(t.mean() - c.mean())
    assert comp.relative_lift == pytest.approx(t.mean() / c.mean() - 1)
    assert comp.absolute_lower < comp.absolute_lift < comp.absolute_upper
    assert comp.outcome == "win" and result.decision.recommendation == "ship"
    assert json.loads(json.dumps(result.to_dict()))["decision"]["arm"] == "treatment"
    assert list(result.summary()["metric"]) == ["revenue"]


def test_lower_is_better_metric_wins_when_it_drops():
    rng = np.random.default_rng(6)
    c, t = rng.normal(10, 2, 800), rng.normal(9, 2, 800)
    spec = two_arm_spec({**MEAN, "direction": "lower"}, stats_from_values(c), stats_from_values(t))
    comp = evaluate(spec).comparison("revenue", "treatment")
    assert comp.outcome == "win" and comp.absolute_lift < 0
    assert comp.bayesian.chance_to_win > 0.99


def test_one_sided_interval_is_open_on_the_other_side():
    rng = np.random.default_rng(7)
    c, t = rng.normal(10, 2, 300), rng.normal(10.2, 2, 300)
    spec = two_arm_spec(MEAN, stats_from_values(c), stats_from_values(t), settings={"test": "one-sided"})
    comp = evaluate(spec).comparison("revenue", "treatment")
    two = evaluate(two_arm_spec(MEAN, stats_from_values(c), stats_from_values(t))).comparison("revenue", "treatment")
    assert comp.absolute_upper == math.inf and comp.relative_upper == math.inf
    assert comp.p_value == pytest.approx(two.p_value / 2)


def test_correction_across_metrics_and_arms_widens_intervals():
    rng = np.random.default_rng(8)
    arms = ["control", "b", "c"]
    metrics = [{"name": f"m{i}", "type": "mean"} for i in range(4)]
    spec = {
        "name": "multi",
        "variants": [{"name": a, "weight": 1 / 3, "control": a == "control"} for a in arms],
        "metrics": metrics,
        "data": {a: {m["name"]: stats_from_values(rng.normal(10, 3, 400)) for m in metrics} for a in arms},
    }
    result = evaluate(spec)
    ps = [c.p_value for c in result.comparisons]
    assert len(ps) == 8
    for c in result.comparisons:
        assert c.adjusted_p_value >= c.p_value
        assert c.adjusted_absolute_lower < c.absolute_lower and c.adjusted_absolute_upper > c.absolute_upper


def test_srm_makes_the_result_invalid():
    rng = np.random.default_rng(9)
    spec = two_arm_spec(
        MEAN, stats_from_values(rng.normal(10, 2, 500)), stats_from_values(rng.normal(12, 2, 500)),
        units={"control": 50_000, "treatment": 48_000},
    )
    result = evaluate(spec)
    assert not result.trustworthy
    assert result.decision.recommendation == "invalid"
    assert "sample ratio mismatch" in result.warnings[0]


# ---- degenerate input: an explicit error or a documented result with a warning -----------------------------


def test_zero_variance_in_both_arms_gives_nan_and_a_warning():
    spec = two_arm_spec(MEAN, stats_from_values([5.0] * 10), stats_from_values([5.0] * 10))
    result = evaluate(spec)
    comp = result.comparison("revenue", "treatment")
    assert math.isnan(comp.p_value) and math.isnan(comp.absolute_lower)
    assert any("zero variance" in w for w in result.warnings)
    assert result.decision.recommendation == "keep running"


def test_zero_conversions_in_control_warns_and_leaves_relative_lift_empty():
    metric = {"name": "conv", "type": "proportion"}
    result = evaluate(two_arm_spec(metric, {"n": 1000, "sum": 0}, {"n": 1000, "sum": 12}))
    comp = result.comparison("conv", "treatment")
    assert comp.relative_lift is None and comp.relative_lower is None
    assert math.isfinite(comp.p_value)
    assert any("no conversions" in w for w in result.warnings)
    assert any("relative lift is undefined" in w for w in result.warnings)


def test_negative_control_mean_has_no_relative_lift_but_an_absolute_one():
    rng = np.random.default_rng(10)
    spec = two_arm_spec(MEAN, stats_from_values(rng.normal(-5, 1, 200)), stats_from_values(rng.normal(-4, 1, 200)))
    comp = evaluate(spec).comparison("revenue", "treatment")
    assert comp.relative_lift is None and comp.bayesian is None
    assert comp.absolute_lift > 0 and comp.outcome == "win"


@pytest.mark.parametrize("metric", [MEAN, {"name": "revenue", "type": "proportion"}])
def test_an_arm_with_one_unit_is_answered_with_a_warning(metric):
    # issue 21: this raised; gbstats answers (zero variance) and so do we, with NaN statistics and a warning
    values = [1.0, 0.0, 1.0, 1.0] * 25
    result = evaluate(two_arm_spec(metric, stats_from_values(values), stats_from_values([1.0])))
    comp = result.comparison("revenue", "treatment")
    assert comp.n_treatment == 1 and comp.treatment_mean == 1.0 and comp.control_mean == 0.75
    assert comp.absolute_lift == pytest.approx(0.25) and comp.relative_lift == pytest.approx(1 / 3)
    assert math.isnan(comp.p_value) and math.isnan(comp.absolute_lower) and comp.outcome == "inconclusive"
    assert any("arm 'treatment' has 1 unit: a variance needs at least 2" in w for w in result.warnings)
    assert result.decision.recommendation == "invalid"  # 100 units against 1 is also a sample ratio mismatch
    assert result.to_dict()["comparisons"][0]["p_value"] is None  # JSON-safe


def test_an_arm_without_units_is_answered_with_a_warning():
    result = evaluate(two_arm_spec(MEAN, stats_from_values([1.0, 2.0, 3.0]), {"n": 0, "sum": 0.0, "sum_sq": 0.0}))
    comp = result.comparison("revenue", "treatment")
    assert math.isnan(comp.treatment_mean) and comp.relative_lift is None
    assert any("arm 'treatment' has 0 units" in w for w in result.warnings)


def test_a_variance_still_needs_two_units_where_one_is_asked_for():
    from experiments.metrics import MetricSpec, MetricStats, arm_estimate

    with pytest.raises(ExperimentError, match="at least 2 units"):  # e.g. a pilot for planning
        arm_estimate(MetricStats(n=1, sum=1.0, sum_sq=1.0), MetricSpec(**MEAN), "pilot")


def test_weights_not_summing_to_one_is_an_error():
    spec = two_arm_spec(MEAN, stats_from_values([1.0, 2]), stats_from_values([1.0, 2]))
    spec["variants"][1]["weight"] = 0.6
    with pytest.raises(ValidationError, match="sum to 1.1"):
        evaluate(spec)


def test_unknown_variant_is_an_error():
    spec = two_arm_spec(MEAN, stats_from_values([1.0, 2]), stats_from_values([1.0, 2]))
    spec["data"]["ghost"] = spec["data"]["treatment"]
    with pytest.raises(ValidationError, match="unknown variant"):
        evaluate(spec)


def test_conversions_above_n_is_an_error():
    with pytest.raises(ExperimentError, match="conversions"):
        evaluate(two_arm_spec({"name": "conv", "type": "proportion"}, {"n": 10, "sum": 11}, {"n": 10, "sum": 1}))


def test_unbounded_fieller_is_reported_with_a_warning():
    rng = np.random.default_rng(11)
    spec = two_arm_spec(MEAN, stats_from_values(rng.normal(0.05, 5, 100)), stats_from_values(rng.normal(1, 5, 100)))
    result = evaluate(spec)
    comp = result.comparison("revenue", "treatment")
    if comp.control_mean > 0:
        assert comp.relative_lower == -math.inf and any("unbounded" in w for w in result.warnings)
    else:
        assert comp.relative_lift is None


def test_spec_limits_are_explicit():
    spec = two_arm_spec(MEAN, stats_from_values([1.0, 2]), stats_from_values([1.0, 2]))
    spec["variants"] = [{"name": f"v{i}", "weight": 1 / 21, "control": i == 0} for i in range(21)]
    with pytest.raises(ValidationError, match="at most 20"):
        evaluate(spec)


def test_an_impossible_variance_never_says_ship():
    # issue 15: a sum of squares below sum**2 / n (a negative variance) was clipped to zero and said "ship"
    import json
    from pathlib import Path

    from pydantic import ValidationError

    from experiments import ExperimentSpec

    payload = json.loads((Path(__file__).resolve().parents[2] / "docs/examples/experiment_checkout.json").read_text())
    payload["data"]["one-page"]["revenue_per_user"]["sum_sq"] = 1.0
    with pytest.raises(ValidationError) as caught:
        ExperimentSpec.model_validate(payload)
    error = caught.value.errors()[0]
    assert error["loc"][:3] == ("data", "one-page", "revenue_per_user") and "negative variance" in error["msg"]


def test_a_treatment_without_conversions_or_variance_has_no_bayesian_summary_and_no_crash():
    # found while fuzzing issue 21's small arms: the relative lift's se is 0 here and the summary divided by it
    spec = two_arm_spec({"name": "conversion", "type": "proportion"}, {"n": 50, "sum": 32}, {"n": 2, "sum": 0})
    result = evaluate(spec)
    comp = result.comparison("conversion", "treatment")
    assert comp.bayesian is None and comp.relative_lift == -1.0
    assert any("standard error is 0" in w for w in result.warnings)
