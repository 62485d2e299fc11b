"""The inference object: tidy frame, coherent totals, new-SKU fallback, bad input, save/load identity."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.demand import ALL_REGIONS, DemandPanel
from shopml.errors import DataValidationError
from training.forecast.predict import Forecaster, UnknownSeriesError

from .conftest import FAST, products_for


@pytest.fixture(scope="module")
def regional():
    """Orders for 6 SKUs in 3 regions over 70 weeks, and a Forecaster trained on them."""
    rng = np.random.default_rng(2)
    days = pd.date_range("2023-01-02", periods=70 * 7, freq="D")
    n = 6000
    orders = pd.DataFrame({
        "sku": rng.choice([f"S{i}" for i in range(6)], n, p=[0.3, 0.25, 0.2, 0.12, 0.08, 0.05]),
        "country": rng.choice(["UK", "FR", "DE"], n, p=[0.7, 0.2, 0.1]),
        "ordered_at": rng.choice(days, n),
        "quantity": rng.integers(1, 5, n).astype(float),
    })
    panel = DemandPanel.from_orders(orders, freq="W", by_region=True)
    products = products_for(panel, extra={"NEW1": "C1"})
    return Forecaster.fit(panel, products, FAST), panel


def test_tidy_frame_columns_order_and_quantiles(regional):
    fc, panel = regional
    frame = fc.forecast(skus=["S0", "S1"], horizon=3)
    assert list(frame.columns) == ["sku", "region", "period_start", "horizon", "p10", "p50", "p90"]
    assert len(frame) == 2 * 4 * 3 and set(frame["region"]) == {"ALL", "UK", "FR", "DE"}
    assert (frame["period_start"] == fc.origin + frame["horizon"] * pd.Timedelta(days=7)).all()
    assert ((frame["p10"] <= frame["p50"]) & (frame["p50"] <= frame["p90"])).all() and frame.notna().all().all()
    assert fc.freq == "W" and "S0" in fc.skus and "UK" in fc.regions and ALL_REGIONS in fc.regions
    other = fc.forecast(skus="S0", regions=["ALL"], horizon=2, quantiles=(0.25, 0.5, 0.75))
    assert list(other.columns)[-3:] == ["p25", "p50", "p75"] and (other["p25"] <= other["p75"]).all()


def test_region_medians_add_up_to_the_sku_total(regional):
    fc, _ = regional
    frame = fc.forecast(horizon=8)
    parts = frame.loc[frame["region"] != ALL_REGIONS].groupby(["sku", "horizon"])["p50"].sum()
    totals = frame.loc[frame["region"] == ALL_REGIONS].set_index(["sku", "horizon"])["p50"]
    np.testing.assert_allclose(parts.sort_index().to_numpy(), totals.loc[parts.sort_index().index].to_numpy())


def test_catalogue_sku_without_sales_gets_the_category_profile(regional):
    fc, _ = regional
    frame = fc.forecast(skus=["NEW1"], horizon=4)
    assert frame["region"].tolist() == ["ALL"] * 4 and (frame["p50"] > 0).all()
    assert frame["p50"].nunique() == 1 and (frame["p10"] <= frame["p90"]).all()


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"skus": ["NOPE"]}, UnknownSeriesError, "unknown SKU.*NOPE"),
    ({"regions": ["Mars"]}, UnknownSeriesError, "unknown region.*Mars"),
    ({"horizon": 0}, DataValidationError, "horizon=0"),
    ({"horizon": 9}, DataValidationError, "from 1 to 8"),
    ({"quantiles": (0.05, 0.5)}, DataValidationError, "outside the trained range"),
])
def test_bad_requests_are_explained(regional, kwargs, error, match):
    fc, _ = regional
    with pytest.raises(error, match=match):
        fc.forecast(**kwargs)


def test_save_load_gives_identical_forecasts(regional, tmp_path):
    fc, _ = regional
    fc.save(tmp_path / "fc")
    back = Forecaster.load(tmp_path / "fc")
    pd.testing.assert_frame_equal(back.forecast(horizon=8), fc.forecast(horizon=8))
    pd.testing.assert_frame_equal(back.forecast(skus=["NEW1"]), fc.forecast(skus=["NEW1"]))
    assert back.origin == fc.origin and back.max_horizon == fc.max_horizon


def test_load_of_an_empty_folder_says_what_to_run(tmp_path):
    from shopml.errors import NotTrainedError

    with pytest.raises(NotTrainedError, match="shopml train forecast"):
        Forecaster.load(tmp_path)


def test_a_partition_of_skus_computes_exactly_its_rows_of_the_full_forecast(regional, tmp_path):
    """``cached=False`` (what a batch engine's partition calls) forecasts only the SKUs asked for, and equals
    the cached full array bit for bit, for any split of SKUs, region filter and new SKU."""
    fc, _ = regional
    fresh = Forecaster.load(fc.save(tmp_path / "fc"))
    for request in ({"skus": ["S3", "S0"]}, {"skus": ["S5"], "regions": ["FR"]}, {"skus": ["NEW1", "S2"]},
                    {"skus": ["NEW1"]}, {"skus": ["S1"], "regions": ["ALL"], "quantiles": (0.3, 0.5)}):
        pd.testing.assert_frame_equal(fresh.forecast(**request, horizon=4, cached=False),
                                      fc.forecast(**request, horizon=4), check_exact=True)
    assert fresh._cache is None  # nothing beyond the requested SKUs was computed or kept
    parts = pd.concat([fresh.forecast(skus=part, cached=False) for part in (["S0", "S4"], ["S1", "S2", "S3", "S5"])])
    whole = fc.forecast(skus=["S0", "S4", "S1", "S2", "S3", "S5"])
    pd.testing.assert_frame_equal(parts.reset_index(drop=True), whole, check_exact=True)
