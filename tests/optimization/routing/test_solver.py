"""Solver internals: the worker portfolio, the integer objective, cheapest-insertion repair, parts."""

from __future__ import annotations

import itertools
import time

from optimization.routing import Options
from optimization.routing.model import compile_model
from optimization.routing.solver import (
    FLEET_STRATEGIES,
    MAX_FAILED_REMOVALS,
    PART_ROUTES,
    _part_model,
    cheapest_insertion,
    earliest_return,
    evaluate,
    improve_by_parts,
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


def test_improving_by_parts_keeps_every_stop_feasible_and_never_costs_more():
    request = planar_request(40, 18, seed=4, capacity=14.0, window=90.0)
    model = compile_model(request, build_matrices(request), list(range(40)))
    start = repair(model, [[] for _ in range(model.n_vehicles)], deadline=float("inf"))
    used = [v for v, r in enumerate(start) if r]
    assert len(used) >= 2 * PART_ROUTES  # so that the plan is really cut into parts
    config = worker_configs(Options(objective="vehicles", workers=1))[0]
    result = improve_by_parts(model, config, time.monotonic() + 1.5, start, required_only=True)
    assert sorted(n for r in result.routes for n in r) == sorted(n for r in start for n in r)
    assert evaluate(model, result.routes) <= evaluate(model, start)
    for v, route in enumerate(result.routes):
        if route:
            assert earliest_return(model, v, route) is not None
            assert sum(model.demands[0][n] for n in route) <= model.capacities[0][v]


def test_a_part_model_prices_its_routes_like_the_whole_model():
    request = planar_request(12, 4, seed=1, capacity=15.0, window=120.0)
    model = compile_model(request, build_matrices(request), list(range(12)))
    routes = repair(model, [[] for _ in range(model.n_vehicles)], deadline=float("inf"))
    chosen = [v for v, r in enumerate(routes) if r][:2]
    stops = [n for v in chosen for n in routes[v]]
    part, nodes = _part_model(model, chosen, stops)
    local = {n: i for i, n in enumerate(nodes)}
    part_routes = [[local[n] for n in routes[v]] for v in chosen]
    whole = [r if v in chosen else [] for v, r in enumerate(routes)]
    assert evaluate(part, part_routes) == evaluate(model, whole) - sum(
        model.penalties[n - model.n_depots] for n in model.stop_nodes if n not in stops
    )
    for k, v in enumerate(chosen):
        assert earliest_return(part, k, part_routes[k]) == earliest_return(model, v, routes[v])
