"""Stock allocation across warehouses and replenishment, driven by demand points or forecast quantiles.

``allocate(request) -> AllocationPlan`` picks min-cost flow, LP or MIP from the request's structure and
returns a plan checked by :func:`verify_allocation`; ``replenishment_proposal`` turns forecast quantiles,
ABC classes and class service levels into safety stock, reorder points and order quantities.
"""

from typing import TYPE_CHECKING

from shopml.lazy import lazy_exports

if TYPE_CHECKING:
    from optimization.allocation.classes import abc_classes
    from optimization.allocation.demand import (
        ShortageCurves,
        demand_from_forecast,
        quantile_levels,
        sum_quantiles,
    )
    from optimization.allocation.errors import AllocationInputError
    from optimization.allocation.options import AllocationOptions
    from optimization.allocation.plan import AllocationPlan
    from optimization.allocation.problem import AllocationProblem, build_problem
    from optimization.allocation.replenishment import (
        ReplenishmentPolicy,
        ReplenishmentRequest,
        critical_ratio,
        nearest_warehouse,
        replenishment_proposal,
    )
    from optimization.allocation.request import (
        AllocationRequest,
        DemandIn,
        RegionIn,
        SkuCostIn,
        StockIn,
        WarehouseIn,
    )
    from optimization.allocation.solve import allocate, choose_method
    from optimization.allocation.verify import VerificationReport, verify_allocation

__getattr__ = lazy_exports(__name__, {
    "abc_classes": "optimization.allocation.classes",
    "ShortageCurves": "optimization.allocation.demand",
    "demand_from_forecast": "optimization.allocation.demand",
    "quantile_levels": "optimization.allocation.demand",
    "sum_quantiles": "optimization.allocation.demand",
    "AllocationInputError": "optimization.allocation.errors",
    "AllocationOptions": "optimization.allocation.options",
    "AllocationPlan": "optimization.allocation.plan",
    "AllocationProblem": "optimization.allocation.problem",
    "build_problem": "optimization.allocation.problem",
    "ReplenishmentPolicy": "optimization.allocation.replenishment",
    "ReplenishmentRequest": "optimization.allocation.replenishment",
    "critical_ratio": "optimization.allocation.replenishment",
    "nearest_warehouse": "optimization.allocation.replenishment",
    "replenishment_proposal": "optimization.allocation.replenishment",
    "AllocationRequest": "optimization.allocation.request",
    "DemandIn": "optimization.allocation.request",
    "RegionIn": "optimization.allocation.request",
    "SkuCostIn": "optimization.allocation.request",
    "StockIn": "optimization.allocation.request",
    "WarehouseIn": "optimization.allocation.request",
    "allocate": "optimization.allocation.solve",
    "choose_method": "optimization.allocation.solve",
    "VerificationReport": "optimization.allocation.verify",
    "verify_allocation": "optimization.allocation.verify",
})

__all__ = [
    "AllocationInputError",
    "AllocationOptions",
    "AllocationPlan",
    "AllocationProblem",
    "AllocationRequest",
    "DemandIn",
    "RegionIn",
    "ReplenishmentPolicy",
    "ReplenishmentRequest",
    "ShortageCurves",
    "SkuCostIn",
    "StockIn",
    "VerificationReport",
    "WarehouseIn",
    "abc_classes",
    "allocate",
    "build_problem",
    "choose_method",
    "critical_ratio",
    "demand_from_forecast",
    "nearest_warehouse",
    "quantile_levels",
    "replenishment_proposal",
    "sum_quantiles",
    "verify_allocation",
]
