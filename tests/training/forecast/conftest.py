"""Tiny planted panels for the forecast tests (numpy only; seconds to fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.demand import DemandPanel
from training.forecast.model import GlobalForecastModel, ModelParams

FAST = ModelParams(n_estimators=40, learning_rate=0.15, num_leaves=15, min_child_samples=20, max_origins=20,
                   calibration_origins=1, max_rows=30_000)
"""Small, quick model settings: enough to learn planted structure, not to win benchmarks."""


def seasonal_panel(n_series: int = 40, n_weeks: int = 130, seed: int = 0, amplitude: float = 0.6) -> tuple[DemandPanel, np.ndarray]:
    """Weekly Poisson demand with a planted yearly cycle ``1 + amplitude * cos(2 pi (week - 47) / 52)``.

    Returns the panel (SKUs ``P000``.., region ``ALL``) and the multiplier per week, extended 8 weeks ahead.
    """
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2021-01-04", periods=n_weeks + 8, freq="7D")
    week = periods.isocalendar().week.to_numpy()
    season = 1 + amplitude * np.cos(2 * np.pi * (week - 47) / 52)
    level = rng.gamma(2.0, 10.0, n_series)
    values = rng.poisson(level[:, None] * season[None, :]).astype("float64")
    keys = pd.DataFrame({"sku": [f"P{i:03d}" for i in range(n_series)], "region": "ALL"})
    return DemandPanel(keys, pd.DatetimeIndex(periods[:n_weeks]).astype("datetime64[us]"), values[:, :n_weeks], "W"), season


def products_for(panel: DemandPanel, extra: dict[str, str] | None = None) -> pd.DataFrame:
    skus = list(panel.keys["sku"].unique())
    cats = [f"C{i % 3}" for i in range(len(skus))]
    extra = extra or {}
    return pd.DataFrame({"sku": skus + list(extra), "description": "x", "category": cats + list(extra.values()),
                         "price": 2.0})


@pytest.fixture(scope="session")
def planted():
    return seasonal_panel()


@pytest.fixture(scope="session")
def fitted(planted):
    panel, _ = planted
    products = products_for(panel)
    return GlobalForecastModel(FAST).fit(panel, products), panel, products
