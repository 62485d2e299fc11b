"""Demand for the planning period as a point value or forecast quantiles, and its expected-shortage curve.

With quantiles ``q_a`` at levels ``a`` (p10, p50, p90, ...) the demand distribution is taken to have a
piecewise-linear CDF through the points ``(q_a, a)``, extended linearly (with the slope of the nearest
quantile gap) to ``F = 0`` below and ``F = 1`` above, and cut at zero demand (the cut becomes a point mass at
zero). Under that distribution the expected shortage ``L(x) = E[(D - x)^+]`` of an allocation ``x`` is convex
and decreasing. The optimiser sees ``L`` as a convex piecewise-linear function with breakpoints at whole
units: zero, the rounded CDF knots (and ``pieces - 1`` extra points between knots), and the rounded-up top of
the support. ``L`` is exact at every breakpoint and a chord in between, so the approximation only ever
overstates the shortage between breakpoints. A point demand ``d`` is the special case ``L(x) = (d - x)^+``,
exact at every whole unit (breakpoints 0, floor(d), ceil(d)).

Each piece of ``L`` is a parallel arc (or bounded variable) with a per-unit cost ``(1 - F)`` times the
shortage penalty: convexity guarantees that cheaper pieces fill first, so the problem stays a network flow.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimization.allocation.errors import AllocationInputError

log = logging.getLogger(__name__)

QUANTILE_COLUMN = re.compile(r"^p(\d{2,})$")


def quantile_levels(columns: list[str] | pd.Index) -> dict[str, float]:
    """Quantile columns (``p05``, ``p10``, ``p50``, ``p975``, ...) and their levels, sorted by level.

    ``pNN`` means level ``0.NN``: ``p05`` is 0.05, ``p975`` is 0.975. Levels must lie strictly in (0, 1).
    """
    found = {}
    for col in columns:
        match = QUANTILE_COLUMN.match(str(col))
        if match:
            level = float("0." + match.group(1))
            if not 0.0 < level < 1.0:
                raise AllocationInputError(f"quantile column {col!r} has level {level}; use levels in (0, 1), e.g. p10")
            found[str(col)] = level
    return dict(sorted(found.items(), key=lambda kv: kv[1]))


@dataclass(frozen=True)
class ShortageCurves:
    """Expected-shortage curves for ``N`` (SKU, region) pairs, as knots of the CDF and as linear pieces.

    Attributes
    ----------
    knots_x, knots_f : numpy.ndarray
        ``(N, M)`` CDF knots: demand values and CDF values (right-continuous; ``F = 0`` below ``knots_x[:, 0]``
        and a point mass ``knots_f[:, 0]`` at it). Padded by repeating the last knot.
    seg_pair, seg_lo, seg_len : numpy.ndarray
        Pieces of the convex piecewise-linear ``L``: the pair each piece belongs to, its start and its length
        in whole units. Sorted by pair, then by position.
    seg_frac : numpy.ndarray
        ``-dL/dx`` on each piece, the probability that demand exceeds a unit in that piece (non-increasing
        within a pair). The shortage cost of a piece is ``penalty * seg_frac`` per unit left unfilled.
    top : numpy.ndarray
        Whole units beyond which no demand is expected (the last breakpoint); nobody ships more than this.
    mean : numpy.ndarray
        Expected demand ``L(0)`` under the curve.
    """

    knots_x: np.ndarray
    knots_f: np.ndarray
    seg_pair: np.ndarray
    seg_lo: np.ndarray
    seg_len: np.ndarray
    seg_frac: np.ndarray
    top: np.ndarray
    mean: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(self.top.shape[0])

    def expected_shortage(self, delivered: np.ndarray) -> np.ndarray:
        """Expected shortage ``L(x)`` of the piecewise-linear model, per pair, for allocations ``x`` (N,)."""
        x = np.asarray(delivered, dtype=float)[self.seg_pair]
        unfilled = np.clip(self.seg_lo + self.seg_len - x, 0.0, self.seg_len)
        return np.bincount(self.seg_pair, weights=self.seg_frac * unfilled, minlength=self.n_pairs)

    def exact_expected_shortage(self, delivered: np.ndarray) -> np.ndarray:
        """``L(x)`` under the piecewise-linear CDF itself (no chord), per pair."""
        return _exact_shortage(self.knots_x, self.knots_f, np.asarray(delivered, dtype=float)[:, None])[:, 0]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws of every pair's demand, shape ``(n, N)``, by inverting the CDF."""
        u = rng.random((n, self.n_pairs))
        x, f = self.knots_x, self.knots_f
        out = np.broadcast_to(x[:, 0], u.shape).copy()
        for i in range(x.shape[1] - 1):
            width = f[:, i + 1] - f[:, i]
            inside = (u > f[:, i]) & (u <= f[:, i + 1]) & (width > 0)
            t = np.divide(u - f[:, i], width, out=np.zeros_like(u), where=width > 0)
            out = np.where(inside, x[:, i] + t * (x[:, i + 1] - x[:, i]), out)
        return out

    def median(self) -> np.ndarray:
        """The demand at ``F = 0.5`` of each pair (the p50 when it was given)."""
        return self.quantile(0.5)

    def quantile(self, level: float | np.ndarray) -> np.ndarray:
        """The demand at ``F = level`` of each pair (a scalar level or one level per pair)."""
        return cdf_quantile(self.knots_x, self.knots_f, level)


def cdf_quantile(knots_x: np.ndarray, knots_f: np.ndarray, level: float | np.ndarray) -> np.ndarray:
    """Invert piecewise-linear CDFs given by knots at ``level`` (scalar or ``(N,)``); the left end of flats."""
    x, f = np.asarray(knots_x, dtype=float), np.asarray(knots_f, dtype=float)
    a = np.broadcast_to(np.asarray(level, dtype=float), x.shape[:1])
    out = x[:, 0].copy()
    for i in range(x.shape[1] - 1):
        width = f[:, i + 1] - f[:, i]
        inside = (f[:, i] < a) & (f[:, i + 1] >= a) & (width > 0)
        t = np.divide(a - f[:, i], width, out=np.zeros_like(width), where=width > 0)
        out = np.where(inside, x[:, i] + t * (x[:, i + 1] - x[:, i]), out)
    return out


def _exact_shortage(knots_x: np.ndarray, knots_f: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``E[(D - b)^+]`` for the piecewise-linear CDF, at points ``at`` of shape ``(N, B)``."""
    x0 = knots_x[:, :1]
    total = np.maximum(x0 - at, 0.0)  # F = 0 below the first knot
    for i in range(knots_x.shape[1] - 1):
        lo_x, hi_x = knots_x[:, i : i + 1], knots_x[:, i + 1 : i + 2]
        lo_f, hi_f = knots_f[:, i : i + 1], knots_f[:, i + 1 : i + 2]
        length = hi_x - lo_x
        start = np.clip(at, lo_x, hi_x)
        f_start = np.where(length > 0, lo_f + (hi_f - lo_f) * np.divide(start - lo_x, length, out=np.zeros_like(start), where=length > 0), hi_f)
        total += (hi_x - start) * (1.0 - (f_start + hi_f) / 2.0)
    return total


def point_knots(demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CDF knots of point demands: one knot with all the mass."""
    d = np.asarray(demand, dtype=float)
    return d[:, None], np.ones((d.shape[0], 1))


def quantile_knots(levels: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CDF knots through the quantiles, with linear tails cut at zero demand.

    Parameters
    ----------
    levels : numpy.ndarray
        ``(m,)`` increasing quantile levels in (0, 1).
    values : numpy.ndarray
        ``(N, m)`` quantile values, non-negative and non-decreasing along each row.
    """
    levels = np.asarray(levels, dtype=float)
    q = np.asarray(values, dtype=float)
    n, m = q.shape
    if m == 1:
        return point_knots(q[:, 0])
    # Lower tail: extend the first gap's slope down to F = 0, cut at zero demand (point mass there).
    dq0 = q[:, 1] - q[:, 0]
    da0 = levels[1] - levels[0]
    x0 = q[:, 0] - levels[0] * dq0 / da0
    f0 = np.zeros(n)
    cut = x0 < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f0_cut = np.where(dq0 > 0, levels[0] - q[:, 0] * da0 / dq0, levels[0])
    f0 = np.where(cut, np.clip(f0_cut, 0.0, levels[0]), f0)
    x0 = np.maximum(x0, 0.0)
    # Upper tail: extend the last gap's slope up to F = 1.
    dq1 = q[:, -1] - q[:, -2]
    da1 = levels[-1] - levels[-2]
    x_top = q[:, -1] + (1.0 - levels[-1]) * dq1 / da1
    knots_x = np.column_stack([x0, q, x_top])
    knots_f = np.column_stack([f0, np.broadcast_to(levels, (n, m)), np.ones(n)])
    return knots_x, knots_f


def build_curves(knots_x: np.ndarray, knots_f: np.ndarray, pieces: int = 1) -> ShortageCurves:
    """Whole-unit piecewise-linear expected-shortage curves from CDF knots (see the module docstring)."""
    knots_x = np.asarray(knots_x, dtype=float)
    knots_f = np.asarray(knots_f, dtype=float)
    n, k = knots_x.shape
    last = knots_x[:, -1:]
    cands = [np.zeros((n, 1)), np.round(knots_x), np.floor(last), np.ceil(last)]
    if pieces > 1 and k > 1:
        t = np.arange(1, pieces) / pieces
        inner = knots_x[:, :-1, None] + (knots_x[:, 1:, None] - knots_x[:, :-1, None]) * t
        cands.append(np.round(inner.reshape(n, -1)))
    breaks = np.sort(np.maximum(np.concatenate(cands, axis=1), 0.0), axis=1)
    shortage = _exact_shortage(knots_x, knots_f, breaks)
    length = np.diff(breaks, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(length > 0, (shortage[:, :-1] - shortage[:, 1:]) / length, np.inf)
    frac = np.clip(np.minimum.accumulate(frac, axis=1), 0.0, 1.0)  # convex: float noise must not break order
    keep = length > 0
    rows = np.broadcast_to(np.arange(n)[:, None], keep.shape)
    return ShortageCurves(
        knots_x=knots_x,
        knots_f=knots_f,
        seg_pair=rows[keep].astype(np.int64),
        seg_lo=breaks[:, :-1][keep].astype(np.int64),
        seg_len=length[keep].astype(np.int64),
        seg_frac=frac[keep],
        top=breaks[:, -1].astype(np.int64),
        mean=shortage[:, 0],
    )


ALL_REGIONS = "ALL"


def sum_quantiles(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Quantiles of a sum of independent parts: the rows of ``frame`` grouped by ``keys``.

    The median of the sum is the sum of the medians, and each other quantile sits
    ``sqrt(sum of (q_a - p50)^2)`` away from it on its own side. That is exact for independent normal parts
    and keeps each side's skew otherwise; it ignores correlation between parts, so it understates the spread
    when parts move together (weeks of one trend, regions hit by one promotion).

    Returns
    -------
    pandas.DataFrame
        ``keys`` and the same ``pNN`` columns, one row per group, quantiles clipped at zero and non-crossing.
    """
    levels = quantile_levels(frame.columns)
    missing = [c for c in keys if c not in frame.columns]
    if missing or "p50" not in levels:
        raise AllocationInputError(
            f"quantile frame lacks {', '.join(missing + ([] if 'p50' in levels else ['p50']))}; expected columns "
            f"{', '.join(keys)}, p10, p50, p90 (any pNN quantiles including p50)"
        )
    cols = list(levels)
    values = frame[cols].to_numpy(dtype=float)
    if np.isnan(values).any():
        raise AllocationInputError(f"quantile frame has missing values in {cols}; every row needs every quantile")
    median = frame["p50"].to_numpy(dtype=float)
    work = pd.DataFrame((values - median[:, None]) ** 2, columns=cols)
    work["p50_sum"] = median
    for key in keys:
        work[key] = frame[key].astype("str").to_numpy()
    agg = work.groupby(keys, sort=True).sum()
    out = pd.DataFrame(index=agg.index)
    for col, level in levels.items():
        spread = np.sqrt(agg[col].to_numpy())
        sign = -1.0 if level < 0.5 else 1.0
        out[col] = agg["p50_sum"].to_numpy() + (0.0 if col == "p50" else sign * spread)
    out = out.clip(lower=0.0)
    out[cols] = np.maximum.accumulate(out[cols].to_numpy(), axis=1)
    return out.reset_index()


def demand_from_forecast(forecast: pd.DataFrame, *, horizons: list[int] | None = None) -> pd.DataFrame:
    """Collapse a forecaster's per-period quantiles into one planning period per (SKU, region).

    The forecaster returns ``sku, region, period_start, horizon, p10, p50, p90`` (any ``pNN`` levels). The
    planning period is the sum of the chosen horizons (all by default), combined with :func:`sum_quantiles`.
    Rows of the all-regions total (region ``"ALL"``) are dropped when per-region rows exist for the same SKU,
    since they would count the same demand twice.

    Returns
    -------
    pandas.DataFrame
        ``sku, region`` and the same ``pNN`` columns, one row per pair.
    """
    missing = [c for c in ("sku", "region") if c not in forecast.columns]
    if missing:
        raise AllocationInputError(
            f"forecast frame lacks {', '.join(missing)}; expected columns sku, region, horizon, p10, p50, p90"
        )
    frame = forecast
    if horizons is not None:
        if "horizon" not in frame.columns:
            raise AllocationInputError("forecast frame has no 'horizon' column; drop horizons= or add the column")
        frame = frame.loc[frame["horizon"].isin(horizons)]
        if frame.empty:
            raise AllocationInputError(f"forecast frame has no rows for horizons {horizons}; pick horizons it covers")
    region = frame["region"].astype("str")
    is_total = region == ALL_REGIONS
    if is_total.any() and (~is_total).any():
        regional_skus = set(frame.loc[~is_total, "sku"].astype("str"))
        drop = is_total & frame["sku"].astype("str").isin(regional_skus)
        log.info("dropping %d all-regions forecast rows of SKUs forecast per region", int(drop.sum()))
        frame = frame.loc[~drop]
    return sum_quantiles(frame, ["sku", "region"])


def is_forecast_frame(frame: pd.DataFrame) -> bool:
    """Whether a demand frame is per forecast period (has ``horizon`` or ``period_start``) and needs collapsing."""
    return "horizon" in frame.columns or "period_start" in frame.columns
