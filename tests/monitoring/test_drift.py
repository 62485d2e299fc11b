"""Drift measures: PSI against a slow oracle, its size-invariance, the KS and chi-square verdicts, the rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.drift import (
    DriftSettings,
    categorical_stability_index,
    drift_table,
    population_stability_index,
)
from shopml.errors import DataValidationError


def slow_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI written out: decile edges of the reference, shares per bin counted one by one, floor 1e-4."""
    edges = sorted(set(np.quantile(reference, [i / bins for i in range(1, bins)])))
    def shares(values):
        counts = [0] * (len(edges) + 1)
        for v in values:
            counts[sum(v >= e for e in edges)] += 1
        return [max(c / len(values), 1e-4) for c in counts]
    e, a = shares(reference), shares(current)
    return sum((ai - ei) * np.log(ai / ei) for ei, ai in zip(e, a, strict=True))


def test_psi_equals_the_slow_oracle():
    rng = np.random.default_rng(1)
    reference, current = rng.gamma(2.0, 3.0, 2000), rng.gamma(2.4, 3.0, 1500)
    assert population_stability_index(reference, current) == pytest.approx(slow_psi(reference, current), rel=1e-12)


def test_psi_is_about_zero_for_one_distribution_and_does_not_grow_with_the_sample():
    rng = np.random.default_rng(2)
    small = population_stability_index(rng.normal(size=5_000), rng.normal(size=5_000))
    large = population_stability_index(rng.normal(size=200_000), rng.normal(size=200_000))
    assert small < 0.01 and large < 0.001


def test_a_shift_of_one_standard_deviation_is_a_major_shift():
    rng = np.random.default_rng(3)
    assert population_stability_index(rng.normal(size=5_000), rng.normal(1.0, 1.0, 5_000)) > 0.25


def test_categorical_psi_sees_a_new_mix():
    reference = pd.Series(["a"] * 800 + ["b"] * 200)
    assert categorical_stability_index(reference, reference.sample(frac=1.0, random_state=0)) == pytest.approx(0.0)
    assert categorical_stability_index(reference, pd.Series(["a"] * 300 + ["b"] * 700)) > 0.25


def test_the_rule_flags_a_shift_and_not_a_tiny_difference_in_a_huge_sample():
    rng = np.random.default_rng(4)
    n = 300_000
    reference = pd.DataFrame({"same": rng.normal(size=n), "tiny": rng.normal(size=n), "moved": rng.normal(size=n),
                              "country": rng.choice(["UK", "DE"], n, p=[0.7, 0.3])})
    current = pd.DataFrame({"same": rng.normal(size=n), "tiny": rng.normal(0.03, 1.0, n),
                            "moved": rng.normal(0.8, 1.0, n), "country": rng.choice(["UK", "DE"], n, p=[0.3, 0.7])})
    result = drift_table(reference, current)
    status = {c.column: c for c in result.columns}
    assert status["tiny"].p_value < 0.01 and status["tiny"].status == "stable"  # significant, but too small to matter
    assert status["same"].status == "stable"
    assert status["moved"].status == "drift" and status["country"].status == "drift"
    assert result.drifted == ["moved", "country"]
    assert status["country"].test == "chi2" and status["moved"].test == "ks"


def test_too_few_rows_are_reported_not_judged():
    result = drift_table(pd.DataFrame({"x": range(10)}), pd.DataFrame({"x": range(100, 110)}))
    (column,) = result.columns
    assert column.status == "not judged" and not result.drifted and "fewer than 50" in column.note


def test_bad_settings_and_missing_columns_are_refused_with_the_fix():
    with pytest.raises(DataValidationError, match="psi_warn <= psi_alert"):
        DriftSettings(psi_warn=0.3, psi_alert=0.2)
    with pytest.raises(DataValidationError, match=r"\['y'\] are not in both"):
        drift_table(pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [1]}), ["x", "y"])


def test_columns_not_counted_are_reported_but_never_make_drifted():
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"tenure": rng.normal(size=2000), "spend": rng.normal(size=2000)})
    current = pd.DataFrame({"tenure": rng.normal(2.0, 1.0, 2000), "spend": rng.normal(size=2000)})
    result = drift_table(reference, current, counted=["spend"])
    assert result.columns[0].status == "drift" and result.drifted == []
    assert result.to_dict()["not_counted"] == ["tenure"]
