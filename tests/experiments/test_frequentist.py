"""Welch's test agrees with scipy; the relative-lift intervals behave as their formulas say."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from experiments.frequentist import delta_relative, fieller_relative, log_relative, welch_test
from experiments.metrics import MetricSpec, MetricStats, arm_estimate

from .conftest import stats_from_values

samples = st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=40).filter(
    lambda xs: np.std(xs) > 1e-3
)


def _estimate(values, type_="mean"):
    return arm_estimate(MetricStats(**stats_from_values(values)), MetricSpec(name="m", type=type_), "arm")


@settings(max_examples=200, deadline=None)
@given(samples, samples, st.sampled_from(["two-sided", "greater", "less"]))
def test_welch_matches_scipy(control, treatment, alternative):
    c, t = _estimate(control), _estimate(treatment)
    _, _, stat, df, p = welch_test(c.mean, c.var, c.n, t.mean, t.var, t.n, alternative)
    ref = stats.ttest_ind(treatment, control, equal_var=False, alternative=alternative)
    assert stat == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
    assert p == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-9)
    assert df == pytest.approx(ref.df, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 500), st.integers(2, 500), st.data())
def test_proportion_is_welch_on_zero_one_data(n_c, n_t, data):
    k_c = data.draw(st.integers(1, n_c - 1))
    k_t = data.draw(st.integers(1, n_t - 1))
    control = np.r_[np.ones(k_c), np.zeros(n_c - k_c)]
    treatment = np.r_[np.ones(k_t), np.zeros(n_t - k_t)]
    metric = MetricSpec(name="m", type="proportion")
    c = arm_estimate(MetricStats(n=n_c, sum=k_c), metric, "control")
    t = arm_estimate(MetricStats(n=n_t, sum=k_t), metric, "treatment")
    _, _, _, _, p = welch_test(c.mean, c.var, c.n, t.mean, t.var, t.n)
    assert p == pytest.approx(stats.ttest_ind(treatment, control, equal_var=False).pvalue, rel=1e-9, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.5, 100), st.floats(1e-4, 10), st.floats(0.5, 100), st.floats(1e-4, 10), st.floats(1, 4))
@example(1.0000000000000002, 1.0, 1.0, 0.5, 1.0)  # a ~ 4e-16: the textbook roots lose the finite one to cancellation
def test_fieller_endpoints_solve_its_quadratic(m_c, v_c, m_t, v_t, crit):
    lift, lower, upper = fieller_relative(m_c, v_c, m_t, v_t, crit)
    if not np.isfinite(lower):
        assert m_c**2 <= crit**2 * v_c  # unbounded exactly when the control mean is not distinguishable from 0
        return
    for bound in (lower, upper):
        rho = bound + 1
        assert (m_t - rho * m_c) ** 2 == pytest.approx(crit**2 * (v_t + rho**2 * v_c), rel=1e-7)
    assert lower <= lift <= upper


def test_fieller_and_log_agree_with_delta_when_control_is_precise():
    args = (10.0, 1e-6, 11.0, 1e-6, 1.96)
    lift, d_lo, d_hi, _ = delta_relative(*args)
    for _, lo, hi in (fieller_relative(*args), log_relative(*args)):
        assert lo == pytest.approx(d_lo, abs=1e-6)
        assert hi == pytest.approx(d_hi, abs=1e-6)


def test_fieller_is_asymmetric_and_wider_above_when_control_is_noisy():
    lift, lo, hi = fieller_relative(1.0, 0.04, 1.2, 0.04, 1.96)
    _, d_lo, d_hi, _ = delta_relative(1.0, 0.04, 1.2, 0.04, 1.96)
    assert hi - lift > lift - lo  # skewed to the right like the ratio itself
    assert hi > d_hi


def test_fieller_unbounded_when_control_is_indistinguishable_from_zero():
    _, lo, hi = fieller_relative(0.1, 1.0, 1.0, 0.01, 1.96)
    assert lo == -np.inf and hi == np.inf
