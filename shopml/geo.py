"""Great-circle distances: one haversine for the synthetic shop, routing and allocation.

The routing verifier keeps its own plain-Python copy on purpose: it must not share code with what it checks.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Distance in km from every point of set 1 (rows) to every point of set 2 (columns), degrees in.

    Returns a matrix of shape ``(len(lat1), len(lat2))``.
    """
    p1 = np.radians(np.asarray(lat1, dtype=float))[:, None]
    p2 = np.radians(np.asarray(lat2, dtype=float))[None, :]
    dlon = np.radians(np.asarray(lon2, dtype=float))[None, :] - np.radians(np.asarray(lon1, dtype=float))[:, None]
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
