"""Top-down reconciliation: region medians add up to the total, order kept, zero regions split by volume."""

from __future__ import annotations

import numpy as np

from training.forecast.reconcile import top_down


def test_parts_add_up_to_the_total_and_keep_quantile_order():
    rng = np.random.default_rng(0)
    pred = np.sort(rng.gamma(2.0, 3.0, (5, 4, 3)), axis=2)
    parent = np.array([-1, 0, 0, -1, 3])  # SKU 0: total 0 with regions 1, 2; SKU 3: total 3 with region 4
    out = top_down(pred, parent, 1, np.ones(5))
    np.testing.assert_allclose(out[1, :, 1] + out[2, :, 1], out[0, :, 1])
    np.testing.assert_allclose(out[4, :, 1], out[3, :, 1])
    np.testing.assert_array_equal(out[[0, 3]], pred[[0, 3]])
    assert (np.diff(out, axis=2) >= 0).all()


def test_regions_forecasting_zero_share_the_total_by_volume():
    pred = np.zeros((3, 2, 3))
    pred[0] = [[1.0, 4.0, 8.0], [1.0, 4.0, 8.0]]
    out = top_down(pred, np.array([-1, 0, 0]), 1, np.array([0.0, 3.0, 1.0]))
    np.testing.assert_allclose(out[1, :, 1], 3.0)
    np.testing.assert_allclose(out[2, :, 1], 1.0)
    np.testing.assert_allclose(out[1, 0], [0.75, 3.0, 6.0])
