"""The customer x item interaction matrix as of a cutoff, with its id mappings.

Recommenders read three weightings of the same purchases: how often (``counts``: order lines), how much
(``spend``) and how recently (``recency``: each line weighted ``0.5 ** (age_days / half_life_days)``).
Rows are customers and columns items, both in sorted id order so that the matrix is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.errors import DataValidationError


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

    @property
    def shape(self) -> tuple[int, int]:
        return self.counts.shape

    def customer_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.customer_ids)}

    def item_index(self) -> dict[str, int]:
        return {s: j for j, s in enumerate(self.skus)}

    def to_long(self) -> pd.DataFrame:
        """One row per non-zero cell: customer_id, sku, count, spend, recency."""
        coo = self.counts.tocoo()
        return pd.DataFrame(
            {
                "customer_id": self.customer_ids[coo.row],
                "sku": self.skus[coo.col],
                "count": coo.data,
                "spend": np.asarray(self.spend[coo.row, coo.col]).ravel(),
                "recency": np.asarray(self.recency[coo.row, coo.col]).ravel(),
            }
        )


def build_interactions(
    orders: pd.DataFrame, cutoff: str | pd.Timestamp, *, half_life_days: float = 60.0
) -> InteractionMatrix:
    """Purchases (quantity > 0, known customer) strictly before ``cutoff`` as sparse matrices."""
    cutoff = pd.Timestamp(cutoff)
    if half_life_days <= 0:
        raise DataValidationError(f"half_life_days must be > 0, got {half_life_days}.")
    sales = orders.loc[
        (orders["ordered_at"] < cutoff) & orders["customer_id"].notna() & (orders["quantity"] > 0),
        ["customer_id", "sku", "quantity", "unit_price", "ordered_at"],
    ]
    if sales.empty:
        raise DataValidationError(f"no purchases by known customers before {cutoff:%Y-%m-%d}; pick a later cutoff.")
    customer_codes, customer_ids = pd.factorize(sales["customer_id"], sort=True)
    item_codes, skus = pd.factorize(sales["sku"], sort=True)
    age_days = ((cutoff - sales["ordered_at"]) / np.timedelta64(1, "D")).to_numpy()
    shape = (len(customer_ids), len(skus))

    def matrix(values: np.ndarray) -> sp.csr_matrix:
        m = sp.csr_matrix((values.astype("float32"), (customer_codes, item_codes)), shape=shape)
        m.sum_duplicates()
        return m

    return InteractionMatrix(
        customer_ids=np.asarray(customer_ids, dtype=object),
        skus=np.asarray(skus, dtype=object),
        counts=matrix(np.ones(len(sales))),
        spend=matrix((sales["quantity"] * sales["unit_price"]).to_numpy()),
        recency=matrix(np.power(0.5, age_days / half_life_days)),
        cutoff=cutoff,
        half_life_days=half_life_days,
    )


def save_interactions(matrix: InteractionMatrix, path_prefix) -> list[str]:
    """Write the matrices (``.npz``) and id mappings (``.parquet``); return the file names written."""
    from pathlib import Path

    prefix = Path(path_prefix)
    names = []
    for kind in ("counts", "spend", "recency"):
        target = prefix.with_name(f"{prefix.name}_{kind}.npz")
        sp.save_npz(target, getattr(matrix, kind))
        names.append(target.name)
    pd.DataFrame({"customer_id": matrix.customer_ids.astype(str)}).to_parquet(prefix.with_name(f"{prefix.name}_customers.parquet"))
    pd.DataFrame({"sku": matrix.skus.astype(str)}).to_parquet(prefix.with_name(f"{prefix.name}_items.parquet"))
    return [*names, f"{prefix.name}_customers.parquet", f"{prefix.name}_items.parquet"]
