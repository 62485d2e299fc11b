"""``plan_routes`` end to end: verified plans, brute-force optima, reasons, determinism and warm starts."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimization.routing import RouteRequest, RoutingRequestError, plan_routes, verify_plan
from optimization.routing.solver import WorkerResult, worker_configs
from shopml.errors import ShopmlError, VerificationError
from tests.optimization.routing.conftest import (
    brute_force_distance,
    planar_payload,
    planar_request,
    with_options,
)


def _comparable(plan) -> dict:
    out = plan.to_dict()
    out.pop("seconds")
    out.pop("solver_log")
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_tiny_instances_match_the_brute_force_optimum(seed: int):
    request = planar_request(6, 2, seed=seed, capacity=18.0, window=50.0)
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    if optimum is None:
        assert not plan.complete and plan.status == "incomplete"
    else:
        assert plan.complete
        # integer arc costs are rounded to 1e-3 per arc, so at most 8 arcs x 5e-4 apart from the optimum
        assert plan.distance == pytest.approx(optimum, abs=1e-2)
        assert plan.distance >= optimum - 1e-6  # nothing beats the exhaustive search


def test_brute_force_with_two_depots_and_a_user_matrix():
    rng = random.Random(7)
    n = 2 + 5
    matrix = [[0.0 if i == j else float(rng.randint(5, 40)) for j in range(n)] for i in range(n)]
    payload = {
        "depots": [{"id": "a", "location": {"x": 0, "y": 0}}, {"id": "b", "location": {"x": 1, "y": 1}}],
        "stops": [
            {
                "id": f"s{i}",
                "location": {"x": i, "y": 0},
                "demand": {"kg": 4, "m3": 1 + i % 2},
                "service_time": 2,
            }
            for i in range(5)
        ],
        "vehicles": [
            {"id": "from-a", "start_depot": "a", "end_depot": "b", "capacity": {"kg": 12, "m3": 4}},
            {"id": "from-b", "start_depot": "b", "capacity": {"kg": 12, "m3": 4}, "max_distance": 90},
        ],
        "travel": {"distance_matrix": matrix, "time_matrix": matrix},
        "options": {"objective": "distance", "allow_dropping": False, "time_limit": 0.5, "workers": 1},
    }
    request = RouteRequest.parse(payload)
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert optimum is not None and plan.complete
    assert verify_plan(request, plan).ok
    assert plan.distance == pytest.approx(optimum, abs=1e-6)
    assert {r.vehicle_id: (r.start_depot, r.end_depot) for r in plan.routes}.get("from-a", ("a", "b")) == (
        "a",
        "b",
    )


def _random_payload(seed: int) -> dict:
    """A request mixing the features: depots, dimensions, several windows, shifts, limits, geo or planar."""
    rng = random.Random(seed)
    geographic = rng.random() < 0.5

    def location() -> dict:
        if geographic:
            return {"lat": 52.4 + rng.uniform(0, 0.25), "lon": 13.2 + rng.uniform(0, 0.4)}
        return {"x": rng.uniform(0, 60), "y": rng.uniform(0, 60)}

    n_depots = rng.randint(1, 2)
    depots = [{"id": f"d{k}", "location": location(), "opens": 0, "closes": 600} for k in range(n_depots)]
    stops = []
    for i in range(rng.randint(3, 14)):
        windows = []
        if rng.random() < 0.8:
            start = rng.uniform(0, 400)
            windows.append({"start": round(start, 3), "end": round(start + rng.uniform(0, 80), 3)})
            if rng.random() < 0.3:
                windows.append({"start": round(start + 120, 3), "end": round(start + 150, 3)})
        stops.append(
            {
                "id": f"s{i}",
                "location": location(),
                "demand": {"kg": rng.choice([0, 1.5, 3, 7.25, 30]), "m3": rng.choice([0, 0.1, 0.7])},
                "time_windows": windows,
                "service_time": rng.choice([0, 1.7, 5]),
                **({"penalty": rng.choice([1, 1000])} if rng.random() < 0.3 else {}),
                **({"required_skills": ["cold"]} if rng.random() < 0.2 else {}),
            }
        )
    vehicles = []
    for k in range(rng.randint(1, 3)):
        vehicles.append(
            {
                "id": f"v{k}",
                "start_depot": f"d{rng.randrange(n_depots)}",
                "end_depot": f"d{rng.randrange(n_depots)}",
                "capacity": {"kg": rng.choice([10, 20, 25.5]), "m3": 2.0},
                "shift_start": rng.choice([0, 30]),
                "shift_end": rng.choice([400, 600]),
                "fixed_cost": rng.choice([0, 50]),
                "cost_per_distance": 1.0,
                "cost_per_time": rng.choice([0, 0.5]),
                **({"max_distance": 200.0} if rng.random() < 0.3 else {}),
                **({"max_duration": 250.0} if rng.random() < 0.3 else {}),
                **({"speed": rng.choice([20.0, 45.0])} if geographic else {}),
                **({"skills": ["cold"]} if rng.random() < 0.5 else {}),
                **({"breaks": [_random_break(rng)]} if rng.random() < 0.3 else {}),
            }
        )
    return {
        "depots": depots,
        "stops": stops,
        "vehicles": vehicles,
        "options": {
            "objective": rng.choice(["distance", "time", "cost", "vehicles"]),
            "allow_dropping": rng.random() < 0.5,
            "time_limit": 0.3,
            "workers": 1,
        },
    }


def _random_break(rng: random.Random) -> dict:
    start = round(rng.uniform(60, 300), 3)
    duration = rng.choice([15.0, 30.0, 45.0])
    return {"start": start, "end": round(start + duration + rng.uniform(0, 90), 3), "duration": duration}


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6))
def test_every_plan_of_a_random_request_passes_the_verifier(seed: int):
    request = RouteRequest.parse(_random_payload(seed))
    plan = plan_routes(request)
    verdict = verify_plan(request, plan)
    assert verdict.ok, verdict.violations
    # on a busy machine 0.3 s may end before any plan is found: then every stop says so, nothing is wrong
    assert plan.feasible or (plan.status == "no_solution" and not plan.routes)
    served = {v.stop_id for r in plan.routes for v in r.visits}
    assert served | {u.stop_id for u in plan.unserved} == {s.id for s in request.stops}
    assert all(u.reason for u in plan.unserved)
    assert plan.to_dict()["totals"]["stops_served"] == len(served)


def _chain_payload(slack: float) -> dict:
    """Twelve stops on a zigzag line; each window closes ``slack`` after the real arrival along the line."""
    stops, clock, here = [], 0.0, (0.0, 0.0)
    for i in range(12):
        point = (here[0] + 1.0 / 3.0, here[1] + 0.1 * (i % 3))
        clock += ((point[0] - here[0]) ** 2 + (point[1] - here[1]) ** 2) ** 0.5
        stops.append(
            {
                "id": f"s{i}",
                "location": {"x": point[0], "y": point[1]},
                "time_windows": [{"start": 0.0, "end": clock + slack}],
            }
        )
        here = point
    return {
        "depots": [{"id": "d", "location": {"x": 0.0, "y": 0.0}}],
        "stops": stops,
        "vehicles": [{"id": "v", "start_depot": "d"}],
        "options": {"objective": "distance", "time_limit": 0.3, "workers": 1, "allow_dropping": False},
    }


def test_travel_times_are_rounded_up_so_integer_plans_stay_on_time_in_real_numbers():
    # windows a hair before the real arrival: rounding travel times to the nearest integer would let the
    # integer model serve some of them late; rounding up (documented cost: at most 1e-3 time units per leg)
    # keeps every returned visit inside its window
    late = RouteRequest.parse(_chain_payload(slack=-2e-4))
    plan = plan_routes(late)
    assert verify_plan(late, plan).ok
    on_time = RouteRequest.parse(_chain_payload(slack=0.05))
    plan = plan_routes(on_time)
    assert verify_plan(on_time, plan).ok
    assert plan.complete and plan.routes[0].stop_ids == [f"s{i}" for i in range(12)]


def test_unservable_stops_are_listed_with_the_reason():
    payload = planar_payload(4, 2, seed=1, capacity=20.0)
    payload["stops"] += [
        {"id": "heavy", "location": {"x": 55, "y": 55}, "demand": {"load": 240}},
        {"id": "too-early", "location": {"x": 99, "y": 99}, "time_windows": [{"start": 0, "end": 20}]},
        {"id": "too-late", "location": {"x": 0, "y": 0}, "time_windows": [{"start": 290, "end": 300}]},
    ]
    payload["vehicles"][0]["max_distance"] = 50
    payload["vehicles"][1]["max_distance"] = 50
    payload["stops"].append({"id": "far", "location": {"x": 100, "y": 0}})
    request = RouteRequest.parse(payload)
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    reasons = {u.stop_id: u.reason for u in plan.unserved}
    assert reasons["heavy"] == "demand 240 load exceeds every vehicle's capacity 20"
    assert "before any vehicle can arrive" in reasons["too-early"]
    assert "return to its depot before its shift ends" in reasons["too-late"]
    assert "maximum distance" in reasons["far"]


def test_low_penalty_stops_are_dropped_and_explained():
    payload = planar_payload(5, 2, seed=2, window=300.0, horizon=400.0)  # one vehicle is free for it
    payload["options"] |= {"objective": "distance", "allow_dropping": True}
    payload["stops"].append({"id": "remote", "location": {"x": 0.0, "y": 0.0}, "penalty": 1.0})
    request = RouteRequest.parse(payload)
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    assert [u.stop_id for u in plan.unserved] == ["remote"]
    assert "more than its penalty 1" in plan.unserved[0].reason
    assert plan.status == "solved"


def test_no_dropping_means_incomplete_when_the_fleet_is_too_small():
    request = planar_request(6, 1, seed=4, capacity=10.0)  # demands of 1-8 each: one vehicle cannot carry all
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok
    assert plan.status == "incomplete" and not plan.complete and plan.feasible
    assert all("add a vehicle" in u.reason for u in plan.unserved)


ENGINE_ENTRY = {"ortools": "solve_model", "pyvrp": "solve_pyvrp"}
"""The planner's entry point of each engine, for tests that replace the search."""


@pytest.mark.parametrize("engine", sorted(ENGINE_ENTRY))
def test_a_plan_failing_verification_is_never_returned(monkeypatch, small_request, engine):
    import optimization.routing.planner as planner

    def broken_solver(model, *args, **kwargs):
        # everything on one vehicle, in reverse order: breaks capacity and windows
        config = worker_configs(small_request.options)[0]
        routes = [list(reversed(model.stop_nodes))] + [[] for _ in range(model.n_vehicles - 1)]
        result = WorkerResult(config, routes, 0, 0.0)
        return result, [result]

    monkeypatch.setattr(planner, ENGINE_ENTRY[engine], broken_solver)
    with pytest.raises(VerificationError) as caught:
        plan_routes(with_options(small_request, engine=engine))
    assert isinstance(caught.value, ShopmlError)  # the CLI prints it as one line, the service answers 422
    assert caught.value.findings and "failed its independent check" in str(caught.value)
    assert any("outside its windows" in f or "exceeds capacity" in f for f in caught.value.findings)


@pytest.mark.parametrize("engine", sorted(ENGINE_ENTRY))
@pytest.mark.parametrize("found", [None, "empty"])
def test_stops_the_search_left_out_are_inserted_by_the_repair(monkeypatch, small_request, found, engine):
    import optimization.routing.planner as planner

    def lazy_solver(model, *args, **kwargs):
        routes = None if found is None else [[] for _ in range(model.n_vehicles)]
        result = WorkerResult(worker_configs(small_request.options)[0], routes, None, 0.0)
        return result, [result]

    monkeypatch.setattr(planner, ENGINE_ENTRY[engine], lazy_solver)
    plan = plan_routes(with_options(small_request, engine=engine))
    assert verify_plan(small_request, plan).ok
    assert plan.feasible and any("insert" in line for line in plan.solver_log)
    # greedy insertion may leave a tight-window stop out; those are explained, never silently lost
    assert sum(len(r.visits) for r in plan.routes) >= len(small_request.stops) - 2
    assert all("no vehicle has room" in u.reason for u in plan.unserved)


def test_same_seed_same_plan_with_one_worker(small_request):
    request = with_options(small_request, local_search="greedy_descent", time_limit=5.0, seed=11)
    first, second = plan_routes(request), plan_routes(request)
    assert first.seconds < 4.0  # greedy descent stops at its local optimum, not at the time limit
    assert _comparable(first) == _comparable(second)


def test_several_workers_return_a_verified_plan_at_least_as_good(small_request):
    single = plan_routes(with_options(small_request, local_search="greedy_descent", workers=1))
    double = plan_routes(with_options(small_request, local_search="greedy_descent", workers=2))
    assert verify_plan(small_request, double).ok
    assert len(double.solver_log) == 2
    assert double.distance <= single.distance + 1e-6


def test_warm_start_is_kept_when_nothing_better_exists(small_request):
    plan = plan_routes(small_request)
    warm = {r.vehicle_id: r.stop_ids for r in plan.routes}
    # greedy descent from the previous plan: it can only improve, so the old plan is a bound
    replanned = plan_routes(
        with_options(small_request, local_search="greedy_descent").model_copy(update={"warm_start": warm})
    )
    assert verify_plan(small_request, replanned).ok
    assert replanned.distance <= plan.distance + 1e-6


def test_warm_start_after_a_new_stop_serves_it_and_keeps_the_plan_verified(small_request):
    plan = plan_routes(small_request)
    payload = small_request.model_dump(mode="json")
    payload["stops"].append(
        {"id": "late-order", "location": {"x": 52.0, "y": 48.0}, "demand": {"load": 1.0}, "service_time": 1.0}
    )
    payload["warm_start"] = {r.vehicle_id: r.stop_ids for r in plan.routes}
    changed = RouteRequest.parse(payload)
    replanned = plan_routes(changed)
    assert verify_plan(changed, replanned).ok
    assert replanned.complete and "late-order" in {v.stop_id for r in replanned.routes for v in r.visits}


def test_an_infeasible_warm_start_falls_back_to_a_fresh_search(small_request):
    everything_on_one = {"v0": [s.id for s in reversed(small_request.stops)]}
    request = small_request.model_copy(update={"warm_start": everything_on_one})
    plan = plan_routes(request)
    assert verify_plan(request, plan).ok and plan.complete


def test_vehicles_objective_uses_the_fewest_vehicles():
    # four stops that fit in one vehicle: the distance objective may split them, the vehicles objective must not
    payload = planar_payload(4, 3, seed=8, capacity=100.0, window=250.0, horizon=400.0)
    payload["options"] |= {"objective": "vehicles", "time_limit": 1.0}
    plan = plan_routes(payload)
    assert plan.feasible and plan.complete and plan.vehicles_used == 1


def test_cost_objective_weighs_fixed_costs_against_distance():
    payload = planar_payload(6, 3, seed=9, capacity=100.0, window=250.0, horizon=400.0)
    for vehicle in payload["vehicles"]:
        vehicle["fixed_cost"] = 10_000.0
    payload["options"] |= {"objective": "cost"}
    plan = plan_routes(payload)
    assert plan.feasible and plan.complete and plan.vehicles_used == 1
    assert plan.cost == pytest.approx(10_000.0 + plan.distance)


def test_an_empty_day_is_a_feasible_empty_plan():
    payload = planar_payload(0, 2)
    plan = plan_routes(payload)
    assert plan.feasible and plan.complete and plan.routes == [] and plan.distance == 0.0


def test_time_limit_argument_is_validated(small_request):
    for bad in (0.0, -1.0, 10_000.0):
        with pytest.raises(RoutingRequestError, match="time_limit"):
            plan_routes(small_request, time_limit=bad)


@pytest.mark.parametrize("engine", ["ortools", "pyvrp"])
@pytest.mark.parametrize("seed", [0, 1])
def test_asymmetric_road_tables_match_the_brute_force_optimum(engine: str, seed: int):
    # one-way streets: every direction its own random time and distance (an OSRM-shaped table, seconds/metres)
    rng = random.Random(seed)
    n = 1 + 5
    durations = [[0 if i == j else rng.randint(300, 2400) for j in range(n)] for i in range(n)]
    distances = [[0 if i == j else durations[i][j] * rng.uniform(5, 12) for j in range(n)] for i in range(n)]
    payload = {
        "depots": [{"id": "hub", "location": {"lat": 52.5, "lon": 13.4}, "closes": 600}],
        "stops": [
            {"id": f"s{i}", "location": {"lat": 52.5 + i / 100, "lon": 13.4}, "demand": {"kg": 3}, "service_time": 5}
            for i in range(5)
        ],
        "vehicles": [{"id": f"v{k}", "start_depot": "hub", "capacity": {"kg": 9}} for k in range(2)],
        "travel": {"road_table": {"durations": durations, "distances": distances}},
        "options": {"objective": "distance", "allow_dropping": False, "time_limit": 1.0, "workers": 1, "engine": engine},
    }
    request = RouteRequest.parse(payload)
    assert request.travel.time_matrix != [list(col) for col in zip(*request.travel.time_matrix, strict=True)]
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert optimum is not None and plan.complete and plan.engine == engine
    assert verify_plan(request, plan).ok
    assert plan.distance == pytest.approx(optimum, abs=1e-2)
