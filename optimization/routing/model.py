"""The integer model handed to OR-Tools: scaled matrices, windows, demands and limits.

OR-Tools works in integers. Scaling is chosen so that rounding can only make the integer model *stricter*
than the real one: travel times (with the service time of the stop being left) and demands are rounded up,
window ends, shift ends and capacities down, window starts up. A plan feasible in integers is therefore
feasible in real numbers, which the plain-Python verifier then confirms.

The model holds only the depots vehicles use and the stops that at least one vehicle could serve alone
(the others are reported as unserved before solving). It is a plain picklable dataclass so that worker
processes can rebuild the OR-Tools model from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimization.routing.request import Objective, RouteRequest, RoutingRequestError
from optimization.routing.travel import TravelMatrices

MAX_SCALED = 10**9
"""Largest scaled value a single matrix entry, window or capacity may reach (int64 sums stay safe)."""
MIN_TIME_SCALE = 1.0
"""Coarsest time resolution allowed: one request time unit (a minute). Coarser, rounding windows inward could
empty them and drop servable stops with a wrong reason; such a request is refused instead."""
HUGE_PENALTY = 10**14
"""Penalty for dropping a stop that must be served: larger than any plan's cost, small enough to add up."""


@dataclass
class IntegerModel:
    """Everything OR-Tools needs, in integers; node ``i`` is request location ``location_of[i]``."""

    objective: Objective
    location_of: list[int]
    n_depots: int
    starts: list[int]
    ends: list[int]
    arc_costs: list[list[list[int]]]
    vehicle_arc_cost: list[int]
    times: list[list[list[int]]]
    vehicle_time: list[int]
    distance_up: list[list[int]] | None
    windows: list[list[tuple[int, int]]]
    demands: list[list[int]]
    capacities: list[list[int]]
    start_range: list[tuple[int, int]]
    end_range: list[tuple[int, int]]
    max_duration: list[int | None]
    max_distance: list[int | None]
    fixed_costs: list[int]
    usable: list[bool]
    penalties: list[int]
    horizon: int
    time_scale: float
    cost_scale: float = 1.0
    allowed: list[list[int] | None] | None = None
    """Per node, the vehicles that may serve it (skills, allowed_vehicles); ``None``: every vehicle."""
    pickups: list[list[int]] | None = None
    """Per dimension and node, what is collected there (a pair's pickup included); ``None``: nothing anywhere.
    With pickups, ``demands`` is what is loaded at the depot for the node and the load on board is checked
    after every stop."""
    drops: list[list[int]] | None = None
    """Per dimension and node, what a pair's delivery drops (its pickup's amount)."""
    pairs: list[tuple[int, int]] | None = None
    """Pickup-and-delivery pairs as (pickup node, delivery node): same vehicle, pickup first."""
    max_trips: list[int] | None = None
    """Per vehicle, how many trips it may make (a depot node inside a route is a reload at that depot)."""
    fixed: list[list[int]] | None = None
    """Per vehicle, the stop nodes it serves first, in order (re-planning); ``None``: nothing is fixed."""

    def fixed_of(self, vehicle: int) -> list[int]:
        return self.fixed[vehicle] if self.fixed is not None else []

    def trips(self, route: list[int]) -> list[list[int]]:
        """``route`` cut at its reloads (depot nodes inside it) into trips of stops."""
        out: list[list[int]] = [[]]
        for n in route:
            if n < self.n_depots:
                out.append([])
            else:
                out[-1].append(n)
        return out

    def on_board(self, v: int, route: list[int]) -> bool:
        """Whether the load on board stays within every capacity of vehicle ``v`` along ``route`` (each trip
        leaves with its depot deliveries, drops them, collects pickups and drops pairs' goods)."""
        for trip in self.trips(route):
            for d, capacity in enumerate(self.capacities):
                load = sum(self.demands[d][n] for n in trip)
                if load > capacity[v]:
                    return False
                for n in trip:
                    load += -self.demands[d][n]
                    if self.pickups is not None:
                        load += self.pickups[d][n] - (self.drops[d][n] if self.drops is not None else 0)
                    if load > capacity[v]:
                        return False
        return True
    breaks: list[tuple[int, int, int] | None] | None = None
    """Per vehicle, its break as (earliest start, latest start, duration), or ``None``; ``None``: no breaks."""
    service: list[int] | None = None
    """Per node, its service time rounded up (a break may not overlap it); set when there are breaks."""

    def may_serve(self, vehicle: int, node: int) -> bool:
        return self.allowed is None or self.allowed[node] is None or vehicle in self.allowed[node]

    @property
    def n_nodes(self) -> int:
        return len(self.location_of)

    @property
    def n_vehicles(self) -> int:
        return len(self.starts)

    @property
    def stop_nodes(self) -> range:
        return range(self.n_depots, self.n_nodes)


def _scale_for(max_value: float, preferred: float = 1000.0) -> float:
    """A power of ten up to ``preferred`` that keeps ``max_value`` times it below :data:`MAX_SCALED`."""
    if max_value <= 0:
        return preferred
    return min(preferred, 10.0 ** math.floor(math.log10(MAX_SCALED / max_value)))


def _real_horizon(request: RouteRequest, time_mats: list[np.ndarray], stops: list[int]) -> float:
    """The latest instant the time dimension must represent, in request units.

    When every vehicle must be back by a shift end or a depot closing time, nothing happens after the latest
    of those, whatever the stops' windows say (a window ending later is cut there, which changes no plan).
    Otherwise every finite time and a route through every stop must fit. Keeping this tight keeps the
    time scale fine: a far-away window end must not coarsen every other time (issue 15: one window ending
    at 1e12 once emptied a whole plan).
    """
    depots = {d.id: d for d in request.depots}
    starts = [max(v.shift_start, depots[v.start_depot].opens) for v in request.vehicles]
    returns = [
        min((x for x in (v.shift_end, depots[v.end].closes) if x is not None), default=None)
        for v in request.vehicles
    ]
    if all(r is not None for r in returns):
        return max(starts + returns) + 1.0
    finite_times = list(starts)
    finite_times += [r for r in returns if r is not None]
    finite_times += [d.closes for d in request.depots if d.closes is not None]
    finite_times += [w.end for s in stops for w in request.stops[s].time_windows]
    longest_route = max(float(t.max(axis=1).sum()) for t in time_mats) if time_mats else 0.0
    return max(finite_times) + longest_route + 1.0


def _down(value: float | None, scale: float, cap: int) -> int:
    return cap if value is None else min(cap, math.floor(value * scale + 1e-9))


def compile_model(request: RouteRequest, matrices: TravelMatrices, stops: list[int]) -> IntegerModel:
    """Scale the request into integers, keeping the used depots and the given stop positions."""
    n_req_depots = len(request.depots)
    depot_pos = {d.id: i for i, d in enumerate(request.depots)}
    used_depots = sorted(
        {depot_pos[v.start_depot] for v in request.vehicles} | {depot_pos[v.end] for v in request.vehicles}
    )
    location_of = used_depots + [n_req_depots + s for s in stops]
    node_of_depot = {loc: node for node, loc in enumerate(used_depots)}
    idx = np.asarray(location_of)
    sub = np.ix_(idx, idx)
    service = np.zeros(len(location_of))
    service[len(used_depots) :] = [request.stops[s].service_time for s in stops]

    time_mats = [t[sub] + service[:, None] for t in matrices.times]
    real_horizon = _real_horizon(request, time_mats, stops)
    time_scale = _scale_for(real_horizon)
    if time_scale < MIN_TIME_SCALE:
        raise RoutingRequestError(
            f"the plan's time horizon ({real_horizon:.4g} time units: the latest window or shift plus the "
            f"longest possible route) is too long to plan in whole time units; give the vehicles a shift_end "
            f"or the depots a closing time"
        )
    horizon = math.ceil(real_horizon * time_scale)
    # an arc longer than the horizon can never be used: clipping it keeps the integers small and changes nothing
    times = [np.minimum(np.ceil(t * time_scale), horizon + 1).astype(np.int64) for t in time_mats]

    distance = matrices.distance[sub]
    # the distance dimension only has to count up to the largest max_distance (or one arc beyond it)
    dist_limits = [v.max_distance for v in request.vehicles if v.max_distance is not None]
    dist_scale = _scale_for(float(distance.max()) + max(dist_limits, default=0.0))
    needs_distance_dim = any(v.max_distance is not None for v in request.vehicles)
    distance_up = np.ceil(distance * dist_scale).astype(np.int64).tolist() if needs_distance_dim else None

    objective = request.options.objective
    arc_keys: dict[tuple[float, float, int], int] = {}
    real_costs: list[np.ndarray] = []
    vehicle_arc_cost = []
    for v, vehicle in enumerate(request.vehicles):
        if objective is Objective.COST:
            key = (vehicle.cost_per_distance, vehicle.cost_per_time, matrices.vehicle_time[v])
        elif objective is Objective.TIME:
            key = (0.0, 1.0, matrices.vehicle_time[v])
        else:
            key = (1.0, 0.0, 0)
        if key not in arc_keys:
            per_dist, per_time, t = key
            arc_keys[key] = len(real_costs)
            real_costs.append(per_dist * distance + per_time * time_mats[t])
        vehicle_arc_cost.append(arc_keys[key])
    cost_scale = _scale_for(max(float(c.max()) for c in real_costs) * max(1, len(location_of)))
    arc_costs = [np.rint(c * cost_scale).astype(np.int64).tolist() for c in real_costs]

    bound = (
        int(max(max(max(row) for row in m) for m in arc_costs)) * (len(location_of) + len(request.vehicles))
        + 1
    )
    if objective is Objective.VEHICLES:
        fixed_costs = [bound] * len(request.vehicles)
    elif objective is Objective.COST:
        fixed_costs = [round(v.fixed_cost * cost_scale) for v in request.vehicles]
    else:
        fixed_costs = [0] * len(request.vehicles)
    penalties = []
    for s in stops:
        stop = request.stops[s]
        if not request.options.allow_dropping:
            penalties.append(HUGE_PENALTY)
        else:
            penalty = round((stop.penalty or request.options.default_penalty) * cost_scale)
            if objective is Objective.VEHICLES:
                penalty += max(fixed_costs)
            penalties.append(min(penalty, HUGE_PENALTY))

    # a depot's window is its opening hours (for reloads between trips)
    windows: list[list[tuple[int, int]]] = [
        [(math.ceil(request.depots[d].opens * time_scale - 1e-9), _down(request.depots[d].closes, time_scale, horizon))]
        for d in used_depots
    ]
    for s in stops:
        stop_windows = request.stops[s].time_windows
        if not stop_windows:
            windows.append([(0, horizon)])
        else:
            scaled = [
                (math.ceil(w.start * time_scale - 1e-9), _down(w.end, time_scale, horizon)) for w in stop_windows
            ]
            # windows opening after the horizon (every vehicle is back by then) can never be used
            windows.append([w for w in scaled if w[0] <= w[1]] or scaled[:1])

    dims = request.dimensions
    # loads never exceed a capacity by more than one demand (the dimension caps them), so the largest
    # capacity or demand sets the scale; multiplying by the number of stops would coarsen it for nothing
    demand_scale = _scale_for(
        max(
            [c for v in request.vehicles for c in v.capacity.values()]
            + [x for s in stops for x in request.stops[s].demand.values()]
            + [x for s in stops for x in request.stops[s].pickup.values()]
            + [1.0]
        )
        * 2
    )
    demands = [
        [0] * len(used_depots)
        + [math.ceil(request.stops[s].demand.get(d, 0.0) * demand_scale - 1e-9) for s in stops]
        for d in dims
    ]
    capacities = [[math.floor(v.capacity[d] * demand_scale + 1e-9) for v in request.vehicles] for d in dims]
    node_of_stop = {s: len(used_depots) + k for k, s in enumerate(stops)}
    stop_pos = {st.id: i for i, st in enumerate(request.stops)}
    pairs = [(node_of_stop[p], node_of_stop[q]) for p, q in request.pairs if p in node_of_stop and q in node_of_stop]
    has_pickups = bool(pairs) or any(request.stops[s].pickup for s in stops)
    pickups = drops = None
    if has_pickups:
        def amounts(stop_of_node: dict[int, int], field_name: str) -> list[list[int]]:
            out = []
            for d in dims:
                row = [0] * (len(used_depots) + len(stops))
                for node, s in stop_of_node.items():
                    row[node] = math.ceil(getattr(request.stops[s], field_name).get(d, 0.0) * demand_scale - 1e-9)
                out.append(row)
            return out

        pickups = amounts({node_of_stop[s]: s for s in stops}, "pickup")
        # a pair's delivery drops what its pickup collected
        drops = amounts({node_of_stop[q]: p for p, q in request.pairs if q in node_of_stop}, "pickup")

    start_range, end_range, usable = [], [], []
    for vehicle in request.vehicles:
        start, end = request.depots[depot_pos[vehicle.start_depot]], request.depots[depot_pos[vehicle.end]]
        earliest = math.ceil(max(vehicle.shift_start, start.opens) * time_scale - 1e-9)
        latest_end = min(
            _down(vehicle.shift_end, time_scale, horizon), _down(end.closes, time_scale, horizon)
        )
        latest_start = min(latest_end, _down(start.closes, time_scale, horizon))
        usable.append(earliest <= latest_start)
        start_range.append((earliest, max(earliest, latest_start)))
        end_range.append((earliest, max(earliest, latest_end)))

    breaks: list[tuple[int, int, int] | None] = []
    for v, vehicle in enumerate(request.vehicles):
        if not vehicle.breaks:
            breaks.append(None)
            continue
        pause = vehicle.breaks[0]
        duration = math.ceil(pause.duration * time_scale - 1e-9)
        earliest = math.ceil(pause.start * time_scale - 1e-9)
        latest = _down(pause.end, time_scale, horizon + duration) - duration
        if latest < earliest:  # rounding left no room (a window a hair longer than the break)
            usable[v] = False
            latest = earliest
        breaks.append((earliest, latest, duration))

    allowed: list[list[int] | None] = [None] * len(used_depots)
    for s in stops:
        stop = request.stops[s]
        fits = [v for v, vehicle in enumerate(request.vehicles) if stop.accepts(vehicle)]
        allowed.append(None if len(fits) == len(request.vehicles) else fits)

    return IntegerModel(
        objective=objective,
        location_of=location_of,
        n_depots=len(used_depots),
        starts=[node_of_depot[depot_pos[v.start_depot]] for v in request.vehicles],
        ends=[node_of_depot[depot_pos[v.end]] for v in request.vehicles],
        arc_costs=arc_costs,
        vehicle_arc_cost=vehicle_arc_cost,
        times=[t.tolist() for t in times],
        vehicle_time=list(matrices.vehicle_time),
        distance_up=distance_up,
        windows=windows,
        demands=demands,
        capacities=capacities,
        start_range=start_range,
        end_range=end_range,
        max_duration=[
            None if v.max_duration is None else _down(v.max_duration, time_scale, horizon)
            for v in request.vehicles
        ],
        max_distance=[
            None if v.max_distance is None else math.floor(v.max_distance * dist_scale)
            for v in request.vehicles
        ],
        fixed_costs=fixed_costs,
        usable=usable,
        penalties=penalties,
        horizon=horizon,
        time_scale=time_scale,
        cost_scale=cost_scale,
        allowed=allowed if any(a is not None for a in allowed) else None,
        breaks=breaks if any(b is not None for b in breaks) else None,
        pickups=pickups,
        drops=drops,
        pairs=pairs or None,
        max_trips=[v.max_trips for v in request.vehicles] if any(v.max_trips > 1 for v in request.vehicles) else None,
        fixed=[[node_of_stop[stop_pos[x]] for x in v.fixed_stops if stop_pos[x] in node_of_stop] for v in request.vehicles]
        if any(v.fixed_stops for v in request.vehicles)
        else None,
        service=[math.ceil(x * time_scale - 1e-9) for x in service] if any(breaks) else None,
    )
