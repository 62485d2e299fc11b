"""Fixed-horizon tests: Welch's t-test and intervals for the absolute and the relative lift.

All functions are numpy-vectorised (they broadcast over arrays of estimates), so simulations call the very
code that analyses real experiments.

Formulas
--------
* Welch (1947): ``t = (m_t - m_c) / sqrt(v_t + v_c)`` with Welch-Satterthwaite degrees of freedom
  ``(v_t + v_c)^2 / (v_t^2 / (n_t - 1) + v_c^2 / (n_c - 1))``, where ``v`` is the variance of an arm's mean.
  Quantile estimates have an asymptotic variance only, so they use the normal (infinite df).
* Relative lift ``m_t / m_c - 1``, three intervals:

  - ``fieller`` (default): Fieller (1954), the set of ratios ``rho`` with
    ``(m_t - rho m_c)^2 <= c^2 (v_t + rho^2 v_c)``. It is exact for a ratio of independent normal means, is
    asymmetric where the ratio is skewed, and is unbounded when the control mean is not itself
    distinguishable from zero (``m_c^2 <= c^2 v_c``); we then return ``(-inf, inf)`` with a warning.
  - ``delta``: the delta method, ``se^2 = v_t / m_c^2 + m_t^2 v_c / m_c^4`` (symmetric; what GrowthBook
    reports). It agrees with Fieller when the control mean is precise and under-covers when it is noisy.
  - ``log``: ``exp(log(m_t / m_c) +- c sqrt(v_t / m_t^2 + v_c / m_c^2)) - 1`` (needs both means > 0).

  Each takes an optional ``cov`` = Cov(m_t, m_c), zero for independent arms; CUPED's relative lift divides
  by the unadjusted control mean, which its adjusted treatment estimate shares a covariate term with
  (:mod:`experiments.cuped`): Fieller then solves ``(m_t - rho m_c)^2 <= c^2 (v_t - 2 rho cov + rho^2 v_c)``,
  the delta method adds ``- 2 m_t cov / m_c^3`` and the log interval ``- 2 cov / (m_t m_c)`` to ``se^2``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from scipy import special

logger = logging.getLogger(__name__)

Alternative = Literal["two-sided", "greater", "less"]
RelativeMethod = Literal["fieller", "delta", "log"]


def welch_df(var_c, n_c, var_t, n_t):
    """Welch-Satterthwaite degrees of freedom from the variances of the two arms' means."""
    var_c, var_t = np.asarray(var_c, float), np.asarray(var_t, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (var_c + var_t) ** 2 / (var_c**2 / (np.asarray(n_c) - 1) + var_t**2 / (np.asarray(n_t) - 1))


def critical_value(alpha, df, alternative: Alternative = "two-sided"):
    """The t (or, for ``df = inf``, normal) quantile that a ``1 - alpha`` interval or test uses."""
    tail = np.asarray(alpha, float) / (2 if alternative == "two-sided" else 1)
    return -special.stdtrit(df, tail)  # = scipy.stats.t.isf(tail, df), without its per-call overhead


def p_value(statistic, df, alternative: Alternative = "two-sided"):
    """P-value of a t (normal for ``df = inf``) statistic; ``greater`` tests treatment > control."""
    statistic = np.asarray(statistic, float)
    if alternative == "two-sided":
        return np.minimum(2 * special.stdtr(df, -np.abs(statistic)), 1.0)
    if alternative == "greater":
        return special.stdtr(df, -statistic)
    return special.stdtr(df, statistic)


def welch_test(mean_c, var_c, n_c, mean_t, var_t, n_t, alternative: Alternative = "two-sided", df_free=False):
    """Welch's t-test of ``mean_t - mean_c``; returns ``(difference, standard error, t, df, p-value)``."""
    diff = np.asarray(mean_t, float) - np.asarray(mean_c, float)
    se = np.sqrt(np.asarray(var_c, float) + np.asarray(var_t, float))
    df = np.inf if df_free else welch_df(var_c, n_c, var_t, n_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = diff / se
    return diff, se, t, df, p_value(t, df, alternative)


def one_sided(lower, upper, alternative: Alternative):
    """Open the interval on the side a one-sided test does not bound."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    if alternative == "greater":
        return lower, np.full_like(upper, np.inf)
    if alternative == "less":
        return np.full_like(lower, -np.inf), upper
    return lower, upper


def absolute_interval(diff, se, crit):
    """``diff +- crit * se``."""
    return diff - crit * se, diff + crit * se


def delta_relative(mean_c, var_c, mean_t, var_t, crit, cov=0.0):
    """Relative lift and its delta-method interval (see the module docstring)."""
    mean_c, mean_t = np.asarray(mean_c, float), np.asarray(mean_t, float)
    lift = mean_t / mean_c - 1
    se = np.sqrt(np.maximum(var_t / mean_c**2 + mean_t**2 * var_c / mean_c**4 - 2 * mean_t * cov / mean_c**3, 0.0))
    return lift, lift - crit * se, lift + crit * se, se


def fieller_relative(mean_c, var_c, mean_t, var_t, crit, cov=0.0):
    """Fieller (1954) interval for ``mean_t / mean_c - 1``; ``(-inf, inf)`` where it is unbounded."""
    mean_c, mean_t = np.asarray(mean_c, float), np.asarray(mean_t, float)
    var_c, var_t, crit = np.asarray(var_c, float), np.asarray(var_t, float), np.asarray(crit, float)
    cov = np.asarray(cov, float)
    # The ratio rho solves a rho^2 - 2 b rho + c = 0; roots as q / a and c / q (no cancellation when a -> 0).
    a = mean_c**2 - crit**2 * var_c
    b = mean_t * mean_c - crit**2 * cov
    c = mean_t**2 - crit**2 * var_t
    disc = crit**2 * (var_t * a + var_c * mean_t**2 - 2 * mean_t * mean_c * cov + crit**2 * cov**2)  # = b^2 - a c
    bounded = a > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = b + np.where(b >= 0, 1.0, -1.0) * np.sqrt(np.maximum(disc, 0.0))
        far, near = q / a, np.where(q != 0, c / np.where(q != 0, q, 1.0), 0.0)
        lower = np.where(bounded, np.minimum(far, near) - 1, -np.inf)
        upper = np.where(bounded, np.maximum(far, near) - 1, np.inf)
    return mean_t / mean_c - 1, lower, upper


def log_relative(mean_c, var_c, mean_t, var_t, crit, cov=0.0):
    """Log-ratio interval for ``mean_t / mean_c - 1`` (both means must be positive)."""
    mean_c, mean_t = np.asarray(mean_c, float), np.asarray(mean_t, float)
    log_ratio = np.log(mean_t / mean_c)
    se = np.sqrt(np.maximum(var_t / mean_t**2 + var_c / mean_c**2 - 2 * cov / (mean_t * mean_c), 0.0))
    return mean_t / mean_c - 1, np.expm1(log_ratio - crit * se), np.expm1(log_ratio + crit * se)


def relative_interval(method: RelativeMethod, mean_c, var_c, mean_t, var_t, crit, cov=0.0):
    """Relative lift and its ``(lower, upper)`` by ``method``; ``cov`` = Cov(mean_t, mean_c)."""
    if method == "fieller":
        return fieller_relative(mean_c, var_c, mean_t, var_t, crit, cov)
    if method == "delta":
        lift, lower, upper, _ = delta_relative(mean_c, var_c, mean_t, var_t, crit, cov)
        return lift, lower, upper
    return log_relative(mean_c, var_c, mean_t, var_t, crit, cov)
