"""Demand series, the panel matrix and the demand feature set: complete periods, gaps and returns, a slow oracle,
partitions, no leakage, the declaration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.demand import (
    ALL_REGIONS,
    DEMAND_SET,
    DemandFeatureSpec,
    DemandPanel,
    build_demand_features,
    demand_feature_set,
    demand_series,
)
from features.partitions import compute_by_partitions
from shopml.errors import DataValidationError

CUTOFF = pd.Timestamp("2023-06-05")


def _lines(dates, skus, qty, country="UK"):
    return pd.DataFrame({
        "order_id": [str(i) for i in range(len(dates))], "customer_id": None, "sku": skus, "quantity": qty,
        "unit_price": 1.0, "ordered_at": pd.to_datetime(dates).astype("datetime64[us]"), "country": country,
    })


@pytest.fixture(scope="module")
def products(small_shop) -> pd.DataFrame:
    return small_shop.tables()["products"]


def test_weekly_panel_is_complete_starts_monday_and_drops_the_partial_week():
    lines = _lines(["2024-01-02", "2024-01-03", "2024-01-17", "2024-01-30"], ["A", "A", "A", "A"], [1, 2, 5, -1])
    panel = demand_series(lines, freq="W", cutoff="2024-01-31")
    assert panel["period_start"].dt.day_of_week.eq(0).all()
    assert panel["period_start"].dt.strftime("%m-%d").tolist() == ["01-01", "01-08", "01-15", "01-22"]
    assert panel["quantity"].tolist() == [3.0, 0.0, 5.0, 0.0]  # the return is not demand; the week of 01-29 is partial


def test_regions_split_the_series():
    lines = pd.concat([_lines(["2024-01-01"], ["A"], [2], "UK"), _lines(["2024-01-02"], ["A"], [3], "FR")])
    panel = demand_series(lines, freq="D", cutoff="2024-01-03", by_region=True)
    assert panel.set_index(["region", "period_start"])["quantity"].to_dict() == {
        ("FR", pd.Timestamp("2024-01-02")): 3.0,
        ("UK", pd.Timestamp("2024-01-01")): 2.0,
        ("UK", pd.Timestamp("2024-01-02")): 0.0,
    }


def _long(rows):
    return pd.DataFrame(rows, columns=["sku", "period_start", "quantity"]).assign(
        period_start=lambda f: pd.to_datetime(f["period_start"]))


def test_panel_gaps_inside_a_series_become_zero_and_nan_before_it_starts():
    long = _long([("A", "2024-01-01", 3), ("A", "2024-01-15", 2), ("B", "2024-01-08", 5)])
    panel = DemandPanel.from_long(long, "W")
    assert list(panel.keys["region"]) == [ALL_REGIONS, ALL_REGIONS]
    np.testing.assert_array_equal(panel.values[0], [3, 0, 2])
    assert np.isnan(panel.values[1, 0]) and list(panel.values[1, 1:]) == [5, 0]


def test_panel_rejects_negative_quantities_with_the_row():
    long = _long([("A", "2024-01-01", 3), ("A", "2024-01-08", -1)])
    with pytest.raises(DataValidationError, match="negative or missing quantity.*sku A"):
        DemandPanel.from_long(long, "W")


def test_panel_keeps_all_zero_series_and_periods_must_align():
    panel = DemandPanel.from_long(_long([("Z", "2024-01-01", 0), ("Z", "2024-01-08", 0)]), "W")
    assert panel.values.tolist() == [[0.0, 0.0]]
    with pytest.raises(DataValidationError, match="different weekdays"):
        DemandPanel.from_long(_long([("A", "2024-01-01", 1), ("A", "2024-01-09", 1)]), "W")


def test_panel_from_orders_ignores_returns_and_adds_region_totals():
    orders = pd.DataFrame({
        "sku": ["A", "A", "A", "A"], "quantity": [4, -2, 1, 3], "country": ["UK", "UK", "FR", "UK"],
        "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-10"]),
    })
    panel = DemandPanel.from_orders(orders, freq="W", by_region=True, cutoff="2024-01-15")
    table = {(s, r): list(v) for s, r, v in zip(panel.keys["sku"], panel.keys["region"], panel.values, strict=True)}
    assert table[("A", ALL_REGIONS)] == [5.0, 3.0]
    assert table[("A", "UK")] == [4.0, 3.0]
    assert table[("A", "FR")] == [1.0, 0.0]


def test_panel_truncate_drops_series_that_had_not_started():
    panel = DemandPanel.from_long(_long([("A", "2024-01-01", 1), ("B", "2024-01-15", 2), ("A", "2024-01-15", 1)]), "W")
    early = panel.truncate(2)
    assert list(early.keys["sku"]) == ["A"] and early.n_periods == 2


def test_rows_are_what_is_known_when_each_period_starts():
    lines = _lines(["2024-01-01", "2024-01-09", "2024-01-10"], ["A", "A", "A"], [2, 1, 4])
    table = build_demand_features(lines, "2024-01-22", freq="W")
    # sales in the weeks of 01-01 and 01-08, complete weeks up to 01-15: rows for 01-08, 01-15 and 01-22
    assert table["period_start"].dt.strftime("%m-%d").tolist() == ["01-08", "01-15", "01-22"]
    assert table["qty_lag_1"].tolist() == [2.0, 5.0, 0.0]
    assert table["series_age"].tolist() == [1.0, 2.0, 3.0]
    assert table["region"].unique().tolist() == ["ALL"] and table["is_total"].all()


def _oracle(orders: pd.DataFrame, cutoff, spec: DemandFeatureSpec, freq: str, products: pd.DataFrame) -> pd.DataFrame:
    """Plain per-series pandas (shift, rolling, expanding, a loop), the obvious way, row by row of the definition."""
    long = pd.concat([demand_series(orders, freq=freq, cutoff=cutoff).assign(region="ALL"),
                      demand_series(orders, freq=freq, cutoff=cutoff, by_region=True)], ignore_index=True)
    step = pd.Timedelta(days=7 if freq == "W" else 1)
    info = products.set_index("sku")
    out = []
    for (sku, region), series in long.sort_values(["sku", "region", "period_start"]).groupby(["sku", "region"]):
        s = pd.concat([series["quantity"], pd.Series([np.nan])], ignore_index=True)  # one row past the last period
        past = s.shift(1)
        frame = pd.DataFrame({"sku": sku, "region": region,
                              "period_start": series["period_start"].iloc[0] + step * np.arange(len(s))})
        for k in spec.lags:
            frame[f"qty_lag_{k}"] = s.shift(k)
        for w in spec.windows:
            frame[f"qty_rollmean_{w}"] = past.rolling(w, min_periods=1).mean()
            frame[f"qty_rollstd_{w}"] = past.rolling(w, min_periods=2).std(ddof=0)
        frame["qty_nonzero_share_13"] = (past > 0).astype(float).where(past.notna()).rolling(13, min_periods=1).mean()
        since, last = [], None
        for i, q in enumerate(s):
            since.append(np.nan if last is None else i - last)
            if q > 0:
                last = i
        frame["periods_since_sale"] = since
        frame["series_age"] = np.arange(len(s), dtype=float)
        frame["qty_expanding_mean"] = past.expanding().mean()
        frame["qty_rollmax_13"] = past.rolling(13, min_periods=1).max()
        recent = past.rolling(spec.scale_window, min_periods=1).mean()
        expanding = frame["qty_expanding_mean"]
        scale = recent.where(recent > 0, expanding.where(expanding > 0, 1.0)).fillna(1.0)
        frame["log_scale"] = np.log1p(scale)
        frame["qty_scale"] = scale
        frame["week_of_year"] = frame["period_start"].dt.isocalendar().week.astype("int64")
        frame["month"] = frame["period_start"].dt.month
        frame["day_of_week"] = frame["period_start"].dt.day_of_week
        frame["is_total"] = region == "ALL"
        frame["log_price"] = np.log1p(info.at[sku, "price"]) if sku in info.index else np.nan
        frame["category"] = info.at[sku, "category"] if sku in info.index else np.nan
        out.append(frame.iloc[1:])  # nothing is known before the first period
    return pd.concat(out, ignore_index=True)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_fast_features_equal_the_slow_oracle(small_orders, products, freq):
    spec = DemandFeatureSpec(lags=(1, 2, 7), windows=(3, 7, 28), scale_window=5)
    orders = small_orders.loc[small_orders["sku"].isin(sorted(small_orders["sku"].unique())[:20])]  # the oracle is slow
    fast = build_demand_features(orders, CUTOFF, freq=freq, by_region=True, spec=spec, products=products)
    slow = _oracle(orders, CUTOFF, spec, freq, products)
    assert len(fast) == len(slow) > 300
    assert fast[["sku", "region"]].astype(object).equals(slow[["sku", "region"]].astype(object))
    assert (fast["period_start"].to_numpy() == slow["period_start"].to_numpy()).all()
    for column in spec.names():
        if column == "category":
            assert fast[column].astype(object).equals(slow[column].astype(object))
            continue
        np.testing.assert_allclose(fast[column].to_numpy(dtype=float), slow[column].to_numpy(dtype=float),
                                   rtol=1e-9, atol=1e-6, err_msg=column)


@pytest.mark.parametrize("n_partitions", [1, 3, 7])
@pytest.mark.parametrize(("freq", "by_region"), [("W", True), ("D", False)])
def test_computing_by_partitions_of_skus_equals_computing_at_once(small_orders, products, n_partitions, freq, by_region):
    kwargs = {"cutoff": CUTOFF, "freq": freq, "by_region": by_region, "products": products}
    at_once = build_demand_features(small_orders, **kwargs)
    parts = compute_by_partitions(build_demand_features, small_orders, "sku", n_partitions, **kwargs)
    parts = DEMAND_SET.check(parts.sort_values(DEMAND_SET.key_names, ignore_index=True))
    pd.testing.assert_frame_equal(parts, at_once, check_exact=True)
    assert at_once["sku"].nunique() > 30


@pytest.mark.parametrize(("freq", "by_region"), [("D", False), ("W", True)])
def test_no_leakage_across_the_cutoff(small_orders, products, freq, by_region):
    base = build_demand_features(small_orders, CUTOFF, freq=freq, by_region=by_region, products=products)
    changed = small_orders.copy()
    later = changed["ordered_at"] >= CUTOFF
    changed.loc[later, "quantity"] = changed.loc[later, "quantity"].abs() * 7
    changed = pd.concat([changed, changed.loc[later].head(50).assign(sku="NEW")])
    again = build_demand_features(changed, CUTOFF, freq=freq, by_region=by_region, products=products)
    pd.testing.assert_frame_equal(base, again, check_exact=True)
    assert base["period_start"].max() <= CUTOFF


@pytest.mark.parametrize("freq", ["D", "W"])
def test_a_row_never_changes_when_later_periods_arrive(small_orders, products, freq):
    """Features of a period read only earlier periods: the table at a later cutoff repeats every earlier row."""
    early = build_demand_features(small_orders, CUTOFF, freq=freq, by_region=True, products=products)
    late = build_demand_features(small_orders, CUTOFF + pd.Timedelta(days=42), freq=freq, by_region=True, products=products)
    keys = DEMAND_SET.key_names
    repeated = early[keys].merge(late, on=keys, how="left", validate="one_to_one")
    assert len(late) > len(early)
    pd.testing.assert_frame_equal(DEMAND_SET.check(repeated), early, check_exact=True)


def test_the_declaration_matches_the_output(small_orders, products):
    table = build_demand_features(small_orders, CUTOFF, products=products)
    assert list(table.columns) == [c.name for c in DEMAND_SET.columns()]
    assert DEMAND_SET.feature_names == DemandFeatureSpec().names()
    assert all(c.meaning for c in DEMAND_SET.columns()) and DEMAND_SET.partition_key == "sku"
    assert len(DEMAND_SET.spark_ddl().split(", ")) == len(table.columns)
    assert "`qty_lag_52`" in DEMAND_SET.to_markdown()
    spec = DemandFeatureSpec(lags=(1, 3), windows=(2,), calendar=False)
    custom = build_demand_features(small_orders, CUTOFF, spec=spec)
    assert demand_feature_set(spec).feature_names == list(custom.columns[3:])
    with pytest.raises(DataValidationError, match="qty_lag_1 is int64, declared float64"):
        DEMAND_SET.check(table.assign(qty_lag_1=table["qty_lag_1"].fillna(0).astype("int64")))


def test_a_partition_without_complete_periods_gives_no_rows():
    lines = _lines(["2024-01-02"], ["A"], [3])
    empty = build_demand_features(lines, "2024-01-03", freq="W")
    assert empty.empty and list(empty.columns) == [c.name for c in DEMAND_SET.columns()]
    DEMAND_SET.check(empty)


def test_the_spec_rejects_nonsense_windows():
    with pytest.raises(DataValidationError, match="whole numbers of periods >= 1"):
        DemandFeatureSpec(lags=(0, 1))
    with pytest.raises(DataValidationError, match="distinct"):
        DemandFeatureSpec(windows=(4, 4))
