"""The min-cost flow fast path equals the LP, and per-SKU optima add up to the joint optimum."""

from __future__ import annotations

import numpy as np
import pytest

from optimization.allocation import AllocationOptions, allocate, build_problem
from optimization.allocation.lp import solve_lp
from optimization.allocation.network import solve_flow
from optimization.allocation.synthetic import random_frames


@pytest.mark.parametrize(("seed", "quantiles", "transfers"), [(0, True, True), (1, False, True), (2, True, False)])
def test_flow_equals_lp(seed, quantiles, transfers):
    problem = build_problem(**random_frames(40, 4, 9, seed=seed, quantiles=quantiles),
                            options=AllocationOptions(allow_transfers=transfers, shortage_pieces=2))
    flow, lp = solve_flow(problem, chunk_size=7), solve_lp(problem)
    for plan in (flow, lp):
        assert plan.status == "OPTIMAL"
        assert plan.check().ok, plan.check().violations
    assert flow.objective == pytest.approx(lp.objective, rel=1e-9)
    assert flow.objective_bound <= lp.objective + 1e-6
    assert np.all(flow.ship == np.round(flow.ship))  # whole units


def test_chunking_does_not_change_the_plan():
    problem = build_problem(**random_frames(30, 3, 6, seed=5))
    a, b = solve_flow(problem, chunk_size=1), solve_flow(problem, chunk_size=1000)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)


def test_joint_lp_equals_sum_of_per_sku_optima():
    problem = build_problem(**random_frames(12, 3, 5, seed=3))
    joint = solve_lp(problem, coupled=False)
    parts = [solve_lp(problem.sku_subset(np.array([k])), coupled=False) for k in range(problem.shape[0])]
    assert all(p.status == "OPTIMAL" for p in parts)
    assert joint.objective == pytest.approx(sum(p.objective for p in parts), rel=1e-9)


def test_capacity_couples_skus_and_costs_more():
    frames = random_frames(25, 3, 6, seed=4, capacity_slack=0.02, stock_ratio=0.6)
    problem = build_problem(**frames)
    assert problem.capacity_may_bind
    coupled = allocate(problem)
    assert coupled.method == "lp" and coupled.verification.ok
    free = allocate(build_problem(**{**frames, "warehouses": frames["warehouses"].drop(columns="capacity")}))
    assert free.method == "flow"
    assert coupled.objective > free.objective + 1e-6
    # The decoupled optimum breaks capacity here, which is why the LP is needed.
    broken = solve_flow(problem)
    assert np.any(broken.position.sum(axis=0) > problem.capacity)
    full = coupled.binding()["warehouse_capacity"]
    assert full and all(row["shadow_price"] is not None and row["shadow_price"] <= 1e-9 for row in full)


def test_same_input_same_plan():
    problem = build_problem(**random_frames(20, 3, 5, seed=9))
    a, b = allocate(problem), allocate(problem)
    assert np.array_equal(a.ship, b.ship) and np.array_equal(a.transfer, b.transfer)
