"""Baseline forecasts every model must beat: last value, moving average, seasonal naive, Croston and TSB.

Each baseline takes the history matrix up to the origin (``(n_series, n_periods)``, NaN before a series
began) and returns a flat ``(n_series, horizon)`` point forecast. They are vectorised over series so that a
backtest of thousands of series takes milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _last_valid(history: np.ndarray) -> np.ndarray:
    return np.nan_to_num(history[:, -1], nan=0.0)


def last_value(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last period's quantity, repeated."""
    return np.repeat(_last_valid(history)[:, None], horizon, axis=1)


def moving_average(history: np.ndarray, horizon: int, window: int = 4) -> np.ndarray:
    """The mean of the last ``window`` periods (fewer for young series), repeated."""
    recent = history[:, -window:]
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isnan(recent).all(axis=1, keepdims=True), 0.0, recent), axis=1)
    return np.repeat(mean[:, None], horizon, axis=1)


def seasonal_naive(history: np.ndarray, horizon: int, season: int = 52) -> np.ndarray:
    """The value one season earlier (the last season repeated for horizons beyond a season); series shorter
    than a season fall back to the 4-period mean."""
    n, t = history.shape
    out = moving_average(history, horizon, 4)
    for h in range(horizon):
        col = t + h - season * (h // season + 1)
        if col >= 0:
            past = history[:, col]
            out[:, h] = np.where(np.isnan(past), out[:, h], past)
    return out


def croston(history: np.ndarray, horizon: int, alpha: float = 0.1) -> np.ndarray:
    """Croston's method: smoothed non-zero size over smoothed interval between sales (flat forecast)."""
    return _intermittent(history, horizon, alpha, alpha, tsb=False)


def tsb(history: np.ndarray, horizon: int, alpha: float = 0.1, beta: float = 0.1) -> np.ndarray:
    """Teunter-Syntetos-Babai: smoothed sale probability times smoothed non-zero size (handles obsolescence)."""
    return _intermittent(history, horizon, alpha, beta, tsb=True)


def _intermittent(history: np.ndarray, horizon: int, alpha: float, beta: float, *, tsb: bool) -> np.ndarray:
    n, t = history.shape
    size = np.full(n, np.nan)
    other = np.full(n, np.nan)  # interval (Croston) or probability (TSB)
    since = np.ones(n)
    for j in range(t):
        y = history[:, j]
        live = ~np.isnan(y)
        sale = live & (y > 0)
        first = sale & np.isnan(size)
        if tsb:
            init = live & np.isnan(other)
            other = np.where(init, (y > 0).astype(float), np.where(live, other + beta * ((y > 0) - other), other))
            size = np.where(first, y, np.where(sale, size + alpha * (y - size), size))
        else:
            size = np.where(first, y, np.where(sale & ~first, size + alpha * (y - size), size))
            other = np.where(first, since, np.where(sale & ~first, other + beta * (since - other), other))
            since = np.where(sale, 1.0, np.where(live, since + 1.0, since))
    level = size * other if tsb else size / other
    return np.repeat(np.nan_to_num(level, nan=0.0)[:, None], horizon, axis=1)


BASELINES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "last_value": last_value,
    "moving_average_4": moving_average,
    "seasonal_naive": seasonal_naive,
    "croston": croston,
    "tsb": tsb,
}
"""The baselines logged beside the model, by name."""
