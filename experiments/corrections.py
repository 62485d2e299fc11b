"""Multiple-comparison corrections across metrics and arms, with matching adjusted intervals.

* Holm (1979), "A simple sequentially rejective multiple test procedure": controls the family-wise error
  rate. Adjusted p-values ``p~(i) = max_{j <= i} min(1, (m - j + 1) p(j))`` over sorted p-values. Adjusted
  intervals are Bonferroni intervals at level ``1 - alpha / m`` (simultaneous coverage; Holm has no exact
  interval counterpart, so these may be slightly wider than Holm's rejections imply).
* Benjamini & Hochberg (1995), "Controlling the false discovery rate": adjusted p-values
  ``p~(i) = min_{j >= i} min(1, m p(j) / j)``. Adjusted intervals are the false-coverage-rate intervals of
  Benjamini & Yekutieli (2005) at level ``1 - R alpha / m``, with ``R`` the number of BH rejections
  (``R = 1`` when nothing is rejected, the most conservative choice).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Correction = Literal["holm", "bh", "none"]


def holm(p_values) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, float)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.minimum((m - np.arange(m)) * p[order], 1.0)
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values, in the input order."""
    p = np.asarray(p_values, float)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = m * p[order] / np.arange(1, m + 1)
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted


def adjust(p_values, method: Correction) -> np.ndarray:
    """Adjusted p-values by ``method`` (``none`` returns them unchanged)."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    return np.asarray(p_values, float)


def interval_alpha(adjusted_p, alpha: float, method: Correction) -> float:
    """The per-comparison alpha of the adjusted intervals (see the module docstring)."""
    m = len(adjusted_p)
    if method == "none" or m <= 1:
        return alpha
    if method == "holm":
        return alpha / m
    rejected = int(np.sum(np.asarray(adjusted_p) <= alpha))
    return alpha * max(rejected, 1) / m
