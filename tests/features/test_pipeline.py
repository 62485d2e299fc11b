"""The feature pipeline: determinism by seed, manifest contents, and atomic, explained failures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from features.pipeline import build_features, check_cutoff, cutoff_range, default_cutoff, latest_feature_dir
from features.synthetic import ShopConfig, generate_shop
from shopml.errors import DataValidationError, NotTrainedError

CONFIG = ShopConfig(customers=200, products=60, days=200, seed=11)


def _build(tmp_path, name, seed=11):
    shop = generate_shop(ShopConfig(customers=200, products=60, days=200, seed=seed))
    cutoff = shop.orders["ordered_at"].min() + pd.Timedelta(days=100)
    return build_features(shop.tables(), tmp_path / name, cutoff=cutoff, horizon_days=60)


def test_same_seed_same_features_different_seed_different(tmp_path):
    first, second, other = _build(tmp_path, "a"), _build(tmp_path, "b"), _build(tmp_path, "c", seed=12)
    for table in ("customers", "demand_weekly", "demand_daily", "demand_weekly_region"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(first.directory / f"{table}.parquet"), pd.read_parquet(second.directory / f"{table}.parquet")
        )
    assert first.manifest["data_fingerprint"] == second.manifest["data_fingerprint"]
    assert first.manifest["data_fingerprint"] != other.manifest["data_fingerprint"]


def test_manifest_lists_features_labels_and_counts(tmp_path):
    build = _build(tmp_path, "m")
    manifest = json.loads((build.directory / "manifest.json").read_text())
    customers = pd.read_parquet(build.directory / "customers.parquet")
    assert manifest["tables"]["customers"]["rows"] == len(customers)
    assert set(manifest["tables"]["customers"]["features"]) <= set(customers.columns)
    assert manifest["tables"]["customers"]["labels"] == ["orders_next", "churned", "spend_next"]
    assert manifest["tables"]["customers"]["set_aside"]["guest lines"] > 0
    weekly = pd.read_parquet(build.directory / "demand_weekly.parquet")
    assert set(manifest["tables"]["demand_weekly"]["features"]) <= set(weekly.columns)
    assert latest_feature_dir(tmp_path / "m") == build.directory


def test_demand_tables_hold_the_forecasters_features(tmp_path):
    from features.cleaning import demand_orders
    from features.demand import DEMAND_SET, build_demand_features

    shop = generate_shop(CONFIG)
    cutoff = shop.orders["ordered_at"].min() + pd.Timedelta(days=100)
    build = build_features(shop.tables(), tmp_path / "d", cutoff=cutoff, horizon_days=60)
    sales, _ = demand_orders(shop.orders)
    for name, freq, by_region in (("demand_weekly", "W", False), ("demand_daily", "D", False),
                                  ("demand_weekly_region", "W", True)):
        written = DEMAND_SET.check(pd.read_parquet(build.directory / f"{name}.parquet"))
        expected = build_demand_features(sales, cutoff, freq=freq, by_region=by_region, products=shop.tables()["products"])
        pd.testing.assert_frame_equal(written, expected, check_exact=True, check_dtype=False)
        assert build.manifest["tables"][name]["features"] == DEMAND_SET.feature_names and len(written) > 100
    assert (written["region"] != "ALL").any()


def test_labels_are_left_out_with_a_reason_when_the_horizon_is_not_covered(tmp_path):
    shop = generate_shop(CONFIG)
    build = build_features(shop.tables(), tmp_path / "f", horizon_days=90)  # default cutoff: after the last order
    info = build.manifest["tables"]["customers"]
    assert info["labels"] == [] and "after the data" in info["labels_missing_because"]


def test_a_cutoff_before_the_data_fails_and_writes_nothing(tmp_path):
    shop = generate_shop(CONFIG)
    with pytest.raises(DataValidationError, match="before the first order"):
        build_features(shop.tables(), tmp_path / "f", cutoff="1990-01-01")
    with pytest.raises(NotTrainedError):
        latest_feature_dir(tmp_path / "f")


def test_a_cutoff_after_the_last_order_fails_with_the_valid_range_and_writes_nothing(tmp_path):
    """A future cutoff used to pass, and scoring then called every customer lapsed (issue 15)."""
    shop = generate_shop(CONFIG)
    orders = shop.tables()["orders"]
    first, last = orders["ordered_at"].min(), orders["ordered_at"].max()
    day_after = last.floor("D") + pd.Timedelta(days=1)
    for too_late in ("2999-01-01", day_after + pd.Timedelta(days=1)):
        with pytest.raises(DataValidationError) as refused:
            build_features(shop.tables(), tmp_path / "f", cutoff=too_late)
        message = str(refused.value)
        assert "after the last order" in message
        assert f"from {first:%Y-%m-%d} to {last:%Y-%m-%d}" in message  # the data's range
        assert f"to {day_after:%Y-%m-%d} (the day after the last order" in message  # the latest valid cutoff
    assert not (tmp_path / "f").exists()  # refused before anything is written


def test_the_cutoff_range_runs_from_the_day_after_the_first_order_to_the_day_after_the_last():
    orders = pd.DataFrame({"ordered_at": pd.to_datetime(["2024-03-01 09:30", "2024-05-10 17:00", "2024-04-01 00:00"])})
    assert cutoff_range(orders) == (pd.Timestamp("2024-03-02"), pd.Timestamp("2024-05-11"))
    assert default_cutoff(orders) == pd.Timestamp("2024-05-11")
    for valid in ("2024-03-02", "2024-04-15", "2024-05-11"):
        assert check_cutoff(orders, valid) == pd.Timestamp(valid)
    for invalid, where in (("2024-03-01", "before the first order"), ("2024-05-12", "after the last order")):
        with pytest.raises(DataValidationError, match=f"--as-of {invalid} is {where}.*pick a --as-of from "
                                                      "2024-03-02 to 2024-05-11"):
            check_cutoff(orders, invalid, "--as-of")
    with pytest.raises(DataValidationError, match="cutoff 'soon' is not a date; use YYYY-MM-DD"):
        check_cutoff(orders, "soon")
    with pytest.raises(DataValidationError, match="orders table is empty"):
        cutoff_range(orders.iloc[:0])
