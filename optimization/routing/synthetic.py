"""Random route requests for tests, examples and load checks (planar, with time windows)."""

from __future__ import annotations

import random

from optimization.routing.request import Depot, Location, Options, RouteRequest, Stop, TimeWindow, Vehicle


def random_request(
    n_stops: int,
    n_vehicles: int,
    seed: int = 0,
    *,
    capacity: float = 100.0,
    horizon: float = 480.0,
    window: float = 90.0,
    n_depots: int = 1,
    options: Options | None = None,
) -> RouteRequest:
    """A planar request on a 100 x 100 square: demands 1-10, one window of ``window`` per stop, service 5.

    Vehicles spread over the depots and may end at another depot than they start from.
    """
    rng = random.Random(seed)
    depots = [
        Depot(id=f"d{k}", location=Location(x=rng.uniform(30, 70), y=rng.uniform(30, 70)), closes=horizon)
        for k in range(n_depots)
    ]
    stops = []
    for i in range(n_stops):
        start = rng.uniform(0, horizon - window - 60)
        stops.append(
            Stop(
                id=f"s{i}",
                location=Location(x=rng.uniform(0, 100), y=rng.uniform(0, 100)),
                demand={"load": float(rng.randint(1, 10))},
                time_windows=[TimeWindow(start=round(start, 1), end=round(start + window, 1))],
                service_time=5.0,
            )
        )
    vehicles = [
        Vehicle(
            id=f"v{k}",
            start_depot=depots[k % n_depots].id,
            end_depot=depots[(k + 1) % n_depots].id,
            capacity={"load": capacity},
            shift_end=horizon,
            fixed_cost=10.0,
        )
        for k in range(n_vehicles)
    ]
    return RouteRequest(depots=depots, stops=stops, vehicles=vehicles, options=options or Options())
