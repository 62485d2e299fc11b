"""Delivery routing and stock allocation with OR-Tools; every plan is checked by an independent verifier.

The facade::

    from optimization import RouteRequest, plan_routes, AllocationRequest, allocate
    plan = plan_routes(RouteRequest.from_file("routes.json"))          # RoutePlan, verified
    allocation = allocate(AllocationRequest.from_file("stock.json"))   # AllocationPlan, verified

The subpackages ``optimization.routing`` and ``optimization.allocation`` hold the rest.
"""

from typing import TYPE_CHECKING

from shopml.lazy import lazy_exports

if TYPE_CHECKING:
    from optimization.allocation import (
        AllocationPlan,
        AllocationRequest,
        ReplenishmentRequest,
        allocate,
        replenishment_proposal,
        verify_allocation,
    )
    from optimization.routing import RoutePlan, RouteRequest, plan_routes, verify_plan

__getattr__ = lazy_exports(__name__, {
    "AllocationPlan": "optimization.allocation",
    "AllocationRequest": "optimization.allocation",
    "ReplenishmentRequest": "optimization.allocation",
    "allocate": "optimization.allocation",
    "replenishment_proposal": "optimization.allocation",
    "verify_allocation": "optimization.allocation",
    "RoutePlan": "optimization.routing",
    "RouteRequest": "optimization.routing",
    "plan_routes": "optimization.routing",
    "verify_plan": "optimization.routing",
})

__all__ = [
    "AllocationPlan", "AllocationRequest", "ReplenishmentRequest", "RoutePlan", "RouteRequest", "allocate",
    "plan_routes", "replenishment_proposal", "verify_allocation", "verify_plan",
]
