"""The facade: ``plan_routes(request) -> RoutePlan``, verified before it is returned."""

from __future__ import annotations

import logging
import time
from typing import Any

from optimization.routing.explain import (
    dropped_reason,
    fixed_problem,
    no_solution_reason,
    pair_dropped_reason,
    pair_reasons,
    unservable_reasons,
)
from optimization.routing.model import IntegerModel, compile_model
from optimization.routing.plan import RoutePlan, Unserved, schedule_route
from optimization.routing.pyvrp_engine import solve_pyvrp
from optimization.routing.pyvrp_engine import unsupported as pyvrp_unsupported
from optimization.routing.request import MAX_TIME_LIMIT_S, Engine, RouteRequest, RoutingRequestError
from optimization.routing.solver import cheapest_insertion, repair, solve_model
from optimization.routing.solver import unsupported as ortools_unsupported
from optimization.routing.travel import build_matrices
from optimization.routing.verify import verify_plan
from shopml.errors import VerificationError

logger = logging.getLogger(__name__)

_FINISH_S = 0.15
"""Time kept back for collecting the workers, building and verifying the plan (plus 8 % of the limit)."""


def plan_routes(request: RouteRequest | dict[str, Any], time_limit: float | None = None) -> RoutePlan:
    """Plan routes for ``request`` within ``time_limit`` seconds (default: ``request.options.time_limit``).

    Stops no vehicle can serve are listed as unserved with a reason instead of failing the request. The plan
    is checked by :func:`verify_plan` before it is returned; a plan that fails the check is never an answer:
    :class:`~shopml.errors.VerificationError` is raised with the verifier's findings (the service answers 422).
    """
    import pyvrp  # noqa: F401  (first imports are slow: keep them off the clock)
    from ortools.constraint_solver import pywrapcp  # noqa: F401

    started = time.monotonic()
    request = RouteRequest.parse(request)
    if time_limit is not None:
        if not 0 < time_limit <= MAX_TIME_LIMIT_S:
            raise RoutingRequestError(f"time_limit {time_limit} must be in (0, {MAX_TIME_LIMIT_S:g}] seconds")
        request = request.model_copy(
            update={"options": request.options.model_copy(update={"time_limit": time_limit})}
        )
    limit = request.options.time_limit
    engine = choose_engine(request)

    matrices = build_matrices(request)
    for v, vehicle in enumerate(request.vehicles):
        problem = fixed_problem(request, matrices, v)
        if problem is not None:
            raise RoutingRequestError(f"vehicle {vehicle.id!r}: its fixed_stops are already infeasible: {problem}")
    reasons = unservable_reasons(request, matrices)
    reasons.update(pair_reasons(request, reasons))
    fixed = {i for i, s in enumerate(request.stops) if any(s.id in v.fixed_stops for v in request.vehicles)}
    for position in fixed:  # committed stops are served by their vehicle (checked above), whatever else says
        reasons.pop(position, None)
    positions = [s for s in range(len(request.stops)) if s not in reasons]
    routes_by_vehicle: list[list[int]] = [[] for _ in request.vehicles]
    reloads: list[list[int]] = [[] for _ in request.vehicles]
    log: list[str] = []
    status = "solved"
    if positions:
        model = compile_model(request, matrices, positions)
        initial = (
            _initial_routes(request, model) if request.warm_start or model.fixed is not None else None
        )
        deadline = max(time.monotonic() + 0.05, started + 0.92 * limit - _FINISH_S)
        if engine is Engine.PYVRP:
            best, results = solve_pyvrp(model, request, matrices, deadline, initial)
        else:
            best, results = solve_model(model, request.options, deadline, initial)
        log = [f"{r.config.label}: {'; '.join(r.log) or 'done'}" for r in results]
        found = best.routes
        if found is None:
            # nothing within the limit (tiny limit, busy machine): build a plan by cheapest insertion instead
            found = [[] for _ in range(model.n_vehicles)]
        node_routes = repair(model, found, started + 0.97 * limit - _FINISH_S)
        if best.routes is None and any(node_routes):
            log.append("the search found no plan in time; cheapest insertion built this one")
        if best.routes is not None and node_routes != best.routes:
            log.append(
                f"repair: inserted {_served(node_routes) - _served(best.routes)} stops the search left out"
            )
        if best.routes is None and not any(node_routes):
            status = "no_solution"
            reasons.update({s: no_solution_reason(limit) for s in positions})
        else:
            n_depots = len(request.depots)
            routes_by_vehicle = [[model.location_of[n] - n_depots for n in r if n >= model.n_depots] for r in node_routes]
            reloads = [_reloads(model, r) for r in node_routes]
            reasons.update(_explain_dropped(request, model, node_routes, started + limit - _FINISH_S))
    routes = [
        schedule_route(request, matrices, v, stops, reloads[v]) for v, stops in enumerate(routes_by_vehicle) if stops
    ]
    unserved = [Unserved(request.stops[s].id, reasons[s]) for s in sorted(reasons)]
    if status == "solved" and unserved and not request.options.allow_dropping:
        status = "incomplete"
    plan = RoutePlan(
        routes=routes,
        unserved=unserved,
        status=status,
        objective=request.options.objective.value,
        seconds=0.0,
        solver_log=log,
        engine=engine.value,
    )
    verdict = verify_plan(request, plan)
    if not verdict.ok:
        logger.error("plan failed verification: %s", verdict.violations[:5])
        raise VerificationError(
            f"the route plan failed its independent check ({len(verdict.violations)} violation(s), first: "
            f"{verdict.violations[0]}); this is a bug in the planner, not in the request: please report it",
            verdict.violations,
        )
    plan.seconds = time.monotonic() - started
    return plan


def choose_engine(request: RouteRequest) -> Engine:
    """The engine ``request.options.engine`` names, or for ``auto`` the one its features call for.

    ``auto``: PyVRP when it models every constraint of the request, OR-Tools otherwise (several time windows
    per stop, the ``time`` objective, ...) and when the request sets an option only OR-Tools knows
    (``first_solution``, ``local_search``). An explicit ``pyvrp`` on a request it cannot model is an error;
    it ignores the OR-Tools options.
    """
    options = request.options
    chosen = Engine(options.engine)
    reason = pyvrp_unsupported(request)
    ortools_reason = ortools_unsupported(request)
    if reason is not None and ortools_reason is not None:
        raise RoutingRequestError(f"no engine can plan this request: PyVRP has no {reason}, OR-Tools no {ortools_reason}")
    if chosen is Engine.PYVRP and reason is not None:
        raise RoutingRequestError(
            f"options.engine: 'pyvrp' cannot plan this request ({reason}); use 'ortools' or 'auto'"
        )
    if chosen is Engine.ORTOOLS and ortools_reason is not None:
        raise RoutingRequestError(
            f"options.engine: 'ortools' cannot plan this request ({ortools_reason}); use 'pyvrp' or 'auto'"
        )
    if chosen is Engine.AUTO:
        if ortools_reason is not None:
            return Engine.PYVRP
        ortools_options = options.first_solution != "automatic" or options.local_search != "guided_local_search"
        return Engine.ORTOOLS if reason is not None or ortools_options else Engine.PYVRP
    return chosen



def _reloads(model: IntegerModel, route: list[int]) -> list[int]:
    """Where a route reloads: before its k-th stop for each k listed (a depot node inside the route)."""
    out, served = [], 0
    for n in route:
        if n < model.n_depots:
            if served > 0 and (not out or out[-1] != served):
                out.append(served)
        else:
            served += 1
    total = served
    return [k for k in out if k < total]


def _initial_routes(request: RouteRequest, model: IntegerModel) -> list[list[int]]:
    """The warm start as model nodes per vehicle, after each vehicle's fixed stops; stops no longer in the
    model are skipped."""
    node_of = {loc: node for node, loc in enumerate(model.location_of)}
    stop_pos = {s.id: len(request.depots) + i for i, s in enumerate(request.stops)}
    warm = request.warm_start or {}
    fixed = {n for v in range(model.n_vehicles) for n in model.fixed_of(v)}
    out = []
    for v, vehicle in enumerate(request.vehicles):
        rest = [node_of[stop_pos[s]] for s in warm.get(vehicle.id, []) if stop_pos[s] in node_of]
        out.append([*model.fixed_of(v), *(n for n in rest if n not in fixed)])
    return out


def _served(routes: list[list[int]]) -> int:
    return sum(len(r) for r in routes)


def _explain_dropped(
    request: RouteRequest, model: IntegerModel, routes: list[list[int]], deadline: float
) -> dict[int, str]:
    """Reasons for the stops the final routes leave out, keyed by request position."""
    served = {n for r in routes for n in r}
    out = {}
    for node in model.stop_nodes:
        if node in served:
            continue
        position = model.location_of[node] - len(request.depots)
        if time.monotonic() > deadline:
            out[position] = no_solution_reason(request.options.time_limit, placed=False)
            continue
        if any(node in pair for pair in model.pairs or []):
            out[position] = pair_dropped_reason(request, position)
            continue
        place = cheapest_insertion(model, routes, node)
        out[position] = dropped_reason(
            request, position, None if place is None else place[0] / model.cost_scale
        )
    return out
