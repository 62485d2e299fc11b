"""``shopml plan routes``: plan delivery routes for a JSON request, print the summary, write the plan."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shopml.errors import ShopmlError


def routes(
    request: Path = typer.Argument(..., help="Route request JSON (see docs/routing.md)."),
    time_limit: float | None = typer.Option(
        None, "--time-limit", help="Seconds for the solver (default: the request's options.time_limit)."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the routes to this PNG."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where to write the plan JSON (default: <request>.plan.json)."
    ),
) -> None:
    """Plan delivery routes (capacities, time windows, shifts) and write the verified plan as JSON."""
    from optimization.routing import RouteRequest, plan_routes
    from shopml.cli._console import console, table

    try:
        payload = json.loads(request.read_text())
    except json.JSONDecodeError as exc:
        raise ShopmlError(f"{request}: not valid JSON ({exc.msg} at line {exc.lineno}); fix the file") from exc
    parsed = RouteRequest.model_validate(payload)
    plan = plan_routes(parsed, time_limit=time_limit)
    rows = [
        (r.vehicle_id, len(r.visits), f"{r.distance:.2f}", f"{r.duration:.1f}", f"{r.cost:.2f}",
         f"{r.departure:.1f}", f"{r.return_time:.1f}")
        for r in plan.routes
    ]
    console.print(
        table(
            f"{plan.vehicles_used} routes, distance {plan.distance:.2f}, cost {plan.cost:.2f} "
            f"({plan.status}, verified {'ok' if plan.feasible else 'FAILED'}, {plan.seconds:.1f}s)",
            ["vehicle", "stops", "distance", "duration", "cost", "leaves", "returns"],
            rows,
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
        raise typer.Exit(1)
