"""Always-valid inference: asymptotic confidence sequences for the lift.

A confidence sequence covers the true effect at *every* look simultaneously with probability ``1 - alpha``,
so a team may look every day and stop whenever the interval excludes zero.

Formula (Waudby-Smith, Arnold, Wu, Howard, Ramdas & Ramdas 2021/2024, "Time-uniform central limit theory and
asymptotic confidence sequences", Thm 2.2; the normal-mixture boundary of Howard et al. 2021, eq. 14), with
``N`` the units in both arms and ``sigma^2 = N (v_c + v_t)`` the per-unit variance of the difference::

    half-width = sigma * sqrt( 2 (N rho^2 + 1) / (N^2 rho^2) * log( sqrt(N rho^2 + 1) / alpha ) )

``rho`` makes the sequence tightest at ``N = tuning`` units:
``rho^2 = (-2 log alpha + log(-2 log alpha + 1)) / tuning`` (GrowthBook's default tuning is 5000).
The critical value ``c = half-width / sqrt(v_c + v_t)`` replaces ``t`` in every interval (also Fieller and
delta). The always-valid p-value is the smallest ``alpha'`` whose sequence excludes zero:
``min(1, sqrt(N rho^2 + 1) * exp(-z^2 N rho^2 / (2 (N rho^2 + 1))))``; report the running minimum over looks.
A one-sided sequence at ``alpha`` is the two-sided one at ``2 alpha``.
"""

from __future__ import annotations

import numpy as np

from experiments.frequentist import Alternative


def _two_sided_alpha(alpha, alternative: Alternative):
    return np.asarray(alpha, float) * (1 if alternative == "two-sided" else 2)


def rho_squared(alpha, tuning: float):
    """Mixture parameter that minimises the half-width at ``tuning`` units."""
    log_alpha = np.log(alpha)
    return (-2 * log_alpha + np.log(-2 * log_alpha + 1)) / tuning


def sequential_critical_value(n_total, alpha, tuning: float = 5000, alternative: Alternative = "two-sided"):
    """Critical value ``c`` so that ``estimate +- c * se`` is the confidence sequence at ``n_total`` units."""
    a = _two_sided_alpha(alpha, alternative)
    n = np.asarray(n_total, float)
    r2 = rho_squared(a, tuning)
    return np.sqrt(n * 2 * (n * r2 + 1) / (n**2 * r2) * np.log(np.sqrt(n * r2 + 1) / a))


def sequential_p_value(z, n_total, alpha, tuning: float = 5000, alternative: Alternative = "two-sided"):
    """Always-valid p-value at one look for the standardised effect ``z`` (see the module docstring).

    For a one-sided alternative, effects in the other direction get p = 1.
    """
    a = _two_sided_alpha(alpha, alternative)
    n = np.asarray(n_total, float)
    z = np.asarray(z, float)
    r2 = rho_squared(a, tuning)
    p = np.sqrt(n * r2 + 1) * np.exp(-(z**2) * n * r2 / (2 * (n * r2 + 1)))
    if alternative == "greater":
        p = np.where(z > 0, p / 2, 1.0)
    elif alternative == "less":
        p = np.where(z < 0, p / 2, 1.0)
    return np.minimum(p, 1.0)
