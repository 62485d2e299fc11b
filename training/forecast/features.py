"""The global model's input: the demand features of :mod:`features.demand` at an origin, plus what the model adds.

No demand feature is computed here; :func:`features.demand.series_state` computes them all (one spec, one
computation, also behind the feature pipeline's demand tables). The model divides the features measured in
units by the series' scale, which lets one global model serve series of any size (``log_scale`` keeps the
level), and adds per row the horizon, the target period's calendar and the series' static attributes encoded
with the model's own category vocabulary (model state, see :func:`training.forecast.model.static_features`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.demand import DemandFeatureSpec, calendar_columns, series_state

STATIC = ("category_code", "log_price", "is_total")
"""Per-series columns of the design matrix (see :func:`training.forecast.model.static_features`)."""


def feature_names(spec: DemandFeatureSpec, freq: str = "W") -> list[str]:
    """The model's input columns, in order: series state, horizon, target calendar, static attributes."""
    names = [*spec.series_names(), "horizon"]
    if spec.calendar:
        names += ["target_week_of_year", "target_month"] + (["target_day_of_week"] if freq == "D" else [])
    return [*names, *STATIC]


def scaled_state(values: np.ndarray, spec: DemandFeatureSpec,
                 origins: np.ndarray | list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`features.demand.series_state` with the features in units divided by the scale (what the model sees)."""
    state, scale = series_state(values, spec, origins)
    names = spec.series_names()
    units = [names.index(n) for n in spec.unit_names()]
    state[:, :, units] = state[:, :, units] / scale[:, :, None]
    return state, scale


def calendar_features(target_periods: pd.DatetimeIndex | np.ndarray, freq: str) -> np.ndarray:
    """``(len, k)`` calendar of the target periods: ISO week, month (and weekday for days)."""
    calendar = calendar_columns(target_periods)
    cols = ["week_of_year", "month"] + (["day_of_week"] if freq == "D" else [])
    return np.stack([calendar[c].astype("float64") for c in cols], axis=1)


def design_matrix(
    state: np.ndarray,
    horizons: np.ndarray,
    target_periods: np.ndarray,
    static: np.ndarray,
    spec: DemandFeatureSpec,
    freq: str,
) -> np.ndarray:
    """Rows of model input: series state at the origin, the horizon, the target calendar and static features.

    ``state`` is ``(rows, n_series_features)`` from :func:`scaled_state`, ``static`` ``(rows, 3)`` (category
    code, log price, is-total).
    """
    parts = [state, horizons.reshape(-1, 1).astype("float64")]
    if spec.calendar:
        parts.append(calendar_features(target_periods, freq))
    parts.append(static)
    return np.concatenate(parts, axis=1).astype("float32")
