"""Solomon (10 s each) and Gehring-Homberger 200 (30 s each) VRPTW benchmarks against best-known solutions.

Run: ``.venv/bin/python bench/routing.py`` (every instance in ../shared/data, two workers, about 40 minutes),
then ``.venv/bin/python bench/routing.py --one-worker`` (the same with one worker, written into the same file's
``one_worker`` section). Quick look: ``--classes RC1,R2 --limit 2`` (the first two instances of each class;
printed only, unless ``--output`` is given). ``--constraints-only``: just the constraint cases (every
``docs/examples/routes_*.json``, verified), into ``constraints``. Writes ``bench/results/routing.json``.

Protocol (../shared/PROTOCOLS.md): Euclidean distances not rounded, travel time = distance, fewest vehicles
first then distance, every plan checked by the independent verifier; results per instance, per class (C1, C2,
R1, R2, RC1, RC2) and overall. Also the scale bar: a random 500-stop, 30-vehicle request with time windows
must come back verified within its time limit. Times are wall clock; other engineers share this 2-core
machine, so the load average is recorded at the start and end of each set and after every instance.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from optimization.routing import Options, plan_routes, read_best_known, read_solomon, verify_plan
from optimization.routing.synthetic import random_request

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TARGET = ROOT / "bench" / "results" / "routing.json"
SETS = {"solomon": 10.0, "homberger": 30.0}
"""Benchmark sets and their protocol time limits (seconds per instance)."""
CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")


def instance_class(name: str) -> str:
    """``RC101`` -> ``RC1``, ``r2_2_10`` -> ``R2``."""
    match = re.match(r"(RC|R|C)(\d)", name.upper())
    if match is None:
        raise ValueError(f"{name}: not a Solomon / Homberger instance name")
    return match.group(1) + match.group(2)


def _natural(path: Path) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.stem.lower()))


def instances(folder: Path, classes: set[str] | None, limit: int | None) -> list[Path]:
    """The folder's instances in natural order, optionally only some classes and the first ``limit`` of each."""
    out: list[Path] = []
    taken: dict[str, int] = {}
    for path in sorted(folder.glob("*.txt"), key=_natural):
        cls = instance_class(path.stem)
        if classes is not None and cls not in classes:
            continue
        if limit is not None and taken.get(cls, 0) >= limit:
            continue
        taken[cls] = taken.get(cls, 0) + 1
        out.append(path)
    return out


def run_set(paths: list[Path], best_csv: Path, seconds: float, workers: int, engine: str) -> dict[str, dict]:
    best = read_best_known(best_csv)
    results = {}
    for path in paths:
        name = path.stem
        request = read_solomon(path, time_limit=seconds, workers=workers)
        request = request.model_copy(update={"options": request.options.model_copy(update={"engine": engine})})
        plan = plan_routes(request)
        verdict = verify_plan(request, plan)
        bks = best[name]
        feasible = verdict.ok and plan.complete and plan.feasible
        results[name] = {
            "class": instance_class(name),
            "vehicles": plan.vehicles_used,
            "distance": round(plan.distance, 2),
            "gap_pct": round(100 * (plan.distance - bks.distance) / bks.distance, 2),
            "feasible": feasible,
            "verifier": "ok" if verdict.ok else f"{len(verdict.violations)} violations",
            "engine": plan.engine,
            "seconds": round(plan.seconds, 2),
            "bks_vehicles": bks.vehicles,
            "bks_distance": bks.distance,
            "extra_vehicles": plan.vehicles_used - bks.vehicles,
            "unserved": len(plan.unserved),
            "loadavg_after": round(os.getloadavg()[0], 2),
        }
        print(
            f"{name:<10} {plan.vehicles_used:>3} ({bks.vehicles}) {plan.distance:>10.2f} ({bks.distance:.2f}) "
            f"gap {results[name]['gap_pct']:>6.2f}%  feasible {feasible}  {plan.engine} {plan.seconds:.1f}s  "
            f"load {results[name]['loadavg_after']:.1f}",
            flush=True,
        )
    return results


def summarise(results: dict[str, dict]) -> dict[str, Any]:
    """Mean gap, instances above the best-known fleet, extra vehicles and feasibility of a group."""
    rows = list(results.values())
    if not rows:
        return {"instances": 0}
    return {
        "instances": len(rows),
        "mean_gap_pct": round(statistics.mean(r["gap_pct"] for r in rows), 2),
        "extra_vehicle_instances": sum(r["extra_vehicles"] > 0 for r in rows),
        "extra_vehicles": sum(max(0, r["extra_vehicles"]) for r in rows),
        "all_feasible": all(r["feasible"] for r in rows),
        "mean_seconds": round(statistics.mean(r["seconds"] for r in rows), 2),
    }


def by_class(results: dict[str, dict]) -> dict[str, dict]:
    return {
        cls: summarise({k: r for k, r in results.items() if r["class"] == cls})
        for cls in CLASSES
        if any(r["class"] == cls for r in results.values())
    }


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
        "engine": plan.engine,
        "vehicles": plan.vehicles_used,
        "unserved": len(plan.unserved),
        "distance": round(plan.distance, 2),
        "loadavg_after": round(os.getloadavg()[0], 2),
    }
    print(
        f"large      {plan.vehicles_used:>3} vehicles, {len(plan.unserved)} unserved, {wall:.1f}s of {seconds:g}s, "
        f"feasible {out['feasible']}, {plan.engine}",
        flush=True,
    )
    return out


def run_constraints(workers: int) -> dict[str, dict]:
    """A bench case per constraint: every ``docs/examples/routes_*.json`` request at its own time limit, with
    the engine ``auto`` picks, verified (skills, breaks, pickups, trips, re-planning, road tables, ...)."""
    out = {}
    for path in sorted((ROOT / "docs" / "examples").glob("routes_*.json")):
        payload = json.loads(path.read_text())
        payload["options"] = {**payload.get("options", {}), "workers": workers}
        started = time.monotonic()
        plan = plan_routes(payload)
        wall = time.monotonic() - started
        out[path.stem] = {
            "engine": plan.engine,
            "feasible": plan.feasible,
            "stops": sum(len(r.visits) for r in plan.routes) + len(plan.unserved),
            "served": sum(len(r.visits) for r in plan.routes),
            "vehicles": plan.vehicles_used,
            "distance": round(plan.distance, 2),
            "time_limit": payload["options"].get("time_limit", 10.0),
            "seconds": round(plan.seconds, 2),
            "wall_seconds": round(wall, 2),  # the first case also pays the engines' first import
            "loadavg_after": round(os.getloadavg()[0], 2),
        }
        print(f"{path.stem:<24} {plan.engine:<8} verified {plan.feasible}  {out[path.stem]['served']} served  {wall:.1f}s", flush=True)
    return out


def run_all(args: argparse.Namespace, workers: int) -> dict[str, Any]:
    """Every selected set at ``workers``: per instance, per class and overall figures with load averages."""
    classes = set(args.classes.upper().split(",")) if args.classes else None
    out: dict[str, Any] = {"workers": workers, "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "loadavg": {}}
    for name, seconds in SETS.items():
        folder = DATA / name
        seconds = getattr(args, f"{name}_seconds") or seconds
        paths = instances(folder, classes, args.limit)
        out["loadavg"][f"{name}_start"] = [round(x, 2) for x in os.getloadavg()]
        out[name] = run_set(paths, folder / "best_known_solutions.csv", seconds, workers, args.engine)
        out["loadavg"][f"{name}_end"] = [round(x, 2) for x in os.getloadavg()]
    sets = [k for k in SETS if out[k]]
    out["mean_gap_pct"] = {k: summarise(out[k])["mean_gap_pct"] for k in sets}
    out["extra_vehicle_instances"] = {k: summarise(out[k])["extra_vehicle_instances"] for k in sets}
    out["all_feasible"] = all(r["feasible"] for k in sets for r in out[k].values())
    out["max_extra_vehicles"] = max((r["extra_vehicles"] for k in sets for r in out[k].values()), default=0)
    out["by_class"] = {k: by_class(out[k]) for k in sets}
    out["overall"] = {k: summarise(out[k]) for k in sets}
    return out


def _print_table(section: dict[str, Any], title: str) -> None:
    print(f"\n{title}")
    print(f"{'set':<10}{'class':<7}{'n':>3}{'mean gap %':>12}{'above bks fleet':>17}{'verified':>10}")
    for name in SETS:
        for cls, row in {**section["by_class"].get(name, {}), "all": section["overall"].get(name, {})}.items():
            if row.get("instances"):
                print(
                    f"{name:<10}{cls:<7}{row['instances']:>3}{row['mean_gap_pct']:>12.2f}"
                    f"{row['extra_vehicle_instances']:>17}{str(row['all_feasible']):>10}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--solomon-seconds", type=float, default=None, help="default 10 (the protocol)")
    parser.add_argument("--homberger-seconds", type=float, default=None, help="default 30 (the protocol)")
    parser.add_argument("--large-seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", default="auto", choices=["auto", "ortools", "pyvrp"])
    parser.add_argument("--one-worker", action="store_true", help="run with one worker into 'one_worker'")
    parser.add_argument("--classes", default=None, help="comma-separated classes, e.g. RC1,R2 (quick runs)")
    parser.add_argument("--limit", type=int, default=None, help="first N instances of each class (quick runs)")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument(
        "--constraints-only", action="store_true", help="only the docs/examples cases, into 'constraints'"
    )
    parser.add_argument("--output", type=Path, default=None, help=f"default {TARGET.relative_to(ROOT)}")
    args = parser.parse_args()
    partial = args.classes is not None or args.limit is not None
    target = args.output or (None if partial else TARGET)
    header = {
        "cores": os.cpu_count(),
        "versions": {p: version(p) for p in ("ortools", "pyvrp", "numpy", "pydantic")}
        | {"python": platform.python_version()},
        "command": ".venv/bin/python bench/routing.py" + (" --one-worker" if args.one_worker else ""),
    }
    if args.constraints_only:
        cases = run_constraints(args.workers)
        if target is not None:
            out = json.loads(target.read_text()) if target.exists() else {}
            out["constraints"] = cases
            target.write_text(json.dumps(out, indent=2) + "\n")
        return
    if args.one_worker:
        section = run_all(args, workers=1)
        _print_table(section, "one worker")
        if target is not None:
            out = json.loads(target.read_text()) if target.exists() else {}
            out["one_worker"] = {"settings": vars(args) | {"output": str(target)}, **header, **section}
            target.write_text(json.dumps(out, indent=2) + "\n")
        return
    section = run_all(args, workers=args.workers)
    if not args.skip_large:
        section["large"] = run_large(args.large_seconds, args.workers)
    if not partial:
        section["constraints"] = run_constraints(args.workers)
    _print_table(section, f"{args.workers} workers")
    print(json.dumps({k: section[k] for k in ("mean_gap_pct", "extra_vehicle_instances", "all_feasible")}))
    if target is not None:
        previous = json.loads(target.read_text()) if target.exists() else {}
        out = {**header, "settings": vars(args) | {"output": str(target)}, **section}
        if "one_worker" in previous:
            out["one_worker"] = previous["one_worker"]  # kept from its own run (see its "started")
        target.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
