"""Planning agrees with statsmodels' normal power and inverts itself."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import NormalIndPower

from experiments import PlanRequest, minimum_detectable_effect, plan_sample_size, power_at
from experiments.errors import ExperimentError
from experiments.metrics import MetricSpec, MetricStats
from experiments.power import unit_sd_from_stats


@settings(max_examples=100, deadline=None)
@given(st.floats(1, 1000), st.floats(0.1, 50), st.floats(0.005, 0.5), st.integers(100, 10**6),
       st.sampled_from(["two-sided", "one-sided"]))
def test_power_matches_statsmodels(baseline, sd, mde, total, test):
    req = PlanRequest(metric_type="mean", baseline=baseline, unit_sd=sd, mde=mde, test=test)
    ref = NormalIndPower().power(
        effect_size=baseline * mde / sd, nobs1=total / 2, alpha=0.05, ratio=1.0,
        alternative="two-sided" if test == "two-sided" else "larger",
    )
    assert power_at(req, total, mde) == pytest.approx(ref, rel=1e-9, abs=1e-12)


def test_sample_size_reaches_the_power_and_mde_inverts_it():
    plan = plan_sample_size(baseline=0.05, mde=0.1, power=0.8, daily_units=10_000)
    assert plan.power >= 0.8 and plan.days == math.ceil(plan.total_units / 10_000)
    assert 60_000 < plan.total_units < 65_000  # textbook: about 31k per arm for 5% -> 5.5%
    back = minimum_detectable_effect(plan.total_units, baseline=0.05, power=0.8)
    assert back.mde == pytest.approx(0.1, rel=1e-3)


def test_cuped_shrinks_and_sequential_grows_the_sample():
    base = dict(metric_type="mean", baseline=50, unit_sd=80, mde=0.05)
    plain = plan_sample_size(**base).total_units
    assert plan_sample_size(**base, cuped_r2=0.5).total_units == pytest.approx(plain / 2, rel=0.01)
    assert plan_sample_size(**base, sequential=True).total_units > plain
    assert plan_sample_size(**base, weights=[0.25, 0.25, 0.25, 0.25]).total_units > 2 * plain


def test_quantile_unit_sd_from_pilot_statistics():
    metric = MetricSpec(name="p50", type="quantile", quantile=0.5)
    sd = unit_sd_from_stats(MetricStats(n=400, estimate=10, lower=9.02, upper=10.98), metric)
    assert sd == pytest.approx(0.5 * 20, rel=1e-3)  # se = 0.98 / 1.96 = 0.5, times sqrt(400)


def test_bad_plans_are_explained():
    with pytest.raises(ExperimentError, match="leaves"):
        plan_sample_size(baseline=0.6, mde=1.0)
    with pytest.raises(ValueError, match="unit_sd"):
        PlanRequest(metric_type="mean", baseline=10, mde=0.1)
    with pytest.raises(ValueError, match="sum to"):
        PlanRequest(baseline=0.1, mde=0.1, weights=[0.5, 0.6])


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"metric_type": "mean", "baseline": math.nan, "unit_sd": 1.0, "mde": 0.05}, "baseline"),
        ({"metric_type": "mean", "baseline": math.inf, "unit_sd": 1.0, "mde": 0.05}, "baseline"),
        ({"metric_type": "mean", "baseline": 10.0, "unit_sd": math.nan, "mde": 0.05}, "unit_sd"),
        ({"metric_type": "mean", "baseline": 10.0, "unit_sd": 1e300, "mde": 0.05}, "unit_sd"),
        ({"baseline": math.nan, "mde": 0.05}, "baseline"),
        ({"baseline": 0.0, "mde": 0.05}, "baseline"),
        ({"baseline": 1.0, "mde": 0.05}, "baseline"),
        ({"baseline": 1.5, "mde": 0.05}, "baseline"),
        ({"baseline": 0.1, "mde": math.nan}, "mde"),
        ({"baseline": 0.1, "mde": 0.05, "weights": [0.5, math.nan]}, "weights"),
        ({"baseline": 0.1, "mde": 0.05, "daily_units": math.inf}, "daily_units"),
        ({"baseline": 0.1, "mde": 0.05, "sequential_tuning": 1e300}, "sequential_tuning"),
    ],
)
def test_impossible_plan_inputs_are_refused_naming_the_field(request_: dict, field: str):
    # issue 15: a NaN baseline once planned "4 units ... nan% power"
    with pytest.raises(ValueError) as caught:  # pydantic's ValidationError and ExperimentError both are
        plan_sample_size(**request_)
    assert field in str(caught.value)


@settings(max_examples=40, deadline=None)
@given(
    baseline=st.floats(0.001, 0.999),
    mde=st.floats(0.01, 0.5),
)
def test_every_plan_has_a_finite_power_at_least_the_target(baseline: float, mde: float):
    if baseline * (1 + mde) >= 1:
        return
    plan = plan_sample_size(baseline=baseline, mde=mde)
    assert math.isfinite(plan.power) and plan.power >= 0.8 - 1e-6 and plan.total_units >= 4


# Issue 21: for this case GrowthBook's power calculator says 0.207 (it inflates the standard error by c_seq / z
# instead of raising the critical value); shopml says 0.079. A Monte Carlo of the always-valid test at the planned
# sample decides (bench/experiments.py --only sequential_power_reference adds 20 and 1,000 looks: 0.141, 0.186).
@pytest.mark.parametrize(
    ("baseline", "mde", "total", "growthbook"),
    [(0.2, 0.02, 160_000, 0.2072446640491761), (0.05, 0.1, 142_242, 0.6635617072876001)],
)
def test_sequential_power_matches_a_simulation_of_the_always_valid_test(baseline, mde, total, growthbook):
    import numpy as np

    from experiments.frequentist import welch_test
    from experiments.sequential import sequential_p_value

    req = PlanRequest(baseline=baseline, mde=mde, sequential=True)
    predicted = power_at(req, total, mde)
    rng = np.random.default_rng(21)
    sims, per_arm = 6000, total // 2
    m_c = rng.binomial(per_arm, baseline, sims) / per_arm
    m_t = rng.binomial(per_arm, baseline * (1 + mde), sims) / per_arm
    _, _, z, _, _ = welch_test(m_c, m_c * (1 - m_c) / (per_arm - 1), per_arm, m_t, m_t * (1 - m_t) / (per_arm - 1),
                               per_arm)
    simulated = float(np.mean(sequential_p_value(z, 2 * per_arm, 0.05, 5000) < 0.05))
    mc_se = np.sqrt(predicted * (1 - predicted) / sims)
    assert abs(simulated - predicted) < 4 * mc_se
    assert abs(simulated - growthbook) > 20 * mc_se  # the calculator's figure is not the power of this test
