"""Regions, warehouses and stock on hand.

Warehouses sit near the centroids of the regions with the most orders (the busiest region first; when there
are more warehouses than regions the list wraps around with a wider jitter). Each region's demand is split
over warehouses with weights ``exp(-distance / 300 km)``, which gives every warehouse a demand share.
Stock of a SKU in a warehouse covers 2 to 6 weeks of its expected demand there (about 3% are out of stock),
and a warehouse's capacity is 20 to 60% above what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.synthetic.config import ShopConfig
from shopml.geo import haversine_km

_SPLIT_KM = 300.0


@dataclass(frozen=True)
class Logistics:
    regions: pd.DataFrame
    warehouses: pd.DataFrame
    stock: pd.DataFrame
    truth: pd.DataFrame


def build_logistics(
    config: ShopConfig,
    skus: np.ndarray,
    daily_units: np.ndarray,
    rng: np.random.Generator,
) -> Logistics:
    """Regions, warehouses and stock; ``daily_units`` is each SKU's expected units per day, shop-wide."""
    regions = config.regions
    lat = np.array([r.lat for r in regions])
    lon = np.array([r.lon for r in regions])
    weight = np.array([r.weight for r in regions])
    weight = weight / weight.sum()

    w = config.warehouses
    busiest = np.argsort(-weight, kind="stable")
    site = busiest[np.arange(w) % busiest.size]
    jitter = np.where(np.arange(w) < busiest.size, 0.3, 1.5)
    w_lat = np.clip(lat[site] + rng.uniform(-1, 1, w) * jitter, -90, 90)
    w_lon = np.clip(lon[site] + rng.uniform(-1, 1, w) * jitter, -180, 180)
    w_lat, w_lon = np.round(w_lat, 4), np.round(w_lon, 4)

    distance = haversine_km(lat, lon, w_lat, w_lon)
    affinity = np.exp(-(distance - distance.min(axis=1, keepdims=True)) / _SPLIT_KM)
    share = (weight[:, None] * affinity / affinity.sum(axis=1, keepdims=True)).sum(axis=0)

    cover_days = rng.uniform(14, 42, size=(w, skus.size))
    noise = rng.lognormal(0.0, 0.3, size=(w, skus.size))
    on_hand = np.round(share[:, None] * daily_units[None, :] * cover_days * noise).astype(np.int64)
    on_hand[rng.random(on_hand.shape) < 0.03] = 0
    capacity = np.ceil(on_hand.sum(axis=1) * rng.uniform(1.2, 1.6, size=w)).astype(np.int64)
    capacity = np.maximum(capacity, 1)

    ids = np.array([f"WH{i + 1:02d}" for i in range(w)], dtype=object)
    return Logistics(
        regions=pd.DataFrame({"region": [r.name for r in regions], "lat": lat, "lon": lon}),
        warehouses=pd.DataFrame({"warehouse_id": ids, "lat": w_lat, "lon": w_lon, "capacity": capacity}),
        stock=pd.DataFrame(
            {"warehouse_id": np.repeat(ids, skus.size), "sku": np.tile(skus, w), "on_hand": on_hand.ravel()}
        ),
        truth=pd.DataFrame(
            {
                "warehouse_id": ids,
                "region": np.array([r.name for r in regions], dtype=object)[site],
                "demand_share": share,
            }
        ),
    )
