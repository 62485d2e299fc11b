"""Read outside data into the canonical tables of :mod:`features.contracts`.

Three formats: canonical CSV/Parquet (one file per table, or an orders file), the UCI Online Retail I and II
exports, and the CDNOW transaction log. Every loader returns a :class:`LoadResult` whose report counts what
was kept and what was rejected, per reason; rejected rows are kept in ``rejected`` with the reason, so
nothing disappears silently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.contracts import CONTRACTS, CUSTOMERS, ORDERS, PRODUCTS
from features.validation import ValidationReport, validate
from shopml.errors import DataValidationError

log = logging.getLogger(__name__)

FORMATS = ("canonical", "online-retail", "cdnow")
MIN_CATEGORY_SIZE = 10

# Column names of the two UCI Online Retail releases, mapped to one vocabulary.
ONLINE_RETAIL_COLUMNS = {
    "InvoiceNo": "invoice",
    "Invoice": "invoice",
    "StockCode": "stock_code",
    "Description": "description",
    "Quantity": "quantity",
    "InvoiceDate": "invoice_date",
    "UnitPrice": "unit_price",
    "Price": "unit_price",
    "CustomerID": "customer_id",
    "Customer ID": "customer_id",
    "Country": "country",
}
RAW_TO_CANONICAL = {"invoice": "order_id", "stock_code": "sku", "invoice_date": "ordered_at"}
PRODUCT_CODE = r"^\d{5}"
"""Stock codes of real products start with five digits; POST, DOT, M, BANK CHARGES, ... do not."""


@dataclass
class LoadResult:
    """Canonical tables read from a source, the rows that were rejected, and the counts."""

    tables: dict[str, pd.DataFrame]
    rejected: pd.DataFrame
    reports: list[ValidationReport] = field(default_factory=list)
    source: str = ""

    @property
    def orders(self) -> pd.DataFrame:
        return self.tables["orders"]

    def summary_lines(self) -> list[str]:
        lines = [f"source: {self.source}"]
        for report in self.reports:
            lines += report.lines()
        return lines


def detect_format(path: Path) -> str:
    """Guess the format from the file's header row."""
    if path.is_dir() or path.suffix == ".parquet":
        return "canonical"
    head = pd.read_csv(path, nrows=0, sep=None, engine="python") if path.suffix != ".txt" else None
    if head is None:
        return "cdnow"
    columns = set(head.columns)
    if columns & {"InvoiceNo", "Invoice"}:
        return "online-retail"
    if {"date", "dollars"} <= {str(c).strip().lower() for c in columns}:
        return "cdnow"
    if set(ORDERS.column_names) <= columns:
        return "canonical"
    raise DataValidationError(
        f"{path}: cannot tell the format from its columns ({', '.join(sorted(map(str, columns)))}); "
        f"pass --format with one of {', '.join(FORMATS)}."
    )


def load(path: str | Path, fmt: str | None = None, *, now: pd.Timestamp | None = None) -> LoadResult:
    """Load ``path`` in format ``fmt`` (detected from the header when omitted)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    fmt = fmt or detect_format(path)
    if fmt == "online-retail":
        return load_online_retail(path, now=now)
    if fmt == "cdnow":
        return load_cdnow(path, now=now)
    if fmt == "canonical":
        return load_canonical(path, now=now)
    raise DataValidationError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")


def load_online_retail(path: str | Path, *, now: pd.Timestamp | None = None) -> LoadResult:
    """Read a UCI Online Retail I or II export (CSV, optionally gzipped) into canonical tables.

    Cancellations (invoices ``C...``) are kept as returns with negative quantities and guest rows (no
    CustomerID) are kept with a null ``customer_id``. Rejected with a reason: adjustments (``A...``
    invoices, bad-debt write-offs), non-product stock codes (POST, DOT, M, BANK CHARGES, ...), lines with
    a price <= 0 (stock adjustments), exact duplicate rows, and anything breaking the orders contract.
    :func:`features.cleaning.customer_model_orders` then applies the protocol's cleaning for customer models.
    """
    path = Path(path)
    raw = _read_online_retail_csv(path)
    raw["row"] = np.arange(len(raw))
    invoice = raw["invoice"].astype("str").str.strip()
    stock_code = raw["stock_code"].astype("str").str.strip().str.upper()

    pre_rejects: list[pd.DataFrame] = []

    def reject(mask: pd.Series, reason: str, rule: str) -> None:
        hit = raw.loc[mask & ~rejected_mask]
        if len(hit):
            pre_rejects.append(hit.assign(reason=reason, rule=rule))
        rejected_mask.loc[hit.index] = True

    rejected_mask = pd.Series(False, index=raw.index)
    reject(raw.drop(columns="row").duplicated(keep="first"), "duplicate: exact duplicate row in the export", "duplicate")
    reject(invoice.str.startswith("A"), "adjustment invoice (A...): bad-debt write-off, not a sale", "adjustment")
    reject(~stock_code.str.contains(PRODUCT_CODE, regex=True), "non-product stock code (postage, fees, manual)", "non_product")

    kept = raw.loc[~rejected_mask]
    customer = kept["customer_id"]
    if pd.api.types.is_numeric_dtype(customer):
        customer = customer.astype("Int64").astype("str").where(customer.notna())
    else:
        customer = customer.astype("str").str.replace(r"\.0$", "", regex=True)
    orders_raw = pd.DataFrame(
        {
            "order_id": invoice.loc[kept.index],
            "customer_id": customer,
            "sku": stock_code.loc[kept.index],
            "quantity": kept["quantity"],
            "unit_price": kept["unit_price"],
            "ordered_at": kept["invoice_date"],
            "country": kept["country"],
        }
    )
    result = validate(orders_raw, ORDERS, now=now, check_duplicates=False)
    post = result.rejected.copy()
    post["row"] = kept["row"].to_numpy()[post["row"].to_numpy()]
    cancel_qty = (result.valid["order_id"].str.startswith("C")) & (result.valid["quantity"] > 0)
    if cancel_qty.any():
        raise DataValidationError(
            f"orders.quantity: {int(cancel_qty.sum())} cancellation line(s) (C...) have a positive quantity; "
            "the export is not in the UCI sign convention."
        )

    report = result.report
    report.rows_in = len(raw)
    for frame in pre_rejects:
        label = frame["rule"].iloc[0].replace("_", " ")
        report.rejected[label] = report.rejected.get(label, 0) + len(frame)
    rejected = pd.concat(
        [f.rename(columns=RAW_TO_CANONICAL) for f in pre_rejects] + [post],
        ignore_index=True,
    )
    orders = result.valid
    products = _products_from_lines(orders, raw.loc[~rejected_mask, ["stock_code", "description"]], stock_code)
    customers = customers_from_orders(orders)
    log.info("loaded %s: %d rows, %d kept", path, len(raw), len(orders))
    return LoadResult(
        tables={"orders": orders, "products": products, "customers": customers},
        rejected=rejected,
        reports=[report],
        source=f"online-retail:{path}",
    )


def _read_online_retail_csv(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_csv(
            path,
            engine="pyarrow",
            dtype={"InvoiceNo": "str", "Invoice": "str", "StockCode": "str", "Description": "str", "Country": "str"},
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(f"{path}: not a readable Online Retail CSV ({exc}).") from exc
    names = {c: ONLINE_RETAIL_COLUMNS[c] for c in raw.columns if c in ONLINE_RETAIL_COLUMNS}
    raw = raw.rename(columns=names)
    needed = ["invoice", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        expected = {v: k for k, v in ONLINE_RETAIL_COLUMNS.items()}
        raise DataValidationError(
            f"{path}: missing Online Retail column(s) {', '.join(expected[m] for m in missing)}; "
            "expected the UCI export (InvoiceNo/Invoice, StockCode, Description, Quantity, InvoiceDate, "
            "UnitPrice/Price, CustomerID/Customer ID, Country)."
        )
    return raw[needed]


def _products_from_lines(orders: pd.DataFrame, described: pd.DataFrame, stock_code: pd.Series) -> pd.DataFrame:
    """One row per SKU: its most frequent description, a category guessed from it, and the median price."""
    desc = pd.DataFrame({"sku": stock_code.loc[described.index], "description": described["description"].str.strip()})
    desc = desc.dropna()
    top_desc = desc.groupby("sku")["description"].agg(lambda s: s.value_counts().index[0])
    sales = orders.loc[orders["quantity"] > 0]
    price = sales.groupby("sku")["unit_price"].median()
    skus = pd.Index(orders["sku"].unique()).sort_values()
    description = top_desc.reindex(skus)
    products = pd.DataFrame(
        {
            "sku": skus,
            "description": description.to_numpy(),
            "category": category_from_description(description).to_numpy(),
            "price": price.reindex(skus).fillna(orders.groupby("sku")["unit_price"].median()).to_numpy(),
        }
    )
    return products.astype(PRODUCTS.dtypes)


def category_from_description(description: pd.Series) -> pd.Series:
    """A coarse category from the last word of a description ("... T-LIGHT HOLDER" -> "HOLDER").

    Online Retail has no category column; the head noun groups bags, holders, signs, cards, ... well
    enough for category affinity features. Words naming fewer than MIN_CATEGORY_SIZE products fall back to "OTHER".
    """
    words = description.fillna("").str.upper().str.replace(r"[^A-Z ]", " ", regex=True).str.split().str[-1]
    words = words.fillna("OTHER")
    counts = words.value_counts()
    common = counts.index[counts >= MIN_CATEGORY_SIZE]
    return words.where(words.isin(common), "OTHER").astype("str")


def customers_from_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per known customer: most frequent country and time of first order."""
    known = orders.loc[orders["customer_id"].notna()]
    if known.empty:
        return CUSTOMERS.empty()
    grouped = known.groupby("customer_id")
    customers = pd.DataFrame(
        {
            "country": grouped["country"].agg(lambda s: s.value_counts().index[0]),
            "first_order_at": grouped["ordered_at"].min(),
        }
    ).reset_index()
    return customers[CUSTOMERS.column_names].astype(CUSTOMERS.dtypes)


def load_cdnow(path: str | Path, *, now: pd.Timestamp | None = None) -> LoadResult:
    """Read a CDNOW transaction log: the sample (customer, sample id, YYYYMMDD, CDs, dollars) or the full
    master file (customer, YYYYMMDD, CDs, dollars), either with or without a header line.

    Each row becomes one order line of SKU ``CD`` with ``unit_price = dollars / CDs``. Rows with zero
    dollars or zero CDs are rejected (counted in the report); :func:`load_cdnow_transactions` keeps every
    row for the BG/NBD model, which counts purchase days regardless of value.
    """
    tx = load_cdnow_transactions(path)
    lines = pd.DataFrame(
        {
            "order_id": "CD" + tx["customer_id"] + "-" + tx["ordered_at"].dt.strftime("%Y%m%d") + "-" + tx.index.astype("str"),
            "customer_id": tx["customer_id"],
            "sku": "CD",
            "quantity": tx["units"],
            "unit_price": np.where(tx["units"] > 0, tx["spend"] / tx["units"].where(tx["units"] > 0, 1), np.nan),
            "ordered_at": tx["ordered_at"],
            "country": "United States",
        }
    )
    result = validate(lines, ORDERS, now=now)
    products = pd.DataFrame({"sku": ["CD"], "description": ["compact disc"], "category": ["music"], "price": [
        float(result.valid["unit_price"].median()) if len(result.valid) else 1.0]}).astype(PRODUCTS.dtypes)
    return LoadResult(
        tables={"orders": result.valid, "products": products, "customers": customers_from_orders(result.valid)},
        rejected=result.rejected,
        reports=[result.report],
        source=f"cdnow:{path}",
    )


CDNOW_LAYOUTS = {
    5: ("customer_id", "sample_id", "date", "units", "spend"),  # the 1/10 sample: customer, sample id, ...
    4: ("customer_id", "date", "units", "spend"),  # the full master file: customer, YYYYMMDD, CDs, dollars
}
"""CDNOW files by column count; either may start with a header line and use spaces, tabs or commas."""


def load_cdnow_transactions(path: str | Path) -> pd.DataFrame:
    """All CDNOW rows as ``customer_id, ordered_at, units, spend`` (no row dropped).

    Accepts both layouts in :data:`CDNOW_LAYOUTS`, with or without a header line. A row that breaks the
    layout raises one error naming its line in the file, the column and the value, so it can be fixed.
    """
    try:
        raw = pd.read_csv(path, sep=r"[\s,;]+", header=None, dtype="str", engine="python", skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataValidationError(
            f"{path}: not a CDNOW file ({_cdnow_layouts()}): {exc}"
        ) from exc
    raw = raw.dropna(axis=1, how="all")  # leading whitespace gives an empty first column
    names = CDNOW_LAYOUTS.get(raw.shape[1])
    if names is None:
        raise DataValidationError(
            f"{path}: {raw.shape[1]} columns; a CDNOW file has {_cdnow_layouts()}. Check the separator and the layout."
        )
    raw.columns = list(names)
    first_line = 1
    if len(raw) and not str(raw["date"].iloc[0]).isdigit():  # a header line names the columns
        raw, first_line = raw.iloc[1:], 2
    raw = raw.reset_index(drop=True)
    line = np.arange(len(raw)) + first_line
    dates = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    units = pd.to_numeric(raw["units"], errors="coerce")
    spend = pd.to_numeric(raw["spend"], errors="coerce")
    for column, bad, expected in (
        ("date", dates.isna(), "a date written YYYYMMDD"),
        ("CDs", units.isna() | (units != units.round()), "a whole number of CDs"),
        ("dollars", spend.isna(), "an amount in dollars"),
        ("customer", raw["customer_id"].isna(), "a customer id"),
    ):
        if bad.any():
            where = np.flatnonzero(bad.to_numpy())
            source = {"CDs": "units", "dollars": "spend", "customer": "customer_id"}.get(column, column)
            examples = ", ".join(f"line {line[i]} ({raw[source].iloc[i]!r})" for i in where[:5])
            raise DataValidationError(
                f"{path}: {len(where)} row(s) whose {column} is not {expected}, e.g. {examples}; fix those lines "
                f"(layout: {', '.join(names)})."
            )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].str.lstrip("0").astype("str"),
            "ordered_at": dates.astype("datetime64[us]"),
            "units": units.astype("int64"),
            "spend": spend.astype("float64"),
        }
    )


def _cdnow_layouts() -> str:
    return " or ".join(f"{n} columns ({', '.join(c)})" for n, c in CDNOW_LAYOUTS.items())


def load_canonical(path: str | Path, *, now: pd.Timestamp | None = None) -> LoadResult:
    """Read canonical tables: a folder of ``<table>.parquet``/``.csv`` files, or a single orders file.

    Orders referring to SKUs missing from a products table in the same folder are rejected as unknown.
    Missing products/customers tables are derived from the orders.
    """
    path = Path(path)
    files = _canonical_files(path)
    if "orders" not in files:
        raise DataValidationError(f"{path}: no orders table found; expected orders.parquet or orders.csv.")
    reports, rejected, tables = [], [], {}
    for name in ("products", "warehouses", "regions", "customers"):
        if name in files:
            result = validate(_read_table(files[name]), CONTRACTS[name], now=now)
            tables[name], _ = result.valid, rejected.append(result.rejected.assign(table=name))
            reports.append(result.report)
    known_skus = tables["products"]["sku"] if "products" in tables else None
    orders = validate(_read_table(files["orders"]), ORDERS, known_skus=known_skus, now=now)
    tables["orders"] = orders.valid
    reports.insert(0, orders.report)
    rejected.insert(0, orders.rejected.assign(table="orders"))
    if "stock" in files:
        known_wh = tables["warehouses"]["warehouse_id"] if "warehouses" in tables else None
        stock = validate(_read_table(files["stock"]), CONTRACTS["stock"], known_skus=known_skus, known_warehouses=known_wh, now=now)
        tables["stock"] = stock.valid
        reports.append(stock.report)
        rejected.append(stock.rejected.assign(table="stock"))
    if "products" not in tables:
        tables["products"] = _products_from_lines(orders.valid, pd.DataFrame({"description": []}), pd.Series(dtype="str"))
    if "customers" not in tables:
        tables["customers"] = customers_from_orders(orders.valid)
    return LoadResult(tables=tables, rejected=pd.concat(rejected, ignore_index=True), reports=reports, source=f"canonical:{path}")


def _canonical_files(path: Path) -> dict[str, Path]:
    if path.is_file():
        return {"orders": path}
    found = {}
    for name in CONTRACTS:
        for suffix in (".parquet", ".csv", ".csv.gz"):
            candidate = path / f"{name}{suffix}"
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype="str", keep_default_na=True)
