"""``shopml plan allocate`` and ``shopml plan replenish``: solve a JSON request, print a summary, write the plan."""

from __future__ import annotations

from pathlib import Path

import typer

from cli._files import read_json


def allocate(
    request: Path = typer.Argument(..., help="Allocation request JSON (see docs/allocation.md)."),  # noqa: B008
    method: str | None = typer.Option(None, "--method", help="auto, flow, lp or mip (default: the request's)."),
    time_limit: float | None = typer.Option(None, "--time-limit", help="Solver seconds (LP and MIP)."),
    output: Path | None = typer.Option(  # noqa: B008
        None, "--output", "-o", help="Where to write the plan JSON (default: <request>.plan.json)."
    ),
) -> None:
    """Decide shipments, transfers and shortages per SKU; print the summary and write the verified plan."""
    from cli._console import console, table
    from optimization.allocation import AllocationRequest
    from optimization.allocation import allocate as solve

    parsed = AllocationRequest.model_validate(read_json(request, "allocation request"))
    if time_limit is not None:
        parsed = parsed.model_copy(update={"options": parsed.options.model_copy(update={"time_limit_s": time_limit})})
    plan = solve(parsed, method=method)
    console.print(plan.summary(), highlight=False)
    worst = plan.fill_rate_by_region().sort_values().head(8)
    console.print(table("lowest expected fill rates by region", ["region", "fill rate"],
                        [(r, f"{v:.1%}") for r, v in worst.items()]))
    target = output or request.with_suffix(".plan.json")
    plan.write_json(target)
    console.print(f"plan written to {target}")
    if plan.verification is not None and not plan.verification.ok:
        for violation in plan.verification.violations:
            console.print(f"[red]violation[/] {violation}", highlight=False)
        raise typer.Exit(1)


def replenish(
    request: Path = typer.Argument(..., help="Replenishment request JSON (see docs/allocation.md)."),  # noqa: B008
    output: Path | None = typer.Option(  # noqa: B008
        None, "--output", "-o", help="Where to write the proposal JSON (default: <request>.proposal.json)."
    ),
    show: int = typer.Option(15, "--show", help="Order lines to print."),
) -> None:
    """ABC classes, safety stock, reorder points and orders per SKU and warehouse; write the proposal."""
    from cli._console import console, table
    from optimization.allocation import ReplenishmentRequest

    plan = ReplenishmentRequest.model_validate(read_json(request, "replenishment request")).run()
    console.print(plan.summary(), highlight=False)
    orders = plan.orders.sort_values("order_qty", ascending=False).head(show)
    if len(orders):
        console.print(table(
            f"largest orders ({len(plan.orders)} in all)",
            ["sku", "warehouse", "class", "position", "reorder point", "order-up-to", "order"],
            [(r.sku, r.warehouse_id, r.abc_class, r.inventory_position, r.reorder_point, r.order_up_to, r.order_qty)
             for r in orders.itertuples()],
        ))
    target = output or request.with_suffix(".proposal.json")
    plan.write_json(target)
    console.print(f"proposal written to {target}")
