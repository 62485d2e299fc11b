"""Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee 2005, "RFM and CLV").

A customer's transaction values are Gamma(p, nu) around her own mean; ``nu ~ Gamma(q, gamma)`` across
customers. Given ``x`` transactions with mean value ``m``, the expected value of her next transaction is a
weighted mean of her own mean and the population mean, so few transactions shrink towards the population.
Assumes spend per transaction is independent of purchase frequency (check on the data before trusting it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from shopml.errors import DataValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    def to_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """Mean transaction value of the population (needs q > 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("nan")


def gamma_gamma_log_likelihood(params: GammaGammaParams, x, m) -> np.ndarray:
    """Per-customer log-likelihood of the mean transaction value ``m`` over ``x`` transactions."""
    p, q, g = params.p, params.q, params.gamma
    x, m = np.asarray(x, dtype="float64"), np.asarray(m, dtype="float64")
    px = p * x
    return (
        special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + m * x)
    )


class GammaGamma:
    """Fit the Gamma-Gamma model on customers with at least one transaction and a positive mean value."""

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, x, m) -> GammaGamma:
        x, m = np.asarray(x, dtype="float64"), np.asarray(m, dtype="float64")
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        if keep.sum() < 10:
            raise DataValidationError(
                f"Gamma-Gamma needs at least 10 customers with a positive mean spend, got {int(keep.sum())}; "
                "use more history (an earlier first cutoff or more data)."
            )
        x, m = x[keep], m[keep]

        def objective(theta: np.ndarray) -> float:
            ll = gamma_gamma_log_likelihood(GammaGammaParams(*np.exp(theta)), x, m)
            value = -float(np.mean(ll)) + self.penalizer * float(np.sum(np.exp(theta) ** 2))
            return value if np.isfinite(value) else 1e100

        best = None
        for start in (np.log([1.0, 2.0, float(np.mean(m))]), np.zeros(3), np.log([5.0, 4.0, 10.0])):
            result = optimize.minimize(objective, start, method="L-BFGS-B", bounds=[(-12, 12)] * 3)
            if best is None or result.fun < best.fun:
                best = result
        self.params_ = GammaGammaParams(*(float(v) for v in np.exp(best.x)))
        self.log_likelihood_ = float(np.sum(gamma_gamma_log_likelihood(self.params_, x, m)))
        self.converged_ = bool(best.success)
        return self

    def expected_spend(self, x, m) -> np.ndarray:
        return expected_spend(self.params_, x, m)


def expected_spend(params: GammaGammaParams, x, m) -> np.ndarray:
    """E[value of a transaction | x, m]; the population mean for customers without transactions."""
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype="float64")
    m = np.nan_to_num(np.asarray(m, dtype="float64"), nan=0.0)
    return p * (g + x * m) / (p * x + q - 1)
