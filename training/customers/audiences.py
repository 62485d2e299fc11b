"""Audiences for campaigns: score every customer as of a date, filter, and write CSV or Parquet atomically."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from shopml.errors import DataValidationError, ShopmlError
from shopml.settings import Settings
from training.customers.predict import CustomerScorer, filter_audience
from training.customers.segments import SEGMENTS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class AudienceResult:
    as_of: pd.Timestamp
    scores: pd.DataFrame = field(repr=False)
    audience: pd.DataFrame = field(repr=False)
    versions: dict[str, str]

    @property
    def scored(self) -> int:
        return len(self.scores)

    def segment_rows(self) -> list[tuple[str, str, str]]:
        g = self.scores.groupby("segment")["predicted_value"]
        sizes, means = g.size(), g.mean()
        return [(s, f"{int(sizes.get(s, 0)):,}", f"{means.get(s, float('nan')):,.1f}") for s in SEGMENTS]


def features_as_of(settings: Settings, as_of: pd.Timestamp | None,
                   lake: str | Path | None = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Customer features from the canonical tables (the data home's, or ``lake``'s) as of ``as_of`` (default:
    the day after the last order)."""
    from features.customers import build_customer_features
    from features.pipeline import default_cutoff
    from features.store import load_tables

    tables = load_tables(Path(lake) if lake is not None else settings.raw_dir, ("orders", "products"))
    orders = tables["orders"]
    cutoff = as_of if as_of is not None else default_cutoff(orders)
    first = orders["ordered_at"].min()
    if cutoff <= first:
        raise DataValidationError(f"--as-of {cutoff:%Y-%m-%d} is before the first order ({first:%Y-%m-%d}); pick a later date.")
    return build_customer_features(orders, cutoff, products=tables["products"]), cutoff


def score_audience(
    settings: Settings, *, as_of: pd.Timestamp | None = None, features_path: Path | None = None,
    segment: str | None = None, min_value: float | None = None, min_churn: float | None = None,
    top: int | None = None, scorer: CustomerScorer | None = None, versions: dict[str, str] | None = None,
    spark: SparkSession | None = None, lake: str | Path | None = None,
) -> AudienceResult:
    """Score all customers with the champions (or ``scorer``) and apply the filters.

    With ``spark``, the features are computed (or ``features_path`` read) and scored on Spark
    (:func:`features.pipeline.customer_features_spark`, :func:`training.batch.score_spark`): the same scores as
    pandas, sorted by customer id. ``lake`` is the canonical tables to compute features from (default: the
    data home's). Raises :class:`ShopmlError` when no customer passes the filters (nothing is written).
    """
    if scorer is None:
        from training.registry import load_champion

        scorer, versions = load_champion(CustomerScorer, settings)
    if spark is not None:
        scores, cutoff = _scores_on_spark(settings, spark, scorer, as_of, features_path, lake)
    else:
        if features_path is not None:
            features = pd.read_parquet(features_path)
            cutoff = as_of if as_of is not None else pd.NaT
        else:
            features, cutoff = features_as_of(settings, as_of, lake)
        scores = scorer.score(features)
    audience = filter_audience(scores, segment=segment, min_value=min_value, min_churn=min_churn, top=top)
    if audience.empty:
        sizes = scores["segment"].value_counts()
        raise ShopmlError(
            f"no customer matches segment={segment} min_value={min_value} min_churn={min_churn} "
            f"({len(scores):,} scored; segment sizes: "
            + ", ".join(f"{s} {int(sizes.get(s, 0)):,}" for s in SEGMENTS)
            + "); relax the filters. Nothing was written."
        )
    return AudienceResult(cutoff, scores, audience, versions or {"churn": "?", "customer_value": "?"})


def _scores_on_spark(settings: Settings, spark: SparkSession, scorer: CustomerScorer, as_of: pd.Timestamp | None,
                     features_path: Path | None, lake: str | Path | None) -> tuple[pd.DataFrame, pd.Timestamp]:
    from features.pipeline import customer_features_spark
    from features.spark import read_lake
    from training.batch import score_spark

    if features_path is not None:
        features, cutoff = spark.read.parquet(str(features_path)), (as_of if as_of is not None else pd.NaT)
    else:
        source = read_lake(spark, str(lake if lake is not None else settings.raw_dir))
        features, cutoff = customer_features_spark(spark, source, as_of, settings.spark_partitions)
    return score_spark(scorer, features), cutoff


def write_audience(audience: pd.DataFrame, path: str | Path) -> Path:
    """Write to a temporary sibling, then rename: a crash never leaves half a file (:func:`features.store.write_frame`)."""
    from features.store import write_frame

    return write_frame(audience, path)
