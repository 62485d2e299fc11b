"""PyVRP (iterated local search, MIT licence) as a second search engine behind the same request and verifier.

The PyVRP instance is compiled from the same :class:`~optimization.routing.model.IntegerModel` OR-Tools gets,
so the rounding rules have one owner (``model.py``): every travel time already includes the service time of
the stop being left and is rounded up, window starts are rounded up, window ends, shift ends and capacities
down. A plan PyVRP finds feasible is therefore feasible in real numbers, which the plain-Python verifier then
confirms on the request's own float data. Locations are the model's nodes (used depots first, then the
servable stops); PyVRP clients carry no service duration of their own (it is in the travel times).

Vehicles that are alike in every field the model knows (depots, capacities, shift, limits, costs, trips,
travel profile) become one PyVRP vehicle type; its routes are handed back to those vehicles in request order.
Stops a vehicle may not serve (skills) are cut off in its routing profile; stops with pickups are clients with
``delivery`` and ``pickup``, pickup-and-delivery pairs are PyVRP shipments, several trips are reloads at the
start depot (a depot node inside a model route).

With the ``vehicles`` objective and a single vehicle type, the search has two phases, as with OR-Tools:
fleet minimisation (try to serve every stop with one vehicle fewer than the best plan so far, until an attempt
fails or the phase ends), then distance with the fleet fixed, warm-started from the smallest fleet. Several
workers run in separate processes with their own seeds; in the fleet phase they race on each route removal
through a shared :class:`FleetBoard` (the loser of a hard step shortens the winner's plan instead of trying
the next one); the fleet-minimal plan is handed to every worker for the distance phase, where the second
may shorten it with OR-Tools by parts instead.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from optimization.routing.model import HUGE_PENALTY, IntegerModel
from optimization.routing.request import Objective, Options, RouteRequest
from optimization.routing.solver import (
    PART_ROUTES,
    WorkerResult,
    evaluate,
    improve_distance,
    run_parallel,
    worker_configs,
)
from optimization.routing.travel import TravelMatrices

if TYPE_CHECKING:
    from pyvrp import ProblemData, Solution

logger = logging.getLogger(__name__)

FLEET_SHARE = 0.6
"""Share of the search time the fleet-minimisation phase may use (``vehicles`` objective)."""
ATTEMPT_SHARES = (0.5, 0.5)
"""Per worker (even, odd): the longest route-removal attempt as a share of the whole search time. An attempt
that fails gives the rest of the fleet phase to distance."""
WARM_REMOVALS = (False, False)
"""Per worker (even, odd): whether a route-removal attempt starts from the best plan without its smallest
route (warm) or from scratch (cold)."""
SHARE_FLEET = True
"""Workers of one search post each new fleet size to a shared board (see :class:`FleetBoard`): they race on
each route removal, and the first to succeed posts its plan."""
HARD_STEP_SHARE = 0.1
"""A worker that loses a race lasting more than this share of the search time (a hard step: the next one
seldom succeeds) leaves the fleet phase and shortens the winner's plan; after an easy step it races on."""
MIX_PARTS = True
"""In the distance phase with two workers or more, the second shortens plans of ``2 * PART_ROUTES`` routes or
more with OR-Tools by parts (another neighbourhood) instead of PyVRP."""


@dataclass(frozen=True)
class PyvrpConfig:
    """One PyVRP worker: its seed and whether it minimises the fleet first."""

    seed: int
    fleet_minimisation: bool = False
    warm_removal: bool = False
    attempt_share: float = 0.5

    @property
    def label(self) -> str:
        fleet = f" fleet ({'warm' if self.warm_removal else 'cold'} removals)" if self.fleet_minimisation else ""
        return f"pyvrp/seed {self.seed}{fleet}"


@dataclass
class PyvrpModel:
    """The PyVRP instance of an :class:`IntegerModel`, and how to read its routes back.

    ``type_vehicles[t]`` are the model's vehicle indices of PyVRP vehicle type ``t``; PyVRP client ``c`` is
    model node ``client_nodes[c]`` and shipment ``k`` (a pickup-and-delivery pair) the nodes
    ``shipment_nodes[k]``.
    """

    data: ProblemData
    type_vehicles: list[list[int]]
    n_depots: int
    client_nodes: list[int] = field(default_factory=list)
    shipment_nodes: list[tuple[int, int]] = field(default_factory=list)

    @property
    def fleet_minimisable(self) -> bool:
        """PyVRP-style fleet minimisation needs one vehicle type and every stop a must-serve one."""
        prizes = [c.prize for c in self.data.clients()] + [s.prize for s in self.data.shipments()]
        return len(self.type_vehicles) == 1 and all(p >= HUGE_PENALTY for p in prizes)

    def replace(self, data: ProblemData, type_vehicles: list[list[int]] | None = None) -> PyvrpModel:
        return PyvrpModel(
            data,
            self.type_vehicles if type_vehicles is None else type_vehicles,
            self.n_depots,
            self.client_nodes,
            self.shipment_nodes,
        )

    def required(self) -> PyvrpModel:
        """The same model with the must-serve stops *required* (for fleet minimisation: a plan that leaves
        one out is infeasible, not merely expensive)."""
        from pyvrp import Client, Shipment

        clients = [
            Client(
                location=c.location,
                delivery=c.delivery,
                pickup=c.pickup,
                tw_early=c.tw_early,
                tw_late=c.tw_late,
                prize=0 if c.prize >= HUGE_PENALTY else c.prize,
                required=c.prize >= HUGE_PENALTY,
            )
            for c in self.data.clients()
        ]
        shipments = [
            Shipment(
                s.pickup.location,
                s.delivery.location,
                pickup_tw_early=s.pickup.tw_early,
                pickup_tw_late=s.pickup.tw_late,
                delivery_tw_early=s.delivery.tw_early,
                delivery_tw_late=s.delivery.tw_late,
                amount=s.amount,
                prize=0 if s.prize >= HUGE_PENALTY else s.prize,
                required=s.prize >= HUGE_PENALTY,
            )
            for s in self.data.shipments()
        ]
        return self.replace(self.data.replace(clients=clients, shipments=shipments))


def unsupported(request: RouteRequest) -> str | None:
    """Why the PyVRP engine cannot plan ``request`` (``None`` when it can), naming the item."""
    for i, stop in enumerate(request.stops):
        if len(stop.time_windows) > 1:
            return f"stops[{i}] {stop.id!r} has several time windows"
    objective = request.options.objective
    if objective is Objective.TIME:
        return "the 'time' objective (PyVRP would price waiting as well as travel and service)"
    for vehicle in request.vehicles:
        if vehicle.breaks:
            return f"vehicle {vehicle.id!r} has a driver break"
        if vehicle.fixed_stops:
            return f"vehicle {vehicle.id!r} has fixed_stops (re-planning with committed stops)"
        if vehicle.max_distance is not None and objective not in (Objective.DISTANCE, Objective.VEHICLES):
            return (
                f"vehicle {vehicle.id!r} has a max_distance and the objective {objective.value!r} is not "
                f"distance-based"
            )
    return None


def compile_pyvrp(model: IntegerModel, request: RouteRequest, matrices: TravelMatrices) -> PyvrpModel:
    """The PyVRP ``ProblemData`` of ``model`` (which must be one :func:`unsupported` accepts)."""
    from pyvrp import Client, Depot, Location, ProblemData, Shipment, VehicleType

    n_depots = model.n_depots
    locations = []
    for loc in model.location_of:
        point = request.locations[loc]
        x, y = (point.lon, point.lat) if point.is_geographic else (point.x, point.y)
        locations.append(Location(float(x), float(y)))
    depots = [Depot(location=i, tw_early=model.windows[i][0][0], tw_late=model.windows[i][0][1]) for i in range(n_depots)]
    paired = {n for pair in model.pairs or [] for n in pair}
    client_nodes = [n for n in model.stop_nodes if n not in paired]
    clients = []
    for node in client_nodes:
        ((early, late),) = model.windows[node]
        # must-serve stops too are optional, with a prize above any plan's cost (as OR-Tools' disjunctions):
        # a request that cannot serve them all still gets a plan, with the rest reported as unserved
        clients.append(
            Client(
                location=node,
                delivery=[d[node] for d in model.demands],
                pickup=[p[node] for p in model.pickups] if model.pickups is not None else [],
                tw_early=early,
                tw_late=late,
                prize=int(model.penalties[node - n_depots]),
                required=False,
            )
        )
    shipments = []
    for p, q in model.pairs or []:
        ((p_early, p_late),), ((q_early, q_late),) = model.windows[p], model.windows[q]
        prize = min(HUGE_PENALTY, model.penalties[p - n_depots] + model.penalties[q - n_depots])
        shipments.append(
            Shipment(
                p,
                q,
                pickup_tw_early=p_early,
                pickup_tw_late=p_late,
                delivery_tw_early=q_early,
                delivery_tw_late=q_late,
                amount=[row[p] for row in model.pickups or []],
                prize=int(prize),
                required=False,
            )
        )

    if any(m is not None for m in model.max_distance):
        # distance-based objective (see unsupported()): rounded-up distances are both the arc costs and what
        # max_distance limits, on the cost scale
        sub = np.ix_(model.location_of, model.location_of)
        cost_mats = [np.ceil(matrices.distance[sub] * model.cost_scale - 1e-9).astype(np.int64)]
        cost_class = [0] * model.n_vehicles
        max_distance = [
            None if v.max_distance is None else int(np.floor(v.max_distance * model.cost_scale + 1e-9))
            for v in request.vehicles
        ]
    else:
        cost_mats = [np.asarray(m, dtype=np.int64) for m in model.arc_costs]
        cost_class = list(model.vehicle_arc_cost)
        max_distance = [None] * model.n_vehicles
    # a profile per (cost matrix, time matrix, stops the vehicle may not serve): arcs into a barred stop take
    # longer than the horizon, so a route through it is never feasible (PyVRP's site-dependent routing)
    barred = [
        frozenset(n for n in model.stop_nodes if not model.may_serve(v, n)) for v in range(model.n_vehicles)
    ]
    profiles: dict[tuple[int, int, frozenset[int]], int] = {}
    profile_of = [
        profiles.setdefault((cost_class[v], model.vehicle_time[v], barred[v]), len(profiles))
        for v in range(model.n_vehicles)
    ]
    distances = [_zero_diagonal(cost_mats[c]) for c, _, _ in profiles]
    # the model's times include the service time of the stop being left, also on the (never used) diagonal
    durations = []
    for _, t, nodes in profiles:
        times = _zero_diagonal(np.asarray(model.times[t], dtype=np.int64))
        if nodes:
            times[:, sorted(nodes)] = model.horizon + 1
            np.fill_diagonal(times, 0)
        durations.append(times)

    types: dict[tuple, list[int]] = {}
    for v in range(model.n_vehicles):
        if not model.usable[v]:
            continue
        key = (
            model.starts[v],
            model.ends[v],
            tuple(c[v] for c in model.capacities),
            model.start_range[v],
            model.end_range[v],
            model.max_duration[v],
            max_distance[v],
            model.fixed_costs[v],
            profile_of[v],
            model.max_trips[v] if model.max_trips is not None else 1,
        )
        types.setdefault(key, []).append(v)
    vehicle_types = []
    for (start, end, capacity, start_range, end_range, max_duration, max_dist, fixed, profile, trips), members in (
        types.items()
    ):
        extra: dict[str, Any] = {}
        if trips > 1:  # reload at the start depot between trips
            extra["reload_depots"] = [start]
            extra["max_reloads"] = trips - 1
        if max_duration is not None:
            extra["shift_duration"] = max_duration
        if max_dist is not None:
            extra["max_distance"] = max_dist
        vehicle_types.append(
            VehicleType(
                num_available=len(members),
                capacity=list(capacity),
                start_depot=start,
                end_depot=end,
                fixed_cost=fixed,
                tw_early=start_range[0],
                start_late=start_range[1],
                tw_late=end_range[1],
                unit_distance_cost=1,
                unit_duration_cost=0,
                profile=profile,
                **extra,
            )
        )
    data = ProblemData(locations, clients, depots, vehicle_types, distances, durations, shipments=shipments)
    return PyvrpModel(data, list(types.values()), n_depots, client_nodes, list(model.pairs or []))


def _zero_diagonal(matrix: np.ndarray) -> np.ndarray:
    out = matrix.copy()
    np.fill_diagonal(out, 0)
    return out


def with_fleet(pm: PyvrpModel, fleet: int) -> PyvrpModel:
    """``pm`` (one vehicle type) restricted to ``fleet`` vehicles: its first ``fleet`` members."""
    vehicle_type = pm.data.vehicle_type(0)
    data = pm.data.replace(vehicle_types=[vehicle_type.replace(num_available=fleet)])
    return pm.replace(data, [pm.type_vehicles[0][:fleet]])


def _activities(pm: PyvrpModel, route: list[int]) -> list:
    """Model nodes as PyVRP activities: a client visit, or a shipment's pickup or delivery."""
    from pyvrp import Activity, ActivityType

    client = {n: c for c, n in enumerate(pm.client_nodes)}
    pickup = {p: k for k, (p, _) in enumerate(pm.shipment_nodes)}
    delivery = {q: k for k, (_, q) in enumerate(pm.shipment_nodes)}
    out = []
    for n in route:
        if n < pm.n_depots:  # a reload
            out.append(Activity(ActivityType.DEPOT, n))
        elif n in client:
            out.append(Activity(ActivityType.CLIENT, client[n]))
        elif n in pickup:
            out.append(Activity(ActivityType.PICKUP, pickup[n]))
        else:
            out.append(Activity(ActivityType.DELIVERY, delivery[n]))
    return out


def _nodes(pm: PyvrpModel, route) -> list[int]:
    """A PyVRP route's visits as model nodes; a depot inside the route (a reload) is its depot node."""
    out = []
    activities = list(route)
    for k, a in enumerate(activities):
        if a.is_depot():
            if 0 < k < len(activities) - 1:
                out.append(a.idx)
        elif a.is_client():
            out.append(pm.client_nodes[a.idx])
        elif a.is_pickup():
            out.append(pm.shipment_nodes[a.idx][0])
        elif a.is_delivery():
            out.append(pm.shipment_nodes[a.idx][1])
    return out


def to_solution(pm: PyvrpModel, routes: list[list[int]]) -> Solution:
    """Model-node routes per vehicle as a PyVRP solution (each vehicle's route on its type).

    Routes of vehicles outside ``pm``'s fleet are left out (their stops become unplanned).
    """
    from pyvrp import Route, Solution

    type_of = {v: t for t, members in enumerate(pm.type_vehicles) for v in members}
    out = [
        Route(pm.data, _activities(pm, route), type_of[v]) for v, route in enumerate(routes) if route and v in type_of
    ]
    return Solution(pm.data, out)


def from_solution(pm: PyvrpModel, solution: Solution, n_vehicles: int) -> list[list[int]]:
    """A PyVRP solution as model-node routes per vehicle: a type's routes go to its vehicles in order."""
    routes: list[list[int]] = [[] for _ in range(n_vehicles)]
    free = [list(members) for members in pm.type_vehicles]
    for route in solution.routes():
        vehicle = free[route.vehicle_type()].pop(0)
        routes[vehicle] = _nodes(pm, route)
    return routes


def _restart(pm: PyvrpModel, solution: Solution, drop_smallest: bool = False) -> Solution:
    """``solution``'s routes on ``pm``'s data (all on its single vehicle type), optionally without the
    route with the fewest visits (its stops unplanned)."""
    from pyvrp import Route, Solution

    routes = [_nodes(pm, r) for r in solution.routes()]
    if drop_smallest:
        routes = sorted(routes, key=len)[1:]
    return Solution(pm.data, [Route(pm.data, _activities(pm, r), 0) for r in routes])


def _solve(
    data: ProblemData,
    seconds: float,
    seed: int,
    initial: Solution | None,
    first_feasible: bool = False,
    until: Callable[[], bool] | None = None,
):
    """PyVRP for ``seconds``; also ends at its first feasible solution (``first_feasible``) or as soon as
    ``until()`` is true (checked every iteration)."""
    from pyvrp import solve
    from pyvrp.exceptions import PenaltyBoundWarning
    from pyvrp.stop import FirstFeasible, MaxRuntime, MultipleCriteria

    criteria: list[Any] = [MaxRuntime(max(0.0, seconds))]
    if first_feasible:
        criteria.append(FirstFeasible())
    if until is not None:
        criteria.append(lambda _cost: until())
    stop: Any = criteria[0] if len(criteria) == 1 else MultipleCriteria(criteria)
    with warnings.catch_warnings():
        # PyVRP warns when its penalties hit their bound: expected when not every stop can be served (the
        # must-serve stops are optional with a huge prize, and the plan lists the rest as unserved)
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        return solve(data, stop, seed=seed, collect_stats=False, display=False, initial_solution=initial)


def pyvrp_worker(
    pm: PyvrpModel,
    model: IntegerModel,
    config: PyvrpConfig,
    deadline: float,
    initial: list[list[int]] | None = None,
    fleet_deadline: float | None = None,
    budget: float | None = None,
    board_key: int | None = None,
) -> WorkerResult:
    """One PyVRP search until ``deadline`` (``time.monotonic()``), as model-node routes per vehicle.

    With ``config.fleet_minimisation`` on a :attr:`PyvrpModel.fleet_minimisable` model the fleet is
    minimised until ``fleet_deadline`` first, then the smallest-fleet plan is shortened until ``deadline``;
    a route-removal attempt may take ``config.attempt_share`` of ``budget`` (the whole search time, seconds).
    ``board_key`` names the :class:`FleetBoard` this worker shares with the others of its search.
    """

    started = time.monotonic()
    log: list[str] = []
    start = to_solution(pm, initial) if initial is not None else None
    board = _BOARDS.get(board_key) if board_key is not None and config.fleet_minimisation else None
    size = None
    if config.fleet_minimisation and pm.fleet_minimisable:
        strict = pm.required()
        warm = to_solution(strict, initial) if initial is not None else None
        budget = budget if budget is not None else deadline - started
        best = _minimise_fleet(strict, config, fleet_deadline or deadline, budget, warm, log, board)
        if best is not None:  # every stop served: the distance phase keeps them required
            size = best.num_routes()
            pm = with_fleet(strict, size)
            start = _restart(pm, best)
    while True:
        # with a board: shorten until another worker posts a smaller fleet, then shorten that plan instead
        watch = None if board is None or size is None else (lambda limit=size: board.fleet() < limit)
        result = _solve(pm.data, deadline - time.monotonic(), config.seed, start, until=watch)
        if board is None or size is None or board.fleet() >= size or deadline - time.monotonic() < 0.05:
            break
        size = board.fleet()
        pm = with_fleet(strict, size)
        start = _solution_of(pm, board.routes())
        log.append(f"shortens the other worker's {size} routes")
    log.append(f"{result.num_iterations} iterations")
    if not result.best.is_feasible():
        log.append("no feasible plan")
        return WorkerResult(config, None, None, time.monotonic() - started, log)  # type: ignore[arg-type]
    routes = from_solution(pm, result.best, model.n_vehicles)
    return WorkerResult(config, routes, evaluate(model, routes), time.monotonic() - started, log)  # type: ignore[arg-type]


def _minimise_fleet(
    pm: PyvrpModel,
    config: PyvrpConfig,
    until: float,
    budget: float,
    start: Solution | None,
    log: list[str],
    board: FleetBoard | None = None,
) -> Solution | None:
    """The smallest-fleet feasible solution found by ``until`` (``None`` if none at all).

    First a feasible plan with the whole fleet (the first one PyVRP finds); then, repeatedly, one vehicle
    fewer, from scratch or (``config.warm_removal``) from the best plan without its smallest route (its stops
    unplanned), stopping at the first feasible plan. An attempt that fails within
    ``config.attempt_share * budget`` seconds ends the phase. With a ``board`` shared by the workers, each
    new fleet size is posted with its plan and an attempt ends as soon as another worker posts that size:
    after an easy step this worker races on for one vehicle fewer; after a hard one (longer than
    :data:`HARD_STEP_SHARE` of ``budget``) it returns the winner's plan, to shorten it while the winner goes on
    removing routes. A worker whose attempt fails returns the board's plan when it has fewer routes.
    """

    seconds = min(until - time.monotonic(), config.attempt_share * budget)
    first = _solve(pm.data, seconds, config.seed, start, first_feasible=True).best
    if not first.is_feasible():
        log.append("no plan serving every stop with the whole fleet: stops may be left out")
        return None
    best = first
    log.append(f"first: {best.num_routes()} vehicles")
    if board is not None:
        board.post(pm, best)
    lower = _lower_bound(pm.data)
    while True:
        fleet = min(best.num_routes(), board.fleet() if board is not None else best.num_routes()) - 1
        if fleet < lower or until - time.monotonic() <= 0.05:
            break
        small = with_fleet(pm, fleet)
        smaller = small.data
        warm = _restart(small, best, drop_smallest=True) if config.warm_removal else None
        tick = time.monotonic()
        seconds = min(until - tick, config.attempt_share * budget)
        watch = None if board is None else (lambda limit=fleet: board.fleet() <= limit)
        attempt = _solve(smaller, seconds, config.seed, warm, first_feasible=True, until=watch).best
        if attempt.is_feasible():
            best = attempt
            log.append(f"{attempt.num_routes()} vehicles in {time.monotonic() - tick:.1f}s")
            if board is not None:
                board.post(pm, best)
        elif board is not None and board.fleet() <= fleet:
            took = time.monotonic() - tick
            log.append(f"{fleet} vehicles reached by another worker after {took:.1f}s")
            if took > HARD_STEP_SHARE * budget:  # a hard step: the next one seldom succeeds; shorten instead
                return _adopt(pm, board, log)
        else:
            log.append(f"could not serve every stop with {fleet} vehicles in {time.monotonic() - tick:.1f}s")
            break
    if board is not None and board.fleet() < best.num_routes():
        return _adopt(pm, board, log)
    return best


def _adopt(pm: PyvrpModel, board: FleetBoard, log: list[str]) -> Solution:
    """The board's plan as a solution of ``pm`` (on its first vehicles)."""
    size = board.fleet()
    log.append(f"shortens the other worker's {size} routes")
    return _solution_of(with_fleet(pm, size), board.routes())


def _solution_of(pm: PyvrpModel, routes: list[list[int]]) -> Solution:
    """Model-node routes (non-empty, any vehicles) on ``pm``'s single vehicle type."""
    from pyvrp import Route, Solution

    return Solution(pm.data, [Route(pm.data, _activities(pm, r), 0) for r in routes])


class FleetBoard:
    """The smallest fleet any worker of one search has reached so far, and that plan, in memory the forked
    workers share (an array of 64-bit integers: the fleet, the length, then each route's model nodes
    followed by -1)."""

    def __init__(self, n_nodes: int, n_vehicles: int) -> None:
        context = multiprocessing.get_context("fork")
        self._array = context.Array("q", 2 + n_nodes + n_vehicles)
        self._array[0] = np.iinfo(np.int64).max

    def fleet(self) -> int:
        return int(self._array[0])

    def post(self, pm: PyvrpModel, solution: Solution) -> None:
        """Publish ``solution`` if it has fewer routes than the board's."""
        routes = [_nodes(pm, r) for r in solution.routes()]
        flat = [n for route in routes for n in (*route, -1)]
        with self._array.get_lock():
            if len(routes) >= self._array[0] or len(flat) > len(self._array) - 2:
                return
            self._array[2 : 2 + len(flat)] = flat
            self._array[1] = len(flat)
            self._array[0] = len(routes)

    def routes(self) -> list[list[int]]:
        with self._array.get_lock():
            flat = list(self._array[2 : 2 + self._array[1]])
        out: list[list[int]] = [[]]
        for n in flat:
            if n < 0:
                out.append([])
            else:
                out[-1].append(int(n))
        return [r for r in out if r]


_BOARDS: dict[int, FleetBoard] = {}
"""The boards of the searches under way, by key; registered before a search's workers are forked, so that
they inherit it (shared memory cannot be pickled), and keyed so that searches in several threads of one
process do not share one."""
_BOARD_KEYS = itertools.count()


def _lower_bound(data: ProblemData) -> int:
    """Vehicles needed by load alone (the bin-packing bound of PyVRP's own fleet minimisation)."""
    vehicle_type = data.vehicle_type(0)
    bound = 1
    for dim in range(data.num_load_dimensions):
        delivery = sum(c.delivery[dim] for c in data.clients())
        pickup = sum(c.pickup[dim] for c in data.clients())
        demand = max(delivery, pickup)
        capacity = max(1, vehicle_type.capacity[dim])
        bound = max(bound, -(-demand // capacity))
    return bound


def solve_pyvrp(
    model: IntegerModel,
    request: RouteRequest,
    matrices: TravelMatrices,
    deadline: float,
    initial: list[list[int]] | None = None,
) -> tuple[WorkerResult, list[WorkerResult]]:
    """PyVRP on ``options.workers`` processes until ``deadline``; the lowest model objective wins.

    For the ``vehicles`` objective every worker minimises the fleet for :data:`FLEET_SHARE` of the time (and
    shortens its own plan if its attempts end earlier); then every worker shortens the best plan so far (its
    own when it has as few vehicles) with the fleet fixed, each with its own seed.
    """
    options: Options = request.options
    pm = compile_pyvrp(model, request, matrices)
    share = FLEET_SHARE if options.fleet_share is None else options.fleet_share
    fleet = options.objective is Objective.VEHICLES and pm.fleet_minimisable and share > 0
    configs = [
        PyvrpConfig(
            options.seed + w, fleet, warm_removal=WARM_REMOVALS[w % 2], attempt_share=ATTEMPT_SHARES[w % 2]
        )
        for w in range(options.workers)
    ]
    if not fleet or options.workers == 1:
        budget = max(0.0, deadline - time.monotonic())
        fleet_deadline = time.monotonic() + share * budget
        results = run_parallel(
            [(pyvrp_worker, pm, model, c, deadline, initial, fleet_deadline) for c in configs]
        )
    else:
        budget = max(0.0, deadline - time.monotonic())
        fleet_deadline = time.monotonic() + share * budget
        key = next(_BOARD_KEYS)
        if SHARE_FLEET and _can_fork():
            _BOARDS[key] = FleetBoard(model.n_nodes, model.n_vehicles)
        try:
            first = run_parallel(
                [
                    (pyvrp_worker, pm, model, c, fleet_deadline, initial, fleet_deadline, budget, key)
                    for c in configs
                ]
            )
        finally:
            _BOARDS.pop(key, None)
        found = [r for r in first if r.routes is not None]
        if not found or deadline - time.monotonic() < 0.05:
            results = first
        else:
            best = min(found, key=lambda r: r.objective)
            size = _fleet_size(best.routes)
            complete = _served(best.routes) == len(model.stop_nodes)
            starts = [
                r.routes
                if r.routes is not None and _fleet_size(r.routes) == size and _served(r.routes) == _served(best.routes)
                else best.routes
                for r in first
            ]
            small = with_fleet(pm.required() if complete else pm, size)
            tasks = [
                (pyvrp_worker, small, model, PyvrpConfig(c.seed + 1000), deadline, _on_first(s, small))
                for c, s in zip(configs, starts, strict=True)
            ]
            if MIX_PARTS and size >= 2 * PART_ROUTES and complete and model.max_trips is None:
                # the second worker shortens the plan by parts with OR-Tools: another neighbourhood
                tasks[1] = (improve_distance, model, worker_configs(options)[1], deadline, starts[1])
            results = run_parallel(tasks)
            for before, after in zip(first, results, strict=True):
                after.log = [*before.log, f"distance from {size} vehicles", *after.log]
                after.seconds += before.seconds
                if after.routes is None:
                    after.routes, after.objective = before.routes, before.objective
    for result in results:
        logger.info("worker %s: objective %s in %.1fs %s", result.config, result.objective, result.seconds, result.log)
    found = [r for r in results if r.routes is not None]
    return (min(found, key=lambda r: r.objective) if found else results[0]), results


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _fleet_size(routes: list[list[int]] | None) -> int:
    return sum(1 for r in routes or [] if r)


def _served(routes: list[list[int]] | None) -> int:
    return sum(len(r) for r in routes or [])


def _on_first(routes: list[list[int]] | None, pm: PyvrpModel) -> list[list[int]] | None:
    """``routes`` moved onto the first vehicles of ``pm``'s single type (a smaller fleet keeps its first ones)."""
    if routes is None:
        return None
    used = [r for r in routes if r]
    members = pm.type_vehicles[0]
    out: list[list[int]] = [[] for _ in range(max(members, default=-1) + 1)]
    for v, route in zip(members, used, strict=False):
        out[v] = route
    return out
