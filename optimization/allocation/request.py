"""The allocation request as a planner sends it (JSON file, service body), and the solver options.

:class:`AllocationRequest` validates field types and ranges with pydantic, then turns itself into the same
pandas frames a Python caller passes to :func:`optimization.allocation.problem.build_problem`, which checks the
references between tables. Both entry points therefore share one set of rules and error messages. Every
number is bounded by :mod:`optimization.allocation.limits` (shown in the OpenAPI document); NaN and infinities
are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Self

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimization.allocation.limits import MAX_UNIT_COST, MAX_UNITS
from optimization.allocation.options import AllocationOptions
from optimization.allocation.problem import AllocationProblem, build_problem

Units = Annotated[float, Field(ge=0, le=MAX_UNITS, allow_inf_nan=False)]
UnitCost = Annotated[float, Field(ge=0, le=MAX_UNIT_COST, allow_inf_nan=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseIn(_Model):
    warehouse_id: str = Field(..., min_length=1)
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(..., ge=-180, le=180, allow_inf_nan=False)
    capacity: int | None = Field(
        None, ge=0, le=MAX_UNITS, description="Units the warehouse can hold; none means unlimited."
    )


class RegionIn(_Model):
    region: str = Field(..., min_length=1)
    lat: float = Field(..., ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(..., ge=-180, le=180, allow_inf_nan=False)


class StockIn(_Model):
    warehouse_id: str
    sku: str = Field(..., min_length=1)
    on_hand: int = Field(..., ge=0, le=MAX_UNITS)


class DemandIn(_Model):
    """Demand of one SKU in one region: ``demand`` (a point value) or ``quantiles`` like ``{"p10": 2, ...}``."""

    sku: str = Field(..., min_length=1)
    region: str
    demand: float | None = Field(None, ge=0, le=MAX_UNITS, allow_inf_nan=False)
    quantiles: dict[str, Units] | None = Field(None, max_length=99)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.demand is None) == (self.quantiles is None):
            raise ValueError(f"sku {self.sku} region {self.region}: give either demand or quantiles, not both or neither")
        if self.quantiles is not None:
            for name, value in self.quantiles.items():
                if not name.startswith("p"):
                    raise ValueError(f"sku {self.sku} region {self.region}: quantile {name}={value}; names are pNN")
        return self


class SkuCostIn(_Model):
    sku: str = Field(..., min_length=1)
    shortage_penalty: float | None = Field(None, ge=0, le=MAX_UNIT_COST, allow_inf_nan=False)
    holding_cost: float | None = Field(None, ge=0, le=MAX_UNIT_COST, allow_inf_nan=False)


class AllocationRequest(_Model):
    """Warehouses, regions, stock and demand for one planning period, plus optional costs and options.

    ``shipping_cost`` maps warehouse id to region to cost per unit, ``transfer_cost`` warehouse to warehouse;
    when absent, costs come from great-circle distances and the option rates.
    """

    warehouses: list[WarehouseIn] = Field(..., min_length=1)
    regions: list[RegionIn] = Field(..., min_length=1)
    stock: list[StockIn] = Field(default_factory=list)
    demand: list[DemandIn] = Field(..., min_length=1)
    skus: list[SkuCostIn] = Field(default_factory=list)
    shipping_cost: dict[str, dict[str, UnitCost]] | None = None
    transfer_cost: dict[str, dict[str, UnitCost]] | None = None
    options: AllocationOptions = Field(default_factory=AllocationOptions)

    @classmethod
    def from_file(cls, path: str | Path) -> AllocationRequest:
        """Read and validate a JSON request file."""
        return cls.model_validate(json.loads(Path(path).read_text()))

    def with_demand(self, demand: pd.DataFrame) -> AllocationRequest:
        """A copy whose demand comes from a frame: ``sku, region`` with ``demand`` or ``pNN`` quantile columns,
        or the forecaster's tidy frame (``period_start``/``horizon`` rows are summed per pair first)."""
        from optimization.allocation.demand import demand_from_forecast, is_forecast_frame, quantile_levels

        if is_forecast_frame(demand) and "demand" not in demand.columns:
            demand = demand_from_forecast(demand)
        levels = list(quantile_levels(demand.columns))
        rows = []
        for rec in demand.to_dict(orient="records"):
            point = rec.get("demand")
            if point is not None and point == point:
                rows.append(DemandIn(sku=str(rec["sku"]), region=str(rec["region"]), demand=float(point)))
            else:
                rows.append(DemandIn(sku=str(rec["sku"]), region=str(rec["region"]),
                                     quantiles={c: float(rec[c]) for c in levels}))
        return self.model_copy(update={"demand": rows})

    def frames(self) -> dict[str, pd.DataFrame | None]:
        """The request as the canonical frames :func:`build_problem` accepts."""
        warehouses = pd.DataFrame([w.model_dump() for w in self.warehouses])
        regions = pd.DataFrame([r.model_dump() for r in self.regions])
        stock = pd.DataFrame([s.model_dump() for s in self.stock], columns=["warehouse_id", "sku", "on_hand"])
        rows = []
        for d in self.demand:
            row: dict[str, object] = {"sku": d.sku, "region": d.region}
            if d.demand is not None:
                row["demand"] = d.demand
            else:
                row.update(d.quantiles or {})
            rows.append(row)
        demand = pd.DataFrame(rows)
        skus = pd.DataFrame([s.model_dump() for s in self.skus]) if self.skus else None
        ship = pd.DataFrame(self.shipping_cost).T if self.shipping_cost is not None else None
        transfer = pd.DataFrame(self.transfer_cost).T if self.transfer_cost is not None else None
        return {
            "warehouses": warehouses,
            "regions": regions,
            "stock": stock,
            "demand": demand,
            "sku_costs": skus,
            "shipping_cost": ship,
            "transfer_cost": transfer,
        }

    def to_problem(self) -> AllocationProblem:
        return build_problem(**self.frames(), options=self.options)
