"""Popularity baselines: global, per country, and time-decayed.

Popularity is counted in distinct buyers (one customer buying an item ten times counts once), the fairest
proxy for "how likely is a random customer to buy it". The time-decayed variant weights each buyer by
``0.5 ** (age_days / half_life_days)`` of their latest purchase, so recent best-sellers rise; the country
variant ranks by buyers in the customer's country and breaks ties (and fills empty countries) with the
global count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.recommend.data import TrainingData

KINDS = ("global", "country", "decayed", "window")


def buyer_counts(orders: pd.DataFrame, skus: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Distinct buyers per item (aligned with ``skus``); ``weights`` per line take the max per buyer."""
    frame = orders[["customer_id", "sku"]].copy()
    frame["w"] = 1.0 if weights is None else weights
    per_buyer = frame.groupby(["sku", "customer_id"], sort=False)["w"].max()
    return per_buyer.groupby(level="sku").sum().reindex(skus).fillna(0.0).to_numpy(dtype="float32")


@dataclass
class Popularity:
    """Rank items by how many customers bought them.

    Parameters
    ----------
    kind
        ``"global"`` (all training data), ``"country"`` (buyers in the customer's country, global as tie
        breaker), ``"decayed"`` (buyers weighted by recency with ``half_life_days``) or ``"window"``
        (buyers in the last ``window_days`` before the cutoff).
    """

    kind: str = "global"
    half_life_days: float = 30.0
    window_days: int = 28
    scores_: np.ndarray = field(init=False, repr=False)
    by_country_: dict[str, np.ndarray] = field(init=False, repr=False, default_factory=dict)

    def fit(self, data: TrainingData) -> Popularity:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        orders = data.orders
        if self.kind == "decayed":
            age = ((data.cutoff - orders["ordered_at"]) / pd.Timedelta(days=1)).to_numpy()
            self.scores_ = buyer_counts(orders, data.skus, np.power(0.5, age / self.half_life_days))
        elif self.kind == "window":
            recent = orders.loc[orders["ordered_at"] >= data.cutoff - pd.Timedelta(days=self.window_days)]
            self.scores_ = buyer_counts(recent, data.skus) + 1e-3 * buyer_counts(orders, data.skus)
        else:
            self.scores_ = buyer_counts(orders, data.skus)
        self.by_country_ = {}
        if self.kind == "country":
            for country, part in orders.groupby("country", sort=True):
                self.by_country_[str(country)] = buyer_counts(part, data.skus)
        return self

    def item_scores(self, country: str | None = None) -> np.ndarray:
        """Scores of every item for a customer of ``country`` (global when unknown or not per country)."""
        base = self.scores_ / max(float(self.scores_.max()), 1.0)
        local = self.by_country_.get(country) if country is not None else None
        if local is None:
            return base
        return local + 1e-3 * base

    def score(self, data: TrainingData, rows: np.ndarray) -> np.ndarray:
        """Scores ``(len(rows), n_items)``: the same list for every customer of a country."""
        out = np.empty((len(rows), data.n_items), dtype="float32")
        for i, row in enumerate(rows):
            out[i] = self.item_scores(data.customer_country[row] if self.kind == "country" else None)
        return out
