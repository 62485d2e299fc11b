"""Assemble the synthetic shop: run each stage with its own random stream and shape the canonical tables."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contracts import CONTRACTS
from features.synthetic.baskets import Lines, Orders, draw_returns, fill_baskets
from features.synthetic.calendar import Calendar
from features.synthetic.catalog import Catalog, build_catalog
from features.synthetic.config import ShopConfig, ShopConfigError, check_int
from features.synthetic.customers import Population, draw_tastes, simulate_population
from features.synthetic.logistics import build_logistics
from features.synthetic.promotions import Promotions, plan_promotions

logger = logging.getLogger(__name__)

TABLES = ("orders", "products", "customers", "regions", "warehouses", "stock")
# One independent random stream per stage, so that changing one stage's parameters leaves the others alone.
_STAGES = ("catalog", "promotions", "customers", "guests", "baskets", "returns", "logistics")
_SEGMENT_STAGES = ("customers", "guests", "baskets", "returns")  # drawn per segment of customers
TRUTH = ("customers", "tastes", "products", "categories", "seasonality", "promotions", "warehouses")
_FIRST_ORDER_NUMBER = 500_000
_FIRST_CUSTOMER_NUMBER = 10_001


@dataclass
class SyntheticShop:
    """A generated shop: the six canonical tables, the ground truth behind them, and the config used.

    Attributes
    ----------
    orders, products, customers, regions, warehouses, stock
        Frames with exactly the columns and dtypes of :data:`features.contracts.CONTRACTS`.
    truth
        Ground truth the models should recover: ``customers`` (latent buy-till-you-die parameters),
        ``tastes`` (category taste per customer), ``products``, ``categories``, ``seasonality`` (per day),
        ``promotions`` and ``warehouses`` (demand shares). See ``docs/synthetic.md``.
    config
        The :class:`ShopConfig` that produced the shop.
    """

    orders: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    regions: pd.DataFrame
    warehouses: pd.DataFrame
    stock: pd.DataFrame
    truth: dict[str, pd.DataFrame] = field(repr=False)
    config: ShopConfig = field(repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The canonical tables by contract name."""
        return {name: getattr(self, name) for name in TABLES}

    def summary(self) -> dict[str, object]:
        """Headline counts: lines, orders, returns, guests, customers, products and the date range."""
        o = self.orders
        returns = o["quantity"] < 0
        return {
            "order_lines": len(o),
            "orders": int(o["order_id"].nunique()),
            "return_lines": int(returns.sum()),
            "guest_lines": int(o["customer_id"].isna().sum()),
            "customers": len(self.customers),
            "customers_alive_at_end": int(self.truth["customers"]["is_alive"].sum()),
            "products": len(self.products),
            "warehouses": len(self.warehouses),
            "first_order": o["ordered_at"].min(),
            "last_order": o["ordered_at"].max(),
        }

    def check(self) -> list[str]:
        """Problems with the tables' contracts and cross-references; an empty list means the shop is sound."""
        problems = []
        for name, frame in self.tables().items():
            contract = CONTRACTS[name]
            if list(frame.columns) != contract.column_names:
                problems.append(f"{name}: columns {list(frame.columns)} != {contract.column_names}")
                continue
            for col, dtype in contract.dtypes.items():
                if str(frame[col].dtype) != dtype:
                    problems.append(f"{name}.{col}: dtype {frame[col].dtype} != {dtype}")
                if not contract.column(col).nullable and frame[col].isna().any():
                    problems.append(f"{name}.{col}: {int(frame[col].isna().sum())} nulls")
            if contract.key and frame.duplicated(list(contract.key)).any():
                problems.append(f"{name}: duplicate keys {contract.key}")
        o = self.orders
        if (o["quantity"] == 0).any():
            problems.append("orders.quantity: zero quantities")
        if (o["unit_price"] <= 0).any() or (self.products["price"] <= 0).any():
            problems.append("orders.unit_price or products.price: non-positive prices")
        if not o["sku"].isin(self.products["sku"]).all():
            problems.append("orders.sku: SKUs missing from products")
        known = o["customer_id"].dropna()
        if not known.isin(self.customers["customer_id"]).all():
            problems.append("orders.customer_id: customers missing from customers")
        if not o["country"].isin(self.regions["region"]).all():
            problems.append("orders.country: countries missing from regions")
        if not self.stock["warehouse_id"].isin(self.warehouses["warehouse_id"]).all():
            problems.append("stock.warehouse_id: warehouses missing from warehouses")
        if not self.stock["sku"].isin(self.products["sku"]).all():
            problems.append("stock.sku: SKUs missing from products")
        return problems


def generate_shop(config: ShopConfig | None = None) -> SyntheticShop:
    """Generate a synthetic shop; the same config always gives identical tables.

    Parameters
    ----------
    config
        Sizes and behaviour; default :class:`ShopConfig()` (5,000 customers, 600 products, two years).

    Returns
    -------
    SyntheticShop
        The canonical tables and the ground truth behind them.
    """
    config = config or ShopConfig()
    if not isinstance(config, ShopConfig):
        raise ShopConfigError(f"generate_shop expects a ShopConfig, got {type(config).__name__}.")
    began = time.perf_counter()
    rng = stage_streams(config.seed)
    world = World.build(config, rng)
    segment = Segment.simulate(config, world, rng, first_customer=0)
    orders, customers, _ = segment.tables(world)
    logistics, logistics_truth = world.logistics(segment.units_sold, rng["logistics"])
    truth = {**segment.truth(world), **world.truth(), **logistics_truth}
    shop = SyntheticShop(
        orders=orders,
        products=world.products(),
        customers=customers,
        **logistics,
        truth={name: truth[name] for name in TRUTH},
        config=config,
    )
    logger.info("generated %s order lines in %.2fs", f"{len(shop.orders):,}", time.perf_counter() - began)
    return shop


def stage_streams(seed: int, segment: int | None = None) -> dict[str, np.random.Generator]:
    """One independent random stream per stage; with ``segment``, the customer stages' streams of that segment.

    The shop-wide stages (catalog, promotions, logistics) always use the streams of :func:`generate_shop`, so
    a shop generated in segments (:mod:`features.synthetic.chunked`) has the same catalogue as a whole one.
    """
    keys = {stage: (i,) if segment is None or stage not in _SEGMENT_STAGES else (i, segment)
            for i, stage in enumerate(_STAGES)}
    return {stage: np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key)) for stage, key in keys.items()}


@dataclass(frozen=True)
class World:
    """What every customer of a shop shares: the calendar, the catalogue, the promotions and the regions."""

    config: ShopConfig
    calendar: Calendar
    catalog: Catalog
    promos: Promotions
    region_names: np.ndarray

    @classmethod
    def build(cls, config: ShopConfig, rng: dict[str, np.random.Generator]) -> World:
        """Draw the catalogue and promotions from their stages' streams (``config.customers`` plays no part)."""
        catalog = build_catalog(config, rng["catalog"])
        return cls(
            config=config,
            calendar=Calendar.build(config.start_ts, config.days, config.demand),
            catalog=catalog,
            promos=plan_promotions(config, catalog, rng["promotions"]),
            region_names=np.array([r.name for r in config.regions], dtype=object),
        )

    def products(self) -> pd.DataFrame:
        """The ``products`` table."""
        return _conform(self.catalog.frame(), "products")

    def truth(self) -> dict[str, pd.DataFrame]:
        """Shop-wide ground truth: products, categories, seasonality and promotions."""
        truth = {
            "products": self.catalog.truth(),
            "categories": self.catalog.category_truth(),
            "seasonality": self.calendar.truth(),
            "promotions": self.promos.truth(self.calendar.start, self.catalog),
        }
        return {name: _strings(frame) for name, frame in truth.items()}

    def logistics(
        self, units_sold: int, rng: np.random.Generator
    ) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
        """The ``regions``, ``warehouses`` and ``stock`` tables, and the warehouses' truth, for a shop that sold
        ``units_sold`` units over its history."""
        daily = units_sold / self.config.days * self.catalog.global_share
        logistics = build_logistics(self.config, self.catalog.skus, daily, rng)
        tables = {name: _conform(getattr(logistics, name), name) for name in ("regions", "warehouses", "stock")}
        return tables, {"warehouses": _strings(logistics.truth)}


@dataclass(frozen=True)
class Segment:
    """A run of customers simulated together, with the guests' orders that go with them and the returns.

    ``customer_ids`` are the customers' ids; :meth:`tables` numbers the segment's orders after those of the
    segments before it.
    """

    pop: Population
    orders: Orders
    lines: Lines
    return_orders: Orders
    return_lines: Lines
    customer_ids: np.ndarray

    @classmethod
    def simulate(
        cls, config: ShopConfig, world: World, rng: dict[str, np.random.Generator], *, first_customer: int
    ) -> Segment:
        """Simulate ``config.customers`` customers, ids numbered from the ``first_customer``-th id on."""
        calendar, catalog = world.calendar, world.catalog
        pop = simulate_population(config, calendar.total, catalog.category_share, rng["customers"])

        # Guest orders: one-off buyers with their own random taste, timed by the seasonal intensity.
        g = rng["guests"]
        n_customer_orders = pop.order_op.size
        n_guests = int(g.poisson(config.guest_share / (1 - config.guest_share) * n_customer_orders))
        weights = np.array([r.weight for r in config.regions])
        guest_op = g.uniform(0.0, calendar.total, size=n_guests)
        guest_region = g.choice(weights.size, size=n_guests, p=weights / weights.sum())
        guest_taste = draw_tastes(n_guests, catalog.category_share, config.behaviour.taste_concentration, g)

        orders = Orders(
            customer=np.concatenate([pop.order_customer, np.full(n_guests, -1)]),
            hour=calendar.to_hours(np.concatenate([pop.order_op, guest_op])),
            region=np.concatenate([pop.region[pop.order_customer], guest_region]),
            spend=np.concatenate([pop.spend[pop.order_customer], np.ones(n_guests)]),
            taste_row=np.concatenate([pop.order_customer, pop.size + np.arange(n_guests)]),
        )
        tastes = np.vstack([pop.taste, guest_taste])
        lines = fill_baskets(config, orders, tastes, catalog, world.promos, rng["baskets"])
        return_orders, return_lines, _ = draw_returns(config, orders, lines, rng["returns"])
        prefix = config.customer_id_prefix
        ids = np.array([f"{prefix}{_FIRST_CUSTOMER_NUMBER + first_customer + i}" for i in range(pop.size)],
                       dtype=object)
        return cls(pop, orders, lines, return_orders, return_lines, ids)

    @property
    def units_sold(self) -> int:
        """Units in the segment's sales lines (returns not deducted), for sizing stock."""
        return int(self.lines.quantity.sum())

    def tables(self, world: World, *, orders_before: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        """The ``orders`` and ``customers`` tables of the segment, and how many orders (with returns) it has.

        Orders are numbered in time order from ``500000 + orders_before`` (returns as ``C<number>``).
        """
        calendar, pop = world.calendar, self.pop
        orders = _orders_frame(
            self.orders, self.lines, self.return_orders, self.return_lines, calendar, world.catalog.skus,
            self.customer_ids, world.region_names, _FIRST_ORDER_NUMBER + orders_before,
        )
        customers = pd.DataFrame({
            "customer_id": self.customer_ids,
            "country": world.region_names[pop.region],
            "first_order_at": calendar.timestamps(calendar.to_hours(pop.arrival_op)),
        })
        n_orders = len(self.orders) + len(self.return_orders)
        return _conform(orders, "orders"), _conform(customers, "customers"), n_orders

    def truth(self, world: World) -> dict[str, pd.DataFrame]:
        """The segment's customers' ground truth: latent parameters and category tastes."""
        names = world.catalog.category_names
        truth = {
            "customers": _customer_truth(
                self.pop, world.calendar, self.customer_ids, world.region_names, names, world.config
            ),
            "tastes": pd.concat(
                [pd.DataFrame({"customer_id": self.customer_ids}), pd.DataFrame(self.pop.taste, columns=list(names))],
                axis=1,
            ),
        }
        return {name: _strings(frame) for name, frame in truth.items()}


def _orders_frame(
    orders: Orders,
    lines: Lines,
    return_orders: Orders,
    return_lines: Lines,
    calendar: Calendar,
    skus: np.ndarray,
    customer_ids: np.ndarray,
    region_names: np.ndarray,
    first_order_number: int,
) -> pd.DataFrame:
    """Number all orders in time order (returns as ``C<number>``) and lay out one row per line."""
    n_purchase = len(orders)
    hour = np.concatenate([orders.hour, return_orders.hour])
    stamp = calendar.timestamps(hour)
    is_return = np.r_[np.zeros(n_purchase, dtype=bool), np.ones(len(return_orders), dtype=bool)]
    by_time = np.lexsort((is_return, stamp))
    rank = np.empty(by_time.size, dtype=np.int64)
    rank[by_time] = np.arange(by_time.size)
    order_ids = np.array(
        [("C" if r else "") + str(first_order_number + k) for k, r in zip(rank, is_return, strict=True)],
        dtype=object,
    )

    line_order = np.concatenate([lines.order, n_purchase + return_lines.order])
    layout = np.argsort(rank[line_order], kind="stable")
    line_order = line_order[layout]
    customer = np.concatenate([orders.customer, return_orders.customer])[line_order]
    customer_id = np.where(customer >= 0, customer_ids[np.maximum(customer, 0)], None)
    region = np.concatenate([orders.region, return_orders.region])[line_order]
    return pd.DataFrame(
        {
            "order_id": order_ids[line_order],
            "customer_id": customer_id,
            "sku": skus[np.concatenate([lines.sku, return_lines.sku])[layout]],
            "quantity": np.concatenate([lines.quantity, return_lines.quantity])[layout],
            "unit_price": np.concatenate([lines.unit_price, return_lines.unit_price])[layout],
            "ordered_at": stamp[line_order],
            "country": region_names[region],
        }
    )


def _customer_truth(
    pop: Population,
    calendar: Calendar,
    customer_ids: np.ndarray,
    region_names: np.ndarray,
    category_names: tuple[str, ...],
    config: ShopConfig,
) -> pd.DataFrame:
    alive = np.isnan(pop.dropout_op)
    dropout_at = calendar.timestamps(calendar.to_hours(np.where(alive, 0.0, pop.dropout_op)))
    dropout_at = np.where(alive, np.datetime64("NaT", "us"), dropout_at)
    top = pop.taste.argmax(axis=1)
    b = config.behaviour
    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "country": region_names[pop.region],
            "arrived_at": calendar.timestamps(calendar.to_hours(pop.arrival_op)),
            "purchase_rate": pop.rate,
            "dropout_p": pop.dropout_p,
            "dropout_at": dropout_at.astype("datetime64[us]"),
            "is_alive": alive,
            "spend_scale": pop.spend,
            "expected_lines_per_order": 1 + pop.spend * (b.lines_per_order - 1),
            "expected_units_per_line": 1 + pop.spend * (b.units_per_line - 1),
            "top_category": np.asarray(category_names, dtype=object)[top],
            "top_category_share": pop.taste[np.arange(pop.size), top],
            "purchases": np.bincount(pop.order_customer, minlength=pop.size).astype(np.int64),
        }
    )


def _conform(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Columns in contract order with contract dtypes."""
    contract = CONTRACTS[name]
    return frame[contract.column_names].astype(contract.dtypes).reset_index(drop=True)


def _strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as pandas ``str`` so truth frames match the tables' string dtype."""
    cols = frame.select_dtypes(include=["object", "str"]).columns
    return frame.astype(dict.fromkeys(cols, "str")) if len(cols) else frame


def config_for_order_lines(order_lines: int, **changes: object) -> ShopConfig:
    """A config sized to produce about ``order_lines`` order lines (within a few percent).

    The number of customers is calibrated on a pilot shop of 10,000 customers with the same other
    parameters, so it holds for any ``days``, behaviour or guest share passed in ``changes``.

    Examples
    --------
    >>> config_for_order_lines(1_000_000).customers  # doctest: +SKIP
    46360
    """
    check_int("order_lines", order_lines, 1, 500_000_000)
    pilot_customers = 10_000
    pilot = generate_shop(ShopConfig(**{**changes, "customers": pilot_customers}))
    per_customer = len(pilot.orders) / pilot_customers
    customers = max(1, round(order_lines / per_customer))
    return ShopConfig(**{**changes, "customers": customers})
