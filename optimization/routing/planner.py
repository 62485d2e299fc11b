"""The facade: ``plan_routes(request) -> RoutePlan``, verified before it is returned."""

from __future__ import annotations

import logging
import time
from typing import Any

from optimization.routing.explain import dropped_reason, no_solution_reason, unservable_reasons
from optimization.routing.model import IntegerModel, compile_model
from optimization.routing.plan import RoutePlan, Unserved, schedule_route
from optimization.routing.request import MAX_TIME_LIMIT_S, RouteRequest, RoutingRequestError
from optimization.routing.solver import cheapest_insertion, repair, solve_model
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
    from ortools.constraint_solver import pywrapcp  # noqa: F401  (a first import is slow: keep it off the clock)

    started = time.monotonic()
    request = RouteRequest.parse(request)
    if time_limit is not None:
        if not 0 < time_limit <= MAX_TIME_LIMIT_S:
            raise RoutingRequestError(f"time_limit {time_limit} must be in (0, {MAX_TIME_LIMIT_S:g}] seconds")
        request = request.model_copy(
            update={"options": request.options.model_copy(update={"time_limit": time_limit})}
        )
    limit = request.options.time_limit

    matrices = build_matrices(request)
    reasons = unservable_reasons(request, matrices)
    positions = [s for s in range(len(request.stops)) if s not in reasons]
    routes_by_vehicle: list[list[int]] = [[] for _ in request.vehicles]
    log: list[str] = []
    status = "solved"
    if positions:
        model = compile_model(request, matrices, positions)
        initial = (
            _initial_routes(request, model.location_of, len(request.depots)) if request.warm_start else None
        )
        deadline = max(time.monotonic() + 0.05, started + 0.92 * limit - _FINISH_S)
        best, results = solve_model(model, request.options, deadline, initial)
        log = [
            f"{r.config.first_solution}/{r.config.metaheuristic}: {'; '.join(r.log) or 'done'}"
            for r in results
        ]
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
            routes_by_vehicle = [[model.location_of[n] - n_depots for n in r] for r in node_routes]
            reasons.update(_explain_dropped(request, model, node_routes, started + limit - _FINISH_S))
    routes = [
        schedule_route(request, matrices, v, stops) for v, stops in enumerate(routes_by_vehicle) if stops
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


def _initial_routes(request: RouteRequest, location_of: list[int], n_depots: int) -> list[list[int]]:
    """The warm start as model nodes per vehicle; stops no longer in the model are skipped."""
    node_of = {loc: node for node, loc in enumerate(location_of)}
    stop_pos = {s.id: n_depots + i for i, s in enumerate(request.stops)}
    warm = request.warm_start or {}
    return [
        [node_of[stop_pos[s]] for s in warm.get(v.id, []) if stop_pos[s] in node_of] for v in request.vehicles
    ]


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
        place = cheapest_insertion(model, routes, node)
        out[position] = dropped_reason(
            request, position, None if place is None else place[0] / model.cost_scale
        )
    return out
