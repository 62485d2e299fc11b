"""Random allocation instances with known structure, for tests and benchmarks.

Warehouses and regions are scattered over Europe; each SKU has a popularity (gamma) and each region a size,
demand is their product (right-skewed quantiles around it when asked), and stock is spread over a few
warehouses so that total stock is ``stock_ratio`` times the expected demand. ``capacity_slack`` (when given)
leaves that share of free space in each warehouse, which makes capacity bind after transfers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_frames(
    n_skus: int,
    n_warehouses: int,
    n_regions: int,
    *,
    seed: int = 0,
    quantiles: bool = True,
    stock_ratio: float = 0.9,
    capacity_slack: float | None = None,
    demand_scale: float = 6.0,
) -> dict[str, pd.DataFrame]:
    """Frames ``warehouses, regions, stock, demand, sku_costs`` for :func:`build_problem`.

    Parameters
    ----------
    quantiles : bool
        Demand as ``p10, p50, p90`` (right-skewed) instead of a point ``demand``.
    stock_ratio : float
        Total stock of a SKU over its expected total demand.
    capacity_slack : float, optional
        Free space per warehouse as a share of what it holds; ``None`` leaves capacity unlimited.
    """
    rng = np.random.default_rng(seed)
    wh = pd.DataFrame({
        "warehouse_id": [f"W{i:02d}" for i in range(n_warehouses)],
        "lat": rng.uniform(38, 58, n_warehouses),
        "lon": rng.uniform(-8, 25, n_warehouses),
    })
    rg = pd.DataFrame({
        "region": [f"R{i:03d}" for i in range(n_regions)],
        "lat": rng.uniform(36, 60, n_regions),
        "lon": rng.uniform(-10, 28, n_regions),
    })
    skus = np.array([f"SKU{i:05d}" for i in range(n_skus)], dtype=object)
    popularity = rng.gamma(1.5, demand_scale / 1.5, n_skus)
    size = rng.dirichlet(np.full(n_regions, 2.0)) * n_regions
    p50 = popularity[:, None] * size[None, :]
    k_idx, r_idx = np.meshgrid(np.arange(n_skus), np.arange(n_regions), indexing="ij")
    demand = pd.DataFrame({"sku": skus[k_idx.ravel()], "region": rg["region"].to_numpy()[r_idx.ravel()]})
    if quantiles:
        spread = rng.uniform(0.3, 0.8, p50.shape)
        demand["p10"] = (p50 * (1 - spread * 0.8)).ravel()
        demand["p50"] = p50.ravel()
        demand["p90"] = (p50 * (1 + spread * 1.6)).ravel()
    else:
        demand["demand"] = np.round(p50).ravel()
    # Stock: each SKU in 1..3 warehouses, total about stock_ratio x expected demand.
    total = np.round(stock_ratio * p50.sum(axis=1) * (1.05 if quantiles else 1.0)).astype(np.int64)
    holders = rng.random((n_skus, n_warehouses)) < min(1.0, 2.0 / n_warehouses)
    holders[np.arange(n_skus), rng.integers(0, n_warehouses, n_skus)] = True
    weights = holders * rng.random((n_skus, n_warehouses))
    weights /= weights.sum(axis=1, keepdims=True)
    on_hand = np.floor(weights * total[:, None]).astype(np.int64)
    k, w = np.nonzero(on_hand > 0)
    stock = pd.DataFrame({"warehouse_id": wh["warehouse_id"].to_numpy()[w], "sku": skus[k], "on_hand": on_hand[k, w]})
    if capacity_slack is not None:
        held = on_hand.sum(axis=0)
        wh["capacity"] = np.ceil(held * (1.0 + capacity_slack)).astype(np.int64) + 1
    margin = rng.uniform(4.0, 20.0, n_skus)
    sku_costs = pd.DataFrame({"sku": skus, "shortage_penalty": margin, "holding_cost": margin * rng.uniform(0.05, 0.2, n_skus)})
    return {"warehouses": wh, "regions": rg, "stock": stock, "demand": demand, "sku_costs": sku_costs}
