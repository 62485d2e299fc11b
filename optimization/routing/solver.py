"""OR-Tools search on an :class:`IntegerModel`, in one or several worker processes.

The model registers every transit as a matrix (no Python transit callback in the search), adds a capacity
dimension per demand dimension, a time dimension whose transit out of a stop includes its service time and
whose slack allows waiting, and a disjunction per stop so that a first solution always exists (stops that
must be served get a penalty larger than any plan).

With the ``vehicles`` objective the search has two phases. Fleet phase (:data:`FLEET_SHARE` of the time):
every worker runs PyVRP-style fleet minimisation: solve, then repeatedly try to empty the route with the
fewest stops by re-solving without its vehicle (its stops start unassigned; hard and soft windows alternate,
and the attempt ends at the first plan that serves every stop on time); a worker whose attempts keep failing
freezes its fleet and shortens its routes. Distance phase: the plan with the fewest vehicles (then the
shortest) is handed to every worker that has more, and every worker shortens its start with the fleet fixed
(another guided-local-search penalty factor each, so that two workers on one plan do not repeat each other).
The routing solver is single-threaded, so parallelism is one process per worker, each with another
first-solution strategy; the best plan wins.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from optimization.routing.model import HUGE_PENALTY, IntegerModel
from optimization.routing.request import Objective, Options, RouteRequest

logger = logging.getLogger(__name__)

STRATEGIES = ("PARALLEL_CHEAPEST_INSERTION", "PATH_CHEAPEST_ARC", "SAVINGS", "LOCAL_CHEAPEST_INSERTION")
"""First-solution strategies the workers rotate through (worker 0 uses the request's own choice)."""
FLEET_STRATEGIES = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SEQUENTIAL_CHEAPEST_INSERTION",
    "SAVINGS",
)
"""For the ``vehicles`` objective: insertion heuristics start with far fewer routes than path-cheapest-arc
(21-22 against 30-35 on r1_2_1), which leaves the route-removal phase less to do."""


MAX_FAILED_REMOVALS = 6
"""Route-removal attempts in a row (on the smallest, second smallest, ... route) before a worker freezes its
fleet and spends the rest of the fleet phase on distance."""
FLEET_SHARE = 0.65
"""Share of the search time in which every worker minimises the fleet (``vehicles`` objective). The rest goes
to distance: every worker restarts from the fleet-minimal plan found by any of them, fleet fixed."""
FIRST_SHARE = 0.12
"""Share of the whole search time for a fleet worker's first solution."""
GLS_LAMBDAS = (0.1, 0.2, 0.05, 0.3)
"""Guided-local-search penalty factors, one per worker: workers that restart from the same plan in the
distance phase would otherwise repeat the same deterministic search."""
PART_ROUTES = 6
PART_SECONDS = 1.0
"""Routes per part and seconds per part for :func:`improve_by_parts`, used on plans of at least twice as
many routes. Measured from one 20-route r1_2_1 plan over 12 s: whole-plan guided local search 5091 (5076 in
20 s), parts of 4 routes / 0.5 s 5067, of 6 routes / 1 s 4961 and 5010 (two seeds); rc1_2_1 (19 routes):
3866-3876 whole, 3740-3747 by parts."""
REQUIRED_ONLY_OPERATORS = (
    "use_make_active",
    "use_make_inactive",
    "use_make_chain_inactive",
    "use_swap_active",
    "use_shortest_path_swap_active",
    "use_swap_active_chain",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
)
"""Operators that add or drop stops: useless (but evaluated at every step) when every stop is served and
dropping one is priced above any plan, so the fixed-fleet distance phase switches them off."""


@dataclass(frozen=True)
class SearchConfig:
    """One worker's search: first-solution strategy and metaheuristic (OR-Tools enum names)."""

    first_solution: str
    metaheuristic: str
    fleet_minimisation: bool = False
    removal_offset: int = 0
    max_failed_removals: int = MAX_FAILED_REMOVALS
    gls_lambda: float = GLS_LAMBDAS[0]
    seed: int = 0

    @property
    def label(self) -> str:
        return f"ortools/{self.first_solution.lower()}/{self.metaheuristic.lower()}"


@dataclass
class WorkerResult:
    """Routes as model nodes per vehicle (stops only), their integer objective, and what happened.

    ``config`` is the worker's :class:`SearchConfig` (OR-Tools) or ``PyvrpConfig``; both have a ``label``.
    """

    config: Any
    routes: list[list[int]] | None
    objective: int | None
    seconds: float
    log: list[str] = field(default_factory=list)


def unsupported(request: RouteRequest) -> str | None:
    """Why the OR-Tools engine cannot plan ``request`` (``None`` when it can), naming the item."""
    for vehicle in request.vehicles:
        if vehicle.max_trips > 1:
            return f"vehicle {vehicle.id!r} has max_trips {vehicle.max_trips} (several trips with reloading)"
    return None


def worker_configs(options: Options) -> list[SearchConfig]:
    """Distinct searches for ``options.workers`` processes, rotated by the seed."""
    metaheuristic = options.local_search.upper()
    fleet = options.objective is Objective.VEHICLES and options.fleet_share != 0
    first = [] if options.first_solution == "automatic" else [options.first_solution.upper()]
    pool = first + [s for s in (FLEET_STRATEGIES if fleet else STRATEGIES) if s not in first]
    offset = options.seed % len(pool) if not first else 0
    pool = pool[offset:] + pool[:offset]
    configs = []
    for w in range(options.workers):
        # for the vehicles objective, workers alternate which kind of removal attempt they start with
        lam = GLS_LAMBDAS[w % len(GLS_LAMBDAS)]
        configs.append(
            SearchConfig(
                pool[w % len(pool)], metaheuristic, fleet, w % 2, gls_lambda=lam, seed=options.seed + w
            )
        )
    return configs


def evaluate(model: IntegerModel, routes: list[list[int]]) -> int:
    """The integer objective of ``routes``: arc costs, fixed costs of used vehicles, penalties of dropped stops."""
    total = 0
    served: set[int] = set()
    for v, route in enumerate(routes):
        if not route:
            continue
        costs = model.arc_costs[model.vehicle_arc_cost[v]]
        path = [model.starts[v], *route, model.ends[v]]
        total += model.fixed_costs[v] + sum(costs[a][b] for a, b in zip(path, path[1:], strict=False))
        served.update(route)
    total += sum(model.penalties[n - model.n_depots] for n in model.stop_nodes if n not in served)
    return total


def earliest_return(model: IntegerModel, v: int, route: list[int]) -> int | None:
    """Integer time vehicle ``v`` is back when it leaves as early as it may and starts each service as early
    as its windows allow; ``None`` if a window or the end of the shift is missed. A vehicle with a break takes
    it where the return is earliest: after one of its services, or before leaving, or after coming back."""
    pause = model.breaks[v] if model.breaks is not None else None
    if pause is None:
        return _return_with_break(model, v, route, None, None)
    returns = [_return_with_break(model, v, route, p, pause) for p in range(-1, len(route) + 2)]
    found = [r for r in returns if r is not None]
    return min(found) if found else None


def _return_with_break(
    model: IntegerModel, v: int, route: list[int], position: int | None, pause: tuple[int, int, int] | None
) -> int | None:
    """The earliest return with the break taken before leaving (``position`` -1), in the leg after the
    ``position``-th service (1..len; 0: the leg from the depot), or after coming back (``len + 1``); or
    without a break (``pause`` None). A break in a leg starts when the service ends or its window opens,
    whichever is later; the vehicle is ready at the next stop at ``max(departure + travel, break start) +
    duration`` (it breaks while driving or on arrival)."""
    times = model.times[model.vehicle_time[v]]
    service = model.service or [0] * model.n_nodes
    clock, here = model.start_range[v][0], model.starts[v]
    if pause is not None and position == -1:
        clock = max(clock, pause[0] + pause[2])
        if pause[0] > pause[1] or clock > model.start_range[v][1]:
            return None
    path = [*route, model.ends[v]]
    for k, node in enumerate(path):
        ready = clock + times[here][node]
        if pause is not None and position == k:
            begin = max(clock + (service[here] if k else 0), pause[0])
            if begin > pause[1]:
                return None
            ready = max(ready, begin) + pause[2]
        if k == len(route):
            clock = ready
            break
        window = next((w for w in model.windows[node] if ready <= w[1]), None)
        if window is None:
            return None
        clock, here = max(ready, window[0]), node
    if pause is not None and position == len(route) + 1 and max(clock, pause[0]) > pause[1]:
        return None
    return clock if clock <= model.end_range[v][1] else None


def time_feasible(model: IntegerModel, routes: list[list[int]]) -> bool:
    """Whether every route keeps its (hard) windows and shift in the integer model; earliest-start schedule."""
    return all(earliest_return(model, v, route) is not None for v, route in enumerate(routes) if route)


def _build(
    model: IntegerModel,
    allowed: list[int],
    soft_windows: bool = False,
    fixed_costs: bool = True,
):
    from ortools.constraint_solver import pywrapcp

    manager = pywrapcp.RoutingIndexManager(model.n_nodes, model.n_vehicles, model.starts, model.ends)
    routing = pywrapcp.RoutingModel(manager)
    cost_cbs = [routing.RegisterTransitMatrix(m) for m in model.arc_costs]
    for v in range(model.n_vehicles):
        routing.SetArcCostEvaluatorOfVehicle(cost_cbs[model.vehicle_arc_cost[v]], v)
        if fixed_costs:
            routing.SetFixedCostOfVehicle(model.fixed_costs[v], v)
    time_cbs = [routing.RegisterTransitMatrix(m) for m in model.times]
    routing.AddDimensionWithVehicleTransits(
        [time_cbs[t] for t in model.vehicle_time], model.horizon, model.horizon, False, "time"
    )
    time_dim = routing.GetDimensionOrDie("time")
    forbidden = sorted(set(range(model.n_vehicles)) - set(allowed))
    for d, (demand, capacity) in enumerate(zip(model.demands, model.capacities, strict=True)):
        demand_cb = routing.RegisterUnaryTransitVector(demand)
        if model.pickups is None:
            routing.AddDimensionWithVehicleCapacity(demand_cb, 0, capacity, True, f"load{d}")
            continue
        # pickups: the load on board starts at what the route delivers and changes at every stop
        routing.AddDimensionWithVehicleCapacity(demand_cb, 0, capacity, True, f"delivered{d}")
        drops = model.drops[d] if model.drops is not None else [0] * model.n_nodes
        change = [p - q - r for p, q, r in zip(model.pickups[d], demand, drops, strict=True)]
        change_cb = routing.RegisterUnaryTransitVector(change)
        routing.AddDimensionWithVehicleCapacity(change_cb, 0, capacity, False, f"load{d}")
        delivered, on_board = routing.GetDimensionOrDie(f"delivered{d}"), routing.GetDimensionOrDie(f"load{d}")
        for v in range(model.n_vehicles):
            routing.solver().Add(on_board.CumulVar(routing.Start(v)) == delivered.CumulVar(routing.End(v)))
    if model.distance_up is not None:
        dist_cb = routing.RegisterTransitMatrix(model.distance_up)
        caps = [m if m is not None else 10**15 for m in model.max_distance]
        routing.AddDimensionWithVehicleCapacity(dist_cb, 0, caps, True, "distance")
    for v in range(model.n_vehicles):
        time_dim.CumulVar(routing.Start(v)).SetRange(*model.start_range[v])
        time_dim.CumulVar(routing.End(v)).SetRange(*model.end_range[v])
        if model.max_duration[v] is not None:
            time_dim.SetSpanUpperBoundForVehicle(model.max_duration[v], v)
    for node in model.stop_nodes:
        index = manager.NodeToIndex(node)
        windows = model.windows[node]
        cumul = time_dim.CumulVar(index)
        if soft_windows and len(windows) == 1:
            # lateness allowed but priced above any distance: the search repairs a plan with one route fewer
            cumul.SetRange(windows[0][0], model.horizon)
            time_dim.SetCumulVarSoftUpperBound(index, windows[0][1], max(model.fixed_costs) or 1)
            continue_hard = False
        else:
            cumul.SetRange(windows[0][0], windows[-1][1])
            continue_hard = True
        for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
            if continue_hard and start - 1 >= end + 1:
                cumul.RemoveInterval(end + 1, start - 1)
        routing.AddDisjunction([index], model.penalties[node - model.n_depots])
        barred = sorted(set(forbidden) | {v for v in range(model.n_vehicles) if not model.may_serve(v, node)})
        if barred:
            routing.VehicleVar(index).RemoveValues(barred)
    if model.breaks is not None:
        solver = routing.solver()
        service = model.service or [0] * model.n_nodes
        visits = [service[manager.IndexToNode(i)] for i in range(routing.Size())] + [0] * model.n_vehicles
        for v, pause in enumerate(model.breaks):
            if pause is not None:
                interval = solver.FixedDurationIntervalVar(pause[0], pause[1], pause[2], False, f"break {v}")
                time_dim.SetBreakIntervalsOfVehicle([interval], v, visits[: routing.Size()])
    for v in range(model.n_vehicles):  # re-planning: the committed stops come first, in order
        previous = routing.Start(v)
        for node in model.fixed_of(v):
            index = manager.NodeToIndex(node)
            routing.solver().Add(routing.NextVar(previous) == index)
            previous = index
    for pickup, delivery in model.pairs or []:
        p, q = manager.NodeToIndex(pickup), manager.NodeToIndex(delivery)
        routing.AddPickupAndDelivery(p, q)
        routing.solver().Add(routing.VehicleVar(p) == routing.VehicleVar(q))
        routing.solver().Add(time_dim.CumulVar(p) <= time_dim.CumulVar(q))
    for v in range(model.n_vehicles):
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))
    return manager, routing


def search(
    model: IntegerModel,
    config: SearchConfig,
    deadline: float,
    allowed: list[int] | None = None,
    initial: list[list[int]] | None = None,
    soft_windows: bool = False,
    fixed_costs: bool = True,
    stop_when_feasible: bool = False,
    required_only: bool = False,
) -> list[list[int]] | None:
    """One OR-Tools solve until ``deadline`` (``time.monotonic()``, model building included).

    Returns stop nodes per vehicle, or ``None`` when nothing was found in time. ``stop_when_feasible`` ends
    the search at the first solution that serves every stop on time (checked in Python on the integer model:
    soft windows make OR-Tools' own cost blind to that) and returns it. ``required_only`` (every stop is
    served and must stay so) switches off the operators that add or drop stops.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2
    from ortools.util import optional_boolean_pb2

    allowed = [v for v in (allowed if allowed is not None else range(model.n_vehicles)) if model.usable[v]]
    if not allowed:
        return [[] for _ in range(model.n_vehicles)]
    manager, routing = _build(model, allowed, soft_windows, fixed_costs)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, config.first_solution)
    params.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, config.metaheuristic
    )
    params.guided_local_search_lambda_coefficient = config.gls_lambda
    if required_only:
        for name in REQUIRED_ONLY_OPERATORS:
            setattr(params.local_search_operators, name, optional_boolean_pb2.BOOL_FALSE)
    params.time_limit.FromMilliseconds(max(10, int((deadline - time.monotonic()) * 1000)))
    feasible_found: list[list[list[int]]] = []
    if stop_when_feasible:

        def _current_routes() -> list[list[int]]:
            out = []
            for v in range(model.n_vehicles):
                index, route = routing.NextVar(routing.Start(v)).Value(), []
                while not routing.IsEnd(index):
                    route.append(manager.IndexToNode(index))
                    index = routing.NextVar(index).Value()
                out.append(route)
            return out

        def _stop_if_feasible() -> None:
            routes = _current_routes()
            if sum(map(len, routes)) == len(model.stop_nodes) and time_feasible(model, routes):
                feasible_found.append(routes)
                routing.solver().FinishCurrentSearch()

        routing.AddAtSolutionCallback(_stop_if_feasible)
    solution = None
    if initial is not None:
        index_routes = [[manager.NodeToIndex(n) for n in route] for route in initial]
        start = routing.ReadAssignmentFromRoutes(index_routes, True)
        if start is None:
            logger.warning("the warm-start routes are infeasible for this request; solving from scratch")
        else:
            solution = routing.SolveFromAssignmentWithParameters(start, params)
    if solution is None and (initial is None or start is None):
        solution = routing.SolveWithParameters(params)
    if feasible_found:
        return feasible_found[-1]
    if solution is None:
        return None
    routes = []
    for v in range(model.n_vehicles):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        routes.append(route)
    return routes


def run_worker(
    model: IntegerModel, config: SearchConfig, deadline: float, initial: list[list[int]] | None = None
) -> WorkerResult:
    """A plain search until ``deadline`` (objectives other than ``vehicles``)."""
    started = time.monotonic()
    routes = search(model, config, deadline, initial=initial)
    objective = None if routes is None else evaluate(model, routes)
    return WorkerResult(config, routes, objective, time.monotonic() - started)


def minimise_fleet(
    model: IntegerModel,
    config: SearchConfig,
    deadline: float,
    budget: float,
    initial: list[list[int]] | None = None,
) -> WorkerResult:
    """PyVRP-style fleet minimisation until ``deadline``; attempts are sized on the whole search ``budget`` (s).

    Solve with the vehicle cost, then repeatedly try to empty the route with the fewest stops by re-solving
    without its vehicle. After :data:`MAX_FAILED_REMOVALS` failures in a row the fleet is frozen and the rest
    of the time until ``deadline`` minimises distance with it.
    """
    started = time.monotonic()
    log: list[str] = []

    def left() -> float:
        return deadline - time.monotonic()

    complete = min(model.penalties, default=0)
    routes = search(model, config, min(deadline, started + max(0.2, FIRST_SHARE * budget)), initial=initial)
    if routes is None:
        return WorkerResult(config, None, None, time.monotonic() - started, ["no first solution"])
    log.append(f"first: {sum(1 for r in routes if r)} vehicles")
    attempt = max(0.3, 0.12 * budget)
    failures = attempts = 0
    while left() > 0.1 and failures < config.max_failed_removals:
        used = [v for v, r in enumerate(routes) if r]
        if len(used) <= 1:
            break
        by_size = sorted((v for v in used if not model.fixed_of(v)), key=lambda v: (len(routes[v]), v))
        if not by_size:
            break
        victim = by_size[min(failures, len(by_size) - 1)]
        start = [[] if v == victim else r for v, r in enumerate(routes)]
        allowed = [v for v in used if v != victim]
        # alternate two kinds of attempt (workers start with different ones): hard windows with the stops
        # left unassigned (fast when room exists), or soft windows with lateness priced above any distance
        # and the vehicle cost kept (slower, but it reshapes tight-window routes)
        soft = (attempts + config.removal_offset) % 2 == 1
        attempts += 1
        tick = time.monotonic()
        until = tick + min(attempt * (1 + 0.5 * failures), left())  # the next victim gets longer
        candidate = search(
            model,
            config,
            until,
            allowed=allowed,
            initial=start,
            soft_windows=soft,
            fixed_costs=soft,
            stop_when_feasible=True,
        )
        if (
            candidate is not None
            and evaluate(model, candidate) < complete
            and time_feasible(model, candidate)
        ):
            routes = candidate
            failures = 0
            log.append(f"removed a route: {len(allowed)} vehicles in {time.monotonic() - tick:.1f}s")
        else:
            failures += 1
            log.append(
                f"could not empty a route of {len(routes[victim])} stops in {time.monotonic() - tick:.1f}s"
            )
    if left() > 0.05:
        routes = improve_distance(model, config, deadline, routes).routes or routes
    return WorkerResult(config, routes, evaluate(model, routes), time.monotonic() - started, log)


def improve_distance(
    model: IntegerModel, config: SearchConfig, deadline: float, routes: list[list[int]]
) -> WorkerResult:
    """Shorten ``routes`` until ``deadline`` on their own vehicles (the fleet is fixed now).

    Without the large vehicle cost, guided local search weighs arcs properly; the result is kept only if
    it is no worse than ``routes``. Plans of at least ``2 * PART_ROUTES`` routes are improved by parts.
    """
    started = time.monotonic()
    used = [v for v, r in enumerate(routes) if r]
    required = min(model.penalties, default=0) >= HUGE_PENALTY
    served = sum(map(len, routes)) == len(model.stop_nodes)
    if len(used) >= 2 * PART_ROUTES:
        return improve_by_parts(model, config, deadline, routes, required and served)
    final = search(
        model,
        config,
        deadline,
        allowed=used,
        initial=routes,
        fixed_costs=False,
        required_only=required and served,
    )
    if final is None or evaluate(model, final) > evaluate(model, routes):
        final = routes
    return WorkerResult(config, final, evaluate(model, final), time.monotonic() - started)


def improve_by_parts(
    model: IntegerModel,
    config: SearchConfig,
    deadline: float,
    routes: list[list[int]],
    required_only: bool = False,
) -> WorkerResult:
    """Shorten ``routes`` until ``deadline`` by re-solving a few neighbouring routes at a time (fleet fixed).

    Guided local search on 200 stops moves slowly; on the :data:`PART_ROUTES` routes around a random stop
    (about 40 stops) it converges within :data:`PART_SECONDS`. A part's new routes replace the old ones when
    they serve the same stops for less (decomposition in the style of POPMUSIC).
    """
    started = time.monotonic()
    rng = random.Random(config.seed)
    routes = [list(r) for r in routes]
    costs = model.arc_costs[0]
    vehicle_of = {n: v for v, r in enumerate(routes) for n in r}
    tried = improved = 0
    while deadline - time.monotonic() > 0.1 and vehicle_of:
        centre = rng.choice(sorted(vehicle_of))
        chosen: list[int] = []
        for node in sorted(vehicle_of, key=lambda n: costs[centre][n]):
            if vehicle_of[node] not in chosen:
                chosen.append(vehicle_of[node])
                if len(chosen) == PART_ROUTES:
                    break
        stops = [n for v in chosen for n in routes[v]]
        part, nodes = _part_model(model, chosen, stops)
        local = {n: i for i, n in enumerate(nodes)}
        start = [[local[n] for n in routes[v]] for v in chosen]
        until = min(deadline, time.monotonic() + PART_SECONDS)
        found = search(part, config, until, initial=start, fixed_costs=False, required_only=required_only)
        tried += 1
        if (
            found is not None
            and sum(map(len, found)) == len(stops)
            and evaluate(part, found) < evaluate(part, start)
        ):
            improved += 1
            for v, route in zip(chosen, found, strict=True):
                routes[v] = [nodes[i] for i in route]
                vehicle_of.update({n: v for n in routes[v]})
    log = [f"parts: {improved} of {tried} improved"]
    return WorkerResult(config, routes, evaluate(model, routes), time.monotonic() - started, log)


def _part_model(model: IntegerModel, vehicles: list[int], stops: list[int]) -> tuple[IntegerModel, list[int]]:
    """The model restricted to ``vehicles`` and ``stops`` (depots kept); its nodes as original nodes."""
    nodes = list(range(model.n_depots)) + stops

    def sub(matrix: list[list[int]]) -> list[list[int]]:
        return [[matrix[a][b] for b in nodes] for a in nodes]

    def per_vehicle(values: list) -> list:
        return [values[v] for v in vehicles]

    part = replace(
        model,
        location_of=[model.location_of[n] for n in nodes],
        starts=per_vehicle(model.starts),
        ends=per_vehicle(model.ends),
        arc_costs=[sub(m) for m in model.arc_costs],
        vehicle_arc_cost=per_vehicle(model.vehicle_arc_cost),
        times=[sub(m) for m in model.times],
        vehicle_time=per_vehicle(model.vehicle_time),
        distance_up=None if model.distance_up is None else sub(model.distance_up),
        windows=[model.windows[n] for n in nodes],
        demands=[[d[n] for n in nodes] for d in model.demands],
        capacities=[per_vehicle(c) for c in model.capacities],
        start_range=per_vehicle(model.start_range),
        end_range=per_vehicle(model.end_range),
        max_duration=per_vehicle(model.max_duration),
        max_distance=per_vehicle(model.max_distance),
        fixed_costs=per_vehicle(model.fixed_costs),
        usable=per_vehicle(model.usable),
        penalties=[model.penalties[n - model.n_depots] for n in stops],
        breaks=None if model.breaks is None else per_vehicle(model.breaks),
        max_trips=None if model.max_trips is None else per_vehicle(model.max_trips),
        pickups=None if model.pickups is None else [[row[n] for n in nodes] for row in model.pickups],
        fixed=None if model.fixed is None else [[nodes.index(n) for n in model.fixed[v]] for v in vehicles],
        drops=None if model.drops is None else [[row[n] for n in nodes] for row in model.drops],
        pairs=None
        if model.pairs is None
        else [(nodes.index(p), nodes.index(q)) for p, q in model.pairs if p in nodes and q in nodes] or None,
        service=None if model.service is None else [model.service[n] for n in nodes],
        allowed=None
        if model.allowed is None
        else [
            None if model.allowed[n] is None else [k for k, v in enumerate(vehicles) if v in model.allowed[n]]
            for n in nodes
        ],
    )
    return part, nodes


def run_parallel(tasks: list[tuple]) -> list[WorkerResult]:
    """Run ``(function, *args)`` tasks, in one process each when there are several."""
    if len(tasks) == 1:
        function, *args = tasks[0]
        return [function(*args)]
    # import both engines before forking so that each worker inherits them instead of spending its time
    # limit on the import (about half a second on this machine)
    import pyvrp  # noqa: F401
    from ortools.constraint_solver import pywrapcp  # noqa: F401

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=len(tasks), mp_context=context) as pool:
        futures = [pool.submit(*task) for task in tasks]
        return [f.result() for f in futures]


def solve_model(
    model: IntegerModel, options: Options, deadline: float, initial: list[list[int]] | None = None
) -> tuple[WorkerResult, list[WorkerResult]]:
    """Run one worker per config until ``deadline`` (``time.monotonic()``) and keep the lowest objective.

    Several workers run in separate processes (the routing solver is single-threaded). For the ``vehicles``
    objective the search has two phases: every worker minimises the fleet for :data:`FLEET_SHARE` of the
    time; then every worker shortens the best plan so far (its own when it has as few vehicles), fleet fixed.
    """
    configs = worker_configs(options)
    if not configs[0].fleet_minimisation:
        results = run_parallel([(run_worker, model, c, deadline, initial) for c in configs])
    else:
        budget = max(0.0, deadline - time.monotonic())
        share = FLEET_SHARE if options.fleet_share is None else options.fleet_share
        fleet_deadline = time.monotonic() + share * budget
        results = run_parallel([(minimise_fleet, model, c, fleet_deadline, budget, initial) for c in configs])
        found = [r for r in results if r.routes is not None]
        if found and deadline - time.monotonic() > 0.05:
            best = min(found, key=lambda r: r.objective)
            fleet = _fleet_size(best.routes)
            starts = [
                r.routes if r.routes is not None and _fleet_size(r.routes) == fleet else best.routes
                for r in results
            ]
            improved = run_parallel(
                [(improve_distance, model, c, deadline, s) for c, s in zip(configs, starts, strict=True)]
            )
            for first, second in zip(results, improved, strict=True):
                second.log = [*first.log, f"distance from {_fleet_size(second.routes)} vehicles"]
                second.seconds += first.seconds
            results = improved
    for result in results:
        logger.info(
            "worker %s: objective %s in %.1fs %s", result.config, result.objective, result.seconds, result.log
        )
    found = [r for r in results if r.routes is not None]
    best = min(found, key=lambda r: r.objective) if found else results[0]
    return best, results


def _fleet_size(routes: list[list[int]] | None) -> int:
    return sum(1 for r in routes or [] if r)


def _route_fits(model: IntegerModel, v: int, route: list[int]) -> bool:
    """Whether ``route`` on vehicle ``v`` keeps skills, capacities, windows, shift, distance and duration limits.

    The duration is measured from the earliest departure, so this may refuse a route that a later departure
    would make short enough: conservative, like the rest of the integer model.
    """
    if not all(model.may_serve(v, n) for n in route):
        return False
    if model.pickups is not None:
        if not model.on_board(v, route):
            return False
        where = {n: k for k, n in enumerate(route)}
        for pickup, delivery in model.pairs or []:
            if (pickup in where) != (delivery in where) or where.get(pickup, 0) > where.get(delivery, 0):
                return False
    trips = model.trips(route)
    if len(trips) > (model.max_trips[v] if model.max_trips is not None else 1):
        return False
    for demand, capacity in zip(model.demands, model.capacities, strict=True):
        if any(sum(demand[n] for n in trip) > capacity[v] for trip in trips):
            return False
    back = earliest_return(model, v, route)
    if back is None:
        return False
    if model.max_duration[v] is not None and back - model.start_range[v][0] > model.max_duration[v]:
        return False
    if model.max_distance[v] is not None and model.distance_up is not None:
        path = [model.starts[v], *route, model.ends[v]]
        if sum(model.distance_up[a][b] for a, b in zip(path, path[1:], strict=False)) > model.max_distance[v]:
            return False
    return True


def cheapest_insertion(
    model: IntegerModel, routes: list[list[int]], node: int
) -> tuple[int, int, int] | None:
    """``(added cost, vehicle, position)`` of the cheapest feasible place for ``node``, or ``None``.

    Plain Python on the integer model, so a stop placed here is as safe as one placed by OR-Tools; the
    verifier checks the plan again anyway.
    """
    best = None
    for v, route in enumerate(routes):
        if not model.usable[v]:
            continue
        costs = model.arc_costs[model.vehicle_arc_cost[v]]
        path = [model.starts[v], *route, model.ends[v]]
        fixed = model.fixed_costs[v] if not route else 0
        for k in range(len(model.fixed_of(v)), len(path) - 1):  # never before or among committed stops
            a, b = path[k], path[k + 1]
            added = fixed + costs[a][node] + costs[node][b] - (costs[a][b] if route else 0)
            if best is not None and added >= best[0]:
                continue
            if _route_fits(model, v, [*route[:k], node, *route[k:]]):
                best = (added, v, k)
    return best


def repair(model: IntegerModel, routes: list[list[int]], deadline: float) -> list[list[int]]:
    """Insert dropped stops wherever that costs less than their penalty, cheapest first, until ``deadline``.

    A search cut short by its time limit (a busy machine, a tiny limit) can leave stops out that fit; this
    puts them back instead of reporting them as not worth serving.
    """
    routes = [list(r) for r in routes]
    served = {n for r in routes for n in r}
    paired = {n for pair in model.pairs or [] for n in pair}  # a pair's stops are placed by the engines only
    dropped = sorted(
        (n for n in model.stop_nodes if n not in served and n not in paired),
        key=lambda n: -model.penalties[n - model.n_depots],
    )
    for node in dropped:
        if time.monotonic() > deadline:
            break
        place = cheapest_insertion(model, routes, node)
        if place is not None and place[0] < model.penalties[node - model.n_depots]:
            added, v, k = place
            routes[v].insert(k, node)
    return routes
