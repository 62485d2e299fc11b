"""Customer features as of a cutoff, and labels for the horizon that starts there: the ``customers`` set.

:data:`CUSTOMER_SET` declares every column (name, dtype, meaning); :func:`build_customer_features` computes
them. Features use only lines strictly before the cutoff (every line of known customers, returns included:
they feed the return features); labels use only the horizon ``[cutoff, cutoff + horizon_days)`` and the
protocol cleaning (:func:`features.cleaning.customer_model_orders`: sales lines only). The function is a pure
function of one partition of customers: the order lines of a group of customers in, those customers' rows out.
Nothing in it looks at other customers, so a batch engine can run it group by group (the set's
``spark_ddl()`` is the output schema) and get the rows of one call on the whole table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.cleaning import customer_model_orders
from features.schema import Column, FeatureSet
from shopml.errors import DataValidationError

WINDOWS = (30, 90, 180)
DAY = np.timedelta64(1, "D")


def _f(name: str, meaning: str, dtype: str = "float64") -> Column:
    return Column(name, dtype, meaning)


CUSTOMER_SET = FeatureSet(
    "customers",
    keys=(Column("customer_id", "str", "customer identifier"),),
    partition_key="customer_id",
    features=(
        _f("days_since_last_order", "days from the last order to the cutoff (recency)"),
        _f("days_since_first_order", "days from the first order to the cutoff (tenure)"),
        _f("orders_total", "orders placed before the cutoff (frequency)"),
        _f("spend_total", "gross spend before the cutoff (monetary)"),
        _f("spend_per_order", "mean order value"),
        _f("purchase_days", "distinct days with an order"),
        _f("gap_mean_days", "mean days between consecutive order days (NaN with one order day)"),
        _f("gap_std_days", "standard deviation of the gaps between order days (NaN with fewer than two gaps)"),
        _f("overdue_ratio", "days since last order divided by the mean gap (how late against the usual rhythm)"),
        *(_f(f"orders_{w}d", f"orders in the last {w} days") for w in WINDOWS),
        *(_f(f"spend_{w}d", f"gross spend in the last {w} days") for w in WINDOWS),
        _f("orders_trend_90d", "orders in the last 90 days minus orders in the 90 days before"),
        _f("spend_trend_90d", "spend in the last 90 days minus spend in the 90 days before"),
        _f("basket_units_mean", "mean units per order"),
        _f("basket_lines_mean", "mean lines (SKUs) per order"),
        _f("distinct_skus", "distinct SKUs bought"),
        _f("distinct_categories", "distinct categories bought (NaN without the products table)"),
        _f("return_rate", "units returned divided by units bought"),
        _f("returned_spend", "value of returns and cancellations"),
        _f("country", "most frequent country of the customer's orders (ties: first by name)", "str"),
    ),
    labels=(
        Column("orders_next", "int64", "orders placed in the horizon"),
        Column("churned", "int64", "1 when the customer places no order in the horizon"),
        Column("spend_next", "float64", "spend on sales lines in the horizon (returns are set aside by the "
                                        "protocol cleaning, not subtracted)"),
    ),
)
# The feature names in output order: what a scorer needs besides customer_id.
CUSTOMER_FEATURES: tuple[str, ...] = tuple(CUSTOMER_SET.feature_names)
CUMULATIVE_FEATURES: tuple[str, ...] = ("days_since_first_order", "orders_total", "spend_total", "purchase_days",
                                        "distinct_skus", "distinct_categories", "returned_spend")
"""Features that only grow with a customer's tenure: their distribution moves as the shop ages whatever
happens, so drift monitoring reports them without counting them (``docs/monitoring.md``)."""


def build_customer_features(
    orders: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    *,
    products: pd.DataFrame | None = None,
    horizon_days: int | None = None,
    data_end: str | pd.Timestamp | None = None,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """One row per customer with a purchase before ``cutoff``, sorted by ``customer_id``: the key, the
    features and, when ``horizon_days`` is given, the labels (columns and dtypes as :data:`CUSTOMER_SET`).

    Parameters
    ----------
    orders
        Canonical order lines of any group of customers (guest lines and returns may be included).
    cutoff
        Features see lines strictly before it; labels the ``horizon_days`` from it.
    products
        The whole products table (a broadcast lookup of ``sku -> category``) for ``distinct_categories``.
    data_end
        The last sale of the whole data set (:func:`label_data_end`), which the label window must not pass.
        Defaults to that of ``orders``; pass the whole table's when ``orders`` is one partition.
    allow_empty
        Return an empty frame when no customer in ``orders`` bought before the cutoff (a partition of new
        customers) instead of raising.
    """
    cutoff = pd.Timestamp(cutoff)
    features = _features(orders, cutoff, products)
    if features.empty and not allow_empty:
        first = orders["ordered_at"].min()
        starts = "the orders are empty" if pd.isna(first) else f"the data starts {first:%Y-%m-%d}"
        raise DataValidationError(f"no purchases before the cutoff {cutoff:%Y-%m-%d}: pick a later cutoff ({starts}).")
    if horizon_days is not None:
        data_end = label_data_end(orders) if data_end is None else pd.Timestamp(data_end)
        check_label_window(cutoff, horizon_days, data_end)
        features = features.join(_labels(orders, cutoff, horizon_days, features.index))
    return CUSTOMER_SET.check(features.reset_index(), with_labels=horizon_days is not None)


def label_data_end(orders: pd.DataFrame) -> pd.Timestamp:
    """When the data the labels read ends: the last line kept by the protocol cleaning (a sale of a known
    customer). Compute it once on the whole table and pass it to every partition."""
    return customer_model_orders(orders)[0]["ordered_at"].max()


def check_label_window(cutoff: pd.Timestamp, horizon_days: int, data_end: pd.Timestamp) -> None:
    """Raise when the label window ``[cutoff, cutoff + horizon_days)`` is not covered by data ending ``data_end``
    (the labels would be truncated)."""
    if horizon_days <= 0:
        raise DataValidationError(f"horizon_days must be > 0, got {horizon_days}.")
    end = cutoff + pd.Timedelta(days=horizon_days)
    if pd.isna(data_end):
        raise DataValidationError("the orders hold no sale of a known customer, so no label window is covered.")
    if data_end < end - pd.Timedelta(days=1):
        raise DataValidationError(
            f"the {horizon_days}-day label window from {cutoff:%Y-%m-%d} ends {end:%Y-%m-%d}, after the data "
            f"({data_end:%Y-%m-%d}); pick a cutoff on or before {(data_end - pd.Timedelta(days=horizon_days - 1)):%Y-%m-%d}."
        )


def customer_labels(orders: pd.DataFrame, cutoff: str | pd.Timestamp, horizon_days: int,
                    customers: pd.Index) -> pd.DataFrame:
    """What ``customers`` did in the ``horizon_days`` from ``cutoff``: ``orders_next``, ``churned`` and
    ``spend_next``, the labels the models learn, indexed by ``customer_id``. Outcome tracking judges
    predictions with it once the window has passed (the window must be covered by the data)."""
    cutoff = pd.Timestamp(cutoff)
    check_label_window(cutoff, horizon_days, label_data_end(orders))
    return _labels(orders, cutoff, horizon_days, pd.Index(customers, name="customer_id"))


def _empty() -> pd.DataFrame:
    """No customer: the declared feature columns and dtypes, indexed by an empty ``customer_id``."""
    return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in CUSTOMER_SET.features},
                        index=pd.Index([], dtype="str", name="customer_id"))


def _features(orders: pd.DataFrame, cutoff: pd.Timestamp, products: pd.DataFrame | None) -> pd.DataFrame:
    """The feature columns indexed by ``customer_id`` (sorted); empty when nobody bought before the cutoff."""
    history = orders.loc[(orders["ordered_at"] < cutoff) & orders["customer_id"].notna()]
    sales = history.loc[history["quantity"] > 0]
    if sales.empty:
        return _empty()
    lines = sales.assign(spend=sales["quantity"] * sales["unit_price"])
    per_order = (
        lines.groupby(["customer_id", "order_id"], sort=False)
        .agg(ordered_at=("ordered_at", "min"), spend=("spend", "sum"), units=("quantity", "sum"), lines=("sku", "size"))
        .reset_index()
    )
    per_order["age_days"] = (cutoff - per_order["ordered_at"]) / DAY
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


def _labels(orders: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, population: pd.Index) -> pd.DataFrame:
    """The label columns of ``population`` (the customers with history) from the cleaned lines in the horizon."""
    end = cutoff + pd.Timedelta(days=horizon_days)
    window, _ = customer_model_orders(orders.loc[(orders["ordered_at"] >= cutoff) & (orders["ordered_at"] < end)])
    window = window.loc[window["customer_id"].isin(population)]
    spend = (window["quantity"] * window["unit_price"]).groupby(window["customer_id"]).sum()
    orders_next = window.groupby("customer_id")["order_id"].nunique()
    labels = pd.DataFrame(index=population)
    labels["orders_next"] = orders_next.reindex(population, fill_value=0).astype("int64")
    labels["churned"] = (labels["orders_next"] == 0).astype("int64")
    labels["spend_next"] = spend.reindex(population, fill_value=0.0).astype("float64")
    return labels
