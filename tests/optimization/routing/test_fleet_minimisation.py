"""Fleet minimisation (the ``vehicles`` objective, ``options.fleet_share``): never more vehicles than one search
without it, every plan verified; the board the PyVRP workers share."""

from __future__ import annotations

import pytest

from optimization.routing import RouteRequest, RoutingRequestError, plan_routes, verify_plan
from optimization.routing.model import compile_model
from optimization.routing.pyvrp_engine import FleetBoard, compile_pyvrp, to_solution
from optimization.routing.request import Options
from optimization.routing.solver import worker_configs
from optimization.routing.travel import build_matrices
from tests.optimization.routing.conftest import planar_payload


def _tight(seed: int, **options) -> dict:
    """18 stops with 40-minute windows, 8 vehicles: tight enough that the fleet size is a real question."""
    payload = planar_payload(18, 8, seed=seed, capacity=45.0, window=40.0, horizon=300.0)
    payload["options"] |= {"objective": "vehicles", "time_limit": 1.5, **options}
    return payload


@pytest.mark.parametrize("workers", [1, 2])
def test_fleet_minimisation_never_uses_more_vehicles_than_without_it(workers: int):
    # PyVRP, which auto picks for these requests; OR-Tools' fleet phase can lose to one plain search on a
    # busy machine at a 1.5 s limit (4 vehicles against 3, load 10: docs/routing.md, Engines)
    for seed in (0, 1, 2):
        plans = {}
        for share in (None, 0.0):
            payload = _tight(seed, workers=workers, fleet_share=share)
            plan = plan_routes(payload)
            assert plan.engine == "pyvrp"
            assert verify_plan(RouteRequest.parse(payload), plan).ok and plan.feasible
            plans[share] = plan
        with_phase, without = plans[None], plans[0.0]
        assert len(with_phase.unserved) == len(without.unserved)  # the same stops (some may be unservable)
        assert with_phase.vehicles_used <= without.vehicles_used, (seed, with_phase.solver_log)


def test_fleet_share_zero_skips_the_fleet_phase_and_is_bounded():
    plan = plan_routes(_tight(0, engine="pyvrp", workers=1, fleet_share=0.0))
    assert plan.feasible and not any("vehicles in" in line or "first:" in line for line in plan.solver_log)
    phased = plan_routes(_tight(0, engine="pyvrp", workers=1))
    assert any("first:" in line for line in phased.solver_log)
    with pytest.raises(RoutingRequestError, match="fleet_share"):
        plan_routes(_tight(0, fleet_share=0.95))
    assert all(c.fleet_minimisation for c in worker_configs(Options(objective="vehicles", workers=2)))
    assert not any(c.fleet_minimisation for c in worker_configs(Options(objective="vehicles", fleet_share=0)))


def test_the_board_keeps_the_smallest_fleet_and_its_routes():
    request = RouteRequest.parse(planar_payload(6, 4, seed=5, capacity=30.0, window=150.0))
    matrices = build_matrices(request)
    model = compile_model(request, matrices, list(range(len(request.stops))))
    pm = compile_pyvrp(model, request, matrices)
    board = FleetBoard(model.n_nodes, model.n_vehicles)
    three = [[1, 2], [3, 4], [5, 6], []]  # model nodes: the depot is node 0
    board.post(pm, to_solution(pm, three))
    assert board.fleet() == 3 and sorted(board.routes()) == [[1, 2], [3, 4], [5, 6]]
    board.post(pm, to_solution(pm, [[1, 2, 3], [4], [5], [6]]))  # more routes: ignored
    assert board.fleet() == 3
    board.post(pm, to_solution(pm, [[1, 2, 3], [4, 5, 6], [], []]))
    assert board.fleet() == 2 and sorted(board.routes()) == [[1, 2, 3], [4, 5, 6]]
