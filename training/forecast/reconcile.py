"""Coherent totals: region forecasts are scaled so that they add up to the SKU total (top-down).

The SKU total (region ``"ALL"``) is forecast directly by the global model, which sees the pooled series and is
the more accurate of the two levels. Each region's forecast is then multiplied, per SKU and horizon, by
``total p50 / sum of region p50``, so region medians add up exactly to the total median; the region's other
quantiles are multiplied by the same factor, which keeps p10 <= p50 <= p90 and the interval's relative width.
When every region forecasts 0 but the total does not, the total's quantiles are split by the regions'
recent volume (``weights``). Quantiles other than the median are not additive, so only medians are coherent by design.
"""

from __future__ import annotations

import numpy as np


def top_down(pred: np.ndarray, parent: np.ndarray, median_index: int, weights: np.ndarray) -> np.ndarray:
    """Reconcile ``pred`` (``(n_series, horizon, n_quantiles)``) in place of a copy.

    Parameters
    ----------
    parent
        For each series, the row of its SKU total, or -1 for totals (and SKUs without regions).
    weights
        Recent volume of each series, used to split a total when all its regions forecast 0.
    """
    out = pred.copy()
    parts = np.flatnonzero(parent >= 0)
    if not len(parts):
        return out
    n, horizon, _ = pred.shape
    med = pred[:, :, median_index]
    sums = np.zeros((n, horizon))
    np.add.at(sums, parent[parts], med[parts])
    wsum = np.zeros(n)
    np.add.at(wsum, parent[parts], weights[parts])
    total = med[parent[parts]]
    denom = sums[parent[parts]]
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(denom > 0, total / denom, 0.0)
        share = np.where(wsum[parent[parts]] > 0, weights[parts] / wsum[parent[parts]], 0.0)
    scaled = out[parts] * factor[:, :, None]
    empty = denom <= 0
    if empty.any():
        split = share[:, None, None] * pred[parent[parts]]
        scaled = np.where(empty[:, :, None], split, scaled)
    out[parts] = scaled
    return out
