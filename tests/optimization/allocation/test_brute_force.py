"""Tiny instances solved by enumerating every whole-unit plan: flow, LP and MIP must match exactly.

The enumeration prices expected shortage its own way (the exact expected shortage of the demand CDF at the
curve's breakpoints, linearly interpolated in between), not with the solvers' piece arrays.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from optimization.allocation import AllocationOptions, allocate, build_problem
from optimization.allocation.synthetic import random_frames


def _model_shortage(problem, pair: int, x: np.ndarray) -> np.ndarray:
    c = problem.curves
    mine = c.seg_pair == pair
    bp = np.unique(np.concatenate([[0], c.seg_lo[mine], c.seg_lo[mine] + c.seg_len[mine]]))
    at = np.broadcast_to(bp.astype(float), (c.n_pairs, len(bp)))
    from optimization.allocation.demand import _exact_shortage

    values = _exact_shortage(c.knots_x, c.knots_f, at)[pair]
    return np.interp(x, bp, values)


def _sku_options(problem, k: int) -> dict[tuple, float]:
    """Cheapest cost of SKU ``k`` for each (position after transfers, lanes used) it can reach."""
    _, n_w, n_r = problem.shape
    opts = problem.options
    stock = problem.stock[k]
    total = int(stock.sum())
    top = problem.top[k]
    t_pairs = [(a, b) for a in range(n_w) for b in range(n_w) if a != b]
    t_ub = [total if opts.allow_transfers else 0 for _ in t_pairs]
    s_pairs = [(w, r) for w in range(n_w) for r in range(n_r)]
    s_ub = [min(int(top[r]), total) for _, r in s_pairs]
    grid = np.array(list(itertools.product(*[range(u + 1) for u in t_ub + s_ub])), dtype=float).reshape(-1, len(t_pairs) + len(s_pairs))
    t, s = grid[:, : len(t_pairs)], grid[:, len(t_pairs) :]
    pos = np.tile(stock.astype(float), (len(grid), 1))
    for i, (a, b) in enumerate(t_pairs):
        pos[:, a] -= t[:, i]
        pos[:, b] += t[:, i]
    shipped_from = np.zeros_like(pos)
    delivered = np.zeros((len(grid), n_r))
    for i, (w, r) in enumerate(s_pairs):
        shipped_from[:, w] += s[:, i]
        delivered[:, r] += s[:, i]
    out_w = shipped_from.copy()
    for i, (a, _b) in enumerate(t_pairs):
        out_w[:, a] += t[:, i]
    inflow = np.tile(stock.astype(float), (len(grid), 1))
    for i, (_a, b) in enumerate(t_pairs):
        inflow[:, b] += t[:, i]
    ok = np.all(out_w <= inflow + 1e-9, axis=1) & np.all(delivered <= top + 1e-9, axis=1)
    if opts.min_lot is not None:
        ok &= np.all((s == 0) | (s >= opts.min_lot), axis=1)
    cost = t @ np.array([problem.transfer_cost[a, b] for a, b in t_pairs]) if t_pairs else np.zeros(len(grid))
    cost = cost + s @ np.array([problem.ship_cost[w, r] for w, r in s_pairs])
    short = np.zeros(len(grid))
    mean = 0.0
    for pair in np.flatnonzero(problem.pair_sku == k):
        r = problem.pair_region[pair]
        short += _model_shortage(problem, pair, delivered[:, r])
        mean += float(_model_shortage(problem, pair, np.array([0.0]))[0])
    cost = cost + problem.penalty[k] * short + problem.holding[k] * (total - mean + short)
    lanes = s > 0
    best: dict[tuple, float] = {}
    for i in np.flatnonzero(ok):
        key = (tuple(pos[i].astype(int)), tuple(lanes[i]))
        if cost[i] < best.get(key, np.inf):
            best[key] = float(cost[i])
    return best


def brute_force(problem) -> float:
    """Optimal objective over all whole-unit plans (capacity and lane costs couple the SKUs)."""
    per_sku = [list(_sku_options(problem, k).items()) for k in range(problem.shape[0])]
    fixed = problem.options.lane_fixed_cost or 0.0
    best = np.inf
    for combo in itertools.product(*per_sku):
        held = np.sum([np.array(key[0]) for key, _ in combo], axis=0)
        if np.any(held > problem.capacity + 1e-9):
            continue
        lanes = np.any([np.array(key[1]) for key, _ in combo], axis=0)
        best = min(best, sum(c for _, c in combo) + fixed * lanes.sum())
    return float(best)


def test_tiny_fixture_matches_brute_force(tiny_problem):
    expected = brute_force(tiny_problem)
    for method in ("flow", "lp", "mip"):
        plan = allocate(tiny_problem, method=method)
        assert plan.verification.ok, plan.verification.violations
        assert plan.objective == pytest.approx(expected, abs=1e-6), method


def _tiny_random(seed: int, **options) -> object:
    rng = np.random.default_rng(seed)
    frames = random_frames(2, 2, 2, seed=seed, quantiles=bool(seed % 2), demand_scale=1.2, stock_ratio=1.0)
    frames["stock"] = pd.DataFrame({
        "warehouse_id": ["W00", "W01", "W00", "W01"],
        "sku": ["SKU00000", "SKU00000", "SKU00001", "SKU00001"],
        "on_hand": rng.integers(0, 3, 4),
    })
    if options.pop("tight_capacity", False):
        held = frames["stock"].groupby("warehouse_id")["on_hand"].sum()
        frames["warehouses"]["capacity"] = held.reindex(frames["warehouses"]["warehouse_id"], fill_value=0).to_numpy() + 1
    return build_problem(**frames, options=AllocationOptions(**options))


CASES = [
    ({}, ("flow", "lp", "mip")),
    ({"allow_transfers": False}, ("flow", "lp", "mip")),
    ({"tight_capacity": True}, ("lp", "mip")),
    ({"min_lot": 2}, ("mip",)),
    ({"lane_fixed_cost": 3.0}, ("mip",)),
    ({"min_lot": 2, "lane_fixed_cost": 1.5, "tight_capacity": True}, ("mip",)),
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("options", "methods"), CASES)
def test_random_tiny_instances_match_brute_force(seed, options, methods):
    problem = _tiny_random(seed, **dict(options))
    expected = brute_force(problem)
    for method in methods:
        plan = allocate(problem, method=method)
        assert plan.status == "OPTIMAL"
        assert plan.verification.ok, plan.verification.violations
        assert plan.objective == pytest.approx(expected, rel=1e-7, abs=1e-6), (method, options)
