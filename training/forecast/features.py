"""Declarative features of a series as of a forecast origin, with deterministic names.

The spec extends :class:`features.demand.DemandFeatureSpec` (same names and meaning: ``qty_lag_k`` is the
quantity ``k`` periods before the forecast period, rolling windows end at the origin) with series-level and
intermittency measures, the target period's calendar, and the horizon. Every feature at origin ``o`` reads
columns ``<= o`` of the history matrix only, so nothing after the origin can leak in. Demand-like features are
divided by the series' scale (its recent mean), which lets one global model serve series of any size;
``log_scale`` keeps the level.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.demand import DemandFeatureSpec


@dataclass(frozen=True)
class ForecastFeatureSpec:
    """Which features the global model sees, declared as data.

    Parameters
    ----------
    demand
        Lags and rolling windows (periods), named as in :mod:`features.demand`.
    scale_window
        Window of the rolling mean used as the series' scale.
    calendar
        Add the target period's ``target_week_of_year`` and ``target_month`` (and ``target_day_of_week`` daily).
    """

    demand: DemandFeatureSpec = field(default_factory=lambda: DemandFeatureSpec(lags=(1, 2, 3, 4, 5, 6, 8, 13, 26, 52),
                                                                               windows=(4, 8, 13, 26)))
    scale_window: int = 13
    calendar: bool = True

    def series_names(self) -> list[str]:
        """Features of the series at the origin (independent of the horizon)."""
        names = [f"qty_lag_{k}" for k in self.demand.lags]
        for w in self.demand.windows:
            names += [f"qty_rollmean_{w}", f"qty_rollstd_{w}"]
        names += ["qty_nonzero_share_13", "periods_since_sale", "series_age", "qty_expanding_mean",
                  "qty_rollmax_13", "log_scale"]
        return names

    def names(self, freq: str = "W") -> list[str]:
        """All feature names, in the column order of the model's input."""
        names = [*self.series_names(), "horizon"]
        if self.calendar:
            names += ["target_week_of_year", "target_month"] + (["target_day_of_week"] if freq == "D" else [])
        names += ["category_code", "log_price", "is_total"]
        return names


def series_state(values: np.ndarray, spec: ForecastFeatureSpec,
                 origins: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Series features at the given origins (every period by default), and the scale.

    Only ``(n_series, n_periods)`` running sums are kept in full; features are gathered at ``origins``, so a
    long daily panel does not need a ``series x periods x features`` array.

    Returns
    -------
    features
        ``(n_series, n_origins, n_series_features)``; slice ``[:, k]`` is the state after period ``origins[k]``.
    scale
        ``(n_series, n_origins)`` positive scale (recent mean, else expanding mean, else 1).
    """
    n, t = values.shape
    cols = np.arange(t) if origins is None else np.asarray(origins, dtype=int)
    valid = ~np.isnan(values)
    q = np.where(valid, values, 0.0)
    zeros = np.zeros((n, 1))
    cs = np.concatenate([zeros, np.cumsum(q, axis=1)], axis=1)
    cs2 = np.concatenate([zeros, np.cumsum(q * q, axis=1)], axis=1)
    cnz = np.concatenate([zeros, np.cumsum(q > 0, axis=1)], axis=1)
    cv = np.concatenate([zeros, np.cumsum(valid, axis=1)], axis=1)

    def window(cum: np.ndarray, w: int) -> np.ndarray:
        lo = np.maximum(cols + 1 - w, 0)
        return cum[:, cols + 1] - cum[:, lo]

    def shifted(back: int) -> np.ndarray:
        """``values`` at ``origin - back`` (NaN before the panel)."""
        idx = cols - back
        out = np.full((n, len(cols)), np.nan)
        ok = idx >= 0
        out[:, ok] = values[:, idx[ok]]
        return out

    out: dict[str, np.ndarray] = {}
    for k in spec.demand.lags:
        out[f"qty_lag_{k}"] = shifted(k - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        for w in spec.demand.windows:
            count = window(cv, w)
            mean = np.where(count > 0, window(cs, w) / count, np.nan)
            var = np.where(count > 1, np.maximum(window(cs2, w) / count - mean * mean, 0.0), np.nan)
            out[f"qty_rollmean_{w}"] = mean
            out[f"qty_rollstd_{w}"] = np.sqrt(var)
        count13 = window(cv, 13)
        out["qty_nonzero_share_13"] = np.where(count13 > 0, window(cnz, 13) / count13, np.nan)
        sold = np.where(q > 0, np.arange(t)[None, :], -1)
        last_sale = np.maximum.accumulate(sold, axis=1)[:, cols] if t else np.zeros((n, 0))
        out["periods_since_sale"] = np.where(last_sale >= 0, cols[None, :] + 1 - last_sale, np.nan)
        age = cv[:, cols + 1]
        out["series_age"] = age
        out["qty_expanding_mean"] = np.where(age > 0, cs[:, cols + 1] / age, np.nan)
        rollmax = np.full((n, len(cols)), -np.inf)
        for back in range(13):
            rollmax = np.fmax(rollmax, shifted(back))
        out["qty_rollmax_13"] = np.where(np.isfinite(rollmax), rollmax, np.nan)
        recent = window(cs, spec.scale_window) / np.maximum(window(cv, spec.scale_window), 1)
        expanding = out["qty_expanding_mean"]
        scale = np.where(recent > 0, recent, np.where(expanding > 0, expanding, 1.0))
        scale = np.where(np.isfinite(scale), scale, 1.0)
    out["log_scale"] = np.log1p(scale)
    scaled = {name for name in out if name.startswith(("qty_lag", "qty_roll", "qty_expanding"))}
    names = spec.series_names()
    stacked = np.stack([out[name] / scale if name in scaled else out[name] for name in names], axis=2)
    return stacked, scale


def calendar_features(target_periods: pd.DatetimeIndex | np.ndarray, freq: str) -> np.ndarray:
    """``(len, k)`` calendar of the target periods: ISO week, month (and weekday for days)."""
    dates = pd.DatetimeIndex(target_periods)
    cols = [dates.isocalendar().week.to_numpy(dtype="float64"), dates.month.to_numpy(dtype="float64")]
    if freq == "D":
        cols.append(dates.day_of_week.to_numpy(dtype="float64"))
    return np.stack(cols, axis=1)


def design_matrix(
    state: np.ndarray,
    horizons: np.ndarray,
    target_periods: np.ndarray,
    static: np.ndarray,
    spec: ForecastFeatureSpec,
    freq: str,
) -> np.ndarray:
    """Rows of model input: series state at the origin, the horizon, the target calendar and static features.

    ``state`` is ``(rows, n_series_features)``, ``static`` ``(rows, 3)`` (category code, log price, is-total).
    """
    parts = [state, horizons.reshape(-1, 1).astype("float64")]
    if spec.calendar:
        parts.append(calendar_features(target_periods, freq))
    parts.append(static)
    return np.concatenate(parts, axis=1).astype("float32")
