"""ABC classes: documented boundaries, determinism under row order, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from optimization.allocation import AllocationInputError, abc_classes


def test_boundaries_follow_cumulative_share_before_each_sku():
    values = pd.Series({"a": 50.0, "b": 25.0, "c": 10.0, "d": 6.0, "e": 5.0, "f": 4.0, "g": 0.0})
    table = abc_classes(values).set_index("sku")
    # shares before: a 0, b .5, c .75 (A); d .85, e .91 (B); f .96 (C); zero volume is always C
    assert table["abc_class"].to_dict() == {"a": "A", "b": "A", "c": "A", "d": "B", "e": "B", "f": "C", "g": "C"}
    assert table["cumulative_share"].max() == pytest.approx(1.0)


def test_row_order_does_not_matter_and_ties_break_by_sku():
    values = pd.Series({"x": 1.0, "y": 1.0, "z": 1.0, "w": 7.0})
    a = abc_classes(values)
    b = abc_classes(values.iloc[::-1])
    pd.testing.assert_frame_equal(a, b)
    assert list(a["sku"]) == ["w", "x", "y", "z"]


def test_bad_values_and_cutoffs():
    with pytest.raises(AllocationInputError, match="sku b"):
        abc_classes(pd.Series({"a": 1.0, "b": -2.0}))
    with pytest.raises(AllocationInputError, match="cutoffs"):
        abc_classes(pd.Series({"a": 1.0}), cutoffs=(0.9, 0.8))
    assert set(abc_classes(pd.Series({"a": 0.0, "b": 0.0}))["abc_class"]) == {"C"}
