"""Recency-frequency-monetary summaries, the inputs of BG/NBD and Gamma-Gamma.

Two sources give the same quantities: a transaction log (the textbook definition, used on CDNOW) and the
customer feature table of :mod:`features.customers` (used in training and scoring, so that a scorer only
needs ``customers.parquet``). Time is in weeks. Several purchases on one day are one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError

DAYS_PER_UNIT = 7.0


@dataclass
class RFM:
    """Per-customer arrays: ``x`` repeat purchase days, ``t_x`` and ``T`` in weeks, ``n`` purchase days and
    ``monetary`` mean spend per purchase day (``monetary_repeat`` over repeat days only, NaN without repeats)."""

    customer_id: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    monetary_repeat: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)


def rfm_from_transactions(
    tx: pd.DataFrame, end: str | pd.Timestamp, *, spend: str = "spend", unit_days: float = DAYS_PER_UNIT
) -> RFM:
    """Summary of a log with ``customer_id, ordered_at, <spend>`` up to (excluding) ``end``.

    ``T`` runs from the first purchase day to ``end`` (CDNOW: calibration ends 1997-09-30, so ``end`` is
    1997-10-01 to count that day in, as the paper does with T measured to the end of 1997-09-30).
    """
    end = pd.Timestamp(end)
    missing = {"customer_id", "ordered_at", spend} - set(tx.columns)
    if missing:
        raise DataValidationError(f"transactions lack column(s) {sorted(missing)}; need customer_id, ordered_at, {spend}.")
    before = tx.loc[tx["ordered_at"] < end]
    if before.empty:
        raise DataValidationError(f"no transactions before {end:%Y-%m-%d}; pick a later end date.")
    days = (
        before.assign(day=before["ordered_at"].dt.floor("D"))
        .groupby(["customer_id", "day"], sort=True)[spend].sum()
        .reset_index()
    )
    g = days.groupby("customer_id", sort=True)
    first, last, n = g["day"].min(), g["day"].max(), g.size()
    total = g[spend].sum()
    first_spend = days.drop_duplicates("customer_id").set_index("customer_id")[spend]
    day = pd.Timedelta(days=1)
    x = (n - 1).to_numpy("float64")
    repeat = np.where(x > 0, (total - first_spend.reindex(total.index)).to_numpy() / np.maximum(x, 1), np.nan)
    # The end day is exclusive: T counts up to the start of `end` minus one day, plus one (the last day counts).
    return RFM(
        customer_id=first.index.to_numpy(),
        x=x,
        t_x=((last - first) / day).to_numpy("float64") / unit_days,
        T=((end - day - first) / day).to_numpy("float64") / unit_days,
        monetary=(total / n).to_numpy("float64"),
        monetary_repeat=repeat,
    )


def rfm_from_features(features: pd.DataFrame, unit_days: float = DAYS_PER_UNIT) -> RFM:
    """The same summary from the customer feature table (``features.customers.build_customer_features``).

    ``x = purchase_days - 1``, ``T = days_since_first_order``, ``t_x = T - days_since_last_order``;
    ``monetary = spend_total / purchase_days`` (every purchase day, the first included).
    """
    needed = ["purchase_days", "days_since_first_order", "days_since_last_order", "spend_total"]
    missing = [c for c in needed if c not in features.columns]
    if missing:
        raise DataValidationError(f"customer features lack column(s) {missing}; build them with `shopml features build`.")
    n = features["purchase_days"].to_numpy("float64")
    T = features["days_since_first_order"].to_numpy("float64")
    recency = features["days_since_last_order"].to_numpy("float64")
    ids = features["customer_id"].to_numpy() if "customer_id" in features.columns else features.index.to_numpy()
    return RFM(
        customer_id=ids,
        x=np.maximum(n - 1, 0),
        t_x=np.clip(T - recency, 0, None) / unit_days,
        T=T / unit_days,
        monetary=features["spend_total"].to_numpy("float64") / np.maximum(n, 1),
    )
