"""Solomon (10 s each) and Gehring-Homberger 200 (30 s each) VRPTW benchmarks against best-known solutions.

Run: ``.venv/bin/python bench/routing.py`` (the 500-stop case and the constraint cases, then every instance in
../shared/data, set by set: the default two workers, then one worker, equal CPU to a single-threaded reference;
about 80 minutes, or about 60 with ``--jobs 2``, which solves two one-worker instances at once, one core each).
The results file is written after each set, so a run cut short keeps what it finished; sets and sections not run
this time are kept from the file. ``--one-worker`` / ``--skip-one-worker``: only one of the two runs;
``--sets solomon``: only that set. Quick look: ``--classes RC1,R2 --limit 2`` (the first two instances of each
class; printed only, unless ``--output`` is given). ``--constraints-only``: just the constraint cases (every
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
import multiprocessing
import os
import platform
import re
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

from optimization.routing import Options, plan_routes, read_best_known, read_solomon, verify_plan
from optimization.routing.benchmarks import BestKnown
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


def solve_instance(path: Path, bks: BestKnown, seconds: float, workers: int, engine: str) -> dict:
    """One instance at the protocol's time limit, verified, with its gap and extra vehicles."""
    name = path.stem
    request = read_solomon(path, time_limit=seconds, workers=workers)
    request = request.model_copy(update={"options": request.options.model_copy(update={"engine": engine})})
    plan = plan_routes(request)
    verdict = verify_plan(request, plan)
    feasible = verdict.ok and plan.complete and plan.feasible
    row = {
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
        f"gap {row['gap_pct']:>6.2f}%  feasible {feasible}  {plan.engine} {plan.seconds:.1f}s  "
        f"load {row['loadavg_after']:.1f}  workers {workers}",
        flush=True,
    )
    return row


def run_set(
    paths: list[Path], best_csv: Path, seconds: float, workers: int, engine: str, jobs: int = 1
) -> dict[str, dict]:
    """Every instance of ``paths``; ``jobs`` instances at a time (each with ``workers`` processes)."""
    best = read_best_known(best_csv)
    if jobs <= 1:
        return {p.stem: solve_instance(p, best[p.stem], seconds, workers, engine) for p in paths}
    import pyvrp  # noqa: F401  (imported once, before the fork)
    from ortools.constraint_solver import pywrapcp  # noqa: F401

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {p.stem: pool.submit(solve_instance, p, best[p.stem], seconds, workers, engine) for p in paths}
        return {name: future.result() for name, future in futures.items()}


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
    import pyvrp  # noqa: F401  (the engines' first import is not the planner's time: plan_routes keeps it
    from ortools.constraint_solver import pywrapcp  # noqa: F401  off the clock too)

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


def aggregate(section: dict[str, Any]) -> None:
    """The issue's keys, per class and overall, from the sets ``section`` holds so far (in place)."""
    sets = [k for k in SETS if section.get(k)]
    section["mean_gap_pct"] = {k: summarise(section[k])["mean_gap_pct"] for k in sets}
    section["extra_vehicle_instances"] = {k: summarise(section[k])["extra_vehicle_instances"] for k in sets}
    section["all_feasible"] = all(r["feasible"] for k in sets for r in section[k].values())
    section["max_extra_vehicles"] = max((r["extra_vehicles"] for k in sets for r in section[k].values()), default=0)
    section["by_class"] = {k: by_class(section[k]) for k in sets}
    section["overall"] = {k: summarise(section[k]) for k in sets}


def run_one_set(args: argparse.Namespace, section: dict[str, Any], name: str, workers: int, jobs: int) -> None:
    """One benchmark set into ``section`` (with its load averages), then the aggregates again."""
    classes = set(args.classes.upper().split(",")) if args.classes else None
    folder = DATA / name
    seconds = getattr(args, f"{name}_seconds") or SETS[name]
    paths = instances(folder, classes, args.limit)
    section.setdefault("loadavg", {})[f"{name}_start"] = [round(x, 2) for x in os.getloadavg()]
    section.setdefault("set_started", {})[name] = time.strftime("%Y-%m-%dT%H:%M:%S")
    section[name] = run_set(paths, folder / "best_known_solutions.csv", seconds, workers, args.engine, jobs)
    section["loadavg"][f"{name}_end"] = [round(x, 2) for x in os.getloadavg()]
    aggregate(section)


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
    parser.add_argument("--workers", type=int, default=2, help="workers of the default run (the option's default)")
    parser.add_argument("--engine", default="auto", choices=["auto", "ortools", "pyvrp"])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: solomon,homberger")
    parser.add_argument("--one-worker", action="store_true", help="only the one-worker run, into 'one_worker'")
    parser.add_argument("--skip-one-worker", action="store_true", help="only the default run")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="one-worker run: instances solved at once, one process each (2 on 2 cores: each gets a core)",
    )
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
    sets = [s for s in args.sets.split(",") if s]
    unknown = set(sets) - set(SETS)
    if unknown:
        parser.error(f"--sets: unknown {sorted(unknown)}; choose from {list(SETS)}")
    header = {
        "cores": os.cpu_count(),
        "versions": {p: version(p) for p in ("ortools", "pyvrp", "numpy", "pydantic")}
        | {"python": platform.python_version()},
        "command": " ".join([".venv/bin/python bench/routing.py", *sys.argv[1:]]),
    }
    previous = json.loads(target.read_text()) if target is not None and target.exists() else {}

    def save(default: dict[str, Any] | None, one: dict[str, Any] | None) -> None:
        """Write what has run so far; sets and sections not run this time are kept from the file."""
        if target is None:
            return
        out = dict(previous)
        if default is not None:
            kept = {k: previous[k] for k in SETS if k in previous and k not in default}
            out.update(header | {"settings": vars(args) | {"output": str(target)}} | kept | default)
            for key in ("loadavg", "set_started"):  # a kept set keeps its own start and loads
                out[key] = previous.get(key, {}) | default.get(key, {})
            aggregate(out)
        if one is not None:
            before = previous.get("one_worker", {})
            kept = {k: before[k] for k in SETS if k in before and k not in one}
            out["one_worker"] = header | {"settings": vars(args) | {"output": str(target)}} | kept | one
            for key in ("loadavg", "set_started"):
                out["one_worker"][key] = before.get(key, {}) | one.get(key, {})
            aggregate(out["one_worker"])
        target.write_text(json.dumps(out, indent=2, default=str) + "\n")

    if args.constraints_only:
        cases = run_constraints(args.workers)
        if target is not None:
            target.write_text(json.dumps(previous | {"constraints": cases}, indent=2) + "\n")
        return
    default: dict[str, Any] | None = None if args.one_worker else {"workers": args.workers}
    one: dict[str, Any] | None = None if args.skip_one_worker else {"workers": 1, "jobs": args.jobs}
    for section in (default, one):
        if section is not None:
            section["started"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if default is not None:  # the short cases first (a few minutes)
        if not args.skip_large:
            default["large"] = run_large(args.large_seconds, args.workers)
        if not partial:
            default["constraints"] = run_constraints(args.workers)
        save(default, None)
    # set by set, the default run then the one-worker run, saved after each: a run cut short keeps what it has
    for name in sets:
        if default is not None:
            run_one_set(args, default, name, args.workers, jobs=1)
            save(default, None)
        if one is not None:
            run_one_set(args, one, name, 1, jobs=args.jobs)
            save(default, one)
    for section, title in ((default, f"{args.workers} workers"), (one, "one worker")):
        if section is not None and section.get("by_class"):
            _print_table(section, title)
            print(json.dumps({k: section[k] for k in ("mean_gap_pct", "extra_vehicle_instances", "all_feasible")}))


if __name__ == "__main__":
    main()
