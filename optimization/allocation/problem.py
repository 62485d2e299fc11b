"""The allocation problem as arrays, built and validated from canonical frames.

Every solver (min-cost flow, LP, MIP) and the checker read this one object, so they agree on indices, costs
and the demand curves. Validation happens here, at the boundary: unknown references, negative stock or
demand, cost matrices of the wrong shape and stock above a warehouse's capacity raise
:class:`AllocationInputError` naming the offender and the fix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimization.allocation.costs import shipping_cost_matrix, transfer_cost_matrix
from optimization.allocation.demand import (
    ShortageCurves,
    build_curves,
    demand_from_forecast,
    is_forecast_frame,
    quantile_knots,
    quantile_levels,
)
from optimization.allocation.errors import AllocationInputError
from optimization.allocation.limits import MAX_UNIT_COST, MAX_UNITS
from optimization.allocation.options import AllocationOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AllocationProblem:
    """Indices, stock, costs and demand curves of one planning period (K SKUs, W warehouses, R regions).

    Attributes
    ----------
    stock : numpy.ndarray
        ``(K, W)`` whole units on hand.
    capacity : numpy.ndarray
        ``(W,)`` units each warehouse can hold after transfers (``inf`` when unlimited).
    ship_cost, transfer_cost : numpy.ndarray
        ``(W, R)`` and ``(W, W)`` cost per unit.
    penalty, holding : numpy.ndarray
        ``(K,)`` cost per unit short and per unit left unsold at the end of the period.
    curves : ShortageCurves
        One curve per (SKU, region) pair with demand; ``pair_sku``/``pair_region`` index them.
    demand_kind : str
        ``"point"``, ``"quantile"`` or ``"mixed"``, for reports.
    """

    skus: np.ndarray
    warehouses: np.ndarray
    regions: np.ndarray
    stock: np.ndarray
    capacity: np.ndarray
    ship_cost: np.ndarray
    transfer_cost: np.ndarray
    penalty: np.ndarray
    holding: np.ndarray
    pair_sku: np.ndarray
    pair_region: np.ndarray
    curves: ShortageCurves
    options: AllocationOptions
    demand_kind: str = "point"

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.skus), len(self.warehouses), len(self.regions)

    def dense(self, per_pair: np.ndarray) -> np.ndarray:
        """A per-pair vector as a ``(K, R)`` matrix (zeros where a SKU has no demand in a region)."""
        k, _, r = self.shape
        out = np.zeros((k, r), dtype=np.asarray(per_pair).dtype)
        out[self.pair_sku, self.pair_region] = per_pair
        return out

    @property
    def top(self) -> np.ndarray:
        """``(K, R)`` most units worth sending to a region (top of the demand support)."""
        return self.dense(self.curves.top)

    @property
    def mean_demand(self) -> np.ndarray:
        return self.dense(self.curves.mean)

    @property
    def capacity_may_bind(self) -> bool:
        """Whether transfers could push a warehouse over capacity (only then do SKUs interact)."""
        if not self.options.allow_transfers:
            return False
        return bool(np.any(self.capacity < self.stock.sum()))

    def sku_subset(self, index: np.ndarray) -> AllocationProblem:
        """The same problem restricted to some SKUs (capacity shared as given; used for per-SKU oracles)."""
        index = np.asarray(index)
        keep = np.isin(self.pair_sku, index)
        remap = np.full(len(self.skus), -1)
        remap[index] = np.arange(len(index))
        pairs = np.flatnonzero(keep)
        c = self.curves
        seg_keep = keep[c.seg_pair]
        pair_remap = np.full(c.n_pairs, -1)
        pair_remap[pairs] = np.arange(len(pairs))
        curves = ShortageCurves(
            knots_x=c.knots_x[pairs],
            knots_f=c.knots_f[pairs],
            seg_pair=pair_remap[c.seg_pair[seg_keep]],
            seg_lo=c.seg_lo[seg_keep],
            seg_len=c.seg_len[seg_keep],
            seg_frac=c.seg_frac[seg_keep],
            top=c.top[pairs],
            mean=c.mean[pairs],
        )
        return AllocationProblem(
            skus=self.skus[index],
            warehouses=self.warehouses,
            regions=self.regions,
            stock=self.stock[index],
            capacity=self.capacity,
            ship_cost=self.ship_cost,
            transfer_cost=self.transfer_cost,
            penalty=self.penalty[index],
            holding=self.holding[index],
            pair_sku=remap[self.pair_sku[pairs]],
            pair_region=self.pair_region[pairs],
            curves=curves,
            options=self.options,
            demand_kind=self.demand_kind,
        )

    def with_options(self, **changes: object) -> AllocationProblem:
        """A copy with some options changed (costs and demand stay as built)."""
        from dataclasses import replace

        return replace(self, options=self.options.model_copy(update=changes))


def _require(frame: pd.DataFrame, name: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AllocationInputError(f"{name} frame lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}")


def _ids(series: pd.Series, name: str) -> np.ndarray:
    values = series.astype("str").str.strip()
    dup = values[values.duplicated()]
    if len(dup):
        raise AllocationInputError(f"{name} lists {', '.join(sorted(set(dup))[:5])} more than once; give each once")
    return values.to_numpy(dtype=object)


def _unknown(values: pd.Series, known: np.ndarray, what: str, where: str) -> None:
    bad = sorted(set(values) - set(known))
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
        raise AllocationInputError(f"{where} refers to unknown {what} {shown}; add it to the {what} table or drop the rows")


def _finite_nonneg(values: np.ndarray, labels: pd.DataFrame, what: str, most: float) -> None:
    """Refuse values that are not finite, negative or above the domain limit ``most`` (see ``limits``)."""
    bad = ~np.isfinite(values) | (values < 0) | (values > most)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(labels), -1).any(axis=1))[:3]
        shown = "; ".join(", ".join(f"{c}={labels.iloc[i][c]}" for c in labels.columns) for i in rows)
        raise AllocationInputError(
            f"{what} must be finite and in [0, {most:g}]; {int(bad.sum())} value(s) are not ({shown}); fix them"
        )


def _cost_matrix(given: pd.DataFrame | np.ndarray, rows: np.ndarray, cols: np.ndarray, name: str) -> np.ndarray:
    square = name == "transfer_cost"
    if isinstance(given, pd.DataFrame):
        given = given.copy()
        given.index = given.index.astype("str")
        given.columns = given.columns.astype("str")
        if square:  # a warehouse never moves stock to itself: the diagonal may be left out
            given = given.reindex(index=given.index.union(pd.Index(rows)), columns=given.columns.union(pd.Index(cols)))
            for wid in rows:
                given.loc[wid, wid] = 0.0
        _unknown(pd.Series(given.index), rows, "warehouse", f"{name} rows")
        missing_rows = [r for r in rows if r not in given.index]
        missing_cols = [c for c in cols if c not in given.columns]
        if missing_rows or missing_cols:
            raise AllocationInputError(
                f"{name} has no entry for {', '.join(map(str, (missing_rows + missing_cols)[:5]))}; "
                f"give a full {len(rows)} x {len(cols)} table (warehouses x {'regions' if name == 'shipping_cost' else 'warehouses'})"
            )
        matrix = given.loc[list(rows), list(cols)].to_numpy(dtype=float)
        holes = np.argwhere(np.isnan(matrix))
        if len(holes):
            shown = ", ".join(f"{rows[a]}->{cols[b]}" for a, b in holes[:5])
            raise AllocationInputError(f"{name} has no entry for {shown}; give a cost for every pair")
    else:
        matrix = np.asarray(given, dtype=float)
        if matrix.shape != (len(rows), len(cols)):
            raise AllocationInputError(
                f"{name} has shape {matrix.shape}, expected {(len(rows), len(cols))} "
                f"(warehouses x {'regions' if name == 'shipping_cost' else 'warehouses'}, in table order)"
            )
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0) or np.any(matrix > MAX_UNIT_COST):
        raise AllocationInputError(
            f"{name} has negative, missing, infinite or too large costs; give finite costs in [0, {MAX_UNIT_COST:g}]"
        )
    return np.array(matrix, dtype=float)  # a writable copy (pandas may hand out read-only views)


def build_problem(
    warehouses: pd.DataFrame,
    regions: pd.DataFrame,
    stock: pd.DataFrame,
    demand: pd.DataFrame,
    *,
    sku_costs: pd.DataFrame | None = None,
    shipping_cost: pd.DataFrame | np.ndarray | None = None,
    transfer_cost: pd.DataFrame | np.ndarray | None = None,
    options: AllocationOptions | None = None,
) -> AllocationProblem:
    """Validate canonical frames and turn them into an :class:`AllocationProblem`.

    Parameters
    ----------
    warehouses, regions, stock
        Frames shaped like the ``warehouses`` (capacity optional), ``regions`` and ``stock`` contracts.
    demand
        ``sku, region, demand`` (point) or ``sku, region, p10, p50, p90, ...`` (quantiles for the period);
        with both, rows with a non-null ``demand`` are point rows. Several rows for one pair are an error,
        except in the forecaster's frame (with ``horizon`` / ``period_start``), whose periods are summed by
        :func:`demand_from_forecast`.
    sku_costs
        Optional ``sku, shortage_penalty, holding_cost``; missing values use the option defaults.
    shipping_cost, transfer_cost
        Optional cost per unit: frames indexed by warehouse id with region (warehouse) columns, or arrays in
        table order. Default: great-circle distance times the option rates.
    """
    options = options or AllocationOptions()
    _require(warehouses, "warehouses", ["warehouse_id", "lat", "lon"])
    _require(regions, "regions", ["region", "lat", "lon"])
    _require(stock, "stock", ["warehouse_id", "sku", "on_hand"])
    _require(demand, "demand", ["sku", "region"])
    if is_forecast_frame(demand) and "demand" not in demand.columns:
        demand = demand_from_forecast(demand)
    wh = _ids(warehouses["warehouse_id"], "warehouses.warehouse_id")
    rg = _ids(regions["region"], "regions.region")
    for frame, name in ((warehouses, "warehouses"), (regions, "regions")):
        lat, lon = frame["lat"].to_numpy(dtype=float), frame["lon"].to_numpy(dtype=float)
        if not (np.all(np.abs(lat) <= 90) and np.all(np.abs(lon) <= 180)):
            raise AllocationInputError(f"{name}: lat must be in [-90, 90] and lon in [-180, 180] (no missing values)")

    stock = stock.assign(
        warehouse_id=stock["warehouse_id"].astype("str").str.strip(), sku=stock["sku"].astype("str").str.strip()
    )
    demand = demand.assign(sku=demand["sku"].astype("str").str.strip(), region=demand["region"].astype("str").str.strip())
    _unknown(stock["warehouse_id"], wh, "warehouse", "stock")
    _unknown(demand["region"], rg, "region", "demand")
    on_hand = stock["on_hand"].to_numpy(dtype=float)
    _finite_nonneg(on_hand, stock[["warehouse_id", "sku"]], "stock.on_hand", MAX_UNITS)
    if np.any(on_hand != np.round(on_hand)):
        raise AllocationInputError("stock.on_hand must be whole units; round the fractional values")
    dup = stock.duplicated(["warehouse_id", "sku"])
    if dup.any():
        first = stock.loc[dup].iloc[0]
        raise AllocationInputError(
            f"stock lists sku {first['sku']} in warehouse {first['warehouse_id']} more than once; sum the rows first"
        )
    dup = demand.duplicated(["sku", "region"])
    if dup.any():
        first = demand.loc[dup].iloc[0]
        raise AllocationInputError(
            f"demand lists sku {first['sku']} in region {first['region']} more than once; aggregate it first "
            "(demand_from_forecast does this for forecaster output)"
        )

    skus = np.array(sorted(set(stock["sku"]) | set(demand["sku"])), dtype=object)
    sku_pos = pd.Index(skus)
    wh_pos, rg_pos = pd.Index(wh), pd.Index(rg)
    n_k, n_w, n_r = len(skus), len(wh), len(rg)

    stock_mat = np.zeros((n_k, n_w), dtype=np.int64)
    stock_mat[sku_pos.get_indexer(stock["sku"]), wh_pos.get_indexer(stock["warehouse_id"])] = on_hand.astype(np.int64)

    if "capacity" in warehouses.columns:
        cap = pd.to_numeric(warehouses["capacity"], errors="coerce").to_numpy(dtype=float)
        cap = np.where(np.isnan(cap), np.inf, cap)
        if np.any(cap < 0) or np.any(np.isfinite(cap) & (cap > MAX_UNITS)):
            raise AllocationInputError(
                f"warehouses.capacity must be in [0, {MAX_UNITS:g}] (leave it empty for unlimited)"
            )
    else:
        cap = np.full(n_w, np.inf)
    if n_w and np.sum(cap) == 0:
        raise AllocationInputError("total warehouse capacity is zero; give at least one warehouse a capacity > 0")
    held = stock_mat.sum(axis=0)
    over = np.flatnonzero(held > cap)
    if len(over):
        i = over[0]
        raise AllocationInputError(
            f"warehouse {wh[i]} holds {held[i]} units but its capacity is {cap[i]:g}; raise the capacity to at "
            f"least {held[i]} or correct its stock ({len(over)} warehouse(s) over capacity)"
        )

    # Demand curves.
    levels = quantile_levels(demand.columns)
    has_point = "demand" in demand.columns
    point_rows = demand["demand"].notna().to_numpy() if has_point else np.zeros(len(demand), dtype=bool)
    q_rows = ~point_rows
    kinds = []
    n_pairs = len(demand)
    if q_rows.any():
        if not levels:
            raise AllocationInputError(
                "demand needs a 'demand' column (point) or quantile columns p10, p50, p90, ... for every row"
            )
        q = demand.loc[q_rows, list(levels)].to_numpy(dtype=float)
        if np.isnan(q).any():
            row = demand.loc[q_rows].iloc[int(np.flatnonzero(np.isnan(q).any(axis=1))[0])]
            raise AllocationInputError(
                f"demand for sku {row['sku']} region {row['region']} lacks some of {', '.join(levels)}; "
                "give the same quantile levels on every quantile row"
            )
        _finite_nonneg(q, demand.loc[q_rows, ["sku", "region"]], "demand quantiles", MAX_UNITS)
        crossing = np.any(np.diff(q, axis=1) < 0, axis=1)
        if crossing.any():
            log.warning("%d demand rows have crossing quantiles; sorted them", int(crossing.sum()))
            q = np.sort(q, axis=1)
        kinds.append("quantile")
    if point_rows.any():
        d = demand.loc[point_rows, "demand"].to_numpy(dtype=float)
        _finite_nonneg(d, demand.loc[point_rows, ["sku", "region"]], "demand", MAX_UNITS)
        kinds.append("point")
    width = max(len(levels) + 2 if q_rows.any() else 1, 1)
    knots_x = np.zeros((n_pairs, width))
    knots_f = np.ones((n_pairs, width))
    if q_rows.any():
        kx, kf = quantile_knots(np.array(list(levels.values())), q)
        knots_x[q_rows], knots_f[q_rows] = kx, kf
    if point_rows.any():
        knots_x[point_rows] = d[:, None]
        knots_f[point_rows] = 1.0
    curves = build_curves(knots_x, knots_f, options.shortage_pieces)
    pair_sku = sku_pos.get_indexer(demand["sku"])
    pair_region = rg_pos.get_indexer(demand["region"])

    # Costs.
    penalty = np.full(n_k, options.shortage_penalty)
    holding = np.full(n_k, options.holding_cost)
    if sku_costs is not None and len(sku_costs):
        _require(sku_costs, "sku_costs", ["sku"])
        sc = sku_costs.assign(sku=sku_costs["sku"].astype("str").str.strip())
        _unknown(sc["sku"], skus, "sku", "sku_costs")
        idx = sku_pos.get_indexer(sc["sku"])
        for col, target in (("shortage_penalty", penalty), ("holding_cost", holding)):
            if col in sc.columns:
                vals = pd.to_numeric(sc[col], errors="coerce").to_numpy(dtype=float)
                given = ~np.isnan(vals)
                _finite_nonneg(vals[given], sc.loc[given, ["sku"]], f"sku_costs.{col}", MAX_UNIT_COST)
                target[idx[given]] = vals[given]
    wlat, wlon = warehouses["lat"].to_numpy(dtype=float), warehouses["lon"].to_numpy(dtype=float)
    if shipping_cost is None:
        ship = shipping_cost_matrix(
            wlat, wlon, regions["lat"].to_numpy(dtype=float), regions["lon"].to_numpy(dtype=float),
            options.shipping_per_km, options.shipping_base,
        )
    else:
        ship = _cost_matrix(shipping_cost, wh, rg, "shipping_cost")
    if transfer_cost is None:
        transfer = transfer_cost_matrix(wlat, wlon, options.transfer_per_km, options.transfer_base)
    else:
        transfer = _cost_matrix(transfer_cost, wh, wh, "transfer_cost")
        np.fill_diagonal(transfer, 0.0)

    log.info("allocation problem: %d SKUs, %d warehouses, %d regions, %d demand pairs, %d shortage pieces",
             n_k, n_w, n_r, n_pairs, len(curves.seg_len))
    return AllocationProblem(
        skus=skus,
        warehouses=wh,
        regions=rg,
        stock=stock_mat,
        capacity=cap,
        ship_cost=ship,
        transfer_cost=transfer,
        penalty=penalty,
        holding=holding,
        pair_sku=pair_sku.astype(np.int64),
        pair_region=pair_region.astype(np.int64),
        curves=curves,
        options=options,
        demand_kind="mixed" if len(kinds) == 2 else (kinds[0] if kinds else "point"),
    )
