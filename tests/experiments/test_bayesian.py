"""The Gaussian posterior, chance to win and expected losses match their integrals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from experiments.bayesian import bayesian_summary, posterior


@settings(max_examples=50, deadline=None)
@given(st.floats(-1, 1), st.floats(0.01, 1), st.sampled_from([1, -1]))
def test_risks_are_normal_partial_expectations(lift, se, sign):
    r = bayesian_summary(lift, se, sign, 0.05, "relative", prior_sd=None)
    density = stats.norm(sign * lift, se).pdf
    lo, hi = sign * lift - 12 * se, sign * lift + 12 * se
    points = [0] if lo < 0 < hi else None
    assert r.risk_not_ship == pytest.approx(integrate.quad(lambda x: max(x, 0) * density(x), lo, hi, points=points)[0], abs=1e-7)
    assert r.risk_ship == pytest.approx(integrate.quad(lambda x: max(-x, 0) * density(x), lo, hi, points=points)[0], abs=1e-7)
    assert r.risk_not_ship - r.risk_ship == pytest.approx(sign * lift, abs=1e-9)


def test_flat_prior_chance_to_win_is_one_minus_one_sided_p():
    r = bayesian_summary(0.02, 0.01, 1, 0.05, "relative", prior_sd=None)
    assert r.chance_to_win == pytest.approx(1 - stats.norm.sf(2.0))
    assert r.credible_lower == pytest.approx(0.02 - 1.959963984540054 * 0.01)


def test_proper_prior_shrinks_towards_its_mean():
    mean, sd = posterior(0.2, 0.1, prior_mean=0.0, prior_sd=0.1)
    assert mean == pytest.approx(0.1) and sd == pytest.approx(0.1 / np.sqrt(2))
    flat = bayesian_summary(0.2, 0.1, 1, 0.05, "relative", prior_sd=None)
    shrunk = bayesian_summary(0.2, 0.1, 1, 0.05, "relative", prior_sd=0.1)
    assert shrunk.chance_to_win < flat.chance_to_win
