"""Assignment is deterministic, splits by weight without SRM, and is independent across salts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from experiments import AssignmentSpec, assign, assign_many
from experiments.srm import srm_test

SPEC = {"experiment": "checkout", "variants": [{"name": "control", "weight": 0.5}, {"name": "treatment", "weight": 0.5}]}


def test_golden_assignments_never_change():
    """These values pin the hash contract: if this fails, running experiments would reassign their units."""
    got = [assign(SPEC, uid).variant for uid in (1, 2, 3, "user-42")]
    assert got == ["control", "control", "treatment", "control"]
    assert assign(SPEC, "user-42").bucket == 0.03627102494435148
    assert assign(SPEC, 42).bucket == assign(SPEC, "42").bucket


def test_stable_across_processes():
    code = f"from experiments import assign; print(assign({SPEC!r}, 'abc').bucket)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert float(out) == assign(SPEC, "abc").bucket


@pytest.mark.slow
def test_million_units_split_without_srm_and_salts_are_independent():
    ids = range(1_000_000)
    spec = {**SPEC, "variants": [{"name": "a", "weight": 0.2}, {"name": "b", "weight": 0.3}, {"name": "c", "weight": 0.5}]}
    first = assign_many(spec, ids)
    names, counts = np.unique(first.astype(str), return_counts=True)
    srm = srm_test(dict(zip(names, counts, strict=True)), {"a": 0.2, "b": 0.3, "c": 0.5})
    assert not srm.flagged and srm.p_value > 0.01
    second = assign_many({**spec, "salt": "v2"}, ids)
    table = np.array([[np.sum((first == x) & (second == y)) for y in "abc"] for x in "abc"])
    assert stats.chi2_contingency(table).pvalue > 0.01  # no association between the two salts
    assert 0.37 < np.mean(first == second) < 0.39  # independent: 0.2^2 + 0.3^2 + 0.5^2 = 0.38


def test_assign_many_equals_assign():
    ids = [f"u{i}" for i in range(300)]
    assert list(assign_many(SPEC, ids)) == [assign(SPEC, i).variant for i in ids]


def test_holdout_is_shared_across_experiments_and_excluded():
    holdout = {"name": "global", "fraction": 0.1}
    a = assign_many({**SPEC, "holdout": holdout}, range(20_000))
    b = assign_many({**SPEC, "experiment": "search", "holdout": holdout}, range(20_000))
    assert np.array_equal(a == None, b == None)  # noqa: E711 - element-wise
    assert 0.09 < np.mean(a == None) < 0.11  # noqa: E711
    assert assign({**SPEC, "holdout": holdout}, next(i for i in range(100) if a[i] is None)).reason == "holdout"


def test_raising_traffic_only_adds_units():
    low = assign_many({**SPEC, "traffic": 0.2}, range(5000))
    high = assign_many({**SPEC, "traffic": 0.6}, range(5000))
    kept = low != None  # noqa: E711
    assert 0.17 < kept.mean() < 0.23
    assert np.array_equal(low[kept], high[kept])


def test_bad_specs_are_rejected():
    with pytest.raises(ValueError, match="sum to"):
        AssignmentSpec(experiment="x", variants=[{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.4}])
    with pytest.raises(ValueError, match=r"\|"):
        AssignmentSpec(experiment="x|y", variants=[{"name": "a", "weight": 1}])
