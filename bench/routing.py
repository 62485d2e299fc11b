"""Solomon (10 s each) and Gehring-Homberger (30 s each) VRPTW benchmarks against best-known solutions.

Run: ``.venv/bin/python bench/routing.py [--solomon-seconds 10] [--homberger-seconds 30] [--large-seconds 30]``.
Writes ``bench/results/routing.json``. Also checks the issue's scale bar: a random 500-stop, 30-vehicle request
with time windows must come back verified within its time limit. Convention (../shared/PROTOCOLS.md): Euclidean distances not rounded, fewest
vehicles first then distance, every plan checked by the independent verifier. Times are wall-clock with two
solver processes; other engineers share this 2-core machine, so the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path

from optimization.routing import Options, plan_routes, read_best_known, read_solomon, verify_plan
from optimization.routing.synthetic import random_request

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def run_set(folder: Path, seconds: float, workers: int) -> dict[str, dict]:
    best = read_best_known(folder / "best_known_solutions.csv")
    results = {}
    for path in sorted(folder.glob("*.txt")):
        name = path.stem
        request = read_solomon(path, time_limit=seconds, workers=workers)
        plan = plan_routes(request)
        verdict = verify_plan(request, plan)
        bks = best[name]
        feasible = verdict.ok and plan.complete and plan.feasible
        results[name] = {
            "vehicles": plan.vehicles_used,
            "distance": round(plan.distance, 2),
            "gap_pct": round(100 * (plan.distance - bks.distance) / bks.distance, 2),
            "feasible": feasible,
            "seconds": round(plan.seconds, 2),
            "bks_vehicles": bks.vehicles,
            "bks_distance": bks.distance,
            "extra_vehicles": plan.vehicles_used - bks.vehicles,
            "unserved": len(plan.unserved),
            "loadavg_after": os.getloadavg()[0],
        }
        print(
            f"{name:<10} {plan.vehicles_used:>3} ({bks.vehicles}) {plan.distance:>10.2f} ({bks.distance:.2f}) "
            f"gap {results[name]['gap_pct']:>6.2f}%  feasible {feasible}  {plan.seconds:.1f}s",
            flush=True,
        )
    return results


def run_large(seconds: float, workers: int) -> dict:
    """The scale bar: 500 stops with 2-hour windows over a 10-hour day, 30 vehicles of capacity 200."""
    options = Options(time_limit=seconds, workers=workers)
    request = random_request(500, 30, seed=0, horizon=600, window=120, capacity=200, options=options)
    started = time.monotonic()
    plan = plan_routes(request)
    wall = time.monotonic() - started
    verdict = verify_plan(request, plan)
    out = {
        "stops": 500,
        "vehicles_available": 30,
        "time_limit": seconds,
        "wall_seconds": round(wall, 2),
        "within_limit": wall <= seconds,
        "feasible": verdict.ok and plan.feasible,
        "vehicles": plan.vehicles_used,
        "unserved": len(plan.unserved),
        "distance": round(plan.distance, 2),
        "loadavg_after": os.getloadavg()[0],
    }
    print(
        f"large      {plan.vehicles_used:>3} vehicles, {len(plan.unserved)} unserved, {wall:.1f}s of {seconds:g}s, "
        f"feasible {out['feasible']}",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--solomon-seconds", type=float, default=10.0)
    parser.add_argument("--homberger-seconds", type=float, default=30.0)
    parser.add_argument("--large-seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    out = {
        "cores": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "versions": {p: version(p) for p in ("ortools", "numpy", "pydantic")}
        | {"python": platform.python_version()},
        "settings": vars(args),
        "command": ".venv/bin/python bench/routing.py",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out["solomon"] = run_set(DATA / "solomon", args.solomon_seconds, args.workers)
    out["homberger"] = run_set(DATA / "homberger", args.homberger_seconds, args.workers)
    out["large"] = run_large(args.large_seconds, args.workers)
    out["mean_gap_pct"] = {
        k: round(statistics.mean(r["gap_pct"] for r in out[k].values()), 2) for k in ("solomon", "homberger")
    }
    out["all_feasible"] = all(r["feasible"] for k in ("solomon", "homberger") for r in out[k].values())
    out["max_extra_vehicles"] = max(
        r["extra_vehicles"] for k in ("solomon", "homberger") for r in out[k].values()
    )
    target = ROOT / "bench" / "results" / "routing.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    print(
        json.dumps(out["mean_gap_pct"]),
        "all feasible:",
        out["all_feasible"],
        "max extra vehicles:",
        out["max_extra_vehicles"],
    )


if __name__ == "__main__":
    main()
