"""The allocation plan: decisions, their cost, fill rates and which constraints bind.

Every number a plan reports is recomputed from its decisions (shipments and transfers) and the problem, not
read from the solver, so plans from the flow, LP and MIP paths are compared on the same footing. The
independent checker in :mod:`optimization.allocation.verify` recomputes them once more its own way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optimization.allocation.problem import AllocationProblem

if TYPE_CHECKING:
    from optimization.allocation.verify import VerificationReport


@dataclass
class AllocationPlan:
    """What to ship from each warehouse to each region and what to move between warehouses, per SKU.

    Attributes
    ----------
    ship : numpy.ndarray
        ``(K, W, R)`` units shipped.
    transfer : numpy.ndarray
        ``(K, W, W)`` units moved from the row warehouse to the column warehouse, before shipping.
    status : str
        ``OPTIMAL`` (proven), ``FEASIBLE`` (time limit hit with a plan; see ``gap``) or the solver's word.
    method : str
        ``flow``, ``lp`` or ``mip``.
    objective_bound : float or None
        A proven lower bound on the optimal objective (MIP dual bound; for the flow path the objective minus
        the worst effect of rounding costs to integers).
    capacity_duals : numpy.ndarray or None
        ``(W,)`` LP shadow price of one more unit of warehouse capacity (negative when it would save cost).
    """

    problem: AllocationProblem
    ship: np.ndarray
    transfer: np.ndarray
    status: str
    method: str
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    objective_bound: float | None = None
    capacity_duals: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    verification: VerificationReport | None = None

    # ---- quantities -------------------------------------------------------------------------------------
    @cached_property
    def delivered(self) -> np.ndarray:
        """``(K, R)`` units sent to each region."""
        return self.ship.sum(axis=1)

    @cached_property
    def position(self) -> np.ndarray:
        """``(K, W)`` units held after transfers (what warehouse capacity limits)."""
        return self.problem.stock + self.transfer.sum(axis=1) - self.transfer.sum(axis=2)

    @cached_property
    def leftover(self) -> np.ndarray:
        """``(K, W)`` units not shipped anywhere."""
        return self.position - self.ship.sum(axis=2)

    @cached_property
    def expected_shortage(self) -> np.ndarray:
        """``(K, R)`` expected units short under the demand curves (the shortfall itself for point demand)."""
        p = self.problem
        return p.dense(p.curves.expected_shortage(self.delivered[p.pair_sku, p.pair_region]))

    @cached_property
    def lanes_used(self) -> np.ndarray:
        """``(W, R)`` whether any SKU ships on the lane."""
        return self.ship.sum(axis=0) > 1e-9

    @cached_property
    def breakdown(self) -> dict[str, float]:
        """Cost by kind: shipping, transfer, shortage (penalty x expected short), holding (x expected unsold)."""
        p = self.problem
        short_k = self.expected_shortage.sum(axis=1)
        unsold_k = p.stock.sum(axis=1) - p.mean_demand.sum(axis=1) + short_k
        out = {
            "shipping": float(np.einsum("kwr,wr->", self.ship, p.ship_cost)),
            "transfer": float(np.einsum("kwv,wv->", self.transfer, p.transfer_cost)),
            "shortage": float(p.penalty @ short_k),
            "holding": float(p.holding @ unsold_k),
        }
        if p.options.lane_fixed_cost:
            out["lanes"] = float(p.options.lane_fixed_cost * self.lanes_used.sum())
        return out

    @property
    def objective(self) -> float:
        return float(sum(self.breakdown.values()))

    @property
    def gap(self) -> float | None:
        """Relative distance between the objective and the proven bound (0 when proven optimal)."""
        if self.objective_bound is None:
            return None
        return max(0.0, self.objective - self.objective_bound) / max(abs(self.objective), 1e-9)

    def fill_rate_by_region(self) -> pd.Series:
        """Expected share of demand served, per region (1 where a region has no demand)."""
        mean = self.problem.mean_demand.sum(axis=0)
        served = mean - self.expected_shortage.sum(axis=0)
        rate = np.divide(served, mean, out=np.ones_like(mean), where=mean > 0)
        return pd.Series(rate, index=pd.Index(self.problem.regions, name="region"), name="fill_rate")

    def fill_rate_by_sku(self) -> pd.Series:
        """Expected share of demand served, per SKU (1 where a SKU has no demand)."""
        mean = self.problem.mean_demand.sum(axis=1)
        served = mean - self.expected_shortage.sum(axis=1)
        rate = np.divide(served, mean, out=np.ones_like(mean), where=mean > 0)
        return pd.Series(rate, index=pd.Index(self.problem.skus, name="sku"), name="fill_rate")

    @property
    def fill_rate(self) -> float:
        mean = self.problem.mean_demand.sum()
        return float(1.0 - self.expected_shortage.sum() / mean) if mean > 0 else 1.0

    def binding(self, tol: float = 1e-6) -> dict[str, Any]:
        """Which constraints bind: full warehouses (with shadow prices), sold-out stock, capped deliveries."""
        p = self.problem
        held = self.position.sum(axis=0)
        full = np.flatnonzero(np.isfinite(p.capacity) & (held >= p.capacity - tol))
        capacity = [
            {
                "warehouse_id": str(p.warehouses[w]),
                "capacity": float(p.capacity[w]),
                "shadow_price": None if self.capacity_duals is None else float(self.capacity_duals[w]),
            }
            for w in full
        ]
        exhausted = (p.stock.sum(axis=1) > 0) & (self.leftover.sum(axis=1) <= tol)
        at_top = (p.top > 0) & (self.delivered >= p.top - tol)
        return {
            "warehouse_capacity": capacity,
            "skus_sold_out": int(exhausted.sum()),
            "sku_warehouse_emptied": int(((p.stock > 0) & (self.leftover <= tol)).sum()),
            "pairs_at_demand_top": int(at_top.sum()),
        }

    # ---- frames and reports -----------------------------------------------------------------------------
    def shipments(self) -> pd.DataFrame:
        """Non-zero shipments: ``sku, warehouse_id, region, units``."""
        k, w, r = np.nonzero(self.ship > 1e-9)
        p = self.problem
        return pd.DataFrame(
            {"sku": p.skus[k], "warehouse_id": p.warehouses[w], "region": p.regions[r], "units": self.ship[k, w, r]}
        )

    def transfers(self) -> pd.DataFrame:
        """Non-zero transfers: ``sku, from_warehouse, to_warehouse, units``."""
        k, a, b = np.nonzero(self.transfer > 1e-9)
        p = self.problem
        return pd.DataFrame(
            {"sku": p.skus[k], "from_warehouse": p.warehouses[a], "to_warehouse": p.warehouses[b], "units": self.transfer[k, a, b]}
        )

    def check(self, *, raise_on_failure: bool = False) -> VerificationReport:
        """Run the independent checker on this plan."""
        from optimization.allocation.verify import verify_allocation

        report = verify_allocation(self.problem, self)
        if raise_on_failure:
            report.raise_if_failed()
        return report

    def summary(self) -> str:
        """A few lines for people: status, objective and its parts, fill rate, what binds."""
        k, w, r = self.problem.shape
        b = self.breakdown
        lines = [
            f"allocation {self.status} via {self.method}: {k} SKUs x {w} warehouses x {r} regions "
            f"({self.problem.demand_kind} demand), built {self.build_seconds:.2f}s, solved {self.solve_seconds:.2f}s",
            f"objective {self.objective:,.2f} = " + " + ".join(f"{name} {value:,.2f}" for name, value in b.items()),
            f"expected fill rate {self.fill_rate:.1%}; shipped {self.ship.sum():,.0f} units, "
            f"transferred {self.transfer.sum():,.0f}",
        ]
        if self.gap is not None:
            lines.append(f"proven bound {self.objective_bound:,.2f} (gap {self.gap:.2e})")
        bind = self.binding()
        if bind["warehouse_capacity"]:
            lines.append("full warehouses: " + ", ".join(c["warehouse_id"] for c in bind["warehouse_capacity"]))
        lines.append(
            f"{bind['skus_sold_out']} SKUs sold out everywhere, {bind['sku_warehouse_emptied']} SKU-warehouse stocks "
            f"emptied, {bind['pairs_at_demand_top']} SKU-region pairs sent their whole demand range"
        )
        lines.extend(self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (shipments and transfers as records)."""
        return {
            "status": self.status,
            "method": self.method,
            "objective": self.objective,
            "objective_bound": self.objective_bound,
            "gap": self.gap,
            "breakdown": self.breakdown,
            "fill_rate": self.fill_rate,
            "build_seconds": self.build_seconds,
            "solve_seconds": self.solve_seconds,
            "verified": None if self.verification is None else self.verification.ok,
            "violations": [] if self.verification is None else list(self.verification.violations),
            "binding": self.binding(),
            "fill_rate_by_region": {str(k): float(v) for k, v in self.fill_rate_by_region().items()},
            "fill_rate_by_sku": {str(k): float(v) for k, v in self.fill_rate_by_sku().items()},
            "shipments": self.shipments().to_dict(orient="records"),
            "transfers": self.transfers().to_dict(orient="records"),
            "notes": self.notes,
        }

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, default=float))
        return path
