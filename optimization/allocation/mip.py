"""The allocation MIP (SCIP): whole units, minimum shipment lots and fixed costs per used lane.

It extends the LP of :mod:`optimization.allocation.lp` with::

    lots   x[k,w,r] >= lot * b[k,w,r],  x[k,w,r] <= M[k,w,r] * b[k,w,r],  b binary
    lanes  x[k,w,r] <= M[k,w,r] * z[w,r]  (or b[k,w,r] <= z[w,r] with lots),  z binary, cost lane_fixed_cost * z

and solves it under the request's time limit and relative gap. A time limit hit with a plan in hand gives
status ``FEASIBLE`` with the proven bound and gap reported, never a silent claim of optimality.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh

from optimization.allocation.lp import formulate, status_name
from optimization.allocation.plan import AllocationPlan
from optimization.allocation.problem import AllocationProblem

log = logging.getLogger(__name__)


def solve_mip(problem: AllocationProblem, *, solver: str = "scip") -> AllocationPlan:
    """Solve the allocation with integer units, lots and lane fixed costs as asked in ``problem.options``."""
    opts = problem.options
    n_k, n_w, n_r = problem.shape
    t0 = time.perf_counter()
    form = formulate(problem, coupled=problem.capacity_may_bind)
    m = form.model
    c, w, r = form.x_index
    n_x = len(c)
    m.mark_integer(form.x_start, n_x)
    m.mark_integer(form.y_start, len(form.y_index[0]))
    x_cols = form.x_start + np.arange(n_x)
    b_cols = None
    if opts.min_lot is not None:
        b0 = m.add_vars(n_x, 0.0, 1.0, 0.0, integer=True)
        b_cols = b0 + np.arange(n_x)
        lo = m.add_rows(n_x, 0.0, np.inf)  # x - lot b >= 0
        m.add_entries(lo + np.arange(n_x), x_cols, 1.0)
        m.add_entries(lo + np.arange(n_x), b_cols, -float(opts.min_lot))
        hi = m.add_rows(n_x, -np.inf, 0.0)  # x - M b <= 0
        m.add_entries(hi + np.arange(n_x), x_cols, 1.0)
        m.add_entries(hi + np.arange(n_x), b_cols, -form.x_big_m)
    if opts.lane_fixed_cost:
        # Disaggregated linking (one row per SKU on a lane) is much tighter than one big-M row per lane.
        lane = w * n_r + r
        lanes, lane_of_x = np.unique(lane, return_inverse=True)
        z0 = m.add_vars(len(lanes), 0.0, 1.0, float(opts.lane_fixed_cost), integer=True)
        rows = m.add_rows(n_x, -np.inf, 0.0)
        if b_cols is not None:  # b <= z: a lot on a lane opens the lane
            m.add_entries(rows + np.arange(n_x), b_cols, 1.0)
            m.add_entries(rows + np.arange(n_x), z0 + lane_of_x, -1.0)
        else:  # x <= M z
            m.add_entries(rows + np.arange(n_x), x_cols, 1.0)
            m.add_entries(rows + np.arange(n_x), z0 + lane_of_x, -form.x_big_m)
    helper = m.helper()
    build = time.perf_counter() - t0
    engine = mbh.ModelSolverHelper(solver)
    engine.set_time_limit_in_seconds(opts.time_limit_s)
    if solver == "scip":
        engine.set_solver_specific_parameters(f"limits/gap = {opts.relative_gap}\n")
    t1 = time.perf_counter()
    engine.solve(helper)
    solve = time.perf_counter() - t1
    status = status_name(engine)
    if engine.has_solution():
        ship, transfer = form.decode(problem, np.asarray(engine.variable_values()))
        ship, transfer = np.round(ship), np.round(transfer)  # integer variables, solver noise only
    else:
        ship, transfer = np.zeros((n_k, n_w, n_r)), np.zeros((n_k, n_w, n_w))
    plan = AllocationPlan(problem=problem, ship=ship, transfer=transfer, status=status, method="mip",
                          build_seconds=build, solve_seconds=solve)
    if engine.has_solution():
        offset = plan.objective - engine.objective_value()  # constants the model leaves out
        plan.objective_bound = min(plan.objective, engine.best_objective_bound() + offset)
        if status == "OPTIMAL" and plan.gap and plan.gap > 0:
            plan.notes.append(f"MIP stopped at its relative gap target {opts.relative_gap:g}")
    else:
        plan.notes.append(f"MIP found no plan within {opts.time_limit_s:g}s (status {status}); try a longer time limit")
    log.info("mip (%s): %d vars, %d rows, build %.2fs, solve %.2fs, %s", solver, m.n_vars, m.n_rows, build, solve, status)
    return plan
