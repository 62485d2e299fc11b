"""Scores and forecasts on Spark equal the pandas engine's to 1e-9, row by row, and a bad partition is named.

Spark in local mode, one session for the module; a small shop written as a lake, small champions fitted here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.partitions import PartitionError
from features.spark import start_spark
from features.store import save_tables
from features.synthetic import ShopConfig, generate_shop
from tests.training.forecast.conftest import FAST, products_for, seasonal_panel
from training.batch import forecast_spark
from training.customers import (
    ChurnParams,
    CustomerScorer,
    TrainConfig,
    ValueParams,
    fit_churn,
    fit_value,
    prepare,
)
from training.customers.audiences import score_audience
from training.forecast import Forecaster

TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def spark():
    session = start_spark("local[2]", preload=("features.pipeline", "training.batch"))
    yield session
    session.stop()


@pytest.fixture(scope="module")
def shop():
    return generate_shop(ShopConfig(customers=600, products=60, days=500, seed=5))


@pytest.fixture(scope="module")
def lake(shop, tmp_path_factory):
    path = tmp_path_factory.mktemp("lake") / "data"
    save_tables(shop.tables(), path, source="test")
    return path


@pytest.fixture(scope="module")
def scorer(shop) -> CustomerScorer:
    data = prepare(shop.tables(), TrainConfig(n_train=3, spacing_days=30))
    return CustomerScorer(fit_churn(data, ChurnParams(seed=1)).model, fit_value(data, ValueParams(seed=1)).model)


@pytest.fixture(scope="module")
def forecaster() -> Forecaster:
    """12 SKUs, each with its total and two regions (reconciled together), and a catalogued SKU without sales."""
    panel, _ = seasonal_panel(n_series=36, n_weeks=110)
    keys = pd.DataFrame({"sku": np.repeat([f"P{i:03d}" for i in range(12)], 3),
                         "region": np.tile(["ALL", "North", "South"], 12)})
    regional = type(panel)(keys, panel.periods, panel.values, panel.freq)
    return Forecaster.fit(regional, products_for(regional, {"NEW1": "C1"}), FAST)


def test_audience_scores_on_spark_equal_pandas_row_by_row(settings, spark, scorer, lake, shop):
    as_of = shop.orders["ordered_at"].max().floor("D") - pd.Timedelta(days=30)
    by_pandas = score_audience(settings, as_of=as_of, lake=lake, scorer=scorer, top=50)
    by_spark = score_audience(settings, as_of=as_of, lake=str(lake), scorer=scorer, top=50, spark=spark)
    assert by_spark.as_of == by_pandas.as_of and by_pandas.scored == by_spark.scored > 300
    for got, want in ((by_spark.scores, by_pandas.scores), (by_spark.audience, by_pandas.audience)):
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=0, atol=TOLERANCE)
    assert by_spark.segment_rows() == by_pandas.segment_rows()


def test_a_malformed_order_line_fails_scoring_with_its_partition_and_row(settings, spark, scorer, shop, tmp_path):
    orders = shop.orders.astype({"quantity": "Int64"})
    bad = orders.index[7]
    orders.loc[bad, "quantity"] = pd.NA
    save_tables({**shop.tables(), "orders": orders}, tmp_path / "lake", source="test")
    with pytest.raises(PartitionError, match=rf"partition \d+ .*at the row \(order_id={orders.at[bad, 'order_id']!r}"):
        score_audience(settings, lake=str(tmp_path / "lake"), scorer=scorer, spark=spark)


def test_forecasts_on_spark_equal_pandas_for_every_sku_and_region(spark, forecaster):
    every = forecaster.forecast(horizon=8)
    assert set(every["region"]) == {"ALL", "North", "South"} and every["sku"].nunique() == 12
    pd.testing.assert_frame_equal(forecast_spark(spark, forecaster, horizon=8, n_partitions=3), every,
                                  check_exact=False, rtol=0, atol=TOLERANCE)
    # a request in the user's order, a SKU asked twice, one region, other quantiles, a catalogued new SKU
    request = {"skus": ["P007", "NEW1", "P002", "P007"], "regions": ["South", "ALL"], "horizon": 3,
               "quantiles": (0.25, 0.5, 0.75)}
    pd.testing.assert_frame_equal(forecast_spark(spark, forecaster, **request, n_partitions=2),
                                  forecaster.forecast(**request), check_exact=False, rtol=0, atol=TOLERANCE)


def test_a_failing_forecast_partition_names_its_sku(spark, forecaster, tmp_path):
    broken = Forecaster.load(forecaster.save(tmp_path / "forecaster"))
    broken._rows_of_sku["P004"] = np.array([10_000])  # a corrupt state row: only P004's partition fails
    with pytest.raises(PartitionError, match=r"demand forecasts: partition \d+ .*at the row \(sku='P004'.*KeyError"):
        forecast_spark(spark, broken, horizon=2, n_partitions=3)
