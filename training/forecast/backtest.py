"""Rolling-origin backtests: refit at each origin on the history before it, forecast the next periods.

At every origin ``o`` the forecaster sees :meth:`DemandPanel.truncate` ``(o + 1)`` only, so nothing after the
origin reaches it; actuals are read from the full panel afterwards. Metrics are reported overall, per horizon
and per ABC class of SKU (A: the SKUs making the top 80 % of volume before the origin, B: the next 15 %, C: the
rest), for the model and every baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.demand import DemandPanel
from training.forecast import metrics as M
from training.forecast.baselines import croston, last_value, moving_average, seasonal_naive, tsb

log = logging.getLogger(__name__)

ForecastFn = Callable[[DemandPanel], np.ndarray]
"""Given the history up to an origin, return ``(n_series, horizon, n_quantiles)`` forecasts for its series."""


def baseline_forecasts(history: np.ndarray, horizon: int, freq: str) -> dict[str, np.ndarray]:
    """Every baseline's ``(n_series, horizon)`` point forecast from ``history``."""
    season = 52 if freq == "W" else 7
    return {
        "last_value": last_value(history, horizon),
        "moving_average_4": moving_average(history, horizon, 4),
        "seasonal_naive": seasonal_naive(history, horizon, season),
        "croston": croston(history, horizon),
        "tsb": tsb(history, horizon),
    }


def abc_classes(history: np.ndarray) -> np.ndarray:
    """A / B / C per series by cumulative share of volume (A up to 80 %, B up to 95 %)."""
    volume = np.nansum(history, axis=1)
    order = np.argsort(-volume, kind="stable")
    share = np.cumsum(volume[order]) / max(volume.sum(), 1e-12)
    before = np.r_[0.0, share[:-1]]
    labels = np.where(before < 0.8, "A", np.where(before < 0.95, "B", "C"))
    out = np.empty(len(volume), dtype=object)
    out[order] = labels
    return out


@dataclass
class BacktestResult:
    """Forecasts with actuals for every (origin, series, horizon), and the metrics computed from them."""

    frame: pd.DataFrame
    quantiles: tuple[float, ...]
    origins: list[pd.Timestamp]

    def metrics(self, name: str = "model") -> dict[str, object]:
        """Overall, per horizon and per ABC class metrics of the model (and point metrics of each baseline)."""
        f = self.frame
        return {
            "overall": _metrics(f, self.quantiles),
            "by_horizon": {int(h): _metrics(g, self.quantiles) for h, g in f.groupby("horizon")},
            "by_abc": {str(c): _metrics(g, self.quantiles) for c, g in f.groupby("abc")},
            "by_origin": {str(pd.Timestamp(o).date()): _metrics(g, self.quantiles) for o, g in f.groupby("origin")},
            "baselines": {b: {"wape": M.wape(f["y"].to_numpy(), f[b].to_numpy()),
                              "mase": M.mase(f["y"].to_numpy(), f[b].to_numpy(), f["naive_scale"].to_numpy(),
                                             f["series_key"].to_numpy())}
                          for b in self.baseline_names},
        }

    @property
    def baseline_names(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith("bl_")]

    def summary(self) -> dict[str, float]:
        """The headline numbers: WAPE, MASE, pinball and p10-p90 coverage over every origin and horizon."""
        return _metrics(self.frame, self.quantiles)


def _metrics(f: pd.DataFrame, quantiles: tuple[float, ...]) -> dict[str, float]:
    y = f["y"].to_numpy()
    cols = [_qcol(q) for q in quantiles]
    pred = f[cols].to_numpy()
    out = {
        "wape": M.wape(y, f["p50"].to_numpy()),
        "mase": M.mase(y, f["p50"].to_numpy(), f["naive_scale"].to_numpy(), f["series_key"].to_numpy()),
        "pinball": M.pinball(y, pred, quantiles),
        "n": int(len(f)),
    }
    lo, hi = _qcol(quantiles[0]), _qcol(quantiles[-1])
    out[f"coverage_{lo}_{hi}"] = M.coverage(y, f[lo].to_numpy(), f[hi].to_numpy())
    return out


def _qcol(q: float) -> str:
    return f"p{100 * q:g}"


def rolling_origin(
    panel: DemandPanel,
    forecast_fn: ForecastFn,
    origins: Sequence[int],
    *,
    horizon: int,
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
) -> BacktestResult:
    """Backtest ``forecast_fn`` at each origin (index of the last observed period) over ``horizon`` periods."""
    frames = []
    n_series_all = panel.n_series
    key_index = pd.MultiIndex.from_frame(panel.keys)
    for o in origins:
        if o + horizon > panel.n_periods - 1:
            raise ValueError(f"origin {o} + horizon {horizon} runs past the panel's {panel.n_periods} periods.")
        history = panel.truncate(o + 1)
        pred = forecast_fn(history)
        rows = key_index.get_indexer(pd.MultiIndex.from_frame(history.keys))
        actual = panel.values[rows, o + 1: o + 1 + horizon]
        n = len(rows)
        frame = pd.DataFrame({
            "series_key": np.repeat(rows, horizon) if n_series_all else np.zeros(0, dtype=int),
            "sku": np.repeat(history.keys["sku"].to_numpy(), horizon),
            "region": np.repeat(history.keys["region"].to_numpy(), horizon),
            "origin": panel.periods[o],
            "horizon": np.tile(np.arange(1, horizon + 1), n),
            "y": actual.reshape(-1),
            "abc": np.repeat(abc_classes(history.values), horizon),
            "naive_scale": np.repeat(M.naive_scale(history.values), horizon),
        })
        for j, q in enumerate(quantiles):
            frame[_qcol(q)] = pred[:, :, j].reshape(-1)
        for name, point in baseline_forecasts(history.values, horizon, panel.freq).items():
            frame[f"bl_{name}"] = point.reshape(-1)
        frames.append(frame)
        log.info("origin %s: WAPE %.3f", panel.periods[o].date(), M.wape(frame["y"].to_numpy(), frame["p50"].to_numpy()))
    return BacktestResult(pd.concat(frames, ignore_index=True), tuple(quantiles), [panel.periods[o] for o in origins])
