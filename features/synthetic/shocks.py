"""Planted shocks: post-process a generated shop so that something changes on a known date.

A monitor is measured by what it catches and how soon: :func:`plant_shock` takes the canonical tables (e.g.
``generate_shop(...).tables()``) and returns new tables in which, from ``start`` on,

* ``demand_drop``: a share ``size`` of the sales orders never happened (their lines, and the returns of
  those lines, are removed);
* ``price_change``: every sale line is priced ``1 + size`` times its price (``size=0.1`` is +10 %,
  ``-0.1`` is -10 %; to the penny, at least 0.01), returns of those lines are refunded at the new price, and
  ``products.price`` moves with it. Demand is left as it was, so only values move;
* ``churn_wave``: a share ``size`` of the customers active at ``start`` (a purchase in the 90 days before)
  stop buying for good: their sales from ``start`` on, and the returns of those sales, are removed;
* ``defection``: from ``start`` on, every customer leaves for good with probability ``size`` at ``start``
  and again after each of their purchases (so a geometric number of further purchases, ``(1 - size) / size``
  on average): a market that keeps losing customers, to a competitor or to new shipping costs, where the
  churn wave is a one-off loss. It changes who churns, not only how many: a customer with a long, regular
  history is now as likely to leave as a new one.

With ``countries``, a demand drop, churn wave or defection hits only orders delivered there (a market-specific shift,
which a model that knows the country can learn once it is retrained: the monitoring replay's shift).

A return is paired with the latest sale of the same customer and SKU at or before it (returns follow their
sale in the synthetic shop); guests' and unpaired returns are left alone. ``customers``, ``regions`` and the
other tables are returned untouched. The same tables, kind, start, size and seed always give the same result;
rows keep their order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from features.contracts import CONTRACTS
from features.synthetic.config import ShopConfigError

ShockKind = Literal["demand_drop", "price_change", "churn_wave", "defection"]
SHOCKS: tuple[str, ...] = ("demand_drop", "price_change", "churn_wave", "defection")
ACTIVE_DAYS = 90
"""A customer is active at the start of a churn wave when they bought in the 90 days before it."""


def plant_shock(
    tables: Mapping[str, pd.DataFrame],
    kind: str,
    start: str | pd.Timestamp,
    size: float,
    seed: int = 0,
    countries: Sequence[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The tables with a shock of ``kind`` and ``size`` from ``start`` on (see the module's description).

    Parameters
    ----------
    tables
        Canonical tables by name; ``orders`` is required, ``products`` is rescaled by a price change.
    kind
        ``demand_drop``, ``price_change``, ``churn_wave`` or ``defection``.
    start
        The first day of the shock (a date; times within it count from midnight).
    size
        Share of orders dropped or of active customers lost, or the chance of leaving at each purchase
        (defection), in (0, 1]; for a price change the relative change, in (-1, 10], not 0.
    seed
        Seed of which orders or customers are picked.
    countries
        Only orders delivered to these countries are hit (all kinds but a price change; None: all).

    Examples
    --------
    >>> shop = generate_shop(ShopConfig(customers=5_000))  # doctest: +SKIP
    >>> shocked = plant_shock(shop.tables(), "demand_drop", "2024-03-04", 0.2, seed=1)  # doctest: +SKIP
    """
    if kind not in SHOCKS:
        raise ShopConfigError(f"shock kind {kind!r} is unknown; use one of {', '.join(SHOCKS)}.")
    _check_size(kind, size)
    if "orders" not in tables:
        raise ShopConfigError("plant_shock needs the orders table: pass shop.tables().")
    orders = tables["orders"]
    try:
        start = pd.Timestamp(start).normalize()
    except ValueError as exc:
        raise ShopConfigError(f"start={start!r} is not a date; use YYYY-MM-DD.") from exc
    first, last = orders["ordered_at"].min(), orders["ordered_at"].max()
    if not first.normalize() < start <= last:
        raise ShopConfigError(
            f"start={start:%Y-%m-%d} is outside the orders; pick a day after {first:%Y-%m-%d}, up to {last:%Y-%m-%d}."
        )
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SHOCKS.index(kind),)))
    sale = orders["quantity"].to_numpy() > 0
    after = (orders["ordered_at"] >= start).to_numpy()
    if countries is not None:
        if kind == "price_change":
            raise ShopConfigError("countries= applies to a demand drop, a churn wave or a defection; a price change "
                                  "is shop-wide.")
        unknown = sorted(set(countries) - set(orders["country"].dropna().unique()))
        if unknown or not len(countries):
            raise ShopConfigError(f"countries={list(countries)!r}: {unknown or 'none given'} not in the orders; pick "
                                  f"from {sorted(orders['country'].dropna().unique())}.")
    hit = after if countries is None else after & orders["country"].isin(list(countries)).to_numpy()
    out = dict(tables)
    if kind == "price_change":
        changed = sale & after
        changed |= _paired_returns(orders, changed)
        price = orders["unit_price"].to_numpy()
        new_price = np.where(changed, np.maximum(np.round(price * (1 + size), 2), 0.01), price)
        out["orders"] = orders.assign(unit_price=new_price)
        if "products" in tables:
            products = tables["products"]
            out["products"] = products.assign(price=np.maximum(np.round(products["price"] * (1 + size), 2), 0.01))
        return out
    if kind == "demand_drop":
        order_ids = orders["order_id"]
        candidates = pd.unique(order_ids[sale & hit])
        dropped_orders = candidates[rng.random(len(candidates)) < size]
        dropped = sale & hit & order_ids.isin(dropped_orders).to_numpy()
    elif kind == "defection":
        dropped = sale & hit & _after_defection(orders, sale & hit, size, rng)
    else:  # churn_wave
        when = orders["ordered_at"]
        recent = sale & (when >= start - pd.Timedelta(days=ACTIVE_DAYS)).to_numpy() & ~after
        customer = orders["customer_id"]
        active = pd.unique(customer[recent & customer.notna().to_numpy()].to_numpy())
        leavers = active[rng.random(len(active)) < size]
        dropped = sale & hit & customer.isin(leavers).to_numpy()
    dropped |= _paired_returns(orders, dropped)
    out["orders"] = orders.loc[~dropped].reset_index(drop=True).astype(CONTRACTS["orders"].dtypes)
    return out


def _after_defection(orders: pd.DataFrame, rows: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """Among ``rows`` (sale lines from the start), those of a known customer's orders after they left: each
    customer keeps a geometric number of their orders, in time order, and loses the rest."""
    known = rows & orders["customer_id"].notna().to_numpy()
    out = np.zeros(len(orders), dtype=bool)
    if not known.any():
        return out
    placed = orders.loc[known, ["customer_id", "order_id", "ordered_at"]].drop_duplicates("order_id")
    placed = placed.sort_values(["ordered_at", "order_id"], kind="stable")
    rank = placed.groupby("customer_id", sort=False).cumcount().to_numpy()
    customers = pd.Index(pd.unique(placed["customer_id"])).sort_values()
    kept = pd.Series(rng.geometric(size, len(customers)) - 1, index=customers)
    lost = placed["order_id"].to_numpy()[rank >= kept.reindex(placed["customer_id"]).to_numpy()]
    out[known] = orders.loc[known, "order_id"].isin(lost).to_numpy()
    return out


def _check_size(kind: str, size: float) -> None:
    ok = isinstance(size, int | float) and not isinstance(size, bool) and np.isfinite(size)
    if kind == "price_change":
        if not (ok and -1 < size <= 10 and size != 0):
            raise ShopConfigError(f"size={size!r}: a price change is a relative change in (-1, 10], not 0 "
                                  "(0.1 raises prices by 10 %).")
    elif not (ok and 0 < size <= 1):
        raise ShopConfigError(f"size={size!r}: a {kind} takes a share in (0, 1] (0.2 = 20 %).")


def _paired_returns(orders: pd.DataFrame, sales: np.ndarray) -> np.ndarray:
    """Return lines whose paired sale line (the latest sale of the same customer and SKU at or before the
    return) is one of ``sales``."""
    quantity = orders["quantity"].to_numpy()
    known = orders["customer_id"].notna().to_numpy()
    returns = (quantity < 0) & known
    out = np.zeros(len(orders), dtype=bool)
    if not returns.any() or not sales.any():
        return out
    columns = ["customer_id", "sku", "ordered_at"]
    sale_rows = orders.loc[(quantity > 0) & known, columns].assign(hit=sales[(quantity > 0) & known])
    return_rows = orders.loc[returns, columns].assign(row=np.flatnonzero(returns))
    paired = pd.merge_asof(
        return_rows.sort_values("ordered_at", kind="stable"),
        sale_rows.sort_values("ordered_at", kind="stable"),
        on="ordered_at", by=["customer_id", "sku"], direction="backward",
    )
    out[paired.loc[paired["hit"].fillna(False).astype(bool), "row"].to_numpy()] = True
    return out
