"""Training rows come from the customer feature set: no second computation of a feature or a label."""

from __future__ import annotations

import pandas as pd

from features.customers import CUSTOMER_SET, build_customer_features
from training.customers.lifetime import DERIVED_FEATURES


def test_every_cutoff_frame_is_the_feature_sets_rows_plus_the_lifetime_columns(small_shop, small_data):
    plan = small_data.plan
    frames = [*(small_data.train.loc[small_data.train["cutoff"] == c] for c in plan.train), small_data.evaluation,
              *small_data.anchors.values()]
    cutoffs = [*plan.train, plan.evaluation, *plan.anchors.values()]
    assert len(frames) == len(cutoffs) >= 3
    for cutoff, frame in zip(cutoffs, frames, strict=True):
        rows = build_customer_features(small_shop.orders, cutoff, products=small_shop.products,
                                       horizon_days=plan.horizon_days)
        assert list(frame.columns) == ["customer_id", "cutoff", *CUSTOMER_SET.feature_names, *DERIVED_FEATURES,
                                       *CUSTOMER_SET.label_names]
        assert (frame["cutoff"] == cutoff).all()
        from_set = frame[rows.columns].reset_index(drop=True)
        pd.testing.assert_frame_equal(from_set, rows, check_exact=True)
