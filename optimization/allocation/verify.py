"""An independent checker for allocation plans.

It reads only the problem's raw arrays and the plan's decisions (shipments, transfers) and recomputes
feasibility and every cost term with its own code, so that a bug in a solver's decoding or in the plan's
bookkeeping shows up as a violation. Run on every plan in the tests and the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimization.allocation.errors import AllocationInputError
from optimization.allocation.problem import AllocationProblem


@dataclass
class VerificationReport:
    """Violations found (empty when the plan is feasible and its costs add up) and the recomputed costs."""

    violations: list[str] = field(default_factory=list)
    recomputed: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def raise_if_failed(self) -> None:
        if self.violations:
            raise AssertionError("allocation plan fails its check: " + "; ".join(self.violations[:10]))


def _piecewise_shortage(problem: AllocationProblem, delivered_pairs: np.ndarray) -> np.ndarray:
    """Expected shortage per pair, walking each curve's pieces from the top down (own implementation)."""
    c = problem.curves
    order = np.lexsort((-c.seg_lo, c.seg_pair))  # per pair, highest piece first
    pair, lo, length, frac = c.seg_pair[order], c.seg_lo[order], c.seg_len[order], c.seg_frac[order]
    hi = lo + length
    x = delivered_pairs[pair]
    unfilled = np.where(x >= hi, 0.0, np.where(x <= lo, length, hi - x))
    out = np.zeros(c.n_pairs)
    np.add.at(out, pair, frac * unfilled)
    return out


def verify_allocation(problem: AllocationProblem, plan, tol: float = 1e-6) -> VerificationReport:
    """Check a plan against its problem: bounds, stock balance, capacity, demand range, rules and costs.

    Parameters
    ----------
    problem : AllocationProblem
    plan : AllocationPlan
        Only ``ship``, ``transfer`` and ``objective``/``breakdown`` are read.
    tol : float
        Absolute tolerance in units, scaled up with the size of the quantity compared.
    """
    rep = VerificationReport()
    v = rep.violations
    n_k, n_w, n_r = problem.shape
    ship = np.asarray(plan.ship, dtype=float)
    transfer = np.asarray(plan.transfer, dtype=float)
    if ship.shape != (n_k, n_w, n_r) or transfer.shape != (n_k, n_w, n_w):
        raise AllocationInputError(
            f"plan arrays have shapes {ship.shape} and {transfer.shape}; expected {(n_k, n_w, n_r)} and {(n_k, n_w, n_w)}"
        )
    if not (np.all(np.isfinite(ship)) and np.all(np.isfinite(transfer))):
        v.append("plan has non-finite quantities")
        return rep
    if ship.min(initial=0) < -tol or transfer.min(initial=0) < -tol:
        v.append(f"negative quantities (min shipment {ship.min():.3g}, min transfer {transfer.min():.3g})")
    diag = transfer[:, np.arange(n_w), np.arange(n_w)]
    if np.abs(diag).max(initial=0) > tol:
        v.append("a warehouse transfers to itself")
    if not problem.options.allow_transfers and transfer.sum() > tol:
        v.append(f"{transfer.sum():.0f} units transferred although transfers are not allowed")

    # Stock balance per SKU and warehouse: what leaves (shipped or moved out) <= on hand + moved in.
    out_units = ship.sum(axis=2) + transfer.sum(axis=2)
    in_units = problem.stock + transfer.sum(axis=1)
    excess = out_units - in_units
    bad = excess > tol * np.maximum(1.0, in_units)
    if bad.any():
        k, w = np.argwhere(bad)[0]
        v.append(
            f"stock: {int(bad.sum())} SKU-warehouse balances overdrawn, e.g. sku {problem.skus[k]} at "
            f"{problem.warehouses[w]} sends {out_units[k, w]:.6g} of {in_units[k, w]:.6g}"
        )
    # Capacity: units held after transfers.
    held = (problem.stock + transfer.sum(axis=1) - transfer.sum(axis=2)).sum(axis=0)
    over = held > problem.capacity + tol * np.maximum(1.0, held)
    if over.any():
        w = int(np.flatnonzero(over)[0])
        v.append(f"capacity: warehouse {problem.warehouses[w]} holds {held[w]:.6g} > {problem.capacity[w]:g}")
    # Demand range: nothing beyond the top of a pair's demand, nothing where there is no demand.
    delivered = ship.sum(axis=1)
    top = np.zeros((n_k, n_r))
    top[problem.pair_sku, problem.pair_region] = problem.curves.top
    beyond = delivered > top + tol * np.maximum(1.0, top)
    if beyond.any():
        k, r = np.argwhere(beyond)[0]
        v.append(f"demand: sku {problem.skus[k]} gets {delivered[k, r]:.6g} units in {problem.regions[r]} (top {top[k, r]:g})")
    # Discrete rules.
    opts = problem.options
    if opts.min_lot is not None:
        small = (ship > tol) & (ship < opts.min_lot - tol)
        if small.any():
            v.append(f"lots: {int(small.sum())} shipments below the minimum lot of {opts.min_lot}")
    if opts.integer_units or plan.method == "flow":
        frac = np.abs(ship - np.round(ship)).max(initial=0)
        frac_t = np.abs(transfer - np.round(transfer)).max(initial=0)
        if max(frac, frac_t) > 1e-6:
            v.append(f"integrality: fractional quantities (max distance to a whole unit {max(frac, frac_t):.3g})")

    # Costs, recomputed.
    shortage_pairs = _piecewise_shortage(problem, delivered[problem.pair_sku, problem.pair_region])
    short_k = np.bincount(problem.pair_sku, weights=shortage_pairs, minlength=n_k)
    mean_k = np.bincount(problem.pair_sku, weights=problem.curves.mean, minlength=n_k)
    costs = {
        "shipping": float((ship * problem.ship_cost[None]).sum()),
        "transfer": float((transfer * problem.transfer_cost[None]).sum()),
        "shortage": float((problem.penalty * short_k).sum()),
        "holding": float((problem.holding * (problem.stock.sum(axis=1) - mean_k + short_k)).sum()),
    }
    if opts.lane_fixed_cost:
        costs["lanes"] = float(opts.lane_fixed_cost * (ship.sum(axis=0) > 1e-9).sum())
    rep.recomputed = costs
    total = sum(costs.values())
    claimed = float(plan.objective)
    if abs(claimed - total) > 1e-6 * max(1.0, abs(total)):
        v.append(f"objective: plan says {claimed:.6f}, recomputed {total:.6f}")
    bound = getattr(plan, "objective_bound", None)
    if bound is not None and bound > total + 1e-6 * max(1.0, abs(total)):
        v.append(f"bound: claimed lower bound {bound:.6f} exceeds the plan's own cost {total:.6f}")
    return rep
