"""From a customer feature table to the numeric matrix the boosters read.

LightGBM rejects pandas' ``str`` dtype, so the one categorical column (``country``) becomes a code from a
vocabulary saved with the model (countries with fewer than ``min_count`` training customers, and countries
never seen, share the code of ``"other"``). The lifetime columns (BG/NBD, Gamma-Gamma) are derived here too,
so a model needs only ``customer_id`` + :data:`features.customers.CUSTOMER_FEATURES` at scoring time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.customers import CUSTOMER_FEATURES
from shopml.errors import DataValidationError
from training.customers.lifetime import DERIVED_FEATURES, LEGACY_DERIVED, LifetimeModel

NUMERIC_FEATURES: tuple[str, ...] = tuple(name for name in CUSTOMER_FEATURES if name != "country")
OTHER = "other"


def check_feature_table(features: pd.DataFrame) -> None:
    """Raise a clear error when the table lacks feature columns (e.g. an old or foreign file)."""
    missing = [c for c in CUSTOMER_FEATURES if c not in features.columns]
    if missing:
        raise DataValidationError(
            f"customer feature table lacks column(s) {', '.join(missing)}; rebuild it with `shopml features build`."
        )


@dataclass(frozen=True)
class FeatureEncoder:
    """Column order, country vocabulary and the lifetime model used to derive the BG/NBD columns."""

    numeric: tuple[str, ...]
    countries: tuple[str, ...]
    lifetime: LifetimeModel
    use_lifetime: bool = True
    derived: tuple[str, ...] = LEGACY_DERIVED  # columns of :data:`DERIVED_FEATURES` used when use_lifetime

    def __post_init__(self) -> None:
        unknown = [name for name in self.derived if name not in DERIVED_FEATURES]
        if unknown:
            raise DataValidationError(f"unknown derived feature(s) {unknown}; known: {', '.join(DERIVED_FEATURES)}.")
        if self.lifetime.population is None and any(name.endswith("_pct") for name in self.derived):
            raise DataValidationError("percentile features need the population reference; refit the lifetime model.")

    @classmethod
    def fit(cls, train: pd.DataFrame, lifetime: LifetimeModel, *, use_lifetime: bool = True,
            derived: tuple[str, ...] = LEGACY_DERIVED, min_count: int = 20) -> FeatureEncoder:
        counts = train["country"].astype("str").value_counts()
        countries = tuple(sorted(counts.index[counts >= min_count]))
        return cls(NUMERIC_FEATURES, (*countries, OTHER), lifetime, use_lifetime, tuple(derived))

    @property
    def names(self) -> list[str]:
        derived = list(self.derived) if self.use_lifetime else []
        return [*self.numeric, *derived, "country_code"]

    def country_codes(self, country: pd.Series) -> np.ndarray:
        index = pd.Index(self.countries)
        codes = index.get_indexer(country.astype("str"))
        return np.where(codes < 0, len(self.countries) - 1, codes).astype("float64")

    def matrix(self, features: pd.DataFrame, lifetime_columns: pd.DataFrame | None = None) -> np.ndarray:
        """Rows in the order of ``features``; ``lifetime_columns`` overrides the derived columns (training rows
        of older cutoffs carry their own cutoff's values; a scorer derives them once for several encoders).
        Without ``use_lifetime`` it is ignored."""
        check_feature_table(features)
        blocks = [features[list(self.numeric)].to_numpy("float64")]
        if self.use_lifetime:
            if lifetime_columns is None:
                derived = self.lifetime.derive_columns(features)
                blocks.append(np.column_stack([derived[name] for name in self.derived]))
            else:
                blocks.append(lifetime_columns[list(self.derived)].to_numpy("float64"))
        blocks.append(self.country_codes(features["country"])[:, None])
        return np.hstack(blocks)

    def to_dict(self) -> dict[str, object]:
        return {"numeric": list(self.numeric), "countries": list(self.countries), "lifetime": self.lifetime.to_dict(),
                "use_lifetime": self.use_lifetime, "derived": list(self.derived)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FeatureEncoder:
        return cls(tuple(data["numeric"]), tuple(data["countries"]), LifetimeModel.from_dict(data["lifetime"]),
                   bool(data["use_lifetime"]), tuple(data.get("derived", LEGACY_DERIVED)))
