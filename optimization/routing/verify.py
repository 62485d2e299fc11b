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


def _check_start_load(request, route, vehicle, stops, bad) -> dict[str, float] | None:
    """What the vehicle carries when it leaves (every depot delivery of the route), when there are pickups."""
    if not any(s.pickup for s in request.stops):
        return None
    first_trip = route.visits[: min(route.reloads, default=len(route.visits))]
    carried = {d: sum(stops[v.stop_id].demand.get(d, 0.0) for v in first_trip if v.stop_id in stops) for d in vehicle.capacity}
    for d, amount in carried.items():
        if amount > vehicle.capacity[d] + TOLERANCE:
            bad(f"vehicle {route.vehicle_id!r}: leaves with {amount:g} {d}, more than its capacity {vehicle.capacity[d]:g}")
        reported = (route.start_load or {}).get(d, math.nan)
        if not _close(reported, amount):
            bad(f"vehicle {route.vehicle_id!r}: reported start load {reported} {d}, recomputed {amount}")
    return carried


def _check_on_board(stops, stop, visit, vehicle, carried: dict[str, float], bad) -> None:
    """Updates ``carried`` after ``stop`` (drops its delivery, collects its pickup, drops a pair's goods) and
    checks it against the capacity and the reported ``on_board``."""
    pickup_of = next((s for s in stops.values() if s.delivery_stop == stop.id), None)
    for d in carried:
        carried[d] += stop.pickup.get(d, 0.0) - stop.demand.get(d, 0.0)
        if pickup_of is not None:
            carried[d] -= pickup_of.pickup.get(d, 0.0)
        if carried[d] > vehicle.capacity[d] + TOLERANCE:
            bad(f"stop {stop.id!r}: {carried[d]:g} {d} on board, more than capacity {vehicle.capacity[d]:g}")
        reported = (visit.on_board or {}).get(d, math.nan)
        if not _close(reported, carried[d]):
            bad(f"stop {stop.id!r}: reported {reported} {d} on board, recomputed {carried[d]}")


def _leg(request, vehicle, route, k: int, leave: float, travel: float, reported: float, bad) -> tuple[float, float]:
    """(arrival, ready) at the end of leg ``k`` (to visit ``k``, or back to the depot after the last one).

    Without a break in the leg both are ``leave + travel``. With one (it must start no earlier than the
    vehicle leaves and than its window, and end by the window's end): started before the vehicle would arrive,
    it is taken while driving (arrival and ready ``leave + travel + duration``); started later, on site
    (arrival ``leave + travel``, ready at the break's end). At the boundary either reading is accepted.
    """
    arrival = leave + travel
    for taken in route.breaks:
        if taken.leg != k or not vehicle.breaks:
            continue
        pause = vehicle.breaks[0]
        if taken.start < leave - TOLERANCE * max(1.0, abs(leave)):
            bad(f"vehicle {route.vehicle_id!r}: break starts at {taken.start:.4f}, before it leaves {leave:.4f}")
        driving = leave + travel + pause.duration
        if taken.start < arrival - TOLERANCE or (_close(taken.start, arrival) and _close(reported, driving)):
            return driving, driving
        return arrival, max(arrival, taken.end)
    return arrival, arrival


def _check_breaks(request, vehicle, route, back: float, bad) -> None:
    """Each break of the vehicle is in the plan once, inside its window, as long as asked, in a leg or before
    the route leaves or after it is back."""
    vid = route.vehicle_id
    if len(route.breaks) != len(vehicle.breaks):
        bad(f"vehicle {vid!r}: {len(route.breaks)} breaks in the plan, {len(vehicle.breaks)} asked for")
        return
    for pause, taken in zip(vehicle.breaks, route.breaks, strict=True):
        if taken.start < pause.start - TOLERANCE or taken.end > pause.end + TOLERANCE:
            bad(f"vehicle {vid!r}: break [{taken.start:.4f}, {taken.end:.4f}] outside [{pause.start:g}, {pause.end:g}]")
        if not _close(taken.end - taken.start, pause.duration):
            bad(f"vehicle {vid!r}: break of {taken.end - taken.start:.4f}, asked for {pause.duration:g}")
        if taken.leg is None:
            if not (taken.end <= route.departure + TOLERANCE or taken.start >= back - TOLERANCE):
                bad(f"vehicle {vid!r}: break outside the legs overlaps the route [{route.departure:.4f}, {back:.4f}]")
        elif not 0 <= taken.leg <= len(route.visits):
            bad(f"vehicle {vid!r}: break in leg {taken.leg}, the route has {len(route.visits) + 1}")


def _check_latest_arrivals(route, legs, travel_back, latest_return, vehicle, bad, depot_closes=None) -> None:
    """Each visit's ``latest_arrival`` and ``slack``, recomputed backwards from the latest possible return.

    The bound is on the time the vehicle is ready at a stop: a break in the leg after a visit takes its
    duration off (and must still end by its window's end); a break taken on site before a visit lets the
    vehicle arrive a break earlier than it must be ready; a break after the return must still fit its window.
    """
    limit = latest_return
    if vehicle.max_duration is not None:
        limit = min(limit, route.departure + vehicle.max_duration)
    pause = vehicle.breaks[0] if vehicle.breaks else None
    taken = route.breaks[0] if route.breaks else None
    if pause is not None and taken is not None and taken.leg is None and taken.start >= route.departure:
        limit = min(limit, pause.end - pause.duration)
    after = travel_back  # travel from this stop to the next one (or back to the depot)
    n = len(route.visits)
    closes = math.inf if depot_closes is None else depot_closes
    for k in range(n - 1, -1, -1):
        visit, (travel, service, window_end, via) = route.visits[k], legs[k]
        limit = limit - after - service
        if pause is not None and taken is not None and taken.leg == k + 1:
            limit = min(limit - pause.duration, pause.end - pause.duration - service)
        if window_end is not None:
            limit = min(limit, window_end)
        after = travel
        expected = None if math.isinf(limit) else limit
        if via is not None:  # a reload before this visit: the depot must be reached before it closes
            limit, after = min(closes, limit - via[1]), via[0]
        on_site = pause is not None and taken is not None and taken.leg == k and taken.start >= visit.arrival - 1e-12
        if expected is not None and pause is not None and on_site:  # the break follows the arrival
            expected -= pause.duration
        reported = visit.latest_arrival
        if (expected is None) != (reported is None) or (
            expected is not None and reported is not None and not _close(reported, expected)
        ):
            bad(f"stop {visit.stop_id!r}: reported latest arrival {reported}, recomputed {expected}")
        elif expected is not None and (visit.slack is None or not _close(visit.slack, expected - visit.arrival)):
            bad(f"stop {visit.stop_id!r}: slack {visit.slack} is not latest arrival minus arrival")
        if expected is not None and expected < visit.arrival - TOLERANCE:
            bad(f"stop {visit.stop_id!r}: arrives at {visit.arrival:.4f}, after its latest arrival {expected:.4f}")


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
        on_board = _check_start_load(request, route, vehicle, stops, bad)
        position = {v.stop_id: k for k, v in enumerate(route.visits)}
        for pickup in stops.values():
            if pickup.delivery_stop is None:
                continue
            here_p, here_d = position.get(pickup.id), position.get(pickup.delivery_stop)
            if (here_p is None) != (here_d is None):
                bad(f"pair {pickup.id!r} -> {pickup.delivery_stop!r}: only one of its stops is on vehicle {vid!r}")
            elif here_p is not None and here_d is not None and here_p > here_d:
                bad(f"pair {pickup.id!r} -> {pickup.delivery_stop!r}: the delivery comes before the pickup")
        # per visit: travel to it, its service, the end of the window its service starts in, and for a visit
        # after a reload the travel to the depot and from it
        legs: list[tuple[float, float, float | None, tuple[float, float] | None]] = []
        if vehicle.fixed_stops and route.stop_ids[: len(vehicle.fixed_stops)] != vehicle.fixed_stops:
            bad(f"vehicle {vid!r}: the route does not start with its fixed stops {vehicle.fixed_stops}")
        if len(route.reloads) + 1 > vehicle.max_trips:
            bad(f"vehicle {vid!r}: {len(route.reloads) + 1} trips, at most {vehicle.max_trips} allowed")
        if route.reloads != sorted(set(route.reloads)) or any(not 0 < k < len(route.visits) for k in route.reloads):
            bad(f"vehicle {vid!r}: reloads {route.reloads} are not distinct places between two visits")
        trip_of = [sum(1 for r in route.reloads if r <= k) for k in range(len(route.visits))]
        via: tuple[float, float] | None = None
        for k, visit in enumerate(route.visits):
            sid = visit.stop_id
            if sid not in stops:
                bad(f"vehicle {vid!r}: unknown stop {sid!r}")
                continue
            via = None
            if k in route.reloads:  # back to the start depot, reload, on to this stop
                depot = depot_index[start.id]
                dist += _distance(request, here, depot)
                to_depot = _travel_time(request, vehicle.speed, here, depot)
                at_depot = clock + to_depot
                if start.closes is not None and at_depot > start.closes + TOLERANCE:
                    bad(f"vehicle {vid!r}: reloads at {at_depot:.4f}, after depot {start.id!r} closes")
                clock, here = max(at_depot, start.opens), depot
                via = (to_depot, _travel_time(request, vehicle.speed, depot, stop_index[sid]))
                load = {d: 0.0 for d in vehicle.capacity}
                if on_board is not None:
                    on_board = {
                        d: sum(
                            stops[v.stop_id].demand.get(d, 0.0)
                            for j, v in enumerate(route.visits)
                            if trip_of[j] == trip_of[k] and v.stop_id in stops
                        )
                        for d in vehicle.capacity
                    }
            if sid in served:
                bad(f"stop {sid!r} is served twice")
            served.add(sid)
            stop, node = stops[sid], stop_index[sid]
            lacking = sorted(set(stop.required_skills) - set(vehicle.skills))
            if lacking:
                bad(f"stop {sid!r}: vehicle {vid!r} lacks the required skill(s) {lacking}")
            if stop.allowed_vehicles is not None and vid not in stop.allowed_vehicles:
                bad(f"stop {sid!r}: vehicle {vid!r} is not among its allowed vehicles {stop.allowed_vehicles}")
            dist += _distance(request, here, node)
            travel = _travel_time(request, vehicle.speed, here, node)
            arrival, ready = _leg(request, vehicle, route, len(legs), clock, travel, visit.arrival, bad)
            if not _close(visit.arrival, arrival):
                bad(f"stop {sid!r}: reported arrival {visit.arrival:.4f}, recomputed {arrival:.4f}")
            if visit.start < ready - TOLERANCE:
                bad(f"stop {sid!r}: service starts at {visit.start:.4f}, before the break before it ends")
            if visit.start < arrival - TOLERANCE:
                bad(f"stop {sid!r}: service starts at {visit.start:.4f}, before arrival {arrival:.4f}")
            if not _close(visit.waiting, visit.start - visit.arrival):
                bad(f"stop {sid!r}: waiting {visit.waiting:.4f} is not start minus arrival")
            if stop.time_windows and not any(
                w.start - TOLERANCE <= visit.start <= w.end + TOLERANCE for w in stop.time_windows
            ):
                windows = ", ".join(f"[{w.start:g}, {w.end:g}]" for w in stop.time_windows)
                bad(f"stop {sid!r}: service starts at {visit.start:.4f}, outside its windows {windows}")
            used = [w.end for w in stop.time_windows if w.start - TOLERANCE <= visit.start <= w.end + TOLERANCE]
            legs.append((_travel_time(request, vehicle.speed, here, node), stop.service_time, min(used, default=None), via))
            if not _close(visit.departure, visit.start + stop.service_time):
                bad(f"stop {sid!r}: departure {visit.departure:.4f} is not start plus service time")
            for d in load:
                load[d] += stop.demand.get(d, 0.0)
                if not _close(visit.load.get(d, math.nan), load[d]):
                    bad(f"stop {sid!r}: reported {d} load {visit.load.get(d)}, recomputed {load[d]}")
                if load[d] > vehicle.capacity[d] + TOLERANCE:
                    bad(f"stop {sid!r}: the trip delivers {load[d]:g} {d}, more than capacity {vehicle.capacity[d]:g}")
            if on_board is not None:
                _check_on_board(stops, stop, visit, vehicle, on_board, bad)
            clock, here = max(visit.departure, arrival + stop.service_time), node
        for d, amount in load.items():
            if amount > vehicle.capacity[d] + TOLERANCE:
                bad(f"vehicle {vid!r}: {d} load {amount:g} exceeds capacity {vehicle.capacity[d]:g}")
        back_node = depot_index[end.id]
        dist += _distance(request, here, back_node) if route.visits else 0.0
        travel_back = _travel_time(request, vehicle.speed, here, back_node) if route.visits else 0.0
        back = route.departure
        if route.visits:
            _, back = _leg(request, vehicle, route, len(legs), clock, travel_back, route.return_time, bad)
        _check_breaks(request, vehicle, route, back, bad)
        if not _close(route.return_time, back):
            bad(f"vehicle {vid!r}: reported return {route.return_time:.4f}, recomputed {back:.4f}")
        latest = min(x for x in (vehicle.shift_end, end.closes, math.inf) if x is not None)
        if back > latest + TOLERANCE:
            bad(f"vehicle {vid!r}: returns at {back:.4f}, after its shift or depot closing {latest:g}")
        duration = back - route.departure
        _check_latest_arrivals(route, legs, travel_back, latest, vehicle, bad, start.closes)
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
    for vehicle in request.vehicles:
        if vehicle.fixed_stops and vehicle.id not in seen_vehicles:
            bad(f"vehicle {vehicle.id!r} has fixed stops {vehicle.fixed_stops} but no route")
    for pickup in stops.values():
        if pickup.delivery_stop is not None and (pickup.id in served) != (pickup.delivery_stop in served):
            bad(f"pair {pickup.id!r} -> {pickup.delivery_stop!r}: one stop served, the other not")
    for sid in stops:
        if sid not in served and sid not in unserved:
            bad(f"stop {sid!r} is neither served nor listed as unserved")
        if sid in served and sid in unserved:
            bad(f"stop {sid!r} is served and also listed as unserved")
    out.served = len(served)
    return out
