"""The fast path: allocation as a min-cost flow per SKU, solved with OR-Tools ``SimpleMinCostFlow``.

Without a constraint that couples SKUs, each SKU is an independent transportation problem with
transshipment. Per SKU the graph has a node per warehouse (supply: on hand) and per region (demand: the top
of its demand range), a shortage source ``S`` and a leftover sink ``T``::

    warehouse -> region     shipping cost           warehouse -> warehouse   transfer cost
    S -> region             one parallel arc per piece of the shortage curve, cost (penalty + holding) x P(D > unit)
    warehouse -> T          0 (stock left)          S -> T                   0 (shortage not needed)

Units a region does not get from warehouses come from ``S`` through the cheapest pieces first, which by
convexity are the top of the demand range: the arc flows are exactly the expected shortage curve. Holding
cost is charged on expected unsold units, ``S - E[D] + L(x)``, whose allocation-dependent part is
``holding x L(x)``; hence the ``penalty + holding`` on shortage arcs and the constant recomputed by the plan.

Many SKUs are put into one graph as disjoint components (chunks), so a few C++ calls replace thousands of
Python round trips. Costs are scaled to integers; the plan reports a proven bound that covers the rounding.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from ortools.graph.python import min_cost_flow

from optimization.allocation.plan import AllocationPlan
from optimization.allocation.problem import AllocationProblem

log = logging.getLogger(__name__)

INT_BUDGET = 2.0**61
MAX_COST_SCALE = 1e6


def _arcs_for_chunk(problem: AllocationProblem, ks: np.ndarray, top: np.ndarray, seg_k: np.ndarray) -> dict:
    """Arc arrays (tail, head, capacity, float cost, kind index) for the SKUs ``ks`` as disjoint components."""
    n_w, n_r = problem.shape[1], problem.shape[2]
    per = n_w + n_r + 2
    s_node, t_node = n_w + n_r, n_w + n_r + 1
    n_c = len(ks)
    base = (np.arange(n_c) * per)[:, None, None]
    stock = problem.stock[ks]
    top_c = top[ks]
    total_stock = stock.sum(axis=1)
    transfers = problem.options.allow_transfers

    # warehouse -> region
    avail = np.ones_like(stock, dtype=bool) if transfers else stock > 0
    mask = avail[:, :, None] & (top_c[:, None, :] > 0)
    c, w, r = np.nonzero(mask)
    ship = (c, w, r)
    tails = [base[c, 0, 0] + w]
    heads = [base[c, 0, 0] + n_w + r]
    caps = [np.minimum(top_c[c, r], total_stock[c])]
    costs = [problem.ship_cost[w, r]]
    # warehouse -> warehouse
    if transfers and n_w > 1:
        off = ~np.eye(n_w, dtype=bool)
        mask_t = (total_stock > 0)[:, None, None] & off[None]
        tc, ta, tb = np.nonzero(mask_t)
    else:
        tc = ta = tb = np.zeros(0, dtype=np.int64)
    trans = (tc, ta, tb)
    tails.append(base[tc, 0, 0] + ta)
    heads.append(base[tc, 0, 0] + tb)
    caps.append(total_stock[tc])
    costs.append(problem.transfer_cost[ta, tb])
    # warehouse -> T (leftover)
    mask_l = (stock > 0) if not transfers else (total_stock > 0)[:, None] & np.ones((1, n_w), dtype=bool)
    lc, lw = np.nonzero(mask_l)
    tails.append(base[lc, 0, 0] + lw)
    heads.append(base[lc, 0, 0] + t_node)
    caps.append(total_stock[lc])
    costs.append(np.zeros(len(lc)))
    # S -> region, one arc per shortage piece
    cur = problem.curves
    local = np.full(len(problem.skus), -1)
    local[ks] = np.arange(n_c)
    seg = np.flatnonzero(local[seg_k] >= 0)
    sc = local[seg_k[seg]]
    sr = problem.pair_region[cur.seg_pair[seg]]
    tails.append(base[sc, 0, 0] + s_node)
    heads.append(base[sc, 0, 0] + n_w + sr)
    caps.append(cur.seg_len[seg])
    k_of = ks[sc]
    costs.append((problem.penalty[k_of] + problem.holding[k_of]) * cur.seg_frac[seg])
    # S -> T
    demand_total = top_c.sum(axis=1)
    st = np.flatnonzero(demand_total > 0)
    tails.append(base[st, 0, 0] + s_node)
    heads.append(base[st, 0, 0] + t_node)
    caps.append(demand_total[st])
    costs.append(np.zeros(len(st)))

    supplies = np.zeros((n_c, per), dtype=np.int64)
    supplies[:, :n_w] = stock
    supplies[:, n_w : n_w + n_r] = -top_c
    supplies[:, s_node] = demand_total
    supplies[:, t_node] = -total_stock
    sizes = [len(t) for t in tails]
    return {
        "tails": np.concatenate(tails).astype(np.int32),
        "heads": np.concatenate(heads).astype(np.int32),
        "caps": np.concatenate(caps).astype(np.int64),
        "costs": np.concatenate(costs).astype(float),
        "sizes": sizes,
        "ship": ship,
        "trans": trans,
        "supplies": supplies.ravel(),
        "nodes": n_c * per,
        "units": int(total_stock.sum() + demand_total.sum()),
    }


def _cost_scale(max_cost: float, nodes: int, units: int) -> float:
    """Largest power of ten (at most 1e6) that keeps scaled costs and totals inside int64 for cost scaling."""
    if max_cost <= 0:
        return 1.0
    limit = INT_BUDGET / (max_cost * max(nodes + 1, 1) * max(units, 1))
    return float(min(MAX_COST_SCALE, 10.0 ** np.floor(np.log10(max(limit, 1.0)))))


def solve_flow(problem: AllocationProblem, *, chunk_size: int = 32) -> AllocationPlan:
    """Solve an allocation without coupling constraints as min-cost flows (capacity is not enforced here).

    Parameters
    ----------
    problem : AllocationProblem
    chunk_size : int
        SKUs per graph; each chunk is one ``SimpleMinCostFlow`` solve.
    """
    n_k, n_w, n_r = problem.shape
    t0 = time.perf_counter()
    ship = np.zeros((n_k, n_w, n_r))
    transfer = np.zeros((n_k, n_w, n_w))
    top = problem.top
    # SKUs with both stock and demand need a solve; the rest are decided already (all short or all left).
    active = np.flatnonzero((problem.stock.sum(axis=1) > 0) & (top.sum(axis=1) > 0))
    seg_k = problem.pair_sku[problem.curves.seg_pair]
    solve = 0.0
    bound_slack = 0.0
    status = "OPTIMAL"
    for start in range(0, len(active), chunk_size):
        ks = active[start : start + chunk_size]
        arcs = _arcs_for_chunk(problem, ks, top, seg_k)
        max_cost = float(arcs["costs"].max(initial=0.0))
        scale = _cost_scale(max_cost, arcs["nodes"], arcs["units"] * n_w)
        int_costs = np.round(arcs["costs"] * scale).astype(np.int64)
        smcf = min_cost_flow.SimpleMinCostFlow()
        smcf.add_arcs_with_capacity_and_unit_cost(arcs["tails"], arcs["heads"], arcs["caps"], int_costs)
        smcf.set_nodes_supplies(np.arange(arcs["nodes"], dtype=np.int32), arcs["supplies"])
        ts = time.perf_counter()
        result = smcf.solve()
        solve += time.perf_counter() - ts
        if result != smcf.OPTIMAL:
            status = {smcf.INFEASIBLE: "INFEASIBLE", smcf.UNBALANCED: "UNBALANCED"}.get(result, f"FLOW_STATUS_{result}")
            log.error("min-cost flow chunk at SKU %d ended with %s", start, status)
            break
        flows = smcf.flows(np.arange(len(int_costs), dtype=np.int32)).astype(float)
        n_ship, n_trans = arcs["sizes"][0], arcs["sizes"][1]
        c, w, r = arcs["ship"]
        ship[ks[c], w, r] = flows[:n_ship]
        tc, ta, tb_ = arcs["trans"]
        transfer[ks[tc], ta, tb_] = flows[n_ship : n_ship + n_trans]
        # Rounding costs by at most 0.5/scale per unit on each arc moves any flow's cost by at most that much
        # times its total arc flow; any flow's total is at most (W + 1) arcs per stock unit plus 2 per demand unit.
        worst_other = float(problem.stock[ks].sum() * (n_w + 1) + 2 * top[ks].sum())
        bound_slack += 0.5 / scale * (float(flows.sum()) + worst_other)
    plan = AllocationPlan(
        problem=problem,
        ship=ship,
        transfer=transfer,
        status=status,
        method="flow",
        build_seconds=time.perf_counter() - t0 - solve,  # arrays, graph building and decoding
        solve_seconds=solve,
    )
    if status == "OPTIMAL":
        plan.objective_bound = plan.objective - bound_slack
    log.info("flow: %d active SKUs in %d chunk(s), build %.2fs, solve %.2fs", len(active),
             -(-len(active) // chunk_size), plan.build_seconds, solve)
    return plan
