"""Delivery route planning (capacitated VRP with time windows and the constraints real fleets have) with
PyVRP or OR-Tools behind one request and plan, independently verified.

``plan_routes(request)`` returns a :class:`RoutePlan` that has passed :func:`verify_plan`;
``read_solomon(path)`` turns a Solomon / Gehring-Homberger benchmark file into a request.
"""

from typing import TYPE_CHECKING

from shopml.lazy import lazy_exports

if TYPE_CHECKING:
    from optimization.routing.benchmarks import BestKnown, read_best_known, read_solomon
    from optimization.routing.plan import Route, RoutePlan, TakenBreak, Unserved, Visit
    from optimization.routing.planner import plan_routes
    from optimization.routing.request import (
        MAX_TIME_LIMIT_S,
        Break,
        Depot,
        Engine,
        Location,
        Objective,
        Options,
        RoadTable,
        RouteRequest,
        RoutingRequestError,
        Stop,
        TimeWindow,
        Travel,
        Vehicle,
    )
    from optimization.routing.verify import Verification, verify_plan

__getattr__ = lazy_exports(__name__, {
    "BestKnown": "optimization.routing.benchmarks",
    "read_best_known": "optimization.routing.benchmarks",
    "read_solomon": "optimization.routing.benchmarks",
    "Route": "optimization.routing.plan",
    "RoutePlan": "optimization.routing.plan",
    "TakenBreak": "optimization.routing.plan",
    "Unserved": "optimization.routing.plan",
    "Visit": "optimization.routing.plan",
    "plan_routes": "optimization.routing.planner",
    "MAX_TIME_LIMIT_S": "optimization.routing.request",
    "Break": "optimization.routing.request",
    "Depot": "optimization.routing.request",
    "Engine": "optimization.routing.request",
    "Location": "optimization.routing.request",
    "Objective": "optimization.routing.request",
    "Options": "optimization.routing.request",
    "RoadTable": "optimization.routing.request",
    "RouteRequest": "optimization.routing.request",
    "RoutingRequestError": "optimization.routing.request",
    "Stop": "optimization.routing.request",
    "TimeWindow": "optimization.routing.request",
    "Travel": "optimization.routing.request",
    "Vehicle": "optimization.routing.request",
    "Verification": "optimization.routing.verify",
    "verify_plan": "optimization.routing.verify",
})

__all__ = [
    "MAX_TIME_LIMIT_S",
    "BestKnown",
    "Break",
    "Depot",
    "Engine",
    "Location",
    "Objective",
    "Options",
    "RoadTable",
    "Route",
    "RoutePlan",
    "RouteRequest",
    "RoutingRequestError",
    "Stop",
    "TakenBreak",
    "TimeWindow",
    "Travel",
    "Unserved",
    "Vehicle",
    "Verification",
    "Visit",
    "plan_routes",
    "read_best_known",
    "read_solomon",
    "verify_plan",
]
