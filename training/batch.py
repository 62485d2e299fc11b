"""Batch inference on Apache Spark: every customer scored, every demand series forecast, by the champions.

The pandas engine calls a family's own batch method on the whole table in this process
(:meth:`CustomerScorer.score <training.customers.predict.CustomerScorer.score>`,
:meth:`Forecaster.forecast <training.forecast.predict.Forecaster.forecast>`). The Spark engine calls the same
method on each partition with ``mapInPandas`` (:func:`features.spark.map_partitions`): a customer's scores
depend on that customer's features only, and a SKU's forecasts (its total and its regions, reconciled together)
on that SKU's state only, so partitions need no shuffle and their union is the pandas result, row for row. The
model is broadcast once and unpickled once per executor process; a failing row is named with its partition
(:class:`features.partitions.PartitionError`).

Why not ``mlflow.pyfunc.spark_udf``: it serves one registered model per UDF, so scoring would run the churn and
value models as two UDFs and rebuild the segment step (which needs both outputs and the features) beside them,
a second copy of :class:`CustomerScorer`; it is also slower here (``bench/spark_scoring.py``: see
``docs/scale.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from training.customers.predict import SCORE_DTYPES, CustomerScorer
from training.forecast.predict import DEFAULT_QUANTILES, Forecaster

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

POSITION = "_shopml_position"
"""Column carrying a requested SKU's position through a Spark forecast (the pandas order is restored by it)."""


def score_spark(scorer: CustomerScorer, features: DataFrame) -> pd.DataFrame:
    """``scorer.score`` on every partition of a customer feature table, collected and sorted by ``customer_id``
    (the order of a features build: :func:`features.pipeline.customer_features_spark`)."""
    from features.schema import SPARK_TYPES
    from features.spark import collect, map_partitions

    schema = ", ".join(f"{name} {SPARK_TYPES[dtype]}" for name, dtype in SCORE_DTYPES.items())
    scores = collect(map_partitions(features, scorer.score, key="customer_id", schema=schema, what="customer scores"))
    return scores.sort_values("customer_id", kind="stable").reset_index(drop=True).astype(SCORE_DTYPES)


@dataclass(frozen=True)
class _ForecastPartition:
    """One partition's forecasts: the requested SKUs' rows of ``Forecaster.forecast``, each tagged with its
    request position (a SKU requested twice is answered twice, as pandas does)."""

    forecaster: Forecaster
    regions: list[str] | None
    horizon: int
    quantiles: tuple[float, ...]

    def __call__(self, requests: pd.DataFrame) -> pd.DataFrame:
        skus = requests["sku"].astype("str").tolist()
        frame = self.forecaster.forecast(skus=list(dict.fromkeys(skus)), regions=self.regions, horizon=self.horizon,
                                         quantiles=self.quantiles, cached=False)
        rows_of = frame.groupby("sku", sort=False).indices
        take = [rows_of.get(sku, np.array([], dtype=int)) for sku in skus]
        out = frame.iloc[np.concatenate(take) if take else np.array([], dtype=int)].reset_index(drop=True)
        out[POSITION] = np.repeat(requests[POSITION].to_numpy(dtype="int64"), [len(t) for t in take])
        return out


def forecast_spark(
    spark: SparkSession, forecaster: Forecaster, skus: Sequence[str] | None = None,
    regions: Sequence[str] | None = None, horizon: int = 8, quantiles: Sequence[float] = DEFAULT_QUANTILES,
    *, n_partitions: int = 0,
) -> pd.DataFrame:
    """``forecaster.forecast(skus, regions, horizon, quantiles)`` computed on Spark, one partition of SKUs at a
    time; the same frame (rows, order, dtypes). ``skus`` None is every SKU with history.

    The request is checked once on the driver (:meth:`Forecaster.check_request`), so an unknown SKU fails
    before any job; ``n_partitions`` 0 is two per core of the cluster.
    """
    from features.spark import collect, map_partitions, spark_schema

    sku_list, region_list, horizon, qs = forecaster.check_request(skus, regions, horizon, quantiles)
    partition = _ForecastPartition(forecaster, region_list, horizon, qs)
    requests = pd.DataFrame({POSITION: np.arange(len(sku_list), dtype="int64"), "sku": pd.Series(sku_list, dtype="str")})
    example = partition(requests.iloc[:1])
    if not len(sku_list):
        return example.drop(columns=POSITION)
    n = n_partitions or 2 * spark.sparkContext.defaultParallelism
    frame = spark.createDataFrame(requests, schema=f"{POSITION} bigint, sku string").repartition(n, "sku")
    result = collect(map_partitions(frame, partition, key="sku", schema=spark_schema(example), what="demand forecasts"))
    result = result.sort_values(POSITION, kind="stable").drop(columns=POSITION).reset_index(drop=True)
    return result.astype(example.drop(columns=POSITION).dtypes.to_dict())
