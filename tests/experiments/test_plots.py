"""Plots are written and show one row per comparison."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import ExperimentError, evaluate, evaluate_over_time, forest_plot, sequential_plot

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "experiment_checkout.json"


def test_forest_plot_has_a_row_per_comparison(tmp_path):
    result = evaluate(json.loads(EXAMPLE.read_text()))
    fig = forest_plot(result, tmp_path / "forest.png")
    assert (tmp_path / "forest.png").stat().st_size > 1000
    assert len(fig.axes[0].get_yticks()) == len(result.comparisons)


def test_sequential_plot_over_days(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    rows = pd.DataFrame({"unit_id": range(n), "variant": rng.choice(["control", "b"], n),
                         "conv": rng.binomial(1, 0.2, n), "day": rng.integers(1, 6, n)})
    spec = {"name": "s", "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "b", "weight": 0.5}],
            "metrics": [{"name": "conv", "type": "proportion"}], "settings": {"sequential": True}}
    history = evaluate_over_time(spec, rows, "day")
    sequential_plot(history, "conv", "b", tmp_path / "seq.png")
    assert (tmp_path / "seq.png").stat().st_size > 1000
    fixed = evaluate_over_time({**spec, "settings": {"sequential": False}}, rows, "day")
    with pytest.raises(ExperimentError, match="sequential"):
        sequential_plot(fixed, "conv", "b")
