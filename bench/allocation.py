"""Allocation benchmarks: random instances at the issue's sizes (flow fast path, one GLOP LP, capacity-coupled
LP, MIP with lots and lane costs) and an end-to-end run on Online Retail I.

Run: ``.venv/bin/python bench/allocation.py [--mip-seconds 30] [--lp-seconds 180] [--skip-online-retail]``.
Writes ``bench/results/allocation.json``. Every plan goes through the independent checker (``verified``).
Instances come from :func:`optimization.allocation.synthetic.random_frames` (seed 0, p10/p50/p90 demand on
every SKU-region pair). ``build_seconds`` counts everything before the solver call (validating frames into
arrays, assembling the model or graph, decoding); ``solve_seconds`` is the solver. Wall-clock on a shared
2-core machine, so the load average is recorded.

``lp`` holds what ``allocate`` does by default (no capacity rows couple SKUs here, so min-cost flow per SKU,
proven optimal up to the cost rounding bound reported as ``gap``); ``lp_glop`` the same instance as one GLOP
LP (objectives must agree); ``lp_coupled`` an instance whose warehouses are nearly full (capacity rows make it
one LP); ``mip`` minimum lots of 5 and a fixed cost of 20 per used warehouse-region lane, under a time limit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd

from optimization.allocation import AllocationOptions, allocate, build_problem, replenishment_proposal
from optimization.allocation.lp import solve_lp
from optimization.allocation.synthetic import random_frames

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SIZES = [(100, 5, 20), (500, 10, 50), (2000, 10, 50)]

# Approximate centres of the countries in Online Retail I (bench data, not a product table).
COUNTRIES = {
    "United Kingdom": (54.0, -2.0), "Germany": (51.2, 10.4), "France": (46.6, 2.2), "EIRE": (53.4, -8.2),
    "Netherlands": (52.1, 5.3), "Belgium": (50.6, 4.6), "Spain": (40.4, -3.7), "Portugal": (39.6, -8.0),
    "Switzerland": (46.8, 8.2), "Italy": (42.8, 12.6), "Austria": (47.6, 14.1), "Denmark": (56.0, 10.0),
    "Norway": (61.0, 9.0), "Sweden": (62.0, 15.0), "Finland": (64.0, 26.0), "Iceland": (64.9, -18.6),
    "Poland": (52.1, 19.4), "Czech Republic": (49.8, 15.5), "Lithuania": (55.2, 23.9), "Greece": (39.1, 22.0),
    "Cyprus": (35.1, 33.4), "Malta": (35.9, 14.4), "Channel Islands": (49.4, -2.4), "Israel": (31.0, 34.9),
    "Lebanon": (33.9, 35.9), "Bahrain": (26.0, 50.6), "United Arab Emirates": (24.0, 54.0),
    "Saudi Arabia": (24.0, 45.0), "RSA": (-29.0, 24.0), "USA": (39.8, -98.6), "Canada": (56.1, -106.3),
    "Brazil": (-14.2, -51.9), "Australia": (-25.3, 133.8), "Japan": (36.2, 138.3), "Singapore": (1.35, 103.8),
    "Hong Kong": (22.3, 114.2),
}
WAREHOUSES = pd.DataFrame({
    "warehouse_id": ["UK-Midlands", "DE-Frankfurt", "FR-Paris"],
    "lat": [52.5, 50.1, 48.9],
    "lon": [-1.5, 8.7, 2.4],
})


def record(plan, size_key: str | None = None) -> dict:
    k, w, r = plan.problem.shape
    return {
        "skus": k, "warehouses": w, "regions": r,
        "method": plan.method,
        "status": plan.status,
        "build_seconds": round(plan.build_seconds, 3),
        "solve_seconds": round(plan.solve_seconds, 3),
        "objective": plan.objective if plan.status in ("OPTIMAL", "FEASIBLE") else None,
        "objective_bound": plan.objective_bound,
        "gap": plan.gap,
        "fill_rate": plan.fill_rate,
        "verified": plan.verification.ok if plan.verification is not None else plan.check().ok,
    }


def lp_variables(problem) -> int:
    """Columns of the equivalent LP: shipments, transfers and shortage pieces of SKUs with stock."""
    k, w, r = problem.shape
    return k * w * r + k * w * (w - 1) + len(problem.curves.seg_len)


def random_suite(mip_seconds: float, lp_seconds: float) -> dict:
    out = {"lp": {}, "lp_glop": {}, "lp_coupled": {}, "mip": {}}
    for size in SIZES:
        key = "x".join(map(str, size))
        frames = random_frames(*size, seed=0)
        t0 = time.perf_counter()
        problem = build_problem(**frames)
        frames_seconds = time.perf_counter() - t0
        plan = allocate(problem)
        total = time.perf_counter() - t0
        rec = record(plan)
        rec["build_seconds"] = round(plan.build_seconds + frames_seconds, 3)
        rec.update(frames_seconds=round(frames_seconds, 3), total_seconds=round(total, 3),
                   lp_variables=lp_variables(problem), shortage_pieces=len(problem.curves.seg_len))
        out["lp"][key] = rec
        print("lp", key, rec, flush=True)

        glop = solve_lp(problem.with_options(time_limit_s=lp_seconds), coupled=False)
        glop.check(raise_on_failure=True)
        rec_g = record(glop)
        rec_g["objective_matches_flow"] = bool(abs(glop.objective - plan.objective) <= 1e-6 * abs(plan.objective))
        out["lp_glop"][key] = rec_g
        print("lp_glop", key, rec_g, flush=True)

        coupled_frames = random_frames(*size, seed=0, capacity_slack=0.02, stock_ratio=0.7)
        t0 = time.perf_counter()
        coupled_problem = build_problem(**coupled_frames, options=AllocationOptions(time_limit_s=lp_seconds))
        frames_seconds = time.perf_counter() - t0
        coupled = allocate(coupled_problem)
        rec_c = record(coupled)
        rec_c["build_seconds"] = round(coupled.build_seconds + frames_seconds, 3)
        rec_c["full_warehouses"] = len(coupled.binding()["warehouse_capacity"])
        out["lp_coupled"][key] = rec_c
        print("lp_coupled", key, rec_c, flush=True)

        options = AllocationOptions(min_lot=5, lane_fixed_cost=20.0, time_limit_s=mip_seconds)
        t0 = time.perf_counter()
        mip_problem = build_problem(**frames, options=options)
        frames_seconds = time.perf_counter() - t0
        mip = allocate(mip_problem)
        rec_m = record(mip)
        rec_m["build_seconds"] = round(mip.build_seconds + frames_seconds, 3)
        rec_m.update(time_limit_s=mip_seconds, min_lot=5, lane_fixed_cost=20.0,
                     lp_relaxation_objective=plan.objective, lanes_used=int(mip.lanes_used.sum()))
        out["mip"][key] = rec_m
        print("mip", key, rec_m, flush=True)
    return out


def online_retail(weeks: int = 12, horizon: int = 4) -> dict:
    """SKUs x countries from the last ``weeks`` full weeks of sales; stock to cover the median of ``horizon``."""
    from features.cleaning import demand_orders
    from features.loaders import load_online_retail

    t0 = time.perf_counter()
    orders, _ = demand_orders(load_online_retail(DATA / "online_retail" / "online_retail_I.csv.gz").orders)
    load_seconds = time.perf_counter() - t0
    week = orders["ordered_at"].dt.to_period("W-SUN").dt.start_time
    last_full = week.max() - pd.Timedelta(weeks=1)  # the last week is incomplete
    window = (week > last_full - pd.Timedelta(weeks=weeks)) & (week <= last_full)
    recent = orders.loc[window & (orders["quantity"] > 0)].assign(week=week[window])
    unknown = sorted(set(recent["country"]) - set(COUNTRIES))
    recent = recent.loc[recent["country"].isin(COUNTRIES)]
    weekly = recent.groupby(["sku", "country", "week"])["quantity"].sum()
    pairs = weekly.groupby(level=[0, 1]).size().index
    wide = weekly.unstack("week", fill_value=0).reindex(pairs)
    values = wide.to_numpy(dtype=float)  # (pairs, weeks) with zero weeks
    q = np.quantile(values, [0.1, 0.5, 0.9], axis=1).T
    forecast = pd.DataFrame({
        "sku": np.repeat(wide.index.get_level_values(0).to_numpy(), horizon),
        "region": np.repeat(wide.index.get_level_values(1).to_numpy(), horizon),
        "horizon": np.tile(np.arange(1, horizon + 1), len(wide)),
    })
    for i, col in enumerate(["p10", "p50", "p90"]):
        forecast[col] = np.repeat(q[:, i], horizon)
    price = orders.loc[orders["quantity"] > 0].groupby("sku")["unit_price"].median()
    countries = sorted(set(forecast["region"]))
    regions = pd.DataFrame({"region": countries, "lat": [COUNTRIES[c][0] for c in countries],
                            "lon": [COUNTRIES[c][1] for c in countries]})
    # Stock: the horizon's median total per SKU, 70% in the UK, 15% each in Germany and France.
    need = forecast.groupby("sku")["p50"].sum()
    split = np.array([0.7, 0.15, 0.15])
    on_hand = np.floor(need.to_numpy()[:, None] * split[None, :]).astype(np.int64)
    k, w = np.nonzero(on_hand > 0)
    stock = pd.DataFrame({"warehouse_id": WAREHOUSES["warehouse_id"].to_numpy()[w], "sku": need.index.to_numpy()[k],
                          "on_hand": on_hand[k, w]})
    skus = sorted(set(forecast["sku"]))
    p = price.reindex(skus).fillna(price.median()).to_numpy()
    sku_costs = pd.DataFrame({"sku": skus, "shortage_penalty": 0.4 * p, "holding_cost": 0.02 * p})
    options = AllocationOptions(shipping_per_km=0.0005, shipping_base=0.5, transfer_per_km=0.0001, transfer_base=0.1)
    t0 = time.perf_counter()
    problem = build_problem(WAREHOUSES, regions, stock, forecast, sku_costs=sku_costs, options=options)
    frames_seconds = time.perf_counter() - t0
    plan = allocate(problem)
    rec = record(plan)
    rec["build_seconds"] = round(plan.build_seconds + frames_seconds, 3)
    rec.update(
        load_seconds=round(load_seconds, 2), weeks=weeks, horizon_weeks=horizon, demand_pairs=int(len(wide)),
        countries_without_coordinates=unknown, window_end=str(last_full.date()),
        units_shipped=float(plan.ship.sum()), units_transferred=float(plan.transfer.sum()),
        breakdown=plan.breakdown,
    )
    median_plan = allocate(build_problem(
        WAREHOUSES, regions, stock,
        pd.DataFrame({"sku": wide.index.get_level_values(0), "region": wide.index.get_level_values(1),
                      "demand": q[:, 1] * horizon}),
        sku_costs=sku_costs, options=options))
    rec["median_plan_objective_under_quantiles"] = float(
        _objective_under(problem, median_plan)) if list(median_plan.problem.skus) == list(problem.skus) else None
    t0 = time.perf_counter()
    from optimization.allocation import nearest_warehouse

    rep = replenishment_proposal(forecast, stock, region_to_warehouse=nearest_warehouse(regions, WAREHOUSES),
                                 prices=price)
    rec["replenishment"] = {
        "seconds": round(time.perf_counter() - t0, 3),
        "pairs": int(len(rep.proposal)),
        "classes": rep.classes["abc_class"].value_counts().to_dict(),
        "orders": int(len(rep.orders)),
        "order_units": int(rep.proposal["order_qty"].sum()),
        "safety_stock_units": float(rep.proposal["safety_stock"].sum()),
    }
    print("online_retail", rec, flush=True)
    return rec


def _objective_under(problem, other_plan) -> float:
    """Expected cost of another plan's decisions under ``problem``'s (quantile) demand."""
    from optimization.allocation import AllocationPlan

    return AllocationPlan(problem=problem, ship=other_plan.ship, transfer=other_plan.transfer, status="-",
                          method=other_plan.method).objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mip-seconds", type=float, default=30.0)
    parser.add_argument("--lp-seconds", type=float, default=180.0, help="GLOP time limit (one-LP runs).")
    parser.add_argument("--skip-online-retail", action="store_true")
    args = parser.parse_args()
    result = {
        "cores": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("ortools", "numpy", "pandas", "scipy")},
        "command": f".venv/bin/python bench/allocation.py --mip-seconds {args.mip_seconds:g} --lp-seconds {args.lp_seconds:g}",
        "seed": 0,
    }
    t0 = time.perf_counter()
    result.update(random_suite(args.mip_seconds, args.lp_seconds))
    if not args.skip_online_retail and (DATA / "online_retail").is_dir():
        result["online_retail"] = online_retail()
    result["loadavg_end"] = os.getloadavg()
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    target = ROOT / "bench" / "results" / "allocation.json"
    target.write_text(json.dumps(result, indent=1, default=float))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
