"""Holm and Benjamini-Hochberg agree with statsmodels; adjusted-interval levels follow their definitions."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from experiments.corrections import benjamini_hochberg, holm, interval_alpha

p_lists = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60)


def _statsmodels_holm(p):
    with mock.patch("gc.collect", return_value=0):  # statsmodels' Holm runs a full gc.collect() on every call
        return multipletests(p, method="holm")[1]


@settings(max_examples=300, deadline=None)
@given(p_lists)
def test_holm_matches_statsmodels(p):
    np.testing.assert_allclose(holm(p), _statsmodels_holm(p), rtol=1e-9, atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(p_lists)
def test_bh_matches_statsmodels(p):
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], rtol=1e-9, atol=1e-12)


@given(p_lists)
def test_adjusted_p_values_never_shrink(p):
    assert np.all(holm(p) >= np.asarray(p) - 1e-15)
    assert np.all(benjamini_hochberg(p) >= np.asarray(p) - 1e-15)
    assert np.all(holm(p) >= benjamini_hochberg(p) - 1e-15)


def test_interval_alpha():
    adjusted = benjamini_hochberg([0.001, 0.01, 0.5, 0.9])
    assert interval_alpha(adjusted, 0.05, "holm") == pytest.approx(0.05 / 4)
    assert interval_alpha(adjusted, 0.05, "bh") == pytest.approx(0.05 * 2 / 4)  # two BH rejections
    assert interval_alpha(adjusted, 0.05, "none") == 0.05
