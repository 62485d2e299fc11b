"""Simulated A/A and A/B tests: peeking with the naive test inflates false positives, the sequential one does not.

Conversions are simulated per day as binomial counts (the exact sufficient statistics of Bernoulli units), so
thousands of experiments with daily looks take a fraction of a second; the library's vectorised functions
analyse them directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments.frequentist import absolute_interval, critical_value, welch_test
from experiments.sequential import sequential_critical_value, sequential_p_value

ALPHA = 0.05


def simulate_looks(rng, sims: int, days: int, daily_per_arm: int, p_control: float, p_treatment: float):
    """Cumulative (mean, variance of mean, n) per arm at each daily look, shape (sims, days)."""
    n = daily_per_arm * np.arange(1, days + 1)
    out = []
    for p in (p_control, p_treatment):
        conversions = np.cumsum(rng.binomial(daily_per_arm, p, size=(sims, days)), axis=1)
        mean = conversions / n
        out.append((mean, mean * (1 - mean) / (n - 1), n))
    return out


def peeking_rates(seed: int, sims: int = 4000, days: int = 20, daily: int = 500, p: float = 0.1):
    """False-positive rates of the fixed test (last day only), naive daily peeking and sequential peeking."""
    (m_c, v_c, n_c), (m_t, v_t, n_t) = simulate_looks(np.random.default_rng(seed), sims, days, daily, p, p)
    _, _, t, df, p_fixed = welch_test(m_c, v_c, n_c, m_t, v_t, n_t)
    p_seq = sequential_p_value(t, n_c + n_t, ALPHA)
    return {
        "fixed": float(np.mean(p_fixed[:, -1] < ALPHA)),
        "naive_peeking": float(np.mean((p_fixed < ALPHA).any(axis=1))),
        "sequential_peeking": float(np.mean((p_seq < ALPHA).any(axis=1))),
    }


def test_aa_fixed_within_error_naive_peeking_inflated_sequential_controlled():
    sims = 4000
    rates = peeking_rates(seed=1, sims=sims)
    sampling_error = np.sqrt(ALPHA * (1 - ALPHA) / sims)
    assert abs(rates["fixed"] - ALPHA) < 3.5 * sampling_error
    assert rates["naive_peeking"] > 2 * ALPHA  # 20 looks: roughly 20-25% false positives
    assert rates["sequential_peeking"] <= ALPHA


def test_sequential_interval_covers_at_every_look():
    sims, effect = 4000, 0.01
    (m_c, v_c, n_c), (m_t, v_t, n_t) = simulate_looks(np.random.default_rng(2), sims, 20, 500, 0.10, 0.10 + effect)
    diff, se = m_t - m_c, np.sqrt(v_c + v_t)
    lower, upper = absolute_interval(diff, se, sequential_critical_value(n_c + n_t, ALPHA))
    covered_always = ((lower <= effect) & (effect <= upper)).all(axis=1)
    assert covered_always.mean() >= 1 - ALPHA


def test_sequential_p_value_and_interval_agree():
    n, z = 20_000, np.linspace(0.5, 6, 50)
    crit = sequential_critical_value(n, ALPHA)
    p = sequential_p_value(z, n, ALPHA)
    assert np.all((p < ALPHA) == (np.abs(z) > crit))
    assert crit > critical_value(ALPHA, np.inf)  # the price of peeking: wider than the fixed interval


def test_one_sided_sequential_p_value_ignores_the_other_direction():
    assert sequential_p_value(-5.0, 10_000, ALPHA, alternative="greater") == 1.0
    assert sequential_p_value(5.0, 10_000, ALPHA, alternative="greater") < ALPHA


@pytest.mark.parametrize("n", [100, 10_000, 1_000_000])
def test_critical_value_is_finite_and_positive(n):
    c = sequential_critical_value(n, ALPHA)
    assert np.isfinite(c) and c > 1.96
