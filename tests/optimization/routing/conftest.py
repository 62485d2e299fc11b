"""Tiny route requests for the routing tests, and a plain-Python brute-force oracle.

Every request here is small enough that OR-Tools settles well inside a fraction of a second with one worker,
so the whole routing suite stays fast on two shared cores.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest

from optimization.routing import Options, RouteRequest

FAST = {"time_limit": 0.4, "workers": 1}
"""Options for tests: one worker (deterministic, no process pool) and a short limit."""


def planar_payload(
    n_stops: int = 5,
    n_vehicles: int = 2,
    seed: int = 0,
    *,
    capacity: float = 20.0,
    window: float = 60.0,
    horizon: float = 300.0,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A planar request as a JSON-like dict: one depot at (50, 50), random stops, one window each."""
    rng = random.Random(seed)
    stops = []
    for i in range(n_stops):
        start = round(rng.uniform(0, horizon - window - 80), 1)
        stops.append(
            {
                "id": f"s{i}",
                "location": {"x": round(rng.uniform(0, 100), 2), "y": round(rng.uniform(0, 100), 2)},
                "demand": {"load": float(rng.randint(1, 8))},
                "time_windows": [{"start": start, "end": start + window}],
                "service_time": 3.0,
            }
        )
    return {
        "depots": [{"id": "d", "location": {"x": 50.0, "y": 50.0}, "closes": horizon}],
        "stops": stops,
        "vehicles": [
            {"id": f"v{k}", "start_depot": "d", "capacity": {"load": capacity}, "shift_end": horizon}
            for k in range(n_vehicles)
        ],
        "options": {"objective": "distance", "allow_dropping": False, **FAST, **(options or {})},
    }


def planar_request(*args: Any, **kwargs: Any) -> RouteRequest:
    return RouteRequest.parse(planar_payload(*args, **kwargs))


def with_options(request: RouteRequest, **changes: Any) -> RouteRequest:
    return request.model_copy(update={"options": Options(**(request.options.model_dump() | changes))})


def _route_feasible(request: RouteRequest, vehicle_index: int, stops: list[int]) -> float | None:
    """Distance of ``stops`` served in order by the vehicle, or ``None`` if a limit is broken (earliest start)."""
    vehicle = request.vehicles[vehicle_index]
    depots = {d.id: i for i, d in enumerate(request.depots)}
    n_depots = len(request.depots)
    loc = request.locations

    def dist(a: int, b: int) -> float:
        if request.travel.distance_matrix is not None:
            return request.travel.distance_matrix[a][b]
        return math.hypot(loc[a].x - loc[b].x, loc[a].y - loc[b].y)

    def travel(a: int, b: int) -> float:
        if request.travel.time_matrix is not None:
            return request.travel.time_matrix[a][b]
        return dist(a, b) / (vehicle.speed or 1.0)

    start, end = depots[vehicle.start_depot], depots[vehicle.end]
    clock = max(vehicle.shift_start, request.depots[start].opens)
    here, total, service = start, 0.0, 0.0
    load = dict.fromkeys(vehicle.capacity, 0.0)
    for s in stops:
        stop, node = request.stops[s], n_depots + s
        clock += service + travel(here, node)
        total += dist(here, node)
        if stop.time_windows:
            window = next((w for w in stop.time_windows if clock <= w.end), None)
            if window is None:
                return None
            clock = max(clock, window.start)
        for d in load:
            load[d] += stop.demand.get(d, 0.0)
            if load[d] > vehicle.capacity[d]:
                return None
        here, service = node, stop.service_time
    total += dist(here, end)
    back = clock + service + travel(here, end)
    closing = [x for x in (vehicle.shift_end, request.depots[end].closes) if x is not None]
    if closing and back > min(closing):
        return None
    if vehicle.max_distance is not None and total > vehicle.max_distance:
        return None
    return total


def brute_force_distance(request: RouteRequest) -> float | None:
    """The shortest total distance serving every stop, by enumerating every assignment and order.

    Every permutation of the stops is cut into one (possibly empty) consecutive piece per vehicle, in vehicle
    order, so each vehicle's ordered route is enumerated. ``None`` when no plan serves every stop.
    """
    n, k = len(request.stops), len(request.vehicles)
    best = None
    for order in itertools.permutations(range(n)):
        for cuts in itertools.combinations_with_replacement(range(n + 1), k - 1):
            bounds = (0, *cuts, n)
            total = 0.0
            for v in range(k):
                piece = list(order[bounds[v] : bounds[v + 1]])
                if not piece:
                    continue
                length = _route_feasible(request, v, piece)
                if length is None:
                    total = math.inf
                    break
                total += length
            if best is None or total < best:
                best = total
    return None if best is None or math.isinf(best) else best


@pytest.fixture
def small_request() -> RouteRequest:
    """Eight stops, three vehicles, windows that force two routes at least."""
    return planar_request(8, 3, seed=3, capacity=25.0)
