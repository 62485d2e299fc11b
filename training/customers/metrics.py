"""Protocol metrics for churn (ranking and calibration) and customer value (ranking and error).

See ``../shared/PROTOCOLS.md``: ROC-AUC, PR-AUC, Brier, expected calibration error over 10 equal-width bins
and top-decile lift for churn; normalized Gini, Spearman, MAE and mean predicted vs. realised spend by decile
for value.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from shopml.metrics import expected_calibration_error, normalized_gini

__all__ = ["churn_metrics", "expected_calibration_error", "normalized_gini", "top_decile_lift", "value_by_decile",
           "value_metrics"]


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Positive rate among the 10% highest scores divided by the overall positive rate."""
    y, score = np.asarray(y, dtype="float64"), np.asarray(score, dtype="float64")
    k = max(1, int(np.ceil(0.1 * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    base = y.mean()
    return float(y[top].mean() / base) if base > 0 else float("nan")


def churn_metrics(y, p) -> dict[str, float]:
    """ROC-AUC, PR-AUC, Brier, ECE and top-decile lift of churn probabilities ``p`` for labels ``y``."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, p = np.asarray(y, dtype="int64"), np.asarray(p, dtype="float64")
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, np.clip(p, 0, 1))),
        "ece": expected_calibration_error(y, np.clip(p, 0, 1)),
        "top_decile_lift": top_decile_lift(y, p),
        "customers": int(len(y)),
        "churn_rate": float(y.mean()),
    }


def value_by_decile(actual, predicted) -> list[dict[str, float]]:
    """Mean predicted and realised spend per decile of the prediction (decile 1 = highest predictions)."""
    actual, predicted = np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64")
    order = np.argsort(-predicted, kind="stable")
    rows = []
    for i, chunk in enumerate(np.array_split(order, 10), start=1):
        rows.append({"decile": i, "predicted": float(predicted[chunk].mean()), "actual": float(actual[chunk].mean())})
    return rows


def value_metrics(actual, predicted) -> dict[str, object]:
    """Normalized Gini, Spearman, MAE and the decile table of spend predictions."""
    actual, predicted = np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64")
    return {
        "normalized_gini": normalized_gini(actual, predicted),
        "spearman": float(stats.spearmanr(actual, predicted).statistic),
        "mae": float(np.mean(np.abs(actual - predicted))),
        "mean_predicted": float(predicted.mean()),
        "mean_actual": float(actual.mean()),
        "by_decile": value_by_decile(actual, predicted),
    }
