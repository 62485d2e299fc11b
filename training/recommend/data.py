"""Training data for the recommender as of a cutoff, and the protocol's train/truth split.

A :class:`TrainingData` holds the purchases strictly before a cutoff (the only data any model may see) with
its customer and item vocabularies, the interaction matrices, each customer's country and each item's
category and price, all read from the feature layer (:mod:`features.interactions`, :mod:`features.items`);
nothing here computes a feature. :func:`protocol_split` adds the truth of the Online Retail protocol
(PROTOCOLS.md): for every customer with a training purchase, the items first bought in ``[cutoff, end)``
that the customer had not bought before and that exist in training.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.cleaning import customer_model_orders
from features.interactions import InteractionMatrix, build_buyer_features, build_interaction_features
from features.items import build_item_features
from shopml.errors import DataValidationError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingData:
    """Purchases before ``cutoff`` with everything the models and the ranker's features read.

    Attributes
    ----------
    orders
        Sales lines of known customers strictly before the cutoff (returns and guests removed).
    interactions
        Customer x item matrices (counts, spend, recency with ``half_life_days``) in sorted id order.
    customer_country
        Country of each customer's latest order, aligned with ``interactions.customer_ids``.
    item_category, item_price
        Category code (index into ``categories``) and median unit price of each item.
    interaction_table, buyer_table, item_table
        The feature layer's rows (``features.interactions.INTERACTION_SET``, ``BUYER_SET``,
        ``features.items.ITEM_SET``): interactions sorted by customer then item, buyers aligned with
        ``customer_ids``, items with ``skus``. The arrays above are read from them.
    """

    orders: pd.DataFrame
    interactions: InteractionMatrix
    customer_country: np.ndarray
    item_category: np.ndarray
    categories: np.ndarray
    item_price: np.ndarray
    interaction_table: pd.DataFrame
    buyer_table: pd.DataFrame
    item_table: pd.DataFrame

    @property
    def cutoff(self) -> pd.Timestamp:
        return self.interactions.cutoff

    @property
    def n_customers(self) -> int:
        return self.interactions.shape[0]

    @property
    def n_items(self) -> int:
        return self.interactions.shape[1]

    @property
    def skus(self) -> np.ndarray:
        return self.interactions.skus

    @property
    def customer_ids(self) -> np.ndarray:
        return self.interactions.customer_ids

    def binary(self) -> sp.csr_matrix:
        """1 where a customer bought an item (float32), the input of item-kNN and EASE."""
        m = self.interactions.counts.copy()
        m.data[:] = 1.0
        return m

    def item_codes(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Customer row and item column of every line of ``frame`` (-1 where unknown)."""
        rows = pd.Index(self.customer_ids).get_indexer(frame["customer_id"])
        cols = pd.Index(self.skus).get_indexer(frame["sku"])
        return rows, cols


def training_data(
    orders: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    products: pd.DataFrame | None = None,
    *,
    half_life_days: float = 60.0,
) -> TrainingData:
    """Build :class:`TrainingData` from canonical orders (cleaned here) strictly before ``cutoff``."""
    cutoff = pd.Timestamp(cutoff)
    sales, _ = customer_model_orders(orders)
    sales = sales.loc[sales["ordered_at"] < cutoff]
    if sales.empty:
        raise DataValidationError(
            f"no purchases by known customers before {cutoff:%Y-%m-%d}: the training window is empty; "
            "pick a later cutoff or load more data."
        )
    table = build_interaction_features(sales, cutoff, half_life_days=half_life_days)
    interactions = InteractionMatrix.from_table(table, cutoff, half_life_days)
    buyers = build_buyer_features(sales, cutoff).set_index("customer_id").reindex(interactions.customer_ids)
    country = buyers["last_order_country"].fillna("").astype(str).to_numpy(dtype=object)
    items = build_item_features(sales, cutoff, products).set_index("sku").reindex(interactions.skus)
    price = items["median_unit_price"].to_numpy(dtype="float32")
    codes, categories = pd.factorize(items["category"].to_numpy(dtype=object), sort=True)
    return TrainingData(
        orders=sales.reset_index(drop=True),
        interactions=interactions,
        customer_country=country,
        item_category=codes.astype("int32"),
        categories=np.asarray(categories, dtype=object),
        item_price=price,
        interaction_table=table,
        buyer_table=buyers,
        item_table=items,
    )


@dataclass(frozen=True)
class ProtocolSplit:
    """Training data before ``cutoff`` and, per test customer, the new items bought in ``[cutoff, end)``.

    ``test_rows[i]`` is the customer's row in ``train.interactions``; ``truth[i]`` the item columns.
    """

    train: TrainingData
    cutoff: pd.Timestamp
    end: pd.Timestamp
    test_rows: np.ndarray
    truth: list[np.ndarray]

    @property
    def n_test(self) -> int:
        return len(self.test_rows)

    def key(self) -> str:
        """Identifies the evaluation, so that champions are compared on the same one."""
        return f"protocol:{self.cutoff:%Y-%m-%d}..{self.end:%Y-%m-%d}:{self.n_test}"


def protocol_split(
    orders: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    end: str | pd.Timestamp | None = None,
    products: pd.DataFrame | None = None,
    *,
    half_life_days: float = 60.0,
) -> ProtocolSplit:
    """Split canonical orders into training data and the truth of the recommendation protocol.

    ``end`` defaults to the end of the data (exclusive bound one second after the last order). Nothing in
    ``train`` depends on orders at or after ``cutoff`` (a leakage test checks this).
    """
    cutoff = pd.Timestamp(cutoff)
    train = training_data(orders, cutoff, products, half_life_days=half_life_days)
    sales, _ = customer_model_orders(orders)
    end = pd.Timestamp(end) if end is not None else sales["ordered_at"].max() + pd.Timedelta(seconds=1)
    if end <= cutoff:
        raise DataValidationError(f"test window end {end:%Y-%m-%d} must be after the cutoff {cutoff:%Y-%m-%d}.")
    window = sales.loc[(sales["ordered_at"] >= cutoff) & (sales["ordered_at"] < end), ["customer_id", "sku"]]
    rows, cols = train.item_codes(window)
    keep = (rows >= 0) & (cols >= 0)
    rows, cols = rows[keep], cols[keep]
    seen = train.interactions.counts
    bought_before = np.asarray(seen[rows, cols]).ravel() > 0
    pairs = np.unique(np.stack([rows[~bought_before], cols[~bought_before]]), axis=1)
    test_rows, starts = np.unique(pairs[0], return_index=True)
    truth = np.split(pairs[1], starts[1:]) if len(test_rows) else []
    if len(test_rows) == 0:
        raise DataValidationError(
            f"no customer bought a new item between {cutoff:%Y-%m-%d} and {end:%Y-%m-%d}; "
            "the test window is empty: pick an earlier cutoff."
        )
    log.info("protocol split at %s: %d test customers", f"{cutoff:%Y-%m-%d}", len(test_rows))
    return ProtocolSplit(train=train, cutoff=cutoff, end=end, test_rows=test_rows.astype("int64"),
                         truth=[t.astype("int64") for t in truth])
