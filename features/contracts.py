"""The canonical tables every part of shopml reads, declared as data.

A :class:`TableContract` names each column, its dtype, whether it may be null and what it means. Loaders
turn outside formats into these tables; :mod:`features.validation` checks rows against them. Strings use
pandas' ``str`` dtype (missing values are NaN), timestamps are naive ``datetime64[us]`` in shop time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

STRING = "str"
INT = "int64"
FLOAT = "float64"
TIMESTAMP = "datetime64[us]"


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: str
    description: str
    nullable: bool = False


@dataclass(frozen=True)
class TableContract:
    """A canonical table: its columns, the key that makes a row unique, and what one row means."""

    name: str
    row: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def cast(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame``'s contract columns in their declared dtypes (other columns untouched).

        What a reader that does not keep pandas dtypes must restore, e.g. a partition arriving from Spark
        through Arrow (nanosecond timestamps); a null in an integer column fails here, naming nothing: run
        it through :func:`features.partitions.run_partition` to name the row.
        """
        return frame.astype({name: dtype for name, dtype in self.dtypes.items() if name in frame.columns})

    def empty(self) -> pd.DataFrame:
        """A zero-row frame with the contract's columns and dtypes."""
        return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in self.columns})

    def describe(self) -> str:
        """Markdown table of the columns, used by the README and error messages."""
        lines = [f"`{self.name}`: one row per {self.row}.", "", "| column | dtype | null | meaning |", "|---|---|---|---|"]
        lines += [
            f"| {c.name} | {c.dtype} | {'yes' if c.nullable else 'no'} | {c.description} |" for c in self.columns
        ]
        return "\n".join(lines)


ORDERS = TableContract(
    name="orders",
    row="order line (a SKU within an order); negative quantities are returns or cancellations",
    columns=(
        Column("order_id", STRING, "Order (invoice) identifier; several lines share it."),
        Column("customer_id", STRING, "Customer identifier; null for guest checkouts.", nullable=True),
        Column("sku", STRING, "Stock-keeping unit, upper-cased."),
        Column("quantity", INT, "Units; negative for returns and cancellations, never zero."),
        Column("unit_price", FLOAT, "Price per unit in the shop currency, > 0."),
        Column("ordered_at", TIMESTAMP, "When the order was placed (shop time, no time zone)."),
        Column("country", STRING, "Delivery country or region of the order."),
    ),
)

PRODUCTS = TableContract(
    name="products",
    row="product",
    key=("sku",),
    columns=(
        Column("sku", STRING, "Stock-keeping unit, upper-cased."),
        Column("description", STRING, "Human-readable name.", nullable=True),
        Column("category", STRING, "Product category used for tastes, fallbacks and reports."),
        Column("price", FLOAT, "Current list price, > 0."),
    ),
)

CUSTOMERS = TableContract(
    name="customers",
    row="customer",
    key=("customer_id",),
    columns=(
        Column("customer_id", STRING, "Customer identifier."),
        Column("country", STRING, "Home country or region."),
        Column("first_order_at", TIMESTAMP, "Time of the customer's first order."),
    ),
)

REGIONS = TableContract(
    name="regions",
    row="delivery region (a country in Online Retail)",
    key=("region",),
    columns=(
        Column("region", STRING, "Region name, as in orders.country."),
        Column("lat", FLOAT, "Latitude of the region's centre, degrees in [-90, 90]."),
        Column("lon", FLOAT, "Longitude of the region's centre, degrees in [-180, 180]."),
    ),
)

WAREHOUSES = TableContract(
    name="warehouses",
    row="warehouse",
    key=("warehouse_id",),
    columns=(
        Column("warehouse_id", STRING, "Warehouse identifier."),
        Column("lat", FLOAT, "Latitude, degrees in [-90, 90]."),
        Column("lon", FLOAT, "Longitude, degrees in [-180, 180]."),
        Column("capacity", INT, "Units the warehouse can hold, >= 0."),
    ),
)

STOCK = TableContract(
    name="stock",
    row="SKU held in a warehouse",
    key=("warehouse_id", "sku"),
    columns=(
        Column("warehouse_id", STRING, "Warehouse holding the stock (warehouses.warehouse_id)."),
        Column("sku", STRING, "SKU held (products.sku)."),
        Column("on_hand", INT, "Units on hand, >= 0."),
    ),
)

CONTRACTS: dict[str, TableContract] = {
    c.name: c for c in (ORDERS, PRODUCTS, CUSTOMERS, REGIONS, WAREHOUSES, STOCK)
}
