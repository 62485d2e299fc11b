"""Protocol views of the canonical orders (see ../shared/PROTOCOLS.md).

The canonical table keeps returns (negative quantities) and guest lines. Models that follow the Online
Retail protocol read one of these views; each returns the rows it keeps, and the counts of what it set
aside, so a caller can report them.
"""

from __future__ import annotations

import pandas as pd


def customer_model_orders(orders: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Sales lines of known customers: the cleaning for churn, value and recommendations.

    Drops guest lines (no customer_id) and returns/cancellations (quantity <= 0).
    """
    guest = orders["customer_id"].isna()
    returns = orders["quantity"] <= 0
    kept = orders.loc[~guest & ~returns].reset_index(drop=True)
    return kept, {"guest lines": int(guest.sum()), "return lines": int((returns & ~guest).sum())}


def demand_orders(orders: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Sales lines including guests: the cleaning for demand forecasting (guest orders are still demand)."""
    returns = orders["quantity"] <= 0
    return orders.loc[~returns].reset_index(drop=True), {"return lines": int(returns.sum())}
