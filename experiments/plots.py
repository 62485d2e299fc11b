"""Pictures of an experiment: a forest plot of lifts, and a sequential test's effect over time.

Matplotlib is imported inside the functions; each returns the figure and, given a path, saves it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from experiments.analysis import ExperimentResult
from experiments.errors import ExperimentError


def forest_plot(result: ExperimentResult, path: str | Path | None = None, relative: bool = True, adjusted: bool = False):
    """Lift and interval of every (metric, arm), one row each; green wins, red losses, grey the rest.

    Relative lifts are plotted where defined (absolute otherwise, marked ``abs``); unbounded intervals are
    drawn to the plot's edge with an arrow.
    """
    import matplotlib.pyplot as plt

    rows = []
    for c in result.comparisons:
        use_rel = relative and c.relative_lift is not None
        if use_rel:
            lo, hi = (c.adjusted_relative_lower, c.adjusted_relative_upper) if adjusted and c.role == "goal" else (c.relative_lower, c.relative_upper)
            est, unit = 100 * c.relative_lift, "%"
            lo, hi = (None if v is None else 100 * v for v in (lo, hi))
        else:
            lo, hi = (c.adjusted_absolute_lower, c.adjusted_absolute_upper) if adjusted and c.role == "goal" else (c.absolute_lower, c.absolute_upper)
            est, unit = c.absolute_lift, "abs"
        verdict = c.outcome if c.role == "goal" else c.guardrail
        colour = {"win": "tab:green", "held": "tab:green", "loss": "tab:red", "failed": "tab:red"}.get(verdict, "tab:grey")
        rows.append((f"{c.metric} [{c.arm}] ({unit})", est, lo, hi, colour))
    finite = [v for r in rows for v in r[1:4] if v is not None and math.isfinite(v)]
    span = max((abs(v) for v in finite), default=1.0) * 1.2 or 1.0
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    for y, (_, est, lo, hi, colour) in enumerate(reversed(rows)):
        lo = -span if lo is None or not math.isfinite(lo) else lo
        hi = span if hi is None or not math.isfinite(hi) else hi
        ax.plot([lo, hi], [y, y], color=colour, lw=2)
        ax.plot([est], [y], "o", color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)])
    ax.set_xlim(-span, span)
    ax.set_xlabel("lift (% relative where shown, else absolute)")
    ax.set_title(f"{result.name}: {result.decision.recommendation}" + ("" if result.trustworthy else " (SRM!)"))
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def sequential_plot(history: list[tuple[Any, ExperimentResult]], metric: str, arm: str, path: str | Path | None = None):
    """The absolute lift of ``metric`` in ``arm`` and its always-valid interval at each look.

    The band is the running intersection of the confidence sequence, which is itself a valid sequence.
    """
    import matplotlib.pyplot as plt

    if not history:
        raise ExperimentError("sequential_plot needs at least one look")
    looks = [r.comparison(metric, arm) for _, r in history]
    if not all(c.sequential for c in looks):
        raise ExperimentError("sequential_plot needs results evaluated with settings.sequential = true")
    x = np.arange(len(looks))
    est = np.array([c.absolute_lift for c in looks])
    lower = np.maximum.accumulate(np.array([c.absolute_lower for c in looks]))
    upper = np.minimum.accumulate(np.array([c.absolute_upper for c in looks]))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.fill_between(x, lower, upper, alpha=0.3, label="always-valid interval (running intersection)")
    ax.plot(x, est, "o-", label="lift")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, [str(p) for p, _ in history], rotation=45, ha="right")
    ax.set_ylabel(f"{metric}: {arm} - control")
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
