"""What is fitted on the whole population at a cutoff: BG/NBD + Gamma-Gamma and the population percentiles.

Fitted on the customer feature table as of a cutoff (only history before it, so no label leaks) and applied
with numpy to any feature table. The derived columns are the probabilistic baseline (P(alive), P(no order),
expected orders and value over the horizon) and extra inputs of the LightGBM churn and value models, beside
each customer's percentile among the customers at the cutoff (:mod:`training.customers.population`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.customers.bgnbd import (
    BGNBD,
    BGNBDParams,
    conditional_expected_purchases,
    p_alive,
    probability_no_purchase,
)
from training.customers.gamma_gamma import GammaGamma, GammaGammaParams, expected_spend
from training.customers.population import RELATIVE_FEATURES, PopulationReference
from training.customers.rfm import DAYS_PER_UNIT, RFM, rfm_from_features

LIFETIME_FEATURES: dict[str, str] = {
    "p_alive": "BG/NBD probability that the customer is still active at the cutoff",
    "expected_orders_horizon": "BG/NBD expected purchase days in the horizon",
    "expected_order_value": "Gamma-Gamma expected spend per purchase day",
    "lifetime_value_horizon": "expected_orders_horizon x expected_order_value",
    "p_no_order_horizon": "BG/NBD probability of no purchase in the horizon (dead, or alive and silent)",
}
# The columns models saved before P(no order) and the percentiles existed were trained on.
LEGACY_DERIVED: tuple[str, ...] = ("p_alive", "expected_orders_horizon", "expected_order_value", "lifetime_value_horizon")
DERIVED_FEATURES: dict[str, str] = LIFETIME_FEATURES | RELATIVE_FEATURES


@dataclass(frozen=True)
class LifetimeModel:
    """Fitted BG/NBD and Gamma-Gamma parameters, the horizon they forecast and the population's quantiles."""

    bgnbd: BGNBDParams
    gamma_gamma: GammaGammaParams
    horizon_days: int
    population: PopulationReference | None = None

    @classmethod
    def fit(cls, features: pd.DataFrame, horizon_days: int) -> LifetimeModel:
        rfm = rfm_from_features(features)
        bgnbd = BGNBD().fit(rfm.x, rfm.t_x, rfm.T).params_
        n = rfm.x + 1
        gamma_gamma = GammaGamma().fit(n, rfm.monetary).params_
        return cls(bgnbd, gamma_gamma, horizon_days, PopulationReference.fit(features))

    def derive_rfm(self, rfm: RFM) -> dict[str, np.ndarray]:
        """The :data:`LIFETIME_FEATURES` columns as arrays (numpy only: the scoring hot path)."""
        alive = p_alive(self.bgnbd, rfm.x, rfm.t_x, rfm.T)
        t = self.horizon_days / DAYS_PER_UNIT
        orders = conditional_expected_purchases(self.bgnbd, t, rfm.x, rfm.t_x, rfm.T)
        value = expected_spend(self.gamma_gamma, rfm.x + 1, np.maximum(rfm.monetary, 0))
        return {
            "p_alive": alive,
            "expected_orders_horizon": orders,
            "expected_order_value": value,
            "lifetime_value_horizon": orders * value,
            "p_no_order_horizon": probability_no_purchase(self.bgnbd, t, rfm.x, rfm.t_x, rfm.T),
        }

    def derive_columns(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """Every :data:`DERIVED_FEATURES` column this model can give (percentiles only with a population)."""
        columns = self.derive_rfm(rfm_from_features(features))
        if self.population is not None:
            columns |= self.population.percentiles(features)
        return columns

    def derive(self, features: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.derive_columns(features), index=features.index)

    def to_dict(self) -> dict[str, object]:
        out = {"bgnbd": self.bgnbd.to_dict(), "gamma_gamma": self.gamma_gamma.to_dict(), "horizon_days": self.horizon_days}
        return out | ({"population": self.population.to_dict()} if self.population is not None else {})

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LifetimeModel:
        population = data.get("population")
        return cls(BGNBDParams(**data["bgnbd"]), GammaGammaParams(**data["gamma_gamma"]), int(data["horizon_days"]),
                   None if population is None else PopulationReference.from_dict(population))
