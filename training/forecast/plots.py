"""Figures logged with every training run: forecasts with their band, error and coverage by horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd


def forecast_band(history: pd.DataFrame, forecast: pd.DataFrame, skus: list[str], actual: pd.DataFrame | None = None,
                  title: str = "Forecast with p10-p90 band"):
    """One panel per SKU: history, p50 and the p10-p90 band (and actuals after the origin when given).

    ``history`` and ``actual`` are long frames ``sku, period_start, quantity``; ``forecast`` is the tidy frame.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = max(1, len(skus))
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.4 * n), squeeze=False, sharex=True)
    for ax, sku in zip(axes[:, 0], skus, strict=False):
        h = history.loc[history["sku"] == sku]
        f = forecast.loc[forecast["sku"] == sku]
        ax.plot(h["period_start"], h["quantity"], color="0.3", lw=1, label="history")
        if actual is not None:
            a = actual.loc[actual["sku"] == sku]
            ax.plot(a["period_start"], a["quantity"], color="black", lw=1, ls="--", marker=".", label="actual")
        ax.fill_between(f["period_start"], f["p10"], f["p90"], color="tab:blue", alpha=0.25, label="p10-p90")
        ax.plot(f["period_start"], f["p50"], color="tab:blue", lw=1.5, label="p50")
        ax.set_title(f"SKU {sku}", fontsize=9, loc="left")
        ax.set_ylabel("units")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def by_horizon(metrics_by_horizon: dict[int, dict[str, float]], key: str, *, target: float | None = None,
               baselines: dict[str, dict[int, float]] | None = None, title: str = ""):
    """A line of ``key`` per horizon (optionally baselines and a target line)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    hs = sorted(metrics_by_horizon)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(hs, [metrics_by_horizon[h][key] for h in hs], marker="o", label="model")
    for name, values in (baselines or {}).items():
        ax.plot(hs, [values.get(h, np.nan) for h in hs], marker=".", lw=1, alpha=0.7, label=name)
    if target is not None:
        ax.axhline(target, color="0.5", ls=":", label=f"target {target:g}")
    ax.set_xlabel("horizon (periods)")
    ax.set_ylabel(key)
    ax.set_title(title or f"{key} by horizon", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
