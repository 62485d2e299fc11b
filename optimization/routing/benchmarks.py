"""Solomon and Gehring-Homberger VRPTW instances as route requests, and their best-known solutions.

The text format: a name line, a ``VEHICLE`` block (number, capacity), a ``CUSTOMER`` header, then one row per
node ``CUST_NO X Y DEMAND READY DUE SERVICE`` with row 0 the depot (its due date is the horizon). Columns are
separated by varying whitespace. The benchmark convention: Euclidean distances, not rounded; travel time
equals distance; fewest vehicles first, then shortest distance (``objective="vehicles"``), no stop dropped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from optimization.routing.request import (
    Depot,
    Location,
    Objective,
    Options,
    RouteRequest,
    RoutingRequestError,
    Stop,
    TimeWindow,
    Vehicle,
)


@dataclass(frozen=True)
class BestKnown:
    """A best-known solution: vehicles, then distance."""

    vehicles: int
    distance: float


def read_solomon(path: str | Path, time_limit: float = 10.0, workers: int = 2, seed: int = 0) -> RouteRequest:
    """Read a Solomon / Gehring-Homberger file into a request with the benchmark conventions."""
    path = Path(path)
    lines = [line.split() for line in path.read_text().splitlines()]
    lines = [tokens for tokens in lines if tokens]
    try:
        v_at = next(i for i, t in enumerate(lines) if t[0].upper() == "VEHICLE")
        n_vehicles, capacity = int(lines[v_at + 2][0]), float(lines[v_at + 2][1])
        c_at = next(i for i, t in enumerate(lines) if t[0].upper() == "CUSTOMER")
        rows = [[float(x) for x in t] for t in lines[c_at + 2 :]]
    except (StopIteration, IndexError, ValueError) as exc:
        raise RoutingRequestError(
            f"{path}: not a Solomon-format file ({exc}); expected VEHICLE and CUSTOMER blocks"
        ) from exc
    if not rows or any(len(r) != 7 for r in rows):
        raise RoutingRequestError(f"{path}: every node row needs 7 numbers (id x y demand ready due service)")
    depot_row, customer_rows = rows[0], rows[1:]
    horizon = depot_row[5]
    depot = Depot(
        id="depot", location=Location(x=depot_row[1], y=depot_row[2]), opens=depot_row[4], closes=horizon
    )
    stops = [
        Stop(
            id=str(int(r[0])),
            location=Location(x=r[1], y=r[2]),
            demand={"load": r[3]},
            time_windows=[TimeWindow(start=r[4], end=r[5])],
            service_time=r[6],
        )
        for r in customer_rows
    ]
    vehicles = [
        Vehicle(id=f"v{k + 1}", start_depot="depot", capacity={"load": capacity}, shift_end=horizon)
        for k in range(n_vehicles)
    ]
    options = Options(
        objective=Objective.VEHICLES, time_limit=time_limit, workers=workers, seed=seed, allow_dropping=False
    )
    return RouteRequest(depots=[depot], stops=stops, vehicles=vehicles, options=options)


def read_best_known(path: str | Path) -> dict[str, BestKnown]:
    """Best-known solutions from the Solomon (``bks_*`` columns) or Homberger (``routes``) CSV files."""
    best = {}
    with Path(path).open(newline="") as handle:
        for row in csv.DictReader(handle):
            if "bks_vehicles" in row:
                best[row["instance"]] = BestKnown(int(row["bks_vehicles"]), float(row["bks_distance"]))
            else:
                best[row["instance"]] = BestKnown(int(row["routes"]), float(row["distance"]))
    return best
