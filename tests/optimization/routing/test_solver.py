"""Solver internals: the worker portfolio, the integer objective, and cheapest-insertion repair."""

from __future__ import annotations

import itertools

from optimization.routing import Options
from optimization.routing.model import compile_model
from optimization.routing.solver import (
    FLEET_STRATEGIES,
    MAX_FAILED_REMOVALS,
    cheapest_insertion,
    earliest_return,
    evaluate,
    repair,
    worker_configs,
)
from optimization.routing.travel import build_matrices
from tests.optimization.routing.conftest import planar_request


def test_vehicles_objective_workers_all_minimise_the_fleet_and_differ():
    configs = worker_configs(Options(objective="vehicles", workers=4))
    assert [c.fleet_minimisation for c in configs] == [True] * 4
    assert [c.max_failed_removals for c in configs] == [MAX_FAILED_REMOVALS] * 4
    assert [c.removal_offset for c in configs] == [0, 1, 0, 1]  # both attempt kinds lead
    assert len({c.gls_lambda for c in configs}) == 4  # distance phases from one plan do not repeat each other
    assert [c.first_solution for c in configs] == list(FLEET_STRATEGIES)


def test_other_objectives_rotate_strategies_by_seed_and_honour_an_explicit_one():
    a, b = worker_configs(Options(workers=2, seed=0)), worker_configs(Options(workers=2, seed=1))
    assert not any(c.fleet_minimisation for c in a + b)
    assert a[1].first_solution == b[0].first_solution and a[0].first_solution != b[0].first_solution
    chosen = worker_configs(Options(workers=2, first_solution="savings", seed=5))
    assert chosen[0].first_solution == "SAVINGS" and chosen[1].first_solution != "SAVINGS"


def _model(n=7, vehicles=2, seed=2):
    request = planar_request(n, vehicles, seed=seed, capacity=18.0, window=80.0)
    return request, compile_model(request, build_matrices(request), list(range(n)))


def test_cheapest_insertion_is_the_cheapest_feasible_place_by_enumeration():
    _, model = _model()
    routes = [[1, 2, 3], [4]]  # nodes: depot 0, stops 1..7
    for node in (5, 6, 7):
        place = cheapest_insertion(model, routes, node)
        candidates = []
        for v, k in itertools.chain.from_iterable(
            ((v, k) for k in range(len(routes[v]) + 1)) for v in range(model.n_vehicles)
        ):
            trial = [list(r) for r in routes]
            trial[v].insert(k, node)
            load_ok = sum(model.demands[0][n] for n in trial[v]) <= model.capacities[0][v]
            if load_ok and earliest_return(model, v, trial[v]) is not None:
                candidates.append(
                    evaluate(model, trial) - evaluate(model, routes) + model.penalties[node - 1]
                )
        if not candidates:
            assert place is None
        else:
            assert place is not None and place[0] == min(candidates)


def test_repair_from_nothing_builds_a_feasible_integer_plan():
    _, model = _model(n=7, vehicles=3)
    routes = repair(model, [[] for _ in range(model.n_vehicles)], deadline=float("inf"))
    assert sum(map(len, routes)) >= 5
    for v, route in enumerate(routes):
        if route:
            assert earliest_return(model, v, route) is not None
            assert sum(model.demands[0][n] for n in route) <= model.capacities[0][v]
