"""The MIP honours lots and lane fixed costs, and reports its gap honestly."""

from __future__ import annotations

import numpy as np
import pytest

from optimization.allocation import AllocationOptions, allocate, build_problem
from optimization.allocation.synthetic import random_frames


@pytest.fixture(scope="module")
def frames():
    return random_frames(12, 3, 6, seed=13, quantiles=False)


def test_lots_and_lanes_are_respected_and_cost_at_least_the_lp(frames):
    free = allocate(build_problem(**frames))
    plan = allocate(build_problem(**frames, options=AllocationOptions(min_lot=4, lane_fixed_cost=2.0, time_limit_s=20)))
    assert plan.method == "mip" and plan.verification.ok, plan.verification.violations
    shipped = plan.ship[plan.ship > 0]
    assert shipped.min() >= 4 and np.all(shipped == np.round(shipped))
    assert plan.breakdown["lanes"] == pytest.approx(2.0 * plan.lanes_used.sum())
    assert plan.objective >= free.objective - 1e-6
    assert plan.gap is not None and plan.objective_bound <= plan.objective + 1e-6


def test_expensive_lanes_close(frames):
    cheap = allocate(build_problem(**frames, options=AllocationOptions(lane_fixed_cost=0.01)))
    dear = allocate(build_problem(**frames, options=AllocationOptions(lane_fixed_cost=50.0)))
    assert dear.lanes_used.sum() < cheap.lanes_used.sum()


def test_integer_units_mip_equals_the_flow(frames):
    problem = build_problem(**frames, options=AllocationOptions(integer_units=True))
    assert allocate(problem, method="mip").objective == pytest.approx(allocate(problem).objective, rel=1e-9)


def test_time_limit_reports_status_and_gap():
    problem = build_problem(
        **random_frames(60, 4, 10, seed=2, capacity_slack=0.01),
        options=AllocationOptions(min_lot=3, lane_fixed_cost=4.0, time_limit_s=0.5),
    )
    plan = allocate(problem)
    assert plan.verification.ok, plan.verification.violations
    if plan.status == "OPTIMAL":
        assert plan.gap is not None and plan.gap <= problem.options.relative_gap + 1e-9
    elif plan.status == "FEASIBLE":
        assert plan.gap is not None and plan.gap >= 0
        assert "gap" in plan.summary()
    else:
        assert any("no plan" in note for note in plan.notes)


def test_relaxation_bounds_and_repair_is_feasible():
    from optimization.allocation.mip import relaxed_plan, repaired_plan

    problem = build_problem(**random_frames(40, 4, 8, seed=6), options=AllocationOptions(min_lot=4, lane_fixed_cost=3.0))
    relaxed = relaxed_plan(problem)
    repaired = repaired_plan(problem, relaxed)
    assert repaired.check().ok, repaired.check().violations
    shipped = repaired.ship[repaired.ship > 0]
    assert shipped.min() >= 4
    dropped_only = relaxed.ship.copy()
    dropped_only[dropped_only < 4] = 0
    from optimization.allocation import AllocationPlan

    naive = AllocationPlan(problem=problem, ship=dropped_only, transfer=relaxed.transfer, status="-", method="mip")
    assert repaired.objective <= naive.objective + 1e-9  # adding lots back only helps
    plan = allocate(problem.with_options(time_limit_s=5))
    assert relaxed.objective_bound - 1e-6 <= plan.objective_bound <= plan.objective + 1e-6
