"""Default per-unit costs from geography: great-circle distance times a rate plus a handling charge.

A planner who has real tariffs passes a matrix instead; these defaults exist so that a request with only
coordinates is already meaningful (nearer warehouses are cheaper, bulk transfers cheaper per km than parcels).
"""

from __future__ import annotations

import numpy as np

from shopml.geo import haversine_km


def distance_cost(distance_km: np.ndarray, per_km: float, base: float) -> np.ndarray:
    """Per-unit cost ``base + per_km * distance``; the diagonal of a square matrix is left to the caller."""
    return base + per_km * np.asarray(distance_km, dtype=float)


def shipping_cost_matrix(
    wh_lat: np.ndarray, wh_lon: np.ndarray, rg_lat: np.ndarray, rg_lon: np.ndarray, per_km: float, base: float
) -> np.ndarray:
    """Cost of shipping one unit from each warehouse (rows) to each region (columns)."""
    return distance_cost(haversine_km(wh_lat, wh_lon, rg_lat, rg_lon), per_km, base)


def transfer_cost_matrix(wh_lat: np.ndarray, wh_lon: np.ndarray, per_km: float, base: float) -> np.ndarray:
    """Cost of moving one unit between warehouses (bulk rate); zero on the diagonal (no move)."""
    cost = distance_cost(haversine_km(wh_lat, wh_lon, wh_lat, wh_lon), per_km, base)
    np.fill_diagonal(cost, 0.0)
    return cost
