"""Scores of predictions against what happened, shared by training (evaluation) and monitoring (outcomes).

One owner for each definition, so a model's ECE at training time and its ECE months later in production are
the same number computed the same way (``../shared/PROTOCOLS.md``: ECE over 10 equal-width bins).
"""

from __future__ import annotations

import numpy as np


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Sum over equal-width probability bins of (bin share) x |mean predicted - observed rate|."""
    curve = reliability_curve(y, p, bins)
    n = sum(row["count"] for row in curve)
    return float(sum(row["count"] / n * abs(row["predicted"] - row["observed"]) for row in curve)) if n else 0.0


def reliability_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty equal-width bin of ``p``: its range, count, mean prediction and observed positive rate."""
    y, p = np.asarray(y, dtype="float64"), np.asarray(p, dtype="float64")
    index = np.minimum((p * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        inside = index == b
        if inside.any():
            rows.append({"low": b / bins, "high": (b + 1) / bins, "count": int(inside.sum()),
                         "predicted": float(p[inside].mean()), "observed": float(y[inside].mean())})
    return rows


def _gini(actual: np.ndarray, ranking: np.ndarray) -> float:
    order = np.lexsort((np.arange(len(actual)), -ranking))  # highest first, ties by position
    sorted_actual = actual[order]
    cumulative = np.cumsum(sorted_actual) / sorted_actual.sum()
    n = len(actual)
    return float(cumulative.sum() / n - (n + 1) / (2 * n))


def normalized_gini(actual, predicted) -> float:
    """Gini of the ranking by ``predicted`` divided by the Gini of the perfect ranking (1 = perfect)."""
    actual, predicted = np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64")
    perfect = _gini(actual, actual)
    return _gini(actual, predicted) / perfect if perfect != 0 else float("nan")
