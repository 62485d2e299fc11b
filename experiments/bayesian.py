"""Bayesian summary of a lift: Gaussian posterior, chance to beat control, expected loss, credible interval.

Model (as in GrowthBook's and Eppo's engines): the estimated lift ``L ~ N(lift, se^2)`` with a prior
``lift ~ N(mu0, tau^2)`` (proper) or flat. The conjugate posterior is
``N((mu0 / tau^2 + L / se^2) / (1 / tau^2 + 1 / se^2), 1 / (1 / tau^2 + 1 / se^2))`` (Gelman et al., BDA3,
2.5). By default the lift is relative (delta-method ``se``), so one prior fits every metric.

For ``X ~ N(mu, s^2)`` measured in the metric's good direction, the expected loss of shipping is
``E[max(-X, 0)] = s phi(mu / s) - mu Phi(-mu / s)`` and of not shipping ``E[max(X, 0)] =
s phi(mu / s) + mu Phi(mu / s)`` (the normal partial expectation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri


@dataclass(frozen=True)
class BayesianResult:
    """Posterior on the lift (relative or absolute, as ``scale`` says) and what it means for shipping."""

    scale: str
    posterior_mean: float
    posterior_sd: float
    chance_to_win: float
    risk_ship: float
    risk_not_ship: float
    credible_lower: float
    credible_upper: float


def posterior(lift, se, prior_mean=0.0, prior_sd=None):
    """Posterior mean and sd of the lift; a flat prior when ``prior_sd`` is None."""
    lift, se = np.asarray(lift, float), np.asarray(se, float)
    if prior_sd is None:
        return lift, se
    precision = 1 / prior_sd**2 + 1 / se**2
    return (prior_mean / prior_sd**2 + lift / se**2) / precision, np.sqrt(1 / precision)


def bayesian_summary(
    lift: float, se: float, sign: int, alpha: float, scale: str, prior_mean: float = 0.0, prior_sd: float | None = None
) -> BayesianResult:
    """Chance to win, risks and the ``1 - alpha`` credible interval; ``sign`` is +1 if higher is better."""
    mean, sd = posterior(lift, se, prior_mean, prior_sd)
    mean, sd = float(mean), float(sd)
    good = sign * mean  # posterior mean in the good direction
    ratio = good / sd
    density = math.exp(-0.5 * ratio * ratio) / math.sqrt(2 * math.pi)  # scalar scipy.stats calls cost ~0.1 ms each
    risk_not_ship = sd * density + good * float(ndtr(ratio))
    risk_ship = sd * density - good * float(ndtr(-ratio))
    z = -float(ndtri(alpha / 2))
    return BayesianResult(
        scale=scale,
        posterior_mean=mean,
        posterior_sd=sd,
        chance_to_win=float(ndtr(ratio)),
        risk_ship=float(risk_ship),
        risk_not_ship=float(risk_not_ship),
        credible_lower=mean - z * sd,
        credible_upper=mean + z * sd,
    )
