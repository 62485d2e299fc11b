"""Baskets: which products each order holds, how many units, at what price; and the later returns.

For every order, ``1 + Poisson(s (lines_per_order - 1))`` lines are drawn (``s`` the buyer's spend scale).
A customer line repeats an item from one of the customer's earlier orders with probability ``repeat_share``;
otherwise ("fresh" line) its category is drawn from the buyer's taste times the category trend
``exp(beta_c t)`` (times the uplift of a running category promotion), and the product from the category's
Zipf weights (times the uplift of a running SKU promotion). Units are ``1 + Poisson(s (units_per_line - 1))``;
the unit price is the list price less the discount of a running promotion. Lines of the same SKU within an
order are merged. Everything is vectorised over lines; only the (few) promotions are looped over.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.synthetic.catalog import Catalog
from features.synthetic.config import ShopConfig
from features.synthetic.promotions import Promotions

_CHUNK = 1 << 18  # lines per block when drawing categories (bounds the lines x categories matrices)


@dataclass(frozen=True)
class Orders:
    """Orders before their lines: buyer (-1 for guests), hour since start, region, buyer's spend and taste row."""

    customer: np.ndarray
    hour: np.ndarray
    region: np.ndarray
    spend: np.ndarray
    taste_row: np.ndarray

    def __len__(self) -> int:
        return self.hour.size


@dataclass(frozen=True)
class Lines:
    """Order lines: order index, product index, units (negative for returns), unit price."""

    order: np.ndarray
    sku: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray

    def __len__(self) -> int:
        return self.order.size


def fill_baskets(
    config: ShopConfig,
    orders: Orders,
    tastes: np.ndarray,
    catalog: Catalog,
    promos: Promotions,
    rng: np.random.Generator,
) -> Lines:
    """Draw the lines of ``orders``; customers' orders must come first, sorted by customer then time."""
    b = config.behaviour
    per_order = 1 + rng.poisson(orders.spend * (b.lines_per_order - 1))
    line_order = np.repeat(np.arange(len(orders)), per_order)
    n = line_order.size
    owner = orders.customer[line_order]
    hour = orders.hour[line_order]

    # Repeats: copy a uniformly chosen line from the customer's earlier orders.
    order_first_line = np.r_[0, np.cumsum(per_order)[:-1]]
    is_customer = owner >= 0
    customer_first_line = np.full(max(orders.customer.max(initial=-1) + 1, 0), -1, dtype=np.int64)
    seen = np.flatnonzero(is_customer)
    # Lines are customer-major, so the first line of each customer is the first time it appears.
    uniq, first_idx = np.unique(owner[seen], return_index=True)
    customer_first_line[uniq] = seen[first_idx]
    prior = np.zeros(n, dtype=np.int64)
    prior[seen] = order_first_line[line_order[seen]] - customer_first_line[owner[seen]]
    repeat = (prior > 0) & (rng.random(n) < b.repeat_share)
    source = np.arange(n)
    pick = rng.random(n)
    source[repeat] = customer_first_line[owner[repeat]] + (pick[repeat] * prior[repeat]).astype(np.int64)

    fresh = np.flatnonzero(~repeat)
    sku = np.full(n, -1, dtype=np.int64)
    category = np.full(n, -1, dtype=np.int64)
    category[fresh] = _draw_categories(
        tastes[orders.taste_row[line_order[fresh]]], hour[fresh], catalog, promos, rng
    )
    sku[fresh] = _draw_products(category[fresh], catalog, rng)
    _apply_sku_promotions(sku, category, hour, fresh, catalog, promos, rng)

    while True:  # resolve chains of repeats (a repeat of a repeat) by pointer jumping
        nxt = source[source]
        if np.array_equal(nxt, source):
            break
        source = nxt
    sku = sku[source]

    quantity = 1 + rng.poisson(orders.spend[line_order] * (b.units_per_line - 1))
    line_order, sku, quantity = _merge_duplicates(line_order, sku, quantity, catalog.skus.size)
    unit_price = _prices(sku, orders.hour[line_order], catalog, promos)
    return Lines(line_order, sku, quantity.astype(np.int64), unit_price)


def draw_returns(
    config: ShopConfig, orders: Orders, lines: Lines, rng: np.random.Generator
) -> tuple[Orders, Lines, np.ndarray]:
    """Return orders (one per original order with returned lines) and their negative lines.

    A customer line is returned with probability ``return_rate``, 1 to all of its units, 1 + Exp(10) days
    after the order; returns that would fall after the history are dropped. The third item maps each return
    order to the order it returns.
    """
    buyer = orders.customer[lines.order]
    chosen = np.flatnonzero((buyer >= 0) & (rng.random(len(lines)) < config.return_rate))
    source_orders, inverse = np.unique(lines.order[chosen], return_inverse=True)
    delay_hours = (1.0 + rng.exponential(10.0, size=source_orders.size)) * 24.0
    hour = orders.hour[source_orders] + delay_hours
    keep_order = hour < config.days * 24
    returned = rng.integers(1, lines.quantity[chosen] + 1)
    keep_line = keep_order[inverse]
    renumber = np.cumsum(keep_order) - 1
    return_orders = Orders(
        customer=orders.customer[source_orders][keep_order],
        hour=hour[keep_order],
        region=orders.region[source_orders][keep_order],
        spend=orders.spend[source_orders][keep_order],
        taste_row=orders.taste_row[source_orders][keep_order],
    )
    return_lines = Lines(
        order=renumber[inverse[keep_line]],
        sku=lines.sku[chosen][keep_line],
        quantity=-returned[keep_line].astype(np.int64),
        unit_price=lines.unit_price[chosen][keep_line],
    )
    return return_orders, return_lines, source_orders[keep_order]


def _draw_categories(
    taste: np.ndarray, hour: np.ndarray, catalog: Catalog, promos: Promotions, rng: np.random.Generator
) -> np.ndarray:
    years = hour / (24 * 365.25)
    out = np.empty(hour.size, dtype=np.int64)
    category_promos = np.flatnonzero(promos.sku < 0)
    for lo in range(0, hour.size, _CHUNK):
        hi = min(lo + _CHUNK, hour.size)
        weight = taste[lo:hi] * np.exp(np.outer(years[lo:hi], catalog.trend))
        for p in category_promos:
            running = (hour[lo:hi] >= promos.start_hour[p]) & (hour[lo:hi] < promos.end_hour[p])
            weight[running, promos.category[p]] *= promos.uplift[p]
        cum = np.cumsum(weight, axis=1)
        u = rng.random(hi - lo) * cum[:, -1]
        out[lo:hi] = np.minimum((cum <= u[:, None]).sum(axis=1), cum.shape[1] - 1)
    return out


def _draw_products(category: np.ndarray, catalog: Catalog, rng: np.random.Generator) -> np.ndarray:
    cum = catalog.cum_popularity
    order = np.argsort(cum, kind="stable")
    idx = np.searchsorted(cum[order], category + rng.random(category.size), side="right")
    return order[np.minimum(idx, order.size - 1)]


def _apply_sku_promotions(
    sku: np.ndarray,
    category: np.ndarray,
    hour: np.ndarray,
    fresh: np.ndarray,
    catalog: Catalog,
    promos: Promotions,
    rng: np.random.Generator,
) -> None:
    """Redraw fresh lines of a promoted SKU's category during its promotion, with the SKU's weight uplifted."""
    for p in np.flatnonzero(promos.sku >= 0):
        c, target = promos.category[p], promos.sku[p]
        h = hour[fresh]
        lines = fresh[(category[fresh] == c) & (h >= promos.start_hour[p]) & (h < promos.end_hour[p])]
        if lines.size == 0:
            continue
        members = np.flatnonzero(catalog.category == c)
        weight = catalog.popularity[members].copy()
        weight[members == target] *= promos.uplift[p]
        cdf = np.cumsum(weight) / weight.sum()
        idx = np.searchsorted(cdf, rng.random(lines.size), side="right")
        sku[lines] = members[np.minimum(idx, members.size - 1)]


def _merge_duplicates(
    order: np.ndarray, sku: np.ndarray, quantity: np.ndarray, n_products: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One line per (order, sku), keeping the first position and summing units."""
    key = order.astype(np.int64) * n_products + sku
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    total = np.bincount(inverse, weights=quantity).astype(np.int64)
    keep = np.argsort(first, kind="stable")
    return order[first[keep]], sku[first[keep]], total[keep]


def _prices(sku: np.ndarray, hour: np.ndarray, catalog: Catalog, promos: Promotions) -> np.ndarray:
    price = catalog.price[sku].copy()
    for p in range(len(promos)):
        running = (hour >= promos.start_hour[p]) & (hour < promos.end_hour[p])
        target = sku == promos.sku[p] if promos.sku[p] >= 0 else catalog.category[sku] == promos.category[p]
        hit = running & target
        price[hit] = np.round(price[hit] * (1 - promos.discount[p]), 2)
    return np.maximum(price, 0.01)
