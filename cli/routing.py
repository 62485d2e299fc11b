"""``shopml plan routes``: plan delivery routes for a JSON request, print the summary, write the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli._files import read_json


def routes(
    request: Annotated[Path, typer.Argument(help="Route request JSON (see docs/routing.md).")],
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit", help="Seconds for the solver (default: the request's options.time_limit)."
        ),
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also draw the routes to this PNG.")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write the plan JSON (default: <request>.plan.json)."),
    ] = None,
    stops: Annotated[
        bool, typer.Option("--stops", help="Also print every visit (arrival, latest arrival, wait, service, load).")
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option("--engine", help="auto, ortools or pyvrp (default: the request's options.engine)."),
    ] = None,
) -> None:
    """Plan delivery routes (capacities, time windows, shifts) and write the verified plan as JSON.

    Exits 1 when the plan fails verification, 2 on a mistake in the request.
    """
    from cli._console import console, table
    from optimization.routing import RouteRequest, plan_routes
    from optimization.routing.plan import format_time

    payload = read_json(request, "route request")
    if engine is not None:
        payload = {**payload, "options": {**(payload.get("options") or {}), "engine": engine}}
    parsed = RouteRequest.parse(payload)
    with console.status(f"planning {len(parsed.stops)} stops on {len(parsed.vehicles)} vehicles"):
        plan = plan_routes(parsed, time_limit=time_limit)
    clock = parsed.is_geographic  # geographic times are minutes from midnight: show them as HH:MM

    def when(t: float) -> str:
        return format_time(t, clock)

    rows = [
        (
            r.vehicle_id,
            len(r.visits),
            f"{r.distance:.2f}",
            f"{r.duration:.1f}",
            f"{r.cost:.2f}",
            when(r.departure),
            when(r.return_time),
            _load(r.load),
        )
        for r in plan.routes
    ]
    unit = "km" if clock else "units"
    console.print(
        table(
            f"{plan.vehicles_used} routes, {sum(len(r.visits) for r in plan.routes)} stops served, "
            f"distance {plan.distance:.2f} {unit}, cost {plan.cost:.2f} "
            f"({plan.status}, verified {'ok' if plan.feasible else 'FAILED'}, {plan.engine}, {plan.seconds:.1f}s)",
            ["vehicle", "stops", "distance", "duration", "cost", "leaves", "returns", "load"],
            rows,
        )
    )
    if stops:
        for r in plan.routes:
            console.print(
                table(
                    f"{r.vehicle_id}: {r.start_depot} {when(r.departure)} -> {r.end_depot} {when(r.return_time)}"
                    + "".join(f", break {when(b.start)}-{when(b.end)}" for b in r.breaks)
                    + "".join(f", reloads before #{k + 1}" for k in r.reloads),
                    ["#", "stop", "arrival", "latest", "wait", "service", "leaves", "load"],
                    [
                        (
                            k,
                            v.stop_id,
                            when(v.arrival),
                            "-" if v.latest_arrival is None else when(v.latest_arrival),
                            f"{v.waiting:.1f}",
                            when(v.start),
                            when(v.departure),
                            _load(v.load),
                        )
                        for k, v in enumerate(r.visits, 1)
                    ],
                )
            )
    for item in plan.unserved:
        console.print(f"[yellow]unserved[/] {item.stop_id}: {item.reason}", highlight=False)
    for violation in plan.violations:
        console.print(f"[red]violation[/] {violation}", highlight=False)
    target = output or request.with_suffix(".plan.json")
    plan.to_json(target)
    console.print(f"plan written to {target}")
    if plot is not None:
        plan.plot(parsed, plot)
        console.print(f"routes drawn to {plot}")
    if not plan.feasible:
        # SystemExit rather than typer.Exit: the entry point runs click with standalone_mode=False, which
        # turns typer.Exit into a return value and would lose the exit code
        raise SystemExit(1)


def _load(load: dict[str, float]) -> str:
    return ", ".join(f"{amount:g} {name}" for name, amount in load.items())
