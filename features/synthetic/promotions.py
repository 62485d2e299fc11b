"""The promotion calendar: non-overlapping price cuts on one SKU or a whole category.

The history is cut into equal slots, one promotion per slot, each starting at midnight on a random day of its
slot. During a promotion the target's price drops by ``discount`` and its choice weight is multiplied by
``uplift`` (the SKU's weight within its category, or the category's weight in every basket's category draw),
so expected units sold rise by about ``uplift`` for a small target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic.catalog import Catalog
from features.synthetic.config import ShopConfig


@dataclass(frozen=True)
class Promotions:
    """Promotions as arrays: window ``[start_hour, end_hour)`` since the shop's start, target, effect.

    ``sku`` is the product index for SKU promotions and -1 for category promotions; ``category`` is the
    target category (the SKU's category for SKU promotions).
    """

    start_hour: np.ndarray
    end_hour: np.ndarray
    sku: np.ndarray
    category: np.ndarray
    discount: np.ndarray
    uplift: np.ndarray

    def __len__(self) -> int:
        return self.start_hour.size

    def truth(self, start: pd.Timestamp, catalog: Catalog) -> pd.DataFrame:
        """Ground truth: promo_id, kind, sku (null for a category), category, start, end (exclusive), effect."""
        base = np.datetime64(start.to_datetime64(), "us")
        hour = np.timedelta64(3_600_000_000, "us")
        sku = np.where(self.sku >= 0, catalog.skus[np.maximum(self.sku, 0)], None)
        return pd.DataFrame(
            {
                "promo_id": [f"P{i + 1:03d}" for i in range(len(self))],
                "kind": np.where(self.sku >= 0, "sku", "category"),
                "sku": pd.Series(sku, dtype="str"),
                "category": np.asarray(catalog.category_names, dtype=object)[self.category],
                "start": base + self.start_hour * hour,
                "end": base + self.end_hour * hour,
                "discount": self.discount,
                "uplift": self.uplift,
            }
        )


def plan_promotions(config: ShopConfig, catalog: Catalog, rng: np.random.Generator) -> Promotions:
    d = config.demand
    count = int(round(config.promotions_per_year * config.days / 365.25))
    if count == 0:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return Promotions(empty_i, empty_i, empty_i, empty_i, empty_f, empty_f)
    slot = config.days / count
    slot_start = np.floor(np.arange(count) * slot).astype(np.int64)
    slot_end = np.floor(np.arange(1, count + 1) * slot).astype(np.int64)
    length = rng.integers(d.promo_days[0], d.promo_days[1] + 1, size=count)
    length = np.minimum(length, slot_end - slot_start)
    start_day = slot_start + rng.integers(0, slot_end - slot_start - length + 1)
    is_category = rng.random(count) < d.promo_category_share
    # Promoted SKUs lean towards popular items (weight ~ sqrt of popularity), without repeats when possible.
    sku_weight = np.sqrt(catalog.global_share)
    n_sku = int((~is_category).sum())
    skus = rng.choice(
        sku_weight.size, size=n_sku, replace=n_sku > sku_weight.size, p=sku_weight / sku_weight.sum()
    )
    categories = rng.choice(catalog.category_share.size, size=count, p=catalog.category_share)
    sku = np.full(count, -1, dtype=np.int64)
    sku[~is_category] = skus
    category = np.where(sku >= 0, catalog.category[np.maximum(sku, 0)], categories)
    return Promotions(
        start_hour=start_day * 24,
        end_hour=(start_day + length) * 24,
        sku=sku,
        category=category.astype(np.int64),
        discount=np.round(rng.uniform(*d.promo_discount, size=count), 2),
        uplift=np.round(rng.uniform(*d.promo_uplift, size=count), 2),
    )
