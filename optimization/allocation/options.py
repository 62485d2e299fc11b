"""The allocation solver's options: cost defaults and method choices, shared by requests and problems.

Every number is bounded; the limits live in :mod:`optimization.allocation.limits`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from optimization.allocation.limits import MAX_RATE_PER_KM, MAX_UNIT_COST, MAX_UNITS

MAX_TIME_LIMIT_S = 3600.0


class AllocationOptions(BaseModel):
    """Cost defaults and solver choices. Costs are per unit, in the shop currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["auto", "flow", "lp", "mip"] = Field(
        "auto",
        description="auto: min-cost flow per SKU, LP when warehouse capacity couples SKUs, MIP when lots or "
        "lane fixed costs are asked for.",
    )
    allow_transfers: bool = Field(True, description="Allow moving stock between warehouses before shipping.")
    shipping_per_km: float = Field(
        0.001, ge=0, le=MAX_RATE_PER_KM, allow_inf_nan=False, description="Default parcel rate per unit-km.",
    )
    shipping_base: float = Field(
        1.0, ge=0, le=MAX_UNIT_COST, allow_inf_nan=False, description="Default handling per unit shipped.",
    )
    transfer_per_km: float = Field(
        0.0002, ge=0, le=MAX_RATE_PER_KM, allow_inf_nan=False, description="Default bulk rate per unit-km.",
    )
    transfer_base: float = Field(
        0.2, ge=0, le=MAX_UNIT_COST, allow_inf_nan=False, description="Default handling per unit moved.",
    )
    shortage_penalty: float = Field(
        10.0, ge=0, le=MAX_UNIT_COST, allow_inf_nan=False, description="Default lost margin per unit short.",
    )
    holding_cost: float = Field(
        0.5, ge=0, le=MAX_UNIT_COST, allow_inf_nan=False, description="Default cost per unit left unsold.",
    )
    shortage_pieces: int = Field(1, ge=1, le=8, description="Linear pieces of the shortage curve per quantile gap.")
    min_lot: int | None = Field(None, ge=1, le=MAX_UNITS, description="Smallest shipment of one SKU on one lane (MIP).")
    lane_fixed_cost: float | None = Field(
        None,
        ge=0,
        le=MAX_UNIT_COST,
        allow_inf_nan=False,
        description="Fixed cost of using a warehouse-region lane at all (MIP).",
    )
    integer_units: bool = Field(False, description="Force whole units in the MIP (flow and LP are whole already).")
    time_limit_s: float = Field(
        60.0, gt=0, le=MAX_TIME_LIMIT_S, allow_inf_nan=False, description="Solver time limit (LP and MIP).",
    )
    relative_gap: float = Field(
        1e-4, ge=0, le=1, allow_inf_nan=False, description="MIP stops when the relative gap is below this.",
    )

    @property
    def has_discrete_rules(self) -> bool:
        """Minimum lots or lane fixed costs: only the MIP can honour them."""
        return self.min_lot is not None or bool(self.lane_fixed_cost)
