"""Forecast accuracy measures, all aggregated so that large series weigh by their volume.

``wape`` = sum |y - p50| / sum y. ``mase`` = mean over series of MAE / in-sample MAE of the one-step naive
forecast (series whose history never changes are skipped). ``pinball`` = mean over quantiles of
sum rho_q(y - yhat_q) / sum y (a volume-scaled pinball loss; for the median it is half the WAPE).
``coverage`` = share of actuals with p_lo <= y <= p_hi.
"""

from __future__ import annotations

import numpy as np


def wape(y: np.ndarray, yhat: np.ndarray) -> float:
    total = float(np.sum(y))
    return float(np.sum(np.abs(y - yhat)) / total) if total > 0 else float("nan")


def pinball(y: np.ndarray, pred: np.ndarray, quantiles: tuple[float, ...]) -> float:
    """Volume-scaled pinball loss averaged over quantiles; ``pred`` has one column per quantile."""
    total = float(np.sum(y))
    if total <= 0:
        return float("nan")
    losses = []
    for j, q in enumerate(quantiles):
        diff = y - pred[:, j]
        losses.append(np.sum(np.maximum(q * diff, (q - 1) * diff)) / total)
    return float(np.mean(losses))


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean((y >= lower) & (y <= upper))) if len(y) else float("nan")


def naive_scale(history: np.ndarray) -> np.ndarray:
    """Per series in-sample MAE of the one-step naive forecast (NaN when it is 0 or undefined)."""
    with np.errstate(invalid="ignore"):
        diffs = np.abs(np.diff(history, axis=1))
        ok = ~np.isnan(diffs)
        scale = np.where(ok.any(axis=1), np.nansum(diffs, axis=1) / np.maximum(ok.sum(axis=1), 1), np.nan)
    return np.where(scale > 0, scale, np.nan)


def mase(y: np.ndarray, yhat: np.ndarray, scale: np.ndarray, series: np.ndarray) -> float:
    """Mean over series of (MAE of the series / its naive scale); ``series`` labels each row."""
    err = np.abs(y - yhat) / scale
    ok = np.isfinite(err)
    if not ok.any():
        return float("nan")
    sums = np.bincount(series[ok], weights=err[ok])
    counts = np.bincount(series[ok])
    have = counts > 0
    return float(np.mean(sums[have] / counts[have]))
