"""Lifecycle segments: the recency/tenure rules a marketing team uses, sharpened by the models' scores.

Rules are applied in order; the first that matches names the segment (every customer gets exactly one):

1. ``lapsed``: no order for more than ``lapsed_days`` (180) days.
2. ``new``: first order within the last ``new_days`` (90) days.
3. ``reactivated``: ordered in the last 90 days after a quiet spell (no order in the 90 days before that),
   and a customer for more than 180 days.
4. ``at_risk``: churn probability at least ``at_risk_probability`` (0.5).
5. ``high_value``: predicted value at least the model's ``high_value_threshold`` (the 90th percentile of
   predicted value on the evaluation cutoff, fixed at training so a segment does not depend on the batch).
6. ``active``: everyone else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from shopml.errors import ShopmlError

SEGMENTS: tuple[str, ...] = ("new", "active", "at_risk", "lapsed", "high_value", "reactivated")


@dataclass(frozen=True)
class SegmentRules:
    lapsed_days: float = 180.0
    new_days: float = 90.0
    quiet_days: float = 90.0
    at_risk_probability: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_probability < 1:
            raise ShopmlError(f"at_risk_probability={self.at_risk_probability}: use a number in (0, 1).")
        if min(self.lapsed_days, self.new_days, self.quiet_days) <= 0:
            raise ShopmlError("SegmentRules: lapsed_days, new_days and quiet_days must be positive.")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def assign_segments(
    *,
    days_since_last_order: np.ndarray,
    days_since_first_order: np.ndarray,
    orders_90d: np.ndarray,
    orders_trend_90d: np.ndarray,
    churn_probability: np.ndarray,
    predicted_value: np.ndarray,
    high_value_threshold: float,
    rules: SegmentRules | None = None,
) -> np.ndarray:
    """Segment name per customer (numpy object array), following the ordered rules above."""
    rules = rules or SegmentRules()
    orders_before = orders_90d - orders_trend_90d  # orders 90-180 days before the cutoff
    conditions = [
        days_since_last_order > rules.lapsed_days,
        days_since_first_order <= rules.new_days,
        (orders_90d > 0) & (orders_before <= 0) & (days_since_first_order > rules.lapsed_days),
        churn_probability >= rules.at_risk_probability,
        predicted_value >= high_value_threshold,
    ]
    choices = ["lapsed", "new", "reactivated", "at_risk", "high_value"]
    return np.select(conditions, choices, default="active").astype(object)


def check_segment(name: str) -> str:
    """Accept ``at-risk`` / ``At_Risk`` spellings; raise with the list of names otherwise."""
    normal = name.strip().lower().replace("-", "_").replace(" ", "_")
    if normal not in SEGMENTS:
        raise ShopmlError(f"unknown segment {name!r}; choose one of {', '.join(SEGMENTS)}.")
    return normal
