"""Customer x item interactions as of a cutoff: the declared long table and the sparse matrices built from it.

Recommenders read three weightings of the same purchases: how often (``order_lines``), how much (``spend``)
and how recently (``recency``: each line weighted ``0.5 ** (age_days / half_life_days)``).
:func:`build_interaction_features` computes them for one partition of customers (their order lines and the
cutoff) as the long table declared by :data:`INTERACTION_SET`; :meth:`InteractionMatrix.from_table`
assembles any union of partitions into matrices whose rows are customers and columns items, both in sorted
id order so that the matrix is reproducible. :data:`BUYER_SET` holds the recommender's per-customer
attributes (country of the latest purchase, orders, recency), from the same purchases and partitioned the
same way.

Values are summed in float32 by scipy exactly as a single all-orders matrix sums them (a cell's lines all
belong to one customer, hence to one partition), so matrices assembled from partitions are bit-for-bit those
built at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.cleaning import customer_model_orders
from features.schema import Column, FeatureSet
from shopml.errors import DataValidationError

CUSTOMER_ID = Column("customer_id", "str", "customer with a purchase before the cutoff")
SKU = Column("sku", "str", "item the customer bought before the cutoff")

INTERACTION_SET = FeatureSet(
    "interactions",
    keys=(CUSTOMER_ID, SKU),
    partition_key="customer_id",
    features=(
        Column("order_lines", "int64", "order lines of the item by the customer before the cutoff (returns excluded)"),
        Column("spend", "float32", "sum of quantity x unit_price over those lines"),
        Column("recency", "float32", "sum over those lines of 0.5 ** (age_days / half_life_days): recent lines weigh more"),
        Column("days_since_last_purchase", "float64", "days from the customer's latest line of the item to the cutoff"),
    ),
)

BUYER_SET = FeatureSet(
    "buyers",
    keys=(CUSTOMER_ID,),
    partition_key="customer_id",
    features=(
        Column("last_order_country", "str", "country of the customer's latest purchase before the cutoff (the "
               "latest with a country; ties at one timestamp: the last line in input order)"),
        Column("orders_total", "int64", "distinct orders with a purchase before the cutoff (as customers.orders_total)"),
        Column("days_since_last_purchase", "float64", "days from the customer's latest purchase line to the cutoff"),
    ),
)


def purchases(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Order lines the recommender learns from: ``customer_model_orders`` (known customer, quantity > 0)
    strictly before ``cutoff``, in input order."""
    sales, _ = customer_model_orders(orders)
    return sales.loc[sales["ordered_at"] < cutoff]


def build_interaction_features(
    orders: pd.DataFrame, cutoff: str | pd.Timestamp, *, half_life_days: float = 60.0
) -> pd.DataFrame:
    """The :data:`INTERACTION_SET` rows of the customers in ``orders`` (one partition or all of them).

    One row per (customer, item) bought before ``cutoff``, sorted by customer then item. Rows do not depend
    on lines at or after the cutoff, nor on other customers' lines.
    """
    cutoff = pd.Timestamp(cutoff)
    _check_half_life(half_life_days)
    sales = purchases(orders, cutoff)
    if sales.empty:
        return _empty(INTERACTION_SET)
    customer_codes, customer_ids = pd.factorize(sales["customer_id"], sort=True)
    item_codes, skus = pd.factorize(sales["sku"], sort=True)
    age_days = ((cutoff - sales["ordered_at"]) / np.timedelta64(1, "D")).to_numpy()
    shape = (len(customer_ids), len(skus))
    counts = _matrix(np.ones(len(sales)), customer_codes, item_codes, shape).tocoo()
    spend = _matrix((sales["quantity"] * sales["unit_price"]).to_numpy(), customer_codes, item_codes, shape)
    recency = _matrix(np.power(0.5, age_days / half_life_days), customer_codes, item_codes, shape)
    rows, cols = counts.row, counts.col
    last = pd.Series(age_days).groupby([customer_codes, item_codes], sort=True).min()  # same row-major order
    table = pd.DataFrame({
        "customer_id": pd.Series(customer_ids.take(rows), dtype="str"),
        "sku": pd.Series(skus.take(cols), dtype="str"),
        "order_lines": counts.data.astype("int64"),
        "spend": np.asarray(spend[rows, cols], dtype="float32").ravel(),
        "recency": np.asarray(recency[rows, cols], dtype="float32").ravel(),
        "days_since_last_purchase": last.to_numpy(dtype="float64"),
    })
    return INTERACTION_SET.check(table)


def build_buyer_features(orders: pd.DataFrame, cutoff: str | pd.Timestamp) -> pd.DataFrame:
    """The :data:`BUYER_SET` rows of the customers in ``orders`` with a purchase before ``cutoff``, sorted by id."""
    sales = purchases(orders, pd.Timestamp(cutoff))
    if sales.empty:
        return _empty(BUYER_SET)
    latest = sales.sort_values("ordered_at", kind="stable").groupby("customer_id", sort=True)["country"].last()
    totals = sales.groupby("customer_id", sort=True).agg(orders=("order_id", "nunique"), last=("ordered_at", "max"))
    table = pd.DataFrame({
        "customer_id": pd.Series(latest.index, dtype="str"),
        "last_order_country": pd.Series(latest.to_numpy(), dtype="str"),
        "orders_total": totals["orders"].to_numpy(dtype="int64"),
        "days_since_last_purchase": ((pd.Timestamp(cutoff) - totals["last"]) / np.timedelta64(1, "D")).to_numpy("float64"),
    })
    return BUYER_SET.check(table)


@dataclass(frozen=True)
class InteractionMatrix:
    """Sparse customer x item matrices sharing one pair of id mappings."""

    customer_ids: np.ndarray
    skus: np.ndarray
    counts: sp.csr_matrix
    spend: sp.csr_matrix
    recency: sp.csr_matrix
    cutoff: pd.Timestamp
    half_life_days: float

    @classmethod
    def from_table(
        cls, table: pd.DataFrame, cutoff: str | pd.Timestamp, half_life_days: float = 60.0
    ) -> InteractionMatrix:
        """Matrices from :data:`INTERACTION_SET` rows (any union of partitions, in any row order)."""
        cutoff = pd.Timestamp(cutoff)
        _check_half_life(half_life_days)
        INTERACTION_SET.check(table)
        if table.empty:
            raise DataValidationError(f"no purchases by known customers before {cutoff:%Y-%m-%d}; pick a later cutoff.")
        repeated = table.duplicated(INTERACTION_SET.key_names)
        if repeated.any():
            example = table.loc[repeated, INTERACTION_SET.key_names].head(3).to_dict("records")
            raise DataValidationError(
                f"{int(repeated.sum())} (customer_id, sku) pairs appear in more than one interaction row, e.g. "
                f"{example}: the partitions overlap; split the orders by customer_id so that each customer is in one."
            )
        customer_codes, customer_ids = pd.factorize(table["customer_id"], sort=True)
        item_codes, skus = pd.factorize(table["sku"], sort=True)
        shape = (len(customer_ids), len(skus))
        return cls(
            customer_ids=np.asarray(customer_ids, dtype=object),
            skus=np.asarray(skus, dtype=object),
            counts=_matrix(table["order_lines"].to_numpy(), customer_codes, item_codes, shape),
            spend=_matrix(table["spend"].to_numpy(), customer_codes, item_codes, shape),
            recency=_matrix(table["recency"].to_numpy(), customer_codes, item_codes, shape),
            cutoff=cutoff,
            half_life_days=half_life_days,
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.counts.shape

    def customer_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.customer_ids)}

    def item_index(self) -> dict[str, int]:
        return {s: j for j, s in enumerate(self.skus)}


def build_interactions(
    orders: pd.DataFrame, cutoff: str | pd.Timestamp, *, half_life_days: float = 60.0
) -> InteractionMatrix:
    """Purchases (quantity > 0, known customer) strictly before ``cutoff`` as sparse matrices, in one call."""
    table = build_interaction_features(orders, cutoff, half_life_days=half_life_days)
    return InteractionMatrix.from_table(table, cutoff, half_life_days)


def _matrix(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """float32 CSR with duplicate cells summed (scipy's order, the same for a customer in any partition)."""
    m = sp.csr_matrix((values.astype("float32"), (rows, cols)), shape=shape)
    m.sum_duplicates()
    return m


def _check_half_life(half_life_days: float) -> None:
    if half_life_days <= 0:
        raise DataValidationError(f"half_life_days must be > 0, got {half_life_days}.")


def _empty(feature_set: FeatureSet) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in feature_set.columns()})
