"""The PyVRP engine: the same request, plan and verifier as OR-Tools; brute-force optima; the engine choice."""

from __future__ import annotations

import random

import pytest

from optimization.routing import RouteRequest, RoutingRequestError, plan_routes, verify_plan
from optimization.routing.model import compile_model
from optimization.routing.planner import choose_engine
from optimization.routing.pyvrp_engine import compile_pyvrp, from_solution, to_solution, unsupported
from optimization.routing.request import Engine
from optimization.routing.travel import build_matrices
from tests.optimization.routing.conftest import brute_force_distance, planar_payload, planar_request

PYVRP = {"engine": "pyvrp"}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_tiny_instances_match_the_brute_force_optimum(seed: int):
    request = planar_request(6, 2, seed=seed, capacity=18.0, window=50.0, options=PYVRP)
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert plan.engine == "pyvrp"
    assert verify_plan(request, plan).ok
    if optimum is None:
        assert not plan.complete and plan.status == "incomplete"
    else:
        assert plan.complete
        # PyVRP's distances are rounded up to 1e-3 per arc: at most 8 arcs x 1e-3 above the optimum
        assert plan.distance == pytest.approx(optimum, abs=1e-2)
        assert plan.distance >= optimum - 1e-6


def test_brute_force_with_two_depots_vehicle_types_and_a_user_matrix():
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
        "options": {"objective": "distance", "allow_dropping": False, "time_limit": 0.5, "workers": 1, **PYVRP},
    }
    request = RouteRequest.parse(payload)
    optimum = brute_force_distance(request)
    plan = plan_routes(request)
    assert optimum is not None and plan.complete and plan.engine == "pyvrp"
    assert verify_plan(request, plan).ok
    assert plan.distance == pytest.approx(optimum, abs=1e-6)


def test_vehicle_types_group_alike_vehicles_and_routes_come_back_to_them():
    payload = planar_payload(6, 4, seed=5, capacity=30.0)
    payload["vehicles"][3]["capacity"] = {"load": 12.0}
    request = RouteRequest.parse(payload)
    matrices = build_matrices(request)
    model = compile_model(request, matrices, list(range(len(request.stops))))
    pm = compile_pyvrp(model, request, matrices)
    assert pm.type_vehicles == [[0, 1, 2], [3]]
    assert pm.data.num_vehicles == 4 and pm.data.num_clients == 6
    routes = [[1, 2], [], [3], [4, 5, 6]]  # model nodes: the depot is node 0
    back = from_solution(pm, to_solution(pm, routes), model.n_vehicles)
    assert sorted(map(tuple, back)) == sorted(map(tuple, routes))
    assert back[3] == [4, 5, 6]  # the smaller vehicle's route stays on it


def test_optional_stops_carry_their_penalty_as_a_prize():
    payload = planar_payload(5, 2, seed=2, window=300.0, horizon=400.0, options=PYVRP)
    payload["options"] |= {"objective": "distance", "allow_dropping": True}
    payload["stops"].append({"id": "remote", "location": {"x": 0.0, "y": 0.0}, "penalty": 1.0})
    request = RouteRequest.parse(payload)
    plan = plan_routes(request)
    assert plan.engine == "pyvrp" and verify_plan(request, plan).ok
    assert [u.stop_id for u in plan.unserved] == ["remote"]
    assert "more than its penalty 1" in plan.unserved[0].reason


def test_fleet_minimisation_uses_the_fewest_vehicles():
    payload = planar_payload(4, 3, seed=8, capacity=100.0, window=250.0, horizon=400.0, options=PYVRP)
    payload["options"] |= {"objective": "vehicles", "time_limit": 1.0}
    plan = plan_routes(payload)
    assert plan.engine == "pyvrp" and plan.feasible and plan.complete and plan.vehicles_used == 1


def test_cost_objective_prices_fixed_costs():
    payload = planar_payload(6, 3, seed=9, capacity=100.0, window=250.0, horizon=400.0, options=PYVRP)
    for vehicle in payload["vehicles"]:
        vehicle["fixed_cost"] = 10_000.0
    payload["options"] |= {"objective": "cost"}
    plan = plan_routes(payload)
    assert plan.engine == "pyvrp" and plan.feasible and plan.complete and plan.vehicles_used == 1


def test_two_workers_return_a_verified_plan(small_request):
    request = small_request.model_copy(
        update={"options": small_request.options.model_copy(update={"engine": Engine.PYVRP, "workers": 2})}
    )
    plan = plan_routes(request)
    assert plan.engine == "pyvrp" and verify_plan(request, plan).ok and plan.complete
    assert len(plan.solver_log) == 2


def test_warm_start_is_read_into_pyvrp(small_request):
    first = plan_routes(small_request)
    warm = {r.vehicle_id: r.stop_ids for r in first.routes}
    request = RouteRequest.parse(
        small_request.model_dump(mode="json") | {"warm_start": warm, "options": {**small_request.options.model_dump(mode="json"), **PYVRP}}
    )
    plan = plan_routes(request)
    assert plan.engine == "pyvrp" and verify_plan(request, plan).ok
    assert plan.distance <= first.distance + 1e-2


def test_auto_picks_pyvrp_when_it_models_everything_and_ortools_otherwise():
    plain = planar_request(4, 2)
    assert unsupported(plain) is None and choose_engine(plain) is Engine.PYVRP
    payload = planar_payload(4, 2)
    payload["stops"][0]["time_windows"] = [{"start": 0, "end": 10}, {"start": 50, "end": 60}]
    two_windows = RouteRequest.parse(payload)
    assert "stops[0] 's0' has several time windows" in unsupported(two_windows)
    assert choose_engine(two_windows) is Engine.ORTOOLS
    ortools_only = planar_request(4, 2, options={"local_search": "greedy_descent"})
    assert choose_engine(ortools_only) is Engine.ORTOOLS
    time_objective = planar_request(4, 2, options={"objective": "time"})
    assert choose_engine(time_objective) is Engine.ORTOOLS


def test_asking_pyvrp_for_what_it_cannot_model_names_the_item():
    payload = planar_payload(4, 2, options=PYVRP)
    payload["stops"][2]["time_windows"] = [{"start": 0, "end": 10}, {"start": 50, "end": 60}]
    with pytest.raises(RoutingRequestError, match=r"options.engine: 'pyvrp' cannot plan this request \(stops\[2\] 's2'"):
        plan_routes(payload)
