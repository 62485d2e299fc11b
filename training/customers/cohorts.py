"""Monthly acquisition cohorts and their retention: the picture marketing reads churn from.

A customer belongs to the month of their first order; cohort ``c`` retains a share ``r[c, k]`` in month
``k`` after acquisition: the share of its customers with at least one order in that calendar month.
Month 0 is 1 by construction. Cells later than the last order month are missing (not zero): they have not
happened yet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def cohort_retention(orders: pd.DataFrame, max_months: int = 24) -> pd.DataFrame:
    """Retention share per acquisition month (rows) and months since acquisition (columns 0..max_months-1)."""
    known = orders.loc[orders["customer_id"].notna() & (orders["quantity"] > 0), ["customer_id", "ordered_at"]]
    if known.empty:
        return pd.DataFrame(dtype=float)
    month = known["ordered_at"].dt.to_period("M")
    first = month.groupby(known["customer_id"]).transform("min")
    age = (month.astype("int64") - first.astype("int64")).to_numpy()
    active = pd.DataFrame({"cohort": first.to_numpy(), "age": age, "customer_id": known["customer_id"].to_numpy()})
    active = active.loc[active["age"] < max_months].drop_duplicates()
    counts = active.groupby(["cohort", "age"]).size().unstack("age")
    sizes = counts[0]
    retention = counts.div(sizes, axis=0)
    last = month.max()
    horizon = np.arange(retention.shape[1])
    for cohort in retention.index:  # months that have not happened yet stay missing, observed zeros become 0
        observed = horizon <= (last.ordinal - cohort.ordinal)
        row = retention.loc[cohort].to_numpy(dtype=float)
        retention.loc[cohort] = np.where(observed, np.nan_to_num(row), np.nan)
    retention.index = retention.index.astype(str)
    retention.insert(0, "customers", sizes.astype(int).to_numpy())
    return retention


def retention_heatmap(retention: pd.DataFrame):
    """A heatmap of :func:`cohort_retention` (month 0 left out: it is always 100 %)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    shares = retention.drop(columns=["customers"]).drop(columns=[0], errors="ignore")
    fig, ax = plt.subplots(figsize=(1.0 + 0.45 * max(shares.shape[1], 1), 1.2 + 0.32 * max(len(shares), 1)))
    image = ax.imshow(shares.to_numpy(dtype=float) * 100, aspect="auto", cmap="viridis", vmin=0)
    ax.set_xticks(range(shares.shape[1]), [str(c) for c in shares.columns])
    ax.set_yticks(range(len(shares)), [f"{i} ({n:,})" for i, n in zip(shares.index, retention["customers"], strict=True)])
    ax.set_xlabel("months since first order")
    ax.set_ylabel("acquisition month (customers)")
    ax.set_title("Cohort retention: % of the cohort ordering in the month")
    fig.colorbar(image, ax=ax, label="% retained")
    fig.tight_layout()
    return fig
