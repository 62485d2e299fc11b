"""Stock allocation across warehouses and replenishment, driven by demand points or forecast quantiles.

``allocate(request) -> AllocationPlan`` picks min-cost flow, LP or MIP from the request's structure and
returns a plan checked by :func:`verify_allocation`; ``replenishment_proposal`` turns forecast quantiles,
ABC classes and class service levels into safety stock, reorder points and order quantities.
"""

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
