"""Delivery route planning (capacitated VRP with time windows) with OR-Tools, independently verified.

``plan_routes(request)`` returns a :class:`RoutePlan` that has passed :func:`verify_plan`;
``read_solomon(path)`` turns a Solomon / Gehring-Homberger benchmark file into a request.
"""

from optimization.routing.benchmarks import BestKnown, read_best_known, read_solomon
from optimization.routing.plan import Route, RoutePlan, Unserved, Visit
from optimization.routing.planner import plan_routes
from optimization.routing.request import (
    MAX_TIME_LIMIT_S,
    Depot,
    Location,
    Objective,
    Options,
    RouteRequest,
    RoutingRequestError,
    Stop,
    TimeWindow,
    Travel,
    Vehicle,
)
from optimization.routing.verify import Verification, verify_plan

__all__ = [
    "MAX_TIME_LIMIT_S",
    "BestKnown",
    "Depot",
    "Location",
    "Objective",
    "Options",
    "Route",
    "RoutePlan",
    "RouteRequest",
    "RoutingRequestError",
    "Stop",
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
