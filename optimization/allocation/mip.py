"""The allocation MIP (SCIP): whole units, minimum shipment lots and fixed costs per used lane.

It extends the LP of :mod:`optimization.allocation.lp` with::

    lots   x[k,w,r] >= lot * b[k,w,r],  x[k,w,r] <= M[k,w,r] * b[k,w,r],  b binary
    lanes  x[k,w,r] <= M[k,w,r] * z[w,r]  (or b[k,w,r] <= z[w,r] with lots),  z binary, cost lane_fixed_cost * z

and solves it under the request's time limit and relative gap. Two things make the answer dependable at
scale, where SCIP alone may not even find a plan in time:

* the relaxation without lots and lane costs (min-cost flow, or the LP when capacity couples SKUs) is solved
  first; its optimum is a proven lower bound on the MIP, so a gap is always reported;
* that relaxed plan with every shipment below the lot dropped is feasible for the MIP (less shipped never
  breaks stock, capacity or demand rows); it is handed to SCIP as a hint and kept when SCIP does no better.

A time limit hit with a plan in hand gives status ``FEASIBLE`` with the proven bound and gap reported, never
a silent claim of optimality.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from ortools.linear_solver.python import model_builder_helper as mbh

from optimization.allocation.lp import formulate, solve_lp, status_name
from optimization.allocation.network import solve_flow
from optimization.allocation.plan import AllocationPlan
from optimization.allocation.problem import AllocationProblem

log = logging.getLogger(__name__)

HINT_LIMIT = 300_000  # columns up to which a full solution hint is passed (one Python call per column)


def relaxed_plan(problem: AllocationProblem) -> AllocationPlan:
    """The problem without lots and lane costs: its optimum bounds the MIP from below."""
    relaxed = problem.with_options(min_lot=None, lane_fixed_cost=None)
    return solve_lp(relaxed) if relaxed.capacity_may_bind else solve_flow(relaxed)


def repaired_plan(problem: AllocationProblem, relaxed: AllocationPlan, rounds: int = 4) -> AllocationPlan:
    """The relaxed plan made feasible for the MIP: shipments below the lot dropped, then whole lots added back.

    Dropping keeps every row satisfied (less shipped never breaks stock, capacity or demand). Then, greedily
    by gain, a lot is shipped from a warehouse that still holds it to a region that can take it, when the
    expected shortage it saves is worth more than its shipping (and a new lane's fixed cost); a few rounds,
    each pair changed at most once per round so that gains stay exact.
    """
    ship = np.round(relaxed.ship)
    transfer = np.round(relaxed.transfer)
    lot = problem.options.min_lot
    if lot is not None:
        ship = np.where(ship < lot, 0.0, ship)
        ship = _add_lots(problem, ship, transfer, int(lot), rounds)
    return AllocationPlan(problem=problem, ship=ship, transfer=transfer, status="FEASIBLE", method="mip")


def _add_lots(problem: AllocationProblem, ship: np.ndarray, transfer: np.ndarray, lot: int, rounds: int) -> np.ndarray:
    p, cur = problem, problem.curves
    n_k, n_w, n_r = p.shape
    pair_of = np.full((n_k, n_r), -1)
    pair_of[p.pair_sku, p.pair_region] = np.arange(cur.n_pairs)
    fixed = float(p.options.lane_fixed_cost or 0.0)
    for _ in range(rounds):
        leftover = p.stock + transfer.sum(axis=1) - transfer.sum(axis=2) - ship.sum(axis=2)
        delivered = ship.sum(axis=1)[p.pair_sku, p.pair_region]
        room = p.curves.top - delivered
        saved = cur.expected_shortage(delivered) - cur.expected_shortage(np.minimum(delivered + lot, cur.top))
        k, w = np.nonzero(leftover >= lot)
        if not len(k):
            break
        k = np.repeat(k, n_r)
        w = np.repeat(w, n_r)
        r = np.tile(np.arange(n_r), len(k) // n_r)
        pair = pair_of[k, r]
        ok = pair >= 0
        k, w, r, pair = k[ok], w[ok], r[ok], pair[ok]
        ok = room[pair] >= lot
        k, w, r, pair = k[ok], w[ok], r[ok], pair[ok]
        lane_open = ship.sum(axis=0) > 0
        gain = (p.penalty[k] + p.holding[k]) * saved[pair] - lot * p.ship_cost[w, r] - fixed * ~lane_open[w, r]
        order = np.argsort(-gain, kind="stable")
        order = order[gain[order] > 1e-9]
        if not len(order):
            break
        touched = np.zeros(cur.n_pairs, dtype=bool)
        left = leftover.copy()
        added = 0
        for i in order:
            kk, ww, rr, pp = k[i], w[i], r[i], pair[i]
            if touched[pp] or left[kk, ww] < lot:
                continue
            ship[kk, ww, rr] += lot
            left[kk, ww] -= lot
            touched[pp] = True
            added += 1
        if not added:
            break
    return ship


def solve_mip(problem: AllocationProblem, *, solver: str = "scip") -> AllocationPlan:
    """Solve the allocation with integer units, lots and lane fixed costs as asked in ``problem.options``."""
    opts = problem.options
    n_k, n_w, n_r = problem.shape
    t_start = time.perf_counter()
    relaxed = relaxed_plan(problem)
    lower = relaxed.objective_bound if relaxed.status == "OPTIMAL" and relaxed.objective_bound is not None else None
    start_plan = repaired_plan(problem, relaxed) if relaxed.status in ("OPTIMAL", "FEASIBLE") else None
    relax_seconds = time.perf_counter() - t_start

    t0 = time.perf_counter()
    form = formulate(problem, coupled=problem.capacity_may_bind)
    m = form.model
    c, w, r = form.x_index
    n_x = len(c)
    m.mark_integer(form.x_start, n_x)
    m.mark_integer(form.y_start, len(form.y_index[0]))
    x_cols = form.x_start + np.arange(n_x)
    b_cols = z_cols = lane_of_x = None
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
        z_cols = z0 + np.arange(len(lanes))
        rows = m.add_rows(n_x, -np.inf, 0.0)
        if b_cols is not None:  # b <= z: a lot on a lane opens the lane
            m.add_entries(rows + np.arange(n_x), b_cols, 1.0)
            m.add_entries(rows + np.arange(n_x), z0 + lane_of_x, -1.0)
        else:  # x <= M z
            m.add_entries(rows + np.arange(n_x), x_cols, 1.0)
            m.add_entries(rows + np.arange(n_x), z0 + lane_of_x, -form.x_big_m)
    helper = m.helper()
    if start_plan is not None and m.n_vars <= HINT_LIMIT:
        values = form.hint_values(problem, start_plan.ship, start_plan.transfer)
        used = values[x_cols] > 0
        if b_cols is not None:
            values[b_cols] = used
        if z_cols is not None:
            values[z_cols] = np.bincount(lane_of_x, weights=used, minlength=len(z_cols)) > 0
        for index, value in enumerate(values):
            helper.add_hint(index, float(value))
    build = time.perf_counter() - t0
    engine = mbh.ModelSolverHelper(solver)
    engine.set_time_limit_in_seconds(max(1.0, opts.time_limit_s - relax_seconds - build))
    if solver == "scip":
        engine.set_solver_specific_parameters(f"limits/gap = {opts.relative_gap}\n")
    t1 = time.perf_counter()
    engine.solve(helper)
    solve = time.perf_counter() - t1
    status = status_name(engine)

    candidates = []
    bounds = [lower] if lower is not None else []
    if engine.has_solution():
        ship, transfer = form.decode(problem, np.asarray(engine.variable_values()))
        found = AllocationPlan(problem=problem, ship=np.round(ship), transfer=np.round(transfer), status=status,
                               method="mip")
        candidates.append(found)
        offset = found.objective - engine.objective_value()  # constants the model leaves out
        bounds.append(engine.best_objective_bound() + offset)
    if start_plan is not None:
        candidates.append(start_plan)
    if not candidates:
        plan = AllocationPlan(problem=problem, ship=np.zeros((n_k, n_w, n_r)), transfer=np.zeros((n_k, n_w, n_w)),
                              status=status, method="mip", build_seconds=build + relax_seconds, solve_seconds=solve)
        plan.notes.append(f"MIP found no plan within {opts.time_limit_s:g}s (status {status}); try a longer time limit")
        return plan
    best = min(candidates, key=lambda p: p.objective)
    plan = AllocationPlan(problem=problem, ship=best.ship, transfer=best.transfer, status=status, method="mip",
                          build_seconds=build + relax_seconds, solve_seconds=solve)
    if bounds:
        plan.objective_bound = min(plan.objective, max(bounds))
    if plan.gap is not None and plan.gap <= opts.relative_gap + 1e-12:
        plan.status = "OPTIMAL"
    elif status == "OPTIMAL" and best is candidates[0]:
        plan.status = "OPTIMAL"  # SCIP proved it within its own gap target
    else:
        plan.status = "FEASIBLE"
    if best is start_plan:
        plan.notes.append("SCIP did not beat the repaired relaxation within the time limit; kept that plan")
    log.info("mip (%s): %d vars, %d rows, relax %.2fs, build %.2fs, solve %.2fs, %s (scip %s)", solver, m.n_vars,
             m.n_rows, relax_seconds, build, solve, plan.status, status)
    return plan
