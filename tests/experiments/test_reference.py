"""Agreement with the reference engine's published numbers (GrowthBook's gbstats 0.8.0) where conventions match.

The inputs are the two arms of gbstats' own t-test fixture (``SampleMeanStatistic``) and a ratio metric built
on them; the expected figures were produced by gbstats 0.8.0 and are hard-coded, so the test needs no extra
dependency. Where the engines differ on purpose, the test pins the difference:

* gbstats' p-value for a relative lift tests the delta-method z of the *relative* lift (0.0619 here); shopml
  reports one p-value per comparison, that of the absolute difference (the same null hypothesis, the exact
  Welch test), which is gbstats' absolute p-value.
* gbstats defaults to the delta-method relative interval; shopml defaults to Fieller's and offers ``delta``.
* gbstats returns ``expected = 0, ci = [0, 0], p = 1`` (and ``chance_to_win = 0.5``) on a zero control mean or
  zero variance; shopml warns and reports NaN or no relative lift (tested in ``test_analysis.py``).
"""

from __future__ import annotations

import pytest

from experiments import evaluate
from experiments.srm import srm_test

CONTROL = {"n": 3407, "sum": 1396.87, "sum_sq": 52377.9767}
TREATMENT = {"n": 3461, "sum": 2422.7, "sum_sq": 134698.29}
RATIO_CONTROL = CONTROL | {"den_sum": 5011.0, "den_sum_sq": 9121.0, "cross_sum": 3210.5}
RATIO_TREATMENT = TREATMENT | {"den_sum": 5124.0, "den_sum_sq": 9409.0, "cross_sum": 5342.25}

GBSTATS = {  # gbstats 0.8.0: TwoSidedTTest, SequentialTwoSidedTTest (tuning 5000), EffectBayesianABTest
    "absolute": {"expected": 0.29, "ci": (0.04537789255929012, 0.5346221074407098), "p": 0.020158402643587037},
    "relative": {"expected": 0.7073170731707317, "ci": (-0.03526008906611777, 1.449894235407581)},
    "seq_absolute": {"ci": (-0.08941009553834556, 0.6694100955383455), "p": 0.290744559185973},
    "seq_relative": {"ci": (-0.4444237691289097, 1.859057915470373)},
    "bayes_flat": {
        "ci": (-0.03510623324566797, 1.449740379587131), "chance_to_win": 0.9690691085323815,
        "risk": (0.7118738401388185, 0.004556766968086795),  # (choosing control, choosing treatment)
    },
    "bayes_proper_0.09": {
        "mean": 0.2726448836685803, "ci": (-0.18829384805880633, 0.7335836153959668),
        "chance_to_win": 0.8768365224575045, "risk": (0.2869782584231163, 0.014333374754536003),
    },
    "ratio_absolute": {"expected": 0.19405348124835747, "ci": (0.02930153624094803, 0.35880542625576695),
                       "p": 0.020976790311253657},
    "ratio_relative": {"expected": 0.6961291992350895, "ci": (-0.03802018606477209, 1.430278584534951)},
    "srm_p": 1.6258640142438607e-06,  # check_srm([5010, 4750, 5240], [0.34, 0.33, 0.33])
}
TOL = {"rel": 1e-9, "abs": 1e-12}


def _comparison(metric_type="mean", control=CONTROL, treatment=TREATMENT, **settings):
    spec = {
        "name": "gbstats-fixture",
        "variants": [{"name": "a", "weight": 0.5, "control": True}, {"name": "b", "weight": 0.5}],
        "metrics": [{"name": "m", "type": metric_type}],
        "settings": {"relative_interval": "delta", "correction": "none", **settings},
        "units": {"a": 3434, "b": 3434},
        "data": {"a": {"m": control}, "b": {"m": treatment}},
    }
    return evaluate(spec).comparison("m", "b")


def test_fixed_horizon_welch_and_delta_method_match_gbstats():
    c = _comparison()
    ref_abs, ref_rel = GBSTATS["absolute"], GBSTATS["relative"]
    assert c.absolute_lift == pytest.approx(ref_abs["expected"], **TOL)
    assert (c.absolute_lower, c.absolute_upper) == pytest.approx(ref_abs["ci"], **TOL)
    assert c.p_value == pytest.approx(ref_abs["p"], **TOL)
    assert c.relative_lift == pytest.approx(ref_rel["expected"], **TOL)
    assert (c.relative_lower, c.relative_upper) == pytest.approx(ref_rel["ci"], **TOL)


def test_fieller_default_differs_from_gbstats_delta_where_the_control_is_noisy():
    fieller = _comparison(relative_interval="fieller")
    lower, upper = GBSTATS["relative"]["ci"]
    assert fieller.relative_upper > upper  # skewed ratio: Fieller reaches further up
    assert fieller.p_value == pytest.approx(GBSTATS["absolute"]["p"], **TOL)


def test_sequential_confidence_sequence_matches_gbstats():
    c = _comparison(sequential=True, sequential_tuning=5000)
    assert (c.absolute_lower, c.absolute_upper) == pytest.approx(GBSTATS["seq_absolute"]["ci"], **TOL)
    assert c.p_value == pytest.approx(GBSTATS["seq_absolute"]["p"], **TOL)
    assert (c.relative_lower, c.relative_upper) == pytest.approx(GBSTATS["seq_relative"]["ci"], **TOL)


@pytest.mark.parametrize(("prior", "key"), [({"sd": None}, "bayes_flat"), ({"sd": 0.3}, "bayes_proper_0.09")])
def test_bayesian_posterior_chance_to_win_and_risks_match_gbstats(prior, key):
    bayes = _comparison(prior=prior).bayesian
    ref = GBSTATS[key]
    assert bayes.posterior_mean == pytest.approx(ref.get("mean", GBSTATS["relative"]["expected"]), **TOL)
    assert (bayes.credible_lower, bayes.credible_upper) == pytest.approx(ref["ci"], **TOL)
    assert bayes.chance_to_win == pytest.approx(ref["chance_to_win"], **TOL)
    assert (bayes.risk_not_ship, bayes.risk_ship) == pytest.approx(ref["risk"], rel=1e-7)  # gbstats: truncnorm


def test_ratio_metric_delta_method_matches_gbstats():
    c = _comparison("ratio", RATIO_CONTROL, RATIO_TREATMENT)
    ref_abs, ref_rel = GBSTATS["ratio_absolute"], GBSTATS["ratio_relative"]
    assert c.absolute_lift == pytest.approx(ref_abs["expected"], **TOL)
    assert (c.absolute_lower, c.absolute_upper) == pytest.approx(ref_abs["ci"], **TOL)
    assert c.p_value == pytest.approx(ref_abs["p"], **TOL)
    assert (c.relative_lower, c.relative_upper) == pytest.approx(ref_rel["ci"], **TOL)


def test_srm_matches_gbstats():
    result = srm_test({"a": 5010, "b": 4750, "c": 5240}, {"a": 0.34, "b": 0.33, "c": 0.33})
    assert result.p_value == pytest.approx(GBSTATS["srm_p"], **TOL)
    assert result.flagged
