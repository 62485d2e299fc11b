"""Figures logged with every run: calibration curve, cumulative gain, feature importance, value by decile."""

from __future__ import annotations

import numpy as np


def _figure(title: str):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.0))
    ax.set_title(title)
    return fig, ax


def calibration_curve(y, p, bins: int = 10):
    """Observed churn rate against mean predicted probability per equal-width bin."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    fig, ax = _figure("Calibration (evaluation cutoff)")
    index = np.minimum((p * bins).astype(int), bins - 1)
    xs, ys, ns = [], [], []
    for b in range(bins):
        inside = index == b
        if inside.any():
            xs.append(p[inside].mean()), ys.append(y[inside].mean()), ns.append(inside.sum())
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfect")
    ax.plot(xs, ys, marker="o", label="model")
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.legend()
    return fig


def gain_chart(y, score):
    """Cumulative share of churners reached when contacting customers by descending score."""
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="stable")
    gain = np.concatenate([[0], np.cumsum(y[order]) / max(y.sum(), 1)])
    share = np.linspace(0, 1, len(gain))
    fig, ax = _figure("Cumulative gain")
    ax.plot(share, gain, label="model")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="random")
    ax.set_xlabel("share of customers contacted")
    ax.set_ylabel("share of churners reached")
    ax.legend()
    return fig


def feature_importance(importance: dict[str, float], top: int = 20):
    items = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
    fig, ax = _figure("Feature importance (gain)")
    ax.barh([k for k, _ in items], [v for _, v in items])
    fig.set_size_inches(6.0, 0.25 * len(items) + 1.5)
    fig.tight_layout()
    return fig


def value_deciles(by_decile: list[dict[str, float]]):
    """Mean predicted and realised spend per decile of the prediction."""
    fig, ax = _figure("Predicted vs. actual value by decile")
    deciles = [row["decile"] for row in by_decile]
    width = 0.4
    ax.bar(np.array(deciles) - width / 2, [r["predicted"] for r in by_decile], width, label="predicted")
    ax.bar(np.array(deciles) + width / 2, [r["actual"] for r in by_decile], width, label="actual")
    ax.set_xlabel("decile of predicted value (1 = highest)")
    ax.set_ylabel("mean spend in the horizon")
    ax.legend()
    return fig
