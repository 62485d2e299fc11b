"""Plan reports, and the point of quantile demand: lower realised cost than planning on the median."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optimization.allocation import AllocationOptions, allocate, build_problem
from optimization.allocation.synthetic import random_frames


def realised_cost(problem, plan, demand: np.ndarray) -> np.ndarray:
    """Cost of a plan under sampled demand per (SKU, region) pair: ``demand`` is ``(n, pairs)``."""
    x = plan.delivered[problem.pair_sku, problem.pair_region]
    short = np.maximum(demand - x, 0.0)
    sold = np.minimum(demand, x)
    fixed = plan.breakdown["shipping"] + plan.breakdown["transfer"]
    penalty = problem.penalty[problem.pair_sku]
    holding = problem.holding[problem.pair_sku]
    unsold_cost = problem.stock.sum(axis=1) @ problem.holding - sold @ holding
    return fixed + short @ penalty + unsold_cost


def test_quantile_plan_beats_median_plan_in_simulation():
    frames = random_frames(60, 4, 8, seed=21, quantiles=True, stock_ratio=1.0)
    options = AllocationOptions(shortage_pieces=3)
    uncertain = build_problem(**frames, options=options)
    median = frames["demand"][["sku", "region"]].assign(demand=frames["demand"]["p50"])
    naive = build_problem(**{**frames, "demand": median}, options=options)
    plan_q = allocate(uncertain)
    plan_m = allocate(naive)
    # Judge the median plan on the uncertain problem (same SKUs, warehouses and regions).
    assert list(naive.skus) == list(uncertain.skus)
    draws = uncertain.curves.sample(np.random.default_rng(7), 4000)
    cost_q = realised_cost(uncertain, plan_q, draws)
    cost_m = realised_cost(uncertain, plan_m, draws)
    diff = cost_m - cost_q
    assert diff.mean() > 3 * diff.std(ddof=1) / np.sqrt(len(diff)), (cost_q.mean(), cost_m.mean())
    # The plan's own expected cost agrees with the simulation (the chord only overstates, and only a little).
    assert plan_q.objective == pytest.approx(cost_q.mean(), rel=0.02)


def test_report_and_json(tiny_problem):
    plan = allocate(tiny_problem)
    data = json.loads(json.dumps(plan.to_dict(), default=float))
    assert data["status"] == "OPTIMAL" and data["verified"] is True
    assert data["objective"] == pytest.approx(sum(data["breakdown"].values()))
    assert set(data["fill_rate_by_region"]) == {"FR", "DE"}
    shipped = sum(r["units"] for r in data["shipments"])
    assert shipped == pytest.approx(plan.ship.sum())
    assert 0.0 <= data["fill_rate"] <= 1.0
    text = plan.summary()
    assert "objective" in text and "fill rate" in text


def test_fill_rates_are_consistent(tiny_problem):
    plan = allocate(tiny_problem)
    mean = tiny_problem.mean_demand
    by_sku = plan.fill_rate_by_sku()
    served = (mean.sum(axis=1) * by_sku.to_numpy()).sum()
    assert served / mean.sum() == pytest.approx(plan.fill_rate)
    assert (plan.fill_rate_by_region().between(0, 1)).all()
