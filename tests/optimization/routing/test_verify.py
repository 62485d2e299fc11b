"""The independent verifier: it accepts the solver's plans and catches each kind of deliberately broken plan."""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimization.routing import RoutePlan, RouteRequest, TimeWindow, plan_routes, verify_plan


@pytest.fixture(scope="module")
def solved() -> tuple[RouteRequest, RoutePlan]:
    from tests.optimization.routing.conftest import planar_request

    request = planar_request(8, 3, seed=3, capacity=25.0)
    plan = plan_routes(request)
    assert plan.feasible and plan.complete and len(plan.routes) >= 2
    return request, plan


def _with_route(plan: RoutePlan, k: int, **changes) -> RoutePlan:
    routes = list(plan.routes)
    routes[k] = replace(routes[k], **changes)
    return replace(plan, routes=routes, violations=[])


def _tighten(request: RouteRequest, **vehicle_changes) -> RouteRequest:
    vehicles = [v.model_copy(update=vehicle_changes) for v in request.vehicles]
    return request.model_copy(update={"vehicles": vehicles})


def _violations(request: RouteRequest, plan: RoutePlan) -> str:
    verdict = verify_plan(request, plan)
    assert not verdict.ok
    return " | ".join(verdict.violations)


def test_accepts_the_solver_plan_and_recomputes_its_totals(solved):
    request, plan = solved
    verdict = verify_plan(request, plan)
    assert verdict.ok, verdict.violations
    assert verdict.distance == pytest.approx(plan.distance, rel=1e-9)
    assert verdict.vehicles == plan.vehicles_used
    assert verdict.served == len(request.stops)


def test_catches_reordered_stops_with_stale_times(solved):
    request, plan = solved
    k = next(i for i, r in enumerate(plan.routes) if len(r.visits) >= 2)
    visits = list(plan.routes[k].visits)
    visits[0], visits[1] = visits[1], visits[0]
    assert "recomputed" in _violations(request, _with_route(plan, k, visits=visits))


def test_catches_a_missing_and_a_duplicated_stop(solved):
    request, plan = solved
    k = next(i for i, r in enumerate(plan.routes) if len(r.visits) >= 2)
    dropped = plan.routes[k].visits[-1]
    shortened = _with_route(plan, k, visits=plan.routes[k].visits[:-1])
    assert f"stop {dropped.stop_id!r} is neither served nor listed as unserved" in _violations(
        request, shortened
    )

    other = next(i for i in range(len(plan.routes)) if i != k)
    doubled = _with_route(plan, other, visits=[*plan.routes[other].visits, dropped])
    assert f"stop {dropped.stop_id!r} is served twice" in _violations(request, doubled)


def test_catches_wrong_reported_distance_cost_and_loads(solved):
    request, plan = solved
    route = plan.routes[0]
    assert "reported distance" in _violations(request, _with_route(plan, 0, distance=route.distance * 0.9))
    assert "reported cost" in _violations(request, _with_route(plan, 0, cost=route.cost + 1.0))
    visits = list(route.visits)
    visits[0] = replace(visits[0], load={"load": visits[0].load["load"] + 1.0})
    assert "load" in _violations(request, _with_route(plan, 0, visits=visits))


def test_catches_service_before_arrival_and_outside_windows(solved):
    request, plan = solved
    visits = list(plan.routes[0].visits)
    first = visits[0]
    early = replace(first, start=first.arrival - 1.0, waiting=-1.0, departure=first.arrival - 1.0 + 3.0)
    assert "before arrival" in _violations(request, _with_route(plan, 0, visits=[early, *visits[1:]]))

    stop_id = first.stop_id
    narrowed = [
        s.model_copy(update={"time_windows": [TimeWindow(start=0.0, end=max(0.0, first.start - 1.0))]})
        if s.id == stop_id
        else s
        for s in request.stops
    ]
    tighter = request.model_copy(update={"stops": narrowed})
    assert f"stop {stop_id!r}: service starts" in _violations(tighter, plan)


def test_catches_capacity_shift_distance_and_duration_limits(solved):
    request, plan = solved
    heaviest = max(r.load["load"] for r in plan.routes)
    assert "exceeds capacity" in _violations(_tighten(request, capacity={"load": heaviest - 1}), plan)
    latest = max(r.return_time for r in plan.routes)
    assert "after its shift" in _violations(_tighten(request, shift_end=latest - 1), plan)
    longest = max(r.distance for r in plan.routes)
    assert "exceeds its maximum" in _violations(_tighten(request, max_distance=longest - 1), plan)
    slowest = max(r.duration for r in plan.routes)
    assert "exceeds its maximum" in _violations(_tighten(request, max_duration=slowest - 1), plan)


def test_catches_unknown_vehicles_wrong_depots_and_double_routes(solved):
    request, plan = solved
    assert "unknown vehicle" in _violations(request, _with_route(plan, 0, vehicle_id="ghost"))
    assert "not its depots" in _violations(request, _with_route(plan, 0, end_depot="elsewhere"))
    twice = _with_route(plan, 1, vehicle_id=plan.routes[0].vehicle_id)
    assert "has two routes" in _violations(request, twice)


def test_catches_departure_before_the_shift(solved):
    request, plan = solved
    late_shift = _tighten(request, shift_start=plan.routes[0].departure + 1.0)
    assert "before its shift" in _violations(late_shift, plan)


def test_catches_a_promise_the_route_cannot_keep(solved):
    request, plan = solved
    k = next(i for i, r in enumerate(plan.routes) if r.visits)
    visits = list(plan.routes[k].visits)
    first = visits[0]
    assert first.latest_arrival is not None and first.slack is not None
    visits[0] = replace(first, latest_arrival=first.latest_arrival + 5.0, slack=first.slack + 5.0)
    assert "latest arrival" in _violations(request, _with_route(plan, k, visits=visits))
    visits[0] = replace(first, slack=first.slack + 1.0)
    assert "slack" in _violations(request, _with_route(plan, k, visits=visits))
