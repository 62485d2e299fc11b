"""Item attributes as of a cutoff: price, category, buyers and age, one row per item bought before it.

The recommender's ranker reads an item's price, popularity (distinct buyers, all time and over the last two
28-day windows) and age, and its category-affinity features read the category.
:func:`build_item_features` computes them for one partition of SKUs (their order lines, the cutoff and the
products table as a lookup): each is a per-SKU aggregate (the median too), so partitions by SKU compute it
exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.interactions import purchases
from features.schema import Column, FeatureSet

UNKNOWN_CATEGORY = "unknown"
WINDOW = pd.Timedelta(days=28)
DAY = pd.Timedelta(days=1)

ITEM_SET = FeatureSet(
    "items",
    keys=(Column("sku", "str", "item bought by a known customer before the cutoff"),),
    partition_key="sku",
    features=(
        Column("median_unit_price", "float64", "median unit_price of the item's purchase lines before the cutoff"),
        Column("category", "str", f"the item's category in the products table ({UNKNOWN_CATEGORY!r} when absent "
               "or missing; the first row of a repeated sku wins)"),
        Column("buyers", "int64", "distinct customers who bought the item before the cutoff"),
        Column("buyers_28d", "int64", "distinct customers who bought it in the 28 days before the cutoff"),
        Column("buyers_28d_before", "int64", "distinct customers who bought it in the 28 days before those (days 29-56)"),
        Column("days_since_first_sale", "float64", "days from the item's first purchase line to the cutoff (its age)"),
        Column("days_since_last_sale", "float64", "days from the item's latest purchase line to the cutoff"),
    ),
)


def build_item_features(
    orders: pd.DataFrame, cutoff: str | pd.Timestamp, products: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The :data:`ITEM_SET` rows of the SKUs in ``orders`` (one partition or all), sorted by SKU.

    Purchases are those of :func:`features.interactions.purchases` (known customer, quantity > 0, before
    ``cutoff``), so the rows are exactly the interaction matrix's items.
    """
    cutoff = pd.Timestamp(cutoff)
    sales = purchases(orders, cutoff)
    price = sales.groupby("sku", sort=True)["unit_price"].median().astype("float64")
    skus = pd.Index(price.index, dtype="str", name="sku")
    category = pd.Series(UNKNOWN_CATEGORY, index=skus, dtype="str")
    if products is not None and "category" in products:
        known = products.drop_duplicates("sku").set_index("sku")["category"]
        category = known.reindex(skus).fillna(UNKNOWN_CATEGORY).astype("str")
    recent = sales["ordered_at"] >= cutoff - WINDOW
    before = (sales["ordered_at"] >= cutoff - 2 * WINDOW) & ~recent
    first_last = sales.groupby("sku", sort=True)["ordered_at"].agg(["min", "max"])
    table = pd.DataFrame({
        "sku": pd.Series(skus, dtype="str"),
        "median_unit_price": price.to_numpy(dtype="float64"),
        "category": pd.Series(category.to_numpy(), dtype="str"),
        "buyers": _buyers(sales, skus),
        "buyers_28d": _buyers(sales.loc[recent], skus),
        "buyers_28d_before": _buyers(sales.loc[before], skus),
        "days_since_first_sale": ((cutoff - first_last["min"]) / DAY).to_numpy(dtype="float64"),
        "days_since_last_sale": ((cutoff - first_last["max"]) / DAY).to_numpy(dtype="float64"),
    })
    return ITEM_SET.check(table)


def _buyers(sales: pd.DataFrame, skus: pd.Index) -> np.ndarray:
    """Distinct customers per SKU in ``sales``, aligned with ``skus`` (0 where none)."""
    return sales.groupby("sku", sort=True)["customer_id"].nunique().reindex(skus, fill_value=0).to_numpy("int64")
