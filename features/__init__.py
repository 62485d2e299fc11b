"""The feature layer: data contracts, loaders, validation, the synthetic shop, and every feature.

Each entity has one declared feature set (:class:`FeatureSet`: every column's name, dtype and meaning) and one
function that computes it from the canonical tables as of a cutoff, for one partition of entities at a time:

* :func:`build_customer_features` -> :data:`CUSTOMER_SET` (one row per customer; labels for a horizon);
* :func:`build_interaction_features` -> :data:`INTERACTION_SET` (customer x item), with
  :func:`build_buyer_features` -> :data:`BUYER_SET` and :func:`build_item_features` -> :data:`ITEM_SET`;
* :func:`build_demand_features` -> :data:`DEMAND_SET` (SKU x region x period).

:func:`build_features` writes them all for a cutoff with a manifest (:func:`check_cutoff` refuses a cutoff
outside the data's :func:`cutoff_range`); :func:`load` reads real data and
:func:`validate` checks rows against the contracts. See ``docs/architecture.md``.
"""

from features.customers import CUSTOMER_SET, build_customer_features
from features.demand import DEMAND_SET, DemandFeatureSpec, DemandPanel, build_demand_features
from features.interactions import (
    BUYER_SET,
    INTERACTION_SET,
    InteractionMatrix,
    build_buyer_features,
    build_interaction_features,
)
from features.items import ITEM_SET, build_item_features
from features.loaders import LoadResult, load
from features.partitions import compute_by_partitions
from features.pipeline import build_features, check_cutoff, cutoff_range
from features.schema import Column, FeatureSet
from features.validation import validate

FEATURE_SETS: tuple[FeatureSet, ...] = (CUSTOMER_SET, INTERACTION_SET, BUYER_SET, ITEM_SET, DEMAND_SET)
"""Every declared feature set, for the docs and for a batch engine."""

__all__ = [
    "BUYER_SET", "CUSTOMER_SET", "DEMAND_SET", "FEATURE_SETS", "INTERACTION_SET", "ITEM_SET", "Column",
    "DemandFeatureSpec", "DemandPanel", "FeatureSet", "InteractionMatrix", "LoadResult", "build_buyer_features",
    "build_customer_features", "build_demand_features", "build_features", "build_interaction_features",
    "build_item_features", "check_cutoff", "compute_by_partitions", "cutoff_range", "load", "validate",
]
