"""Audiences for campaigns: score every customer as of a date, filter, and write CSV or Parquet atomically."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shopml.errors import DataValidationError, ShopmlError
from shopml.settings import Settings
from training.customers.predict import CustomerScorer, filter_audience
from training.customers.segments import SEGMENTS


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


def features_as_of(settings: Settings, as_of: pd.Timestamp | None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Customer features from the canonical tables as of ``as_of`` (default: the day after the last order)."""
    from features.customers import build_customer_features
    from features.pipeline import default_cutoff
    from features.store import load_tables

    tables = load_tables(settings.raw_dir, ("orders", "products"))
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
) -> AudienceResult:
    """Score all customers with the champions (or ``scorer``) and apply the filters.

    Raises :class:`ShopmlError` when no customer passes the filters (nothing is written).
    """
    if scorer is None:
        from training.registry import load_champion

        scorer, versions = load_champion(CustomerScorer, settings)
    if features_path is not None:
        features = pd.read_parquet(features_path)
        cutoff = as_of if as_of is not None else pd.NaT
    else:
        features, cutoff = features_as_of(settings, as_of)
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


def write_audience(audience: pd.DataFrame, path: str | Path) -> Path:
    """Write to a temporary sibling, then rename: a crash never leaves half a file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ShopmlError(f"{path}: use a .csv or .parquet file name.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".csv":
        audience.to_csv(tmp, index=False)
    else:
        audience.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
