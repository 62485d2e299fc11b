"""Demand history as a dense matrix: one row per series (SKU, region), one column per period.

Models and baselines read history as a matrix so that every feature at a forecast origin is a slice of
columns up to that origin, which makes leakage across the origin impossible by construction. Values are
NaN before a series' first sale (the series did not exist yet) and 0.0 for periods without sales after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.demand import FREQUENCIES, demand_series
from shopml.errors import DataValidationError

log = logging.getLogger(__name__)

ALL_REGIONS = "ALL"
"""Region label of the all-regions total of a SKU."""


@dataclass
class DemandPanel:
    """Units per series and period.

    Attributes
    ----------
    keys
        One row per series: ``sku`` and ``region`` (``"ALL"`` for the SKU total).
    periods
        Period starts (days, or Monday weeks), evenly spaced.
    values
        ``(n_series, n_periods)`` float matrix; NaN before a series' first sale.
    freq
        ``"W"`` or ``"D"``.
    """

    keys: pd.DataFrame
    periods: pd.DatetimeIndex
    values: np.ndarray
    freq: str

    @property
    def n_series(self) -> int:
        return self.values.shape[0]

    @property
    def n_periods(self) -> int:
        return self.values.shape[1]

    @property
    def step(self) -> pd.Timedelta:
        return pd.Timedelta(days=7 if self.freq == "W" else 1)

    def truncate(self, n_periods: int) -> DemandPanel:
        """The panel as it was known after its first ``n_periods`` periods (series not yet started drop out)."""
        values = self.values[:, :n_periods]
        alive = ~np.isnan(values).all(axis=1)
        return DemandPanel(self.keys.loc[alive].reset_index(drop=True), self.periods[:n_periods], values[alive], self.freq)

    def to_long(self) -> pd.DataFrame:
        """The long panel (``sku, region, period_start, quantity``), dropping periods before each series began."""
        n, t = self.values.shape
        long = pd.DataFrame(
            {
                "sku": np.repeat(self.keys["sku"].to_numpy(), t),
                "region": np.repeat(self.keys["region"].to_numpy(), t),
                "period_start": np.tile(self.periods.to_numpy(), n),
                "quantity": self.values.ravel(),
            }
        )
        return long.loc[long["quantity"].notna()].reset_index(drop=True)

    @classmethod
    def from_long(cls, long: pd.DataFrame, freq: str = "W") -> DemandPanel:
        """Build from a long panel with ``sku``, ``period_start``, ``quantity`` and optionally ``region``.

        Missing periods inside a series (gaps) are filled with zeros and counted in the log; negative
        quantities are rejected, because net returns are not demand (build the panel from sales lines).
        """
        if freq not in FREQUENCIES:
            raise DataValidationError(f"freq must be one of {', '.join(FREQUENCIES)} (got {freq!r}).")
        missing = [c for c in ("sku", "period_start", "quantity") if c not in long.columns]
        if missing:
            raise DataValidationError(f"demand panel: missing column(s) {', '.join(missing)}; expected sku, "
                                      "[region,] period_start, quantity (see features.demand.demand_series).")
        if long.empty:
            raise DataValidationError("demand panel is empty: no sales to learn from; check the cutoff and the SKU filter.")
        frame = long.copy()
        if "region" not in frame.columns:
            frame["region"] = ALL_REGIONS
        q = frame["quantity"].astype("float64")
        bad = ~np.isfinite(q) | (q < 0)
        if bad.any():
            row = frame.loc[bad].iloc[0]
            raise DataValidationError(
                f"demand panel: {int(bad.sum())} row(s) with a negative or missing quantity (first: sku {row['sku']}, "
                f"{row['period_start']}); count sales only (returns are not demand) and fill gaps with 0."
            )
        step = pd.Timedelta(days=7 if freq == "W" else 1)
        starts = pd.to_datetime(frame["period_start"]).astype("datetime64[us]")
        if freq == "W" and (starts.dt.day_of_week != starts.dt.day_of_week.iloc[0]).any():
            raise DataValidationError("demand panel: weekly period_start values fall on different weekdays; "
                                      "use the period starts from features.demand.demand_series.")
        first, last = starts.min(), starts.max()
        offsets = (starts - first) / step
        if not np.allclose(offsets, np.round(offsets)):
            raise DataValidationError(f"demand panel: period_start values are not whole {FREQUENCIES[freq]}s apart.")
        periods = pd.DatetimeIndex(pd.date_range(first, last, freq=step)).astype("datetime64[us]")
        col = np.round(offsets.to_numpy()).astype(int)
        keys = frame[["sku", "region"]].astype("str").drop_duplicates().sort_values(["sku", "region"]).reset_index(drop=True)
        key_index = pd.MultiIndex.from_frame(keys)
        row = key_index.get_indexer(pd.MultiIndex.from_frame(frame[["sku", "region"]].astype("str")))
        summed = np.zeros((len(keys), len(periods)))
        np.add.at(summed, (row, col), q.to_numpy())
        seen = np.zeros(summed.shape, dtype=bool)
        seen[row, col] = True
        first_col = np.where(seen.any(axis=1), seen.argmax(axis=1), len(periods))
        started = np.arange(len(periods))[None, :] >= first_col[:, None]
        gaps = int((started & ~seen).sum())
        if gaps:
            log.info("demand panel: %d missing period(s) inside series filled with 0", gaps)
        values = np.where(started, summed, np.nan)
        return cls(keys, periods, values, freq)

    @classmethod
    def from_orders(
        cls,
        orders: pd.DataFrame,
        *,
        freq: str = "W",
        by_region: bool = False,
        cutoff: str | pd.Timestamp | None = None,
        skus: list[str] | None = None,
    ) -> DemandPanel:
        """Sales per SKU (and per SKU x region plus the SKU totals when ``by_region``) via :func:`demand_series`.

        Returns (negative quantities) are ignored: demand is what customers ordered.
        """
        total = demand_series(orders, freq=freq, cutoff=cutoff, skus=skus)
        if total.empty:
            raise DataValidationError("no sales before the cutoff for the chosen SKUs; nothing to forecast.")
        frames = [total.assign(region=ALL_REGIONS)]
        if by_region:
            frames.append(demand_series(orders, freq=freq, cutoff=cutoff, skus=skus, by_region=True))
        return cls.from_long(pd.concat(frames, ignore_index=True), freq)
