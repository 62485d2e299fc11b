"""Distance and travel-time matrices for a request (depots first, then stops).

Geographic requests use great-circle distance times a road factor, and distance over each vehicle's speed;
planar requests (benchmarks) use unrounded Euclidean distance. A user-supplied matrix replaces either.
Vehicles that share a speed share a time matrix, so the solver registers as few matrices as possible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimization.routing.request import RouteRequest
from shopml.geo import haversine_km


@dataclass(frozen=True)
class TravelMatrices:
    """Real-valued travel data: ``distance[i, j]``, and ``times[vehicle_time[v]][i, j]`` for vehicle ``v``."""

    distance: np.ndarray
    times: list[np.ndarray]
    vehicle_time: list[int]

    def time_of(self, vehicle: int) -> np.ndarray:
        return self.times[self.vehicle_time[vehicle]]


def build_matrices(request: RouteRequest) -> TravelMatrices:
    """Compute (or take from the request) the distance matrix and one time matrix per distinct speed."""
    travel = request.travel
    locations = request.locations
    if travel.distance_matrix is not None:
        distance = np.asarray(travel.distance_matrix, dtype=float)
    elif request.is_geographic:
        lat = np.array([loc.lat for loc in locations], dtype=float)
        lon = np.array([loc.lon for loc in locations], dtype=float)
        distance = haversine_km(lat, lon, lat, lon) * travel.road_factor
    else:
        xy = np.array([(loc.x, loc.y) for loc in locations], dtype=float)
        distance = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    if travel.time_matrix is not None:
        return TravelMatrices(
            distance, [np.asarray(travel.time_matrix, dtype=float)], [0] * len(request.vehicles)
        )
    speeds: dict[float, int] = {}
    vehicle_time = [speeds.setdefault(request.speed_of(v), len(speeds)) for v in request.vehicles]
    times = [distance / speed for speed in speeds]
    return TravelMatrices(distance, times, vehicle_time)
