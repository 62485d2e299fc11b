"""Constraints real fleets have, each against a brute-force optimum, the verifier and bad input.

Vehicle-stop compatibility (``skills`` on vehicles, ``required_skills`` and ``allowed_vehicles`` on stops) on
both engines; driver breaks on OR-Tools (PyVRP does not model them).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from optimization.routing import RouteRequest, RoutingRequestError, plan_routes, verify_plan
from tests.optimization.routing.conftest import brute_force_distance, planar_payload

ENGINES = ["ortools", "pyvrp"]


def _skills_payload(seed: int, engine: str) -> dict:
    """Six stops, three vans: a refrigerated one, one with a tail-lift, a plain small one."""
    payload = planar_payload(6, 3, seed=seed, capacity=30.0, window=120.0, options={"engine": engine})
    payload["options"]["time_limit"] = 1.0
    payload["vehicles"][0]["skills"] = ["refrigerated"]
    payload["vehicles"][1]["skills"] = ["tail-lift", "small"]
    payload["vehicles"][2]["skills"] = ["small"]
    payload["stops"][0]["required_skills"] = ["refrigerated"]
    payload["stops"][1]["required_skills"] = ["refrigerated"]
    payload["stops"][2]["required_skills"] = ["tail-lift"]
    payload["stops"][3]["required_skills"] = ["small"]  # a narrow street: small vans only
    payload["stops"][4]["allowed_vehicles"] = ["v0", "v2"]
    return payload


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skills_and_allowed_vehicles_match_the_brute_force_optimum(engine: str, seed: int):
    request = RouteRequest.parse(_skills_payload(seed, engine))
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert plan.engine == engine and verify_plan(request, plan).ok
    if optimum is None:
        assert not plan.complete
        return
    assert plan.complete
    assert plan.distance == pytest.approx(optimum, abs=1e-2)
    vehicles = {v.id: v for v in request.vehicles}
    stops = {s.id: s for s in request.stops}
    for route in plan.routes:
        for stop_id in route.stop_ids:
            assert stops[stop_id].accepts(vehicles[route.vehicle_id])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_stop_no_vehicle_may_serve_is_unserved_with_the_reason(engine: str):
    payload = _skills_payload(0, engine)
    payload["stops"][5]["required_skills"] = ["crane"]
    payload["stops"].append(
        {"id": "fussy", "location": {"x": 40, "y": 40}, "required_skills": ["small"], "allowed_vehicles": ["v0"]}
    )
    request = RouteRequest.parse(payload)
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    reasons = {u.stop_id: u.reason for u in plan.unserved}
    assert reasons["s5"] == "no vehicle has every required skill ['crane']"
    assert reasons["fussy"] == "none of its allowed vehicles ['v0'] has every required skill ['small']"


def test_an_unknown_allowed_vehicle_is_refused_by_name():
    payload = _skills_payload(0, "ortools")
    payload["stops"][4]["allowed_vehicles"] = ["v0", "lorry-9"]
    with pytest.raises(RoutingRequestError, match="stop 's4': allowed_vehicles names unknown vehicle 'lorry-9'"):
        RouteRequest.parse(payload)
    payload["stops"][4]["allowed_vehicles"] = []
    with pytest.raises(RoutingRequestError, match="allowed_vehicles"):
        RouteRequest.parse(payload)


def test_the_verifier_catches_a_stop_on_an_incompatible_vehicle():
    request = RouteRequest.parse(_skills_payload(1, "ortools"))
    plan = plan_routes(request)
    route = next(r for r in plan.routes if "s0" in r.stop_ids)  # refrigerated: on v0
    used = {r.vehicle_id for r in plan.routes}
    other = next((v.id for v in request.vehicles if v.id not in used), "v2" if route.vehicle_id != "v2" else "v1")
    moved = replace(plan, routes=[replace(r, vehicle_id=other) if r is route else r for r in plan.routes])
    violations = " | ".join(verify_plan(request, moved).violations)
    assert "lacks the required skill(s) ['refrigerated']" in violations


# Driver breaks: a break of a given length inside a window, on OR-Tools (PyVRP does not model breaks).


def _breaks_payload(seed: int) -> dict:
    payload = planar_payload(6, 2, seed=seed, capacity=30.0, window=80.0)
    payload["options"] |= {"time_limit": 1.0, "engine": "auto"}
    for vehicle in payload["vehicles"]:
        vehicle["breaks"] = [{"start": 100.0, "end": 160.0, "duration": 30.0}]
    return payload


@pytest.mark.parametrize("seed", [2, 3, 5, 6])  # the break binds: longer optimum (2, 6) or no full plan (3, 5)
def test_breaks_match_the_brute_force_optimum(seed: int):
    request = RouteRequest.parse(_breaks_payload(seed))
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert plan.engine == "ortools"  # auto: PyVRP has no breaks
    assert verify_plan(request, plan).ok
    assert (optimum is not None) == plan.complete
    if optimum is not None:
        assert plan.distance == pytest.approx(optimum, abs=1e-2)
    for route in plan.routes:
        (taken,) = route.breaks
        assert taken.start >= 100.0 - 1e-9 and taken.end <= 160.0 + 1e-9
        assert taken.end - taken.start == pytest.approx(30.0)
        for visit in route.visits:  # never during a service
            assert taken.end <= visit.start + 1e-9 or taken.start >= visit.departure - 1e-9


def test_a_break_that_collides_with_windows_costs_distance():
    plain = _breaks_payload(2)
    for vehicle in plain["vehicles"]:
        vehicle.pop("breaks")
    with_breaks = RouteRequest.parse(_breaks_payload(2))
    shorter = plan_routes(RouteRequest.parse(plain))
    longer = plan_routes(with_breaks)
    assert shorter.distance < longer.distance - 1.0
    assert longer.distance == pytest.approx(brute_force_distance(with_breaks), abs=1e-2)


def test_bad_breaks_are_refused_by_name():
    payload = _breaks_payload(0)
    payload["vehicles"][1]["breaks"] = [{"start": 0, "end": 400, "duration": 350}]
    with pytest.raises(RoutingRequestError, match=r"vehicle 'v1': breaks\[0\] of 350 is longer than its shift"):
        RouteRequest.parse(payload)
    payload["vehicles"][1]["breaks"] = [{"start": 100, "end": 110, "duration": 30}]
    with pytest.raises(RoutingRequestError, match=r"break window \[100, 110\] is shorter than its duration 30"):
        RouteRequest.parse(payload)
    payload["vehicles"][1]["breaks"] = [{"start": 100, "end": 160, "duration": 30}]
    payload["options"]["engine"] = "pyvrp"
    with pytest.raises(RoutingRequestError, match="'pyvrp' cannot plan this request \\(vehicle 'v0' has a driver break"):
        plan_routes(payload)


def test_the_verifier_catches_a_break_moved_out_of_its_window_or_into_a_service():
    request = RouteRequest.parse(_breaks_payload(1))
    plan = plan_routes(request)
    route = plan.routes[0]
    (taken,) = route.breaks
    early = replace(taken, start=taken.start - 90.0, end=taken.end - 90.0)
    moved = replace(plan, routes=[replace(route, breaks=[early]), *plan.routes[1:]])
    assert "outside [100, 160]" in " | ".join(verify_plan(request, moved).violations)
    missing = replace(plan, routes=[replace(route, breaks=[]), *plan.routes[1:]])
    assert "0 breaks in the plan, 1 asked for" in " | ".join(verify_plan(request, missing).violations)


# Pickup-and-delivery: pairs (same vehicle, pickup first) and returns collected on delivery rounds.


def _pairs_payload(seed: int, engine: str) -> dict:
    """Six stops, two vans of 12: a pair s0 -> s1 (8 units), a pair s2 -> s3 (6), returns at s4, a delivery at s5."""
    payload = planar_payload(6, 2, seed=seed, capacity=12.0, window=150.0, options={"engine": engine})
    payload["options"]["time_limit"] = 1.0
    stops = payload["stops"]
    for k in range(4):
        stops[k]["demand"] = {}
    stops[0] |= {"pickup": {"load": 8.0}, "delivery_stop": "s1"}
    stops[2] |= {"pickup": {"load": 6.0}, "delivery_stop": "s3"}
    stops[4] |= {"demand": {"load": 4.0}, "pickup": {"load": 7.0}}  # swaps full crates for empties
    stops[5] |= {"demand": {"load": 5.0}}
    return payload


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pairs_and_returns_match_the_brute_force_optimum(engine: str, seed: int):
    request = RouteRequest.parse(_pairs_payload(seed, engine))
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert plan.engine == engine and verify_plan(request, plan).ok
    assert (optimum is not None) == plan.complete
    if optimum is None:
        return
    assert plan.distance == pytest.approx(optimum, abs=1e-2)
    for route in plan.routes:
        ids = route.stop_ids
        for pickup, delivery in (("s0", "s1"), ("s2", "s3")):
            assert (pickup in ids) == (delivery in ids)
            if pickup in ids:
                assert ids.index(pickup) < ids.index(delivery)
        assert route.start_load is not None
        assert all(v.on_board["load"] <= 12.0 + 1e-9 for v in route.visits)


def test_pairs_and_capacity_bind_in_the_brute_force():
    request = RouteRequest.parse(_pairs_payload(0, "ortools"))
    loose = _pairs_payload(0, "ortools")
    for stop in loose["stops"]:
        stop.pop("delivery_stop", None)
        stop.pop("pickup", None)
    assert brute_force_distance(RouteRequest.parse(loose)) < brute_force_distance(request) - 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"delivery_stop": "nowhere"}, "stop 's0': delivery_stop 'nowhere' is not a stop of the request"),
        ({"delivery_stop": "s0"}, "stop 's0': delivery_stop names the stop itself"),
        ({"delivery_stop": "s3"}, "stop 's3' is the delivery of both"),
        ({"demand": {"load": 1.0}}, r"pair 's0' -> 's1': the two stops carry only the pair's goods"),
        ({"pickup": {"crates": 1.0}}, r"pickup dimension\(s\) \['crates'\] not in the vehicles' capacity"),
    ],
)
def test_bad_pairs_are_refused_by_name(change: dict, message: str):
    payload = _pairs_payload(0, "ortools")
    payload["stops"][0] |= change
    with pytest.raises(RoutingRequestError, match=message):
        RouteRequest.parse(payload)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pair_whose_delivery_cannot_be_served_is_unserved_together(engine: str):
    payload = _pairs_payload(1, engine)
    payload["stops"][1]["time_windows"] = [{"start": 0.0, "end": 1.0}]  # nobody gets there in time
    payload["stops"][4]["pickup"] = {"load": 30.0}  # returns bigger than any van
    request = RouteRequest.parse(payload)
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    reasons = {u.stop_id: u.reason for u in plan.unserved}
    assert "before any vehicle can arrive" in reasons["s1"]
    assert reasons["s0"].startswith("its delivery 's1' cannot be served")
    assert reasons["s4"] == "pickup 30 load exceeds every vehicle's capacity 12"


def test_the_verifier_catches_a_split_pair_and_an_overloaded_van():
    request = RouteRequest.parse(_pairs_payload(0, "ortools"))
    plan = plan_routes(request)
    route = next(r for r in plan.routes if "s0" in r.stop_ids)
    k = route.stop_ids.index("s1")
    split = replace(plan, routes=[replace(r, visits=[v for v in r.visits if v.stop_id != "s1"]) if r is route else r for r in plan.routes])
    assert "only one of its stops" in " | ".join(verify_plan(request, split).violations)
    heavy = replace(route.visits[k], on_board={"load": 99.0})
    visits = [heavy if i == k else v for i, v in enumerate(route.visits)]
    lying = replace(plan, routes=[replace(r, visits=visits) if r is route else r for r in plan.routes])
    assert "on board, recomputed" in " | ".join(verify_plan(request, lying).violations)


# Several trips per vehicle, reloading at the start depot (PyVRP; OR-Tools does not model them).


def _trips_payload(seed: int) -> dict:
    """Six stops, one van of 14 that may make three trips."""
    payload = planar_payload(6, 1, seed=seed, capacity=14.0, window=200.0, horizon=500.0)
    payload["options"] |= {"time_limit": 1.0, "engine": "auto"}
    payload["vehicles"][0]["max_trips"] = 3
    return payload


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_several_trips_match_the_brute_force_optimum(seed: int):
    request = RouteRequest.parse(_trips_payload(seed))
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert plan.engine == "pyvrp"  # auto: OR-Tools has no trips
    assert verify_plan(request, plan).ok
    assert (optimum is not None) == plan.complete
    if optimum is not None:
        assert plan.distance == pytest.approx(optimum, abs=1e-2)
    for route in plan.routes:
        assert len(route.reloads) <= 2
        trips = [0, *route.reloads, len(route.visits)]
        for a, b in zip(trips, trips[1:], strict=False):  # each trip fits the van
            assert sum(request.stops[int(v.stop_id[1:])].demand["load"] for v in route.visits[a:b]) <= 14.0


def test_trips_bind_in_the_brute_force():
    request = RouteRequest.parse(_trips_payload(0))
    one_trip = _trips_payload(0)
    one_trip["vehicles"][0]["max_trips"] = 1
    assert brute_force_distance(RouteRequest.parse(one_trip)) is None  # 28 units do not fit one van of 14
    assert brute_force_distance(request) is not None


def test_trips_on_ortools_are_refused_by_name():
    payload = _trips_payload(0)
    payload["options"]["engine"] = "ortools"
    with pytest.raises(RoutingRequestError, match="'ortools' cannot plan this request \\(vehicle 'v0' has max_trips 3"):
        plan_routes(payload)
    payload["options"]["engine"] = "auto"
    payload["vehicles"][0]["breaks"] = [{"start": 100, "end": 200, "duration": 30}]
    with pytest.raises(RoutingRequestError, match="no engine can plan this request"):
        plan_routes(payload)


def test_the_verifier_catches_a_trip_too_many_and_an_overfull_trip():
    request = RouteRequest.parse(_trips_payload(0))
    plan = plan_routes(request)
    route = next(r for r in plan.routes if r.reloads)
    too_many = replace(plan, routes=[replace(route, reloads=[1, 2, 3])])
    assert "4 trips, at most 3 allowed" in " | ".join(verify_plan(request, too_many).violations)
    one_trip = replace(plan, routes=[replace(route, reloads=[])])
    assert "more than capacity 14" in " | ".join(verify_plan(request, one_trip).violations)


# Re-planning with routes under way: a vehicle at its current position (a depot entry opening now) with its
# committed stops fixed first, new stops inserted, the rest re-optimised (OR-Tools; PyVRP has no fixed stops).


def _replan_payload(seed: int) -> dict:
    """Two vans at 120 (the plan started at 0): van v0 is out at its current position, committed to s0 then
    s1; a new order s5 came in."""
    payload = planar_payload(6, 2, seed=seed, capacity=30.0, window=150.0)
    payload["options"] |= {"time_limit": 1.0, "engine": "auto"}
    for stop in payload["stops"]:
        for window in stop["time_windows"]:
            window["start"], window["end"] = window["start"] + 80.0, window["end"] + 80.0
    payload["depots"][0]["closes"] = 400.0
    payload["depots"].append({"id": "v0-now", "location": {"x": 20.0, "y": 80.0}, "opens": 120.0})
    payload["vehicles"][0] |= {"start_depot": "v0-now", "end_depot": "d", "shift_end": 400.0, "fixed_stops": ["s0", "s1"]}
    payload["vehicles"][1] |= {"shift_start": 120.0, "shift_end": 400.0}
    return payload


@pytest.mark.parametrize("seed", [0, 1, 3, 4])  # seed 2: the committed stops alone are already infeasible
def test_replanning_keeps_the_committed_stops_and_matches_the_brute_force(seed: int):
    request = RouteRequest.parse(_replan_payload(seed))
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert plan.engine == "ortools"  # auto: PyVRP has no fixed stops
    assert verify_plan(request, plan).ok
    assert (optimum is not None) == plan.complete
    if optimum is not None:
        assert plan.distance == pytest.approx(optimum, abs=1e-2)
    route = next(r for r in plan.routes if r.vehicle_id == "v0")
    assert route.stop_ids[:2] == ["s0", "s1"] and route.start_depot == "v0-now" and route.departure >= 120.0


def test_fixed_stops_bind_in_the_brute_force():
    fixed = RouteRequest.parse(_replan_payload(0))
    free = _replan_payload(0)
    free["vehicles"][0]["fixed_stops"] = []
    assert brute_force_distance(RouteRequest.parse(free)) < brute_force_distance(fixed) - 1.0


def test_a_warm_start_after_the_fixed_stops_is_kept_in_their_order():
    payload = _replan_payload(1)
    payload["warm_start"] = {"v0": ["s1", "s4", "s0"], "v1": ["s2", "s3", "s5"]}
    request = RouteRequest.parse(payload)
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    assert next(r for r in plan.routes if r.vehicle_id == "v0").stop_ids[:2] == ["s0", "s1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fixed_stops": ["s0", "ghost"]}, "vehicle 'v0': fixed stop 'ghost' is not a stop of the request"),
        ({"fixed_stops": ["s0", "s0"]}, "stop 's0' is fixed twice"),
        ({"skills": [], "fixed_stops": ["s0"], "_stop_skills": ["cold"]}, "needs skills or vehicles it does not have"),
    ],
)
def test_bad_fixed_stops_are_refused_by_name(change: dict, message: str):
    payload = _replan_payload(0)
    skills = change.pop("_stop_skills", None)
    if skills:
        payload["stops"][0]["required_skills"] = skills
    payload["vehicles"][0] |= change
    with pytest.raises(RoutingRequestError, match=message):
        RouteRequest.parse(payload)


def test_a_fixed_route_that_is_already_infeasible_is_refused_by_name():
    payload = _replan_payload(0)
    payload["stops"][1]["time_windows"] = [{"start": 0.0, "end": 121.0}]  # already too late to get there
    with pytest.raises(RoutingRequestError, match=r"vehicle 'v0': its fixed_stops are already infeasible: it reaches fixed stop 's1'"):
        plan_routes(payload)
    payload = _replan_payload(0)
    payload["options"]["engine"] = "pyvrp"
    with pytest.raises(RoutingRequestError, match="'pyvrp' cannot plan this request \\(vehicle 'v0' has fixed_stops"):
        plan_routes(payload)


def test_the_verifier_catches_committed_stops_out_of_order():
    request = RouteRequest.parse(_replan_payload(0))
    plan = plan_routes(request)
    route = next(r for r in plan.routes if r.vehicle_id == "v0")
    swapped = replace(route, visits=[route.visits[1], route.visits[0], *route.visits[2:]])
    broken = replace(plan, routes=[swapped if r is route else r for r in plan.routes])
    assert "does not start with its fixed stops ['s0', 's1']" in " | ".join(verify_plan(request, broken).violations)
