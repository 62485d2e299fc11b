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
    """Distance of ``stops`` served in order by the vehicle, or ``None`` if a limit is broken (earliest start).

    A vehicle with a break tries every place for it: before leaving, in each leg (it stops where it is when
    the break may start, and is ready a break later), after coming back.
    """
    vehicle = request.vehicles[vehicle_index]
    places = ["before", *range(len(stops) + 1), "after"] if vehicle.breaks else [None]
    # several trips: every choice of at most max_trips - 1 reloads between two stops
    cuts = [
        set(c)
        for r in range(min(vehicle.max_trips, len(stops))) for c in itertools.combinations(range(1, len(stops)), r)
    ]
    results = [_simulate(request, vehicle_index, stops, place, reloads) for place in places for reloads in cuts]
    found = [r for r in results if r is not None]
    return min(found) if found else None


def _simulate(
    request: RouteRequest, vehicle_index: int, stops: list[int], pause_at, reloads: set[int] = frozenset()
) -> float | None:
    vehicle = request.vehicles[vehicle_index]
    pause = vehicle.breaks[0] if vehicle.breaks else None
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

    def drive(leg: int, leave: float, a: int, b: int) -> float | None:
        """When the vehicle is ready at the end of the leg, with the break in it if it is placed here."""
        if pause is None or pause_at != leg:
            return leave + travel(a, b)
        begin = max(leave, pause.start)
        if begin + pause.duration > pause.end:
            return None
        return max(leave + travel(a, b), begin) + pause.duration

    start, end = depots[vehicle.start_depot], depots[vehicle.end]
    clock = max(vehicle.shift_start, request.depots[start].opens)
    if pause is not None and pause_at == "before":
        clock = max(clock, pause.start + pause.duration)
        if request.depots[start].closes is not None and clock > request.depots[start].closes:
            return None
    here, total, service = start, 0.0, 0.0
    load = dict.fromkeys(vehicle.capacity, 0.0)
    # on board: every depot delivery of the route at the start, then drops, pickups and pairs' goods
    first = [s for k, s in enumerate(stops) if not any(r <= k for r in reloads)]
    on_board = {d: sum(request.stops[s].demand.get(d, 0.0) for s in first) for d in vehicle.capacity}
    if any(x > vehicle.capacity[d] for d, x in on_board.items()):
        return None
    ids = [request.stops[s].id for s in stops]
    if ids[: len(vehicle.fixed_stops)] != vehicle.fixed_stops:
        return None  # re-planning: the committed stops come first, in order
    if any(x in ids for v in request.vehicles if v is not vehicle for x in v.fixed_stops):
        return None  # another vehicle's committed stop
    for s in stops:
        partner = request.stops[s].delivery_stop
        if partner is not None and (partner not in ids or ids.index(partner) < ids.index(request.stops[s].id)):
            return None  # a pair on two vehicles, or its delivery first
    if any(st.delivery_stop in ids and st.id not in ids for st in request.stops):
        return None
    goods_of = {st.delivery_stop: st.pickup for st in request.stops if st.delivery_stop is not None}
    trip_of = [sum(1 for r in reloads if r <= k) for k in range(len(stops))]
    for leg, s in enumerate(stops):
        stop, node = request.stops[s], n_depots + s
        if leg in reloads:  # back to the start depot, reload the next trip's deliveries, on to this stop
            depot = request.depots[start]
            clock += service + travel(here, start)
            total += dist(here, start)
            if depot.closes is not None and clock > depot.closes:
                return None
            clock, here, service = max(clock, depot.opens), start, 0.0
            load = dict.fromkeys(vehicle.capacity, 0.0)
            trip = [request.stops[x] for j, x in enumerate(stops) if trip_of[j] == trip_of[leg]]
            on_board = {d: sum(t.demand.get(d, 0.0) for t in trip) for d in vehicle.capacity}
            if any(x > vehicle.capacity[d] for d, x in on_board.items()):
                return None
        if not set(stop.required_skills) <= set(vehicle.skills):
            return None
        if stop.allowed_vehicles is not None and vehicle.id not in stop.allowed_vehicles:
            return None
        ready = drive(leg, clock + service, here, node)
        if ready is None:
            return None
        clock = ready
        total += dist(here, node)
        if stop.time_windows:
            window = next((w for w in stop.time_windows if clock <= w.end), None)
            if window is None:
                return None
            clock = max(clock, window.start)
        for d in load:
            load[d] += stop.demand.get(d, 0.0)
            on_board[d] += stop.pickup.get(d, 0.0) - stop.demand.get(d, 0.0) - goods_of.get(stop.id, {}).get(d, 0.0)
            if load[d] > vehicle.capacity[d] or on_board[d] > vehicle.capacity[d] + 1e-9:
                return None
        here, service = node, stop.service_time
    total += dist(here, end)
    back = drive(len(stops), clock + service, here, end)
    if back is None:
        return None
    if pause is not None and pause_at == "after" and max(back, pause.start) + pause.duration > pause.end:
        return None
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
                    if request.vehicles[v].fixed_stops:
                        total = math.inf
                        break
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
