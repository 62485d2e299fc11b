"""An independent, plain-Python checker of a route plan against its request.

It shares no code with the solver or the plan builder: distances come from its own great-circle / Euclidean
formulas (or the request's matrices), and every reported time, load, distance, duration and cost is recomputed
from the request and compared. It reports each violation in words; an empty list means the plan is feasible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from optimization.routing.plan import RoutePlan
from optimization.routing.request import DEFAULT_PLANAR_SPEED, DEFAULT_SPEED_KMH, RouteRequest

TOLERANCE = 1e-6
_EARTH_KM = 6371.0088


@dataclass
class Verification:
    """The verdict: violations found, and the totals recomputed independently."""

    violations: list[str] = field(default_factory=list)
    distance: float = 0.0
    vehicles: int = 0
    served: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def _distance(request: RouteRequest, i: int, j: int) -> float:
    if request.travel.distance_matrix is not None:
        return request.travel.distance_matrix[i][j]
    a, b = request.locations[i], request.locations[j]
    if a.lat is None:
        return math.hypot(a.x - b.x, a.y - b.y)
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(b.lon - a.lon) / 2) ** 2
    )
    return 2 * _EARTH_KM * math.asin(math.sqrt(min(1.0, h))) * request.travel.road_factor


def _travel_time(request: RouteRequest, speed: float | None, i: int, j: int) -> float:
    if request.travel.time_matrix is not None:
        return request.travel.time_matrix[i][j]
    if request.locations[0].lat is not None:
        return _distance(request, i, j) / ((speed or DEFAULT_SPEED_KMH) / 60.0)
    return _distance(request, i, j) / (speed or DEFAULT_PLANAR_SPEED)


def verify_plan(request: RouteRequest, plan: RoutePlan) -> Verification:
    """Check every route of ``plan`` against ``request``; see :class:`Verification`."""
    out = Verification()
    bad = out.violations.append
    depot_index = {d.id: i for i, d in enumerate(request.depots)}
    depots = {d.id: d for d in request.depots}
    stop_index = {s.id: len(request.depots) + i for i, s in enumerate(request.stops)}
    stops = {s.id: s for s in request.stops}
    vehicles = {v.id: v for v in request.vehicles}
    seen_vehicles: set[str] = set()
    served: set[str] = set()
    for route in plan.routes:
        vid = route.vehicle_id
        if vid not in vehicles:
            bad(f"route of unknown vehicle {vid!r}")
            continue
        if vid in seen_vehicles:
            bad(f"vehicle {vid!r} has two routes")
        seen_vehicles.add(vid)
        vehicle = vehicles[vid]
        if route.start_depot != vehicle.start_depot or route.end_depot != (
            vehicle.end_depot or vehicle.start_depot
        ):
            bad(
                f"vehicle {vid!r}: route starts/ends at {route.start_depot}/{route.end_depot}, not its depots"
            )
        start, end = depots[vehicle.start_depot], depots[vehicle.end_depot or vehicle.start_depot]
        if route.departure < max(vehicle.shift_start, start.opens) - TOLERANCE:
            bad(f"vehicle {vid!r}: leaves at {route.departure:.3f}, before its shift or depot opens")
        if start.closes is not None and route.departure > start.closes + TOLERANCE:
            bad(f"vehicle {vid!r}: leaves at {route.departure:.3f}, after depot {start.id!r} closes")
        here, clock, dist = depot_index[start.id], route.departure, 0.0
        load = {d: 0.0 for d in vehicle.capacity}
        for visit in route.visits:
            sid = visit.stop_id
            if sid not in stops:
                bad(f"vehicle {vid!r}: unknown stop {sid!r}")
                continue
            if sid in served:
                bad(f"stop {sid!r} is served twice")
            served.add(sid)
            stop, node = stops[sid], stop_index[sid]
            dist += _distance(request, here, node)
            arrival = clock + _travel_time(request, vehicle.speed, here, node)
            if not _close(visit.arrival, arrival):
                bad(f"stop {sid!r}: reported arrival {visit.arrival:.4f}, recomputed {arrival:.4f}")
            if visit.start < arrival - TOLERANCE:
                bad(f"stop {sid!r}: service starts at {visit.start:.4f}, before arrival {arrival:.4f}")
            if not _close(visit.waiting, visit.start - visit.arrival):
                bad(f"stop {sid!r}: waiting {visit.waiting:.4f} is not start minus arrival")
            if stop.time_windows and not any(
                w.start - TOLERANCE <= visit.start <= w.end + TOLERANCE for w in stop.time_windows
            ):
                windows = ", ".join(f"[{w.start:g}, {w.end:g}]" for w in stop.time_windows)
                bad(f"stop {sid!r}: service starts at {visit.start:.4f}, outside its windows {windows}")
            if not _close(visit.departure, visit.start + stop.service_time):
                bad(f"stop {sid!r}: departure {visit.departure:.4f} is not start plus service time")
            for d in load:
                load[d] += stop.demand.get(d, 0.0)
                if not _close(visit.load.get(d, math.nan), load[d]):
                    bad(f"stop {sid!r}: reported {d} load {visit.load.get(d)}, recomputed {load[d]}")
            clock, here = max(visit.departure, arrival + stop.service_time), node
        for d, amount in load.items():
            if amount > vehicle.capacity[d] + TOLERANCE:
                bad(f"vehicle {vid!r}: {d} load {amount:g} exceeds capacity {vehicle.capacity[d]:g}")
        back_node = depot_index[end.id]
        dist += _distance(request, here, back_node) if route.visits else 0.0
        back = (
            clock + _travel_time(request, vehicle.speed, here, back_node) if route.visits else route.departure
        )
        if not _close(route.return_time, back):
            bad(f"vehicle {vid!r}: reported return {route.return_time:.4f}, recomputed {back:.4f}")
        latest = min(x for x in (vehicle.shift_end, end.closes, math.inf) if x is not None)
        if back > latest + TOLERANCE:
            bad(f"vehicle {vid!r}: returns at {back:.4f}, after its shift or depot closing {latest:g}")
        duration = back - route.departure
        if not _close(route.duration, duration):
            bad(f"vehicle {vid!r}: reported duration {route.duration:.4f}, recomputed {duration:.4f}")
        if vehicle.max_duration is not None and duration > vehicle.max_duration + TOLERANCE:
            bad(f"vehicle {vid!r}: duration {duration:.3f} exceeds its maximum {vehicle.max_duration:g}")
        if not _close(route.distance, dist):
            bad(f"vehicle {vid!r}: reported distance {route.distance:.4f}, recomputed {dist:.4f}")
        if vehicle.max_distance is not None and dist > vehicle.max_distance + TOLERANCE:
            bad(f"vehicle {vid!r}: distance {dist:.3f} exceeds its maximum {vehicle.max_distance:g}")
        cost = vehicle.fixed_cost + vehicle.cost_per_distance * dist + vehicle.cost_per_time * duration
        if not _close(route.cost, cost):
            bad(f"vehicle {vid!r}: reported cost {route.cost:.4f}, recomputed {cost:.4f}")
        out.distance += dist
        out.vehicles += 1
    unserved = {u.stop_id for u in plan.unserved}
    for sid in sorted(unserved - set(stops)):
        bad(f"unserved stop {sid!r} is not in the request")
    for sid in stops:
        if sid not in served and sid not in unserved:
            bad(f"stop {sid!r} is neither served nor listed as unserved")
        if sid in served and sid in unserved:
            bad(f"stop {sid!r} is served and also listed as unserved")
    out.served = len(served)
    return out
