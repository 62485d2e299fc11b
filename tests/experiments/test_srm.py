"""The sample-ratio check is scipy's chi-square goodness of fit, flagged below its threshold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from experiments.errors import ExperimentError
from experiments.srm import srm_test


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10**6), min_size=2, max_size=8), st.data())
def test_matches_scipy_chisquare(counts, data):
    raw = data.draw(st.lists(st.floats(0.05, 1), min_size=len(counts), max_size=len(counts)))
    weights = {f"v{i}": w / sum(raw) for i, w in enumerate(raw)}
    weights[f"v{len(raw) - 1}"] = 1 - sum(list(weights.values())[:-1])
    result = srm_test({f"v{i}": c for i, c in enumerate(counts)}, weights)
    ref = stats.chisquare(counts, [sum(counts) * w for w in weights.values()])
    assert result.chi2 == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


def test_flags_a_broken_split_and_not_a_fair_one():
    assert srm_test({"a": 50_600, "b": 49_400}, {"a": 0.5, "b": 0.5}).flagged is True  # chi2 = 14.4, p = 1.5e-4
    assert srm_test({"a": 50_500, "b": 49_500}, {"a": 0.5, "b": 0.5}).flagged is False  # p = 0.0016 > 0.001
    assert srm_test({"a": 50_100, "b": 49_900}, {"a": 0.5, "b": 0.5}).flagged is False


def test_weights_must_sum_to_one_and_variants_must_be_known():
    with pytest.raises(ExperimentError, match="sum to"):
        srm_test({"a": 10, "b": 10}, {"a": 0.5, "b": 0.6})
    with pytest.raises(ExperimentError, match="unknown variant"):
        srm_test({"a": 10, "c": 10}, {"a": 0.5, "b": 0.5})


def test_an_arm_of_weight_zero_is_left_out_as_gbstats_does():
    # issue 21: this raised; GrowthBook skips arms of weight 0 and tests the others against their weights
    result = srm_test({"a": 5010, "b": 4750, "off": 37}, {"a": 0.5, "b": 0.5, "off": 0.0})
    ref = stats.chisquare([5010, 4750], [4880, 4880])
    assert result.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert result.skipped == ["off"] and result.expected["off"] == 0.0 and result.observed["off"] == 37
    three = srm_test({"a": 5010, "b": 4750, "c": 5240, "off": 0}, {"a": 0.34, "b": 0.33, "c": 0.33, "off": 0.0})
    assert three.p_value == pytest.approx(1.6258640142438607e-06, rel=1e-9)  # gbstats' check_srm, as without "off"


def test_fewer_than_two_weighted_arms_skip_the_check():
    result = srm_test({"a": 10, "b": 3}, {"a": 1.0, "b": 0.0})
    assert result.p_value != result.p_value and not result.flagged  # NaN: nothing to test


def test_evaluate_answers_with_an_arm_of_weight_zero_and_says_so():
    from experiments import evaluate

    from .conftest import stats_from_values

    arm = stats_from_values([1.0, 2.0, 3.0, 4.0] * 50)
    spec = {
        "name": "switched-off",
        "variants": [{"name": "control", "weight": 0.5, "control": True}, {"name": "a", "weight": 0.5},
                     {"name": "off", "weight": 0}],
        "metrics": [{"name": "revenue", "type": "mean"}],
        "data": {"control": {"revenue": arm}, "a": {"revenue": arm}, "off": {"revenue": arm}},
    }
    result = evaluate(spec)
    assert result.srm.skipped == ["off"] and not result.srm.flagged
    assert any("variant 'off' has weight 0" in w and "200 units" in w for w in result.warnings)
    assert {c.arm for c in result.comparisons} == {"a", "off"}
