"""BG/NBD ("beta-geometric / negative binomial") purchase model fitted by maximum likelihood with scipy.

Fader, Hardie and Lee (2005), "Counting your customers the easy way". While alive, a customer buys as a
Poisson process with rate ``lambda ~ Gamma(r, alpha)``; after every repeat purchase she leaves for good with
probability ``p ~ Beta(a, b)``. Inputs per customer are ``x`` (repeat purchases), ``t_x`` (time of the last
purchase since the first) and ``T`` (time from the first purchase to the end of observation), all in one time
unit (weeks by convention here). The ``lifetimes`` package does the same but no longer converges with numpy 2.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from shopml.errors import DataValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BGNBDParams:
    """Population parameters: purchase rates ``Gamma(r, alpha)``, dropout ``Beta(a, b)``."""

    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def _check_rfm(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    if not (x.shape == t_x.shape == T.shape) or x.ndim != 1:
        raise DataValidationError("x, t_x and T must be 1-d arrays of the same length (one entry per customer).")
    if len(x) == 0:
        raise DataValidationError("no customers to fit: the purchase summary is empty; pick a later cutoff.")
    bad = ~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T) | (x < 0) | (t_x < 0) | (t_x > T + 1e-9)
    if bad.any():
        rows = np.flatnonzero(bad)[:5].tolist()
        raise DataValidationError(
            f"invalid recency/frequency in rows {rows}: need x >= 0 and 0 <= t_x <= T (all finite); "
            "check the purchase summary."
        )
    return x, t_x, T


def bgnbd_log_likelihood(params: BGNBDParams, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood (equation 6 of the paper, in log space for stability)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    return a1 + a2 + np.logaddexp(a3, a4)


class BGNBD:
    """Fit and apply the BG/NBD model.

    Parameters
    ----------
    penalizer
        L2 penalty on the parameters (0 = plain maximum likelihood, which reproduces the paper).
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, x, t_x, T) -> BGNBD:
        """Maximise the total log-likelihood over log-parameters (L-BFGS-B from several starts)."""
        x, t_x, T = _check_rfm(x, t_x, T)
        # Customers with identical (x, t_x, T) contribute identically: fit on the unique rows, weighted.
        rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
        ux, ut, uT = rows.T
        scale = max(float(np.mean(T)), 1e-9)

        def objective(theta: np.ndarray) -> float:
            r, alpha, a, b = np.exp(theta)
            ll = bgnbd_log_likelihood(BGNBDParams(r, alpha, a, b), ux, ut, uT)
            value = -float(np.dot(counts, ll)) / len(x) + self.penalizer * float(np.sum(np.exp(theta) ** 2))
            return value if np.isfinite(value) else 1e100

        best = None
        for start in (np.log([1.0, scale, 1.0, 1.0]), np.log([0.5, scale / 2, 0.5, 2.0]), np.zeros(4)):
            result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=[(-12, 12)] * 4)
            if best is None or result.fun < best.fun:
                best = result
        r, alpha, a, b = np.exp(best.x)
        self.params_ = BGNBDParams(float(r), float(alpha), float(a), float(b))
        self.log_likelihood_ = float(np.sum(bgnbd_log_likelihood(self.params_, x, t_x, T)))
        self.converged_ = bool(best.success)
        if not self.converged_:
            log.warning("BG/NBD fit did not report convergence: %s", best.message)
        return self

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """P(customer still alive at T | x, t_x, T) (equation 11); 1 for customers without repeat purchases."""
        return p_alive(self.params_, x, t_x, T)

    def expected_purchases(self, t: float, x, t_x, T) -> np.ndarray:
        """Expected purchases in the next ``t`` time units given the history (equation 10)."""
        return conditional_expected_purchases(self.params_, t, x, t_x, T)


def p_alive(params: BGNBDParams, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    ratio = np.zeros_like(x)
    repeat = x > 0
    xr = x[repeat]
    ratio[repeat] = (a / (b + xr - 1)) * np.exp((r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat])))
    return 1.0 / (1.0 + ratio)


def conditional_expected_purchases(params: BGNBDParams, t: float, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    numerator = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
    numerator *= (a + b + x - 1) / (a - 1)
    return numerator * p_alive(params, x, t_x, T)


def probability_no_purchase(params: BGNBDParams, t: float, x, t_x, T) -> np.ndarray:
    """P(no purchase in the next ``t`` time units | history): dead, or alive with no Poisson event in ``t``.

    Only the first purchase of the window matters, so the later dropout chances do not enter: the Gamma
    posterior of the rate is ``Gamma(r + x, alpha + T)`` and its Laplace transform at ``t`` gives the silence.
    """
    x, t_x, T = (np.asarray(v, dtype="float64") for v in (x, t_x, T))
    alive = p_alive(params, x, t_x, T)
    silent_if_alive = np.exp((params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + T + t)))
    return 1.0 - alive + alive * silent_if_alive
