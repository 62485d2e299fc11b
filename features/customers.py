"""Customer features and labels computed as of a cutoff.

Features use only order lines strictly before the cutoff; labels use only the horizon that starts at the
cutoff. Every feature is named for what it measures (``orders_90d``, ``days_since_last_order``) and listed
in :data:`CUSTOMER_FEATURES` with its meaning.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError

WINDOWS = (30, 90, 180)
DAY = np.timedelta64(1, "D")

CUSTOMER_FEATURES: dict[str, str] = {
    "days_since_last_order": "days from the last order to the cutoff (recency)",
    "days_since_first_order": "days from the first order to the cutoff (tenure)",
    "orders_total": "orders placed before the cutoff (frequency)",
    "spend_total": "gross spend before the cutoff (monetary)",
    "spend_per_order": "mean order value",
    "purchase_days": "distinct days with an order",
    "gap_mean_days": "mean days between consecutive order days (NaN with one order day)",
    "gap_std_days": "standard deviation of the gaps between order days",
    "overdue_ratio": "days since last order divided by the mean gap (how late against the usual rhythm)",
    **{f"orders_{w}d": f"orders in the last {w} days" for w in WINDOWS},
    **{f"spend_{w}d": f"gross spend in the last {w} days" for w in WINDOWS},
    "orders_trend_90d": "orders in the last 90 days minus orders in the 90 days before",
    "spend_trend_90d": "spend in the last 90 days minus spend in the 90 days before",
    "basket_units_mean": "mean units per order",
    "basket_lines_mean": "mean lines (SKUs) per order",
    "distinct_skus": "distinct SKUs bought",
    "distinct_categories": "distinct categories bought (needs the products table)",
    "return_rate": "units returned divided by units bought",
    "returned_spend": "value of returns and cancellations",
    "country": "most frequent country of the customer's orders (categorical)",
}


def _history(orders: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    before = orders.loc[(orders["ordered_at"] < cutoff) & orders["customer_id"].notna()]
    return before


def customer_features(
    orders: pd.DataFrame, cutoff: str | pd.Timestamp, products: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per customer with at least one purchase before ``cutoff``, indexed by ``customer_id``.

    Lines at or after the cutoff are ignored, so the result does not depend on anything that happens later.
    """
    cutoff = pd.Timestamp(cutoff)
    history = _history(orders, cutoff)
    sales = history.loc[history["quantity"] > 0]
    if sales.empty:
        raise DataValidationError(
            f"no purchases before the cutoff {cutoff:%Y-%m-%d}: pick a later cutoff (the data starts "
            f"{orders['ordered_at'].min():%Y-%m-%d})."
        )
    lines = sales.assign(spend=sales["quantity"] * sales["unit_price"])
    per_order = (
        lines.groupby(["customer_id", "order_id"], sort=False)
        .agg(ordered_at=("ordered_at", "min"), spend=("spend", "sum"), units=("quantity", "sum"), lines=("sku", "size"))
        .reset_index()
    )
    age_days = (cutoff - per_order["ordered_at"]) / DAY
    per_order["age_days"] = age_days
    g = per_order.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {
            "days_since_last_order": g["age_days"].min(),
            "days_since_first_order": g["age_days"].max(),
            "orders_total": g.size().astype("float64"),
            "spend_total": g["spend"].sum(),
            "basket_units_mean": g["units"].mean(),
            "basket_lines_mean": g["lines"].mean(),
        }
    )
    out["spend_per_order"] = out["spend_total"] / out["orders_total"]

    days = per_order.assign(day=per_order["ordered_at"].dt.floor("D"))[["customer_id", "day"]].drop_duplicates()
    days = days.sort_values(["customer_id", "day"])
    days["gap"] = days.groupby("customer_id")["day"].diff() / DAY
    gd = days.groupby("customer_id")
    out["purchase_days"] = gd.size().astype("float64")
    out["gap_mean_days"] = gd["gap"].mean()
    out["gap_std_days"] = gd["gap"].std(ddof=0).where(gd["gap"].count() > 1)
    out["overdue_ratio"] = out["days_since_last_order"] / out["gap_mean_days"]

    for w in WINDOWS:
        recent = per_order["age_days"] <= w
        out[f"orders_{w}d"] = per_order.loc[recent].groupby("customer_id").size().reindex(out.index, fill_value=0).astype("float64")
        out[f"spend_{w}d"] = per_order.loc[recent].groupby("customer_id")["spend"].sum().reindex(out.index, fill_value=0.0)
    previous = (per_order["age_days"] > 90) & (per_order["age_days"] <= 180)
    prev_orders = per_order.loc[previous].groupby("customer_id").size().reindex(out.index, fill_value=0)
    prev_spend = per_order.loc[previous].groupby("customer_id")["spend"].sum().reindex(out.index, fill_value=0.0)
    out["orders_trend_90d"] = out["orders_90d"] - prev_orders
    out["spend_trend_90d"] = out["spend_90d"] - prev_spend

    out["distinct_skus"] = lines.groupby("customer_id")["sku"].nunique().astype("float64")
    if products is not None:
        category = lines["sku"].map(products.set_index("sku")["category"])
        out["distinct_categories"] = category.groupby(lines["customer_id"]).nunique().astype("float64")
    else:
        out["distinct_categories"] = np.nan

    returns = history.loc[history["quantity"] < 0]
    returned_units = (-returns["quantity"]).groupby(returns["customer_id"]).sum().reindex(out.index, fill_value=0)
    bought_units = lines.groupby("customer_id")["quantity"].sum()
    out["return_rate"] = (returned_units / bought_units).astype("float64")
    out["returned_spend"] = (
        (-returns["quantity"] * returns["unit_price"]).groupby(returns["customer_id"]).sum().reindex(out.index, fill_value=0.0)
    )
    country = lines.groupby(["customer_id", "country"]).size().reset_index(name="n")
    country = country.sort_values(["customer_id", "n", "country"], ascending=[True, False, True]).drop_duplicates("customer_id")
    out["country"] = country.set_index("customer_id")["country"].reindex(out.index).astype("str")
    out.index.name = "customer_id"
    return out[list(CUSTOMER_FEATURES)]


def customer_labels(orders: pd.DataFrame, cutoff: str | pd.Timestamp, horizon_days: int = 90) -> pd.DataFrame:
    """Labels for the horizon ``[cutoff, cutoff + horizon_days)`` for customers with history before the cutoff.

    ``churned`` is 1 when the customer places no purchase in the horizon; ``spend_next`` is the net spend
    (purchases minus returns) in the horizon; ``orders_next`` counts orders. Raises when the data ends
    before the horizon does, because the labels would be truncated.
    """
    cutoff = pd.Timestamp(cutoff)
    if horizon_days <= 0:
        raise DataValidationError(f"horizon_days must be > 0, got {horizon_days}.")
    end = cutoff + pd.Timedelta(days=horizon_days)
    data_end = orders["ordered_at"].max()
    if pd.isna(data_end) or data_end < end - pd.Timedelta(days=1):
        raise DataValidationError(
            f"the {horizon_days}-day label window from {cutoff:%Y-%m-%d} ends {end:%Y-%m-%d}, after the data "
            f"({data_end:%Y-%m-%d}); pick a cutoff on or before {(data_end - pd.Timedelta(days=horizon_days - 1)):%Y-%m-%d}."
        )
    population = _history(orders, cutoff)
    population = pd.Index(population.loc[population["quantity"] > 0, "customer_id"].unique()).sort_values()
    window = orders.loc[(orders["ordered_at"] >= cutoff) & (orders["ordered_at"] < end) & orders["customer_id"].isin(population)]
    net = (window["quantity"] * window["unit_price"]).groupby(window["customer_id"]).sum()
    bought = window.loc[window["quantity"] > 0]
    orders_next = bought.groupby("customer_id")["order_id"].nunique()
    labels = pd.DataFrame(index=population)
    labels.index.name = "customer_id"
    labels["orders_next"] = orders_next.reindex(population, fill_value=0).astype("int64")
    labels["churned"] = (labels["orders_next"] == 0).astype("int64")
    labels["spend_next"] = net.reindex(population, fill_value=0.0).astype("float64")
    return labels
