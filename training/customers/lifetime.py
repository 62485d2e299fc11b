"""BG/NBD + Gamma-Gamma as one feature source: P(alive), expected orders and value over the horizon.

Fitted on the customer feature table as of a cutoff (only history before it, so no label leaks) and applied
with numpy to any feature table. The derived columns are the probabilistic baseline and extra inputs of the
LightGBM churn and value models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.customers.bgnbd import BGNBD, BGNBDParams, conditional_expected_purchases, p_alive
from training.customers.gamma_gamma import GammaGamma, GammaGammaParams, expected_spend
from training.customers.rfm import DAYS_PER_UNIT, RFM, rfm_from_features

LIFETIME_FEATURES: dict[str, str] = {
    "p_alive": "BG/NBD probability that the customer is still active at the cutoff",
    "expected_orders_horizon": "BG/NBD expected purchase days in the horizon",
    "expected_order_value": "Gamma-Gamma expected spend per purchase day",
    "lifetime_value_horizon": "expected_orders_horizon x expected_order_value",
}


@dataclass(frozen=True)
class LifetimeModel:
    """Fitted BG/NBD and Gamma-Gamma parameters plus the horizon they forecast."""

    bgnbd: BGNBDParams
    gamma_gamma: GammaGammaParams
    horizon_days: int

    @classmethod
    def fit(cls, features: pd.DataFrame, horizon_days: int) -> LifetimeModel:
        rfm = rfm_from_features(features)
        bgnbd = BGNBD().fit(rfm.x, rfm.t_x, rfm.T).params_
        n = rfm.x + 1
        gamma_gamma = GammaGamma().fit(n, rfm.monetary).params_
        return cls(bgnbd, gamma_gamma, horizon_days)

    def derive_rfm(self, rfm: RFM) -> dict[str, np.ndarray]:
        """The :data:`LIFETIME_FEATURES` columns as arrays (numpy only: the scoring hot path)."""
        alive = p_alive(self.bgnbd, rfm.x, rfm.t_x, rfm.T)
        orders = conditional_expected_purchases(self.bgnbd, self.horizon_days / DAYS_PER_UNIT, rfm.x, rfm.t_x, rfm.T)
        value = expected_spend(self.gamma_gamma, rfm.x + 1, np.maximum(rfm.monetary, 0))
        return {
            "p_alive": alive,
            "expected_orders_horizon": orders,
            "expected_order_value": value,
            "lifetime_value_horizon": orders * value,
        }

    def derive(self, features: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(self.derive_rfm(rfm_from_features(features)), index=features.index)

    def to_dict(self) -> dict[str, object]:
        return {"bgnbd": self.bgnbd.to_dict(), "gamma_gamma": self.gamma_gamma.to_dict(), "horizon_days": self.horizon_days}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> LifetimeModel:
        return cls(BGNBDParams(**data["bgnbd"]), GammaGammaParams(**data["gamma_gamma"]), int(data["horizon_days"]))
