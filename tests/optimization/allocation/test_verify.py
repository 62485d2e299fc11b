"""The independent checker catches each kind of broken plan and accepts the solvers' plans."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from optimization.allocation import allocate, build_problem, verify_allocation
from optimization.allocation.synthetic import random_frames


@pytest.fixture
def solved():
    problem = build_problem(**random_frames(15, 3, 5, seed=11, capacity_slack=0.05))
    plan = allocate(problem)
    assert plan.verification.ok
    return problem, plan


def _tampered(plan, **arrays):
    out = dataclasses.replace(plan, **arrays)
    return out


def test_overdrawn_stock_is_caught(solved):
    problem, plan = solved
    ship = plan.ship.copy()
    k, w = np.argwhere(problem.stock > 0)[0]
    r = int(np.argmax(problem.top[k]))
    ship[k, w, r] += problem.stock[k, w] + 5
    report = verify_allocation(problem, _tampered(plan, ship=ship))
    assert any(v.startswith("stock:") for v in report.violations)


def test_capacity_breach_is_caught(solved):
    problem, plan = solved
    transfer = plan.transfer.copy()
    k = int(np.argmax(problem.stock.sum(axis=1)))
    w_from = int(np.argmax(problem.stock[k]))
    w_to = (w_from + 1) % problem.shape[1]
    transfer[k, w_from, w_to] += problem.stock[k, w_from]
    transfer[:, w_to, :] = 0
    report = verify_allocation(problem, _tampered(plan, transfer=transfer))
    assert any("capacity" in v or "stock" in v for v in report.violations)


def test_delivery_beyond_demand_range_and_negative_units_are_caught(solved):
    problem, plan = solved
    ship = plan.ship.copy()
    ship[0, 0, 0] = problem.top[0, 0] + 1000
    assert any(v.startswith("demand:") for v in verify_allocation(problem, _tampered(plan, ship=ship)).violations)
    ship = plan.ship.copy()
    ship[0, 0, 0] = -1
    assert any("negative" in v for v in verify_allocation(problem, _tampered(plan, ship=ship)).violations)


def test_wrong_objective_or_bound_is_caught(solved):
    problem, plan = solved

    class Liar:
        ship, transfer, method = plan.ship, plan.transfer, plan.method
        objective = plan.objective + 1.0
        objective_bound = None

    assert any(v.startswith("objective:") for v in verify_allocation(problem, Liar()).violations)
    Liar.objective = plan.objective
    Liar.objective_bound = plan.objective * 1.01 + 1
    assert any(v.startswith("bound:") for v in verify_allocation(problem, Liar()).violations)


def test_rules_are_checked(solved):
    problem, plan = solved
    lots = problem.with_options(min_lot=10_000)
    assert plan.ship.max() > 0
    assert any(v.startswith("lots:") for v in verify_allocation(lots, plan).violations)
    frac = _tampered(plan, ship=plan.ship + 0.25 * (plan.ship > 0))
    assert any("integrality" in v or "stock" in v for v in verify_allocation(problem, frac).violations)
    no_moves = problem.with_options(allow_transfers=False)
    moved = plan.transfer.copy()
    moved[0, 0, 1] += 1
    assert any("not allowed" in v for v in verify_allocation(no_moves, _tampered(plan, transfer=moved)).violations)


def test_recomputed_costs_match_the_plan(solved):
    problem, plan = solved
    report = verify_allocation(problem, plan)
    for name, value in plan.breakdown.items():
        assert report.recomputed[name] == pytest.approx(value, rel=1e-9, abs=1e-9)
