"""Reasons, in words, why a stop is not served.

Before solving, every stop is tried alone with every vehicle (capacity, reaching a window, returning before
the shift ends, maximum distance and duration); a stop no vehicle can serve alone is left out of the model and
reported with the first limit that rules out every vehicle. Stops the solver leaves out are first offered
to a plain cheapest-insertion repair; those still out are explained by their penalty (a place exists but costs
more) or by the rest of the plan (no vehicle has room for them).
"""

from __future__ import annotations

from optimization.routing.request import RouteRequest
from optimization.routing.travel import TravelMatrices

_EPS = 1e-9


def unservable_reasons(request: RouteRequest, matrices: TravelMatrices) -> dict[int, str]:
    """Stop positions that no single vehicle can serve, each with the reason."""
    depot_pos = {d.id: i for i, d in enumerate(request.depots)}
    n_depots = len(request.depots)
    reasons: dict[int, str] = {}
    for s, stop in enumerate(request.stops):
        node = n_depots + s
        failures: list[set[str]] = []
        for v, vehicle in enumerate(request.vehicles):
            failed: set[str] = set()
            if not stop.accepts(vehicle):
                failed.add("skills")
            start, end = depot_pos[vehicle.start_depot], depot_pos[vehicle.end]
            time = matrices.time_of(v)
            if any(
                max(stop.demand.get(d, 0.0), stop.pickup.get(d, 0.0)) > cap + _EPS for d, cap in vehicle.capacity.items()
            ):
                failed.add("capacity")
            leave = max(vehicle.shift_start, request.depots[start].opens)
            arrival = leave + time[start, node]
            windows = stop.time_windows
            window = next((w for w in windows if arrival <= w.end + _EPS), None) if windows else None
            if windows and window is None:
                failed.add("reach")
            begin = max(arrival, window.start) if window is not None else arrival
            back = begin + stop.service_time + time[node, end]
            closing = [x for x in (vehicle.shift_end, request.depots[end].closes) if x is not None]
            if "reach" not in failed and closing and back > min(closing) + _EPS:
                failed.add("return")
            round_trip = matrices.distance[start, node] + matrices.distance[node, end]
            if vehicle.max_distance is not None and round_trip > vehicle.max_distance + _EPS:
                failed.add("distance")
            shortest = time[start, node] + stop.service_time + time[node, end]
            if vehicle.max_duration is not None and shortest > vehicle.max_duration + _EPS:
                failed.add("duration")
            failures.append(failed)
        if all(failures):
            reasons[s] = _describe(request, s, failures, matrices)
    return reasons


def _describe(request: RouteRequest, s: int, failures: list[set[str]], matrices: TravelMatrices) -> str:
    stop = request.stops[s]
    common = set.intersection(*failures)
    if "skills" in common:
        if stop.allowed_vehicles is not None and stop.required_skills:
            return (
                f"none of its allowed vehicles {stop.allowed_vehicles} has every required skill "
                f"{stop.required_skills}"
            )
        if stop.allowed_vehicles is not None:
            return f"none of its allowed vehicles {stop.allowed_vehicles} is in the fleet"
        return f"no vehicle has every required skill {stop.required_skills}"
    if "capacity" in common:
        for d, amount in stop.demand.items():
            largest = max(v.capacity[d] for v in request.vehicles)
            if amount > largest + _EPS:
                return f"demand {amount:g} {d} exceeds every vehicle's capacity {largest:g}"
        for d, amount in stop.pickup.items():
            largest = max(v.capacity[d] for v in request.vehicles)
            if amount > largest + _EPS:
                return f"pickup {amount:g} {d} exceeds every vehicle's capacity {largest:g}"
    if "reach" in common:
        last = stop.time_windows[-1].end
        return f"time window closes at {last:g}, before any vehicle can arrive"
    if "return" in common:
        return "no vehicle can serve it and return to its depot before its shift ends or the depot closes"
    if "distance" in common:
        return "the round trip from the depot is longer than every vehicle's maximum distance"
    if "duration" in common:
        return "the round trip from the depot takes longer than every vehicle's maximum route duration"
    return "no single vehicle meets its capacity, time window, shift and distance limits all at once"


def fixed_problem(request: RouteRequest, matrices: TravelMatrices, v: int) -> str | None:
    """Why vehicle ``v``'s committed stops cannot be served in their order (``None`` when they can): a window
    missed, a capacity exceeded, or no way back before its shift ends or its depot closes."""
    vehicle = request.vehicles[v]
    if not vehicle.fixed_stops:
        return None
    depots = {d.id: i for i, d in enumerate(request.depots)}
    position = {s.id: len(request.depots) + i for i, s in enumerate(request.stops)}
    stops = {s.id: s for s in request.stops}
    time = matrices.time_of(v)
    here = depots[vehicle.start_depot]
    clock = max(vehicle.shift_start, request.depots[here].opens)
    loaded = {d: 0.0 for d in vehicle.capacity}
    service = 0.0
    for stop_id in vehicle.fixed_stops:
        stop, node = stops[stop_id], position[stop_id]
        clock += service + time[here, node]
        if stop.time_windows:
            window = next((w for w in stop.time_windows if clock <= w.end + _EPS), None)
            if window is None:
                return f"it reaches fixed stop {stop_id!r} at {clock:.4g}, after its last window closes"
            clock = max(clock, window.start)
        for d in loaded:
            loaded[d] += stop.demand.get(d, 0.0)
            if loaded[d] > vehicle.capacity[d] + _EPS:
                return f"its fixed stops up to {stop_id!r} need {loaded[d]:g} {d}, more than its capacity"
        here, service = node, stop.service_time
    end = depots[vehicle.end]
    back = clock + service + time[here, end]
    closing = [x for x in (vehicle.shift_end, request.depots[end].closes) if x is not None]
    if closing and back > min(closing) + _EPS:
        return f"after its fixed stops it is back at {back:.4g}, after its shift ends or its depot closes"
    return None


def pair_reasons(request: RouteRequest, reasons: dict[int, str]) -> dict[int, str]:
    """Reasons for pair stops whose partner cannot be served, or that no single vehicle may serve together."""
    out: dict[int, str] = {}
    for p, q in request.pairs:
        pickup, delivery = request.stops[p], request.stops[q]
        if p in reasons and q not in reasons:
            out[q] = f"its pickup {pickup.id!r} cannot be served: {reasons[p]}"
        elif q in reasons and p not in reasons:
            out[p] = f"its delivery {delivery.id!r} cannot be served: {reasons[q]}"
        elif p not in reasons and not any(pickup.accepts(v) and delivery.accepts(v) for v in request.vehicles):
            out[p] = out[q] = (
                f"no vehicle may serve both {pickup.id!r} and {delivery.id!r} of the pair (skills or "
                f"allowed_vehicles)"
            )
    return out


def pair_dropped_reason(request: RouteRequest, s: int) -> str:
    """Why a stop of a pickup-and-delivery pair is left out (with its partner)."""
    stop = request.stops[s]
    partner = stop.delivery_stop or next(x.id for x in request.stops if x.delivery_stop == stop.id)
    return (
        f"left out with {partner!r}, the other stop of its pickup-and-delivery pair: the search found no "
        f"vehicle with room for both, or serving them costs more than their penalties"
    )


def dropped_reason(request: RouteRequest, s: int, added_cost: float | None) -> str:
    """Why a servable stop is left out, given the cheapest extra cost of fitting it into the plan (if any)."""
    if added_cost is None:
        return (
            "no vehicle has room for it next to the stops already planned (capacity, time windows, shift or "
            "route limits); add a vehicle, widen its window, or raise the time limit"
        )
    penalty = request.stops[s].penalty or request.options.default_penalty
    return (
        f"left out on purpose: serving it would add {added_cost:.4g} to the {request.options.objective.value} "
        f"objective, more than its penalty {penalty:g}"
    )


def no_solution_reason(time_limit: float, placed: bool = True) -> str:
    """The time limit ran out: before any plan was found, or before this stop could be placed."""
    if placed:
        return f"the solver found no plan within the time limit of {time_limit:g}s; raise the time limit"
    return f"the time limit of {time_limit:g}s ran out before this stop could be placed; raise the time limit"
