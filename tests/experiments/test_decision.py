"""The decision follows its rules: invalid on SRM, keep running before the plan, guardrails can veto."""

from __future__ import annotations

import numpy as np

from experiments import evaluate

from .conftest import stats_from_values

GOAL = {"name": "conv", "type": "proportion"}
GUARD = {"name": "latency", "type": "mean", "direction": "lower", "role": "guardrail", "margin": 0.01}


def spec(latency_shift: float, **extra) -> dict:
    rng = np.random.default_rng(0)
    latency = {arm: stats_from_values(rng.normal(200 + shift, 20, 20_000)) for arm, shift in (("control", 0), ("b", latency_shift))}
    return {
        "name": "d",
        "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "b", "weight": 0.5}],
        "metrics": [GOAL, GUARD],
        "data": {
            "control": {"conv": {"n": 20_000, "sum": 1000}, "latency": latency["control"]},
            "b": {"conv": {"n": 20_000, "sum": 1200}, "latency": latency["b"]},
        },
        **extra,
    }


def test_ship_when_the_goal_wins_and_the_guardrail_holds():
    d = evaluate(spec(0.0)).decision
    assert (d.recommendation, d.arm) == ("ship", "b")
    assert d.verdicts[0].goals_won == ["conv"] and d.verdicts[0].guardrails_held == ["latency"]


def test_failed_guardrail_vetoes_a_winning_goal():
    d = evaluate(spec(10.0)).decision  # latency 5% worse, margin 1%
    assert d.recommendation == "do not ship"
    assert d.verdicts[0].guardrails_failed == ["latency"]
    assert "guardrail(s) failed: latency" in str(d)


def test_fixed_horizon_before_the_planned_sample_keeps_running_even_if_significant():
    d = evaluate(spec(0.0, planned_units=100_000)).decision
    assert d.recommendation == "keep running" and "inflates false positives" in d.reasons[0]


def test_sequential_may_stop_early():
    d = evaluate(spec(0.0, planned_units=100_000, settings={"sequential": True})).decision
    assert d.recommendation == "ship"


def test_srm_is_invalid_whatever_the_lift():
    d = evaluate(spec(0.0, units={"control": 20_000, "b": 19_000})).decision
    assert d.recommendation == "invalid" and d.arm is None
