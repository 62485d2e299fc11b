"""Tiny spec builders shared by the experiments tests."""

from __future__ import annotations

import numpy as np


def stats_from_values(values, covariate=None, denominator=None) -> dict:
    """Sufficient statistics of one arm, computed the obvious way (the oracle for aggregation)."""
    y = np.asarray(values, float)
    out = {"n": int(y.size), "sum": float(y.sum()), "sum_sq": float((y * y).sum())}
    if covariate is not None:
        x = np.asarray(covariate, float)
        out |= {"cov_sum": float(x.sum()), "cov_sum_sq": float((x * x).sum()), "cov_cross_sum": float((x * y).sum())}
    if denominator is not None:
        d = np.asarray(denominator, float)
        out |= {"den_sum": float(d.sum()), "den_sum_sq": float((d * d).sum()), "cross_sum": float((y * d).sum())}
        if covariate is not None:
            out["den_cov_cross_sum"] = float((d * np.asarray(covariate, float)).sum())
    return out


def two_arm_spec(metric: dict, control: dict, treatment: dict, **extra) -> dict:
    """A control/treatment spec with one metric and the given per-arm statistics."""
    return {
        "name": "test",
        "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "treatment", "weight": 0.5}],
        "metrics": [metric],
        "data": {"control": {metric["name"]: control}, "treatment": {metric["name"]: treatment}},
        **extra,
    }
