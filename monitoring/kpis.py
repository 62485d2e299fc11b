"""Shop KPIs as of a date, from the canonical tables: one declared list of KPIs, one vectorised computation.

Every KPI is computed from the order lines strictly before ``as_of`` and from nothing else, so a KPI as of a
date never changes when later data arrives (tested). The rules, documented once here and in ``docs/kpis.md``:

* A **sale line** has ``quantity > 0``; a **return line** has ``quantity < 0`` (a return or cancellation).
  Values are ``quantity * unit_price``.
* **Returns count on the day they happen**, not on the day of the sale they reverse: GMV net of returns for a
  day is that day's sales minus that day's returns. (Booking a return back onto its sale's day would change
  past KPIs whenever a return arrives.)
* An **order** is an ``order_id`` with at least one sale line; a return-only order is not an order.
* A **customer** is a known ``customer_id``; guest lines count in GMV, orders, units and AOV but in no customer
  KPI. Only sale lines make a customer active, new, returning or repeat: a return is not activity.
* A customer is **active over N days** at the end of a day when they bought on one of the N days ending with
  that day. Period tables report the state at the period's last day (or the last day before ``as_of``).
* A customer is **new** in the period holding their first purchase, **returning** in any later period they buy
  in. The **repeat-purchase rate** at a date is the share of customers who bought by then who bought on at
  least two different days (several orders on one day are one purchase, as in BG/NBD).
* **Cohorts**: a customer belongs to the calendar month of their first purchase; retention in month ``k``
  is the share of the cohort buying in the ``k``-th calendar month after it (month 0 is 1).
* **Per country or per category**, every KPI is computed as if the shop sold only that group's lines: a
  category's orders are the orders with a sale line of that category, its customers those who bought it, its
  new customers those buying it for the first time. Country is the order line's delivery country; category is
  ``products.category`` of the line's SKU (``(unknown)`` for a SKU missing from ``products``).

Days, weeks (Monday to Sunday, labelled by the Monday) and calendar months are in shop time. The period
holding ``as_of`` is partial (``complete`` is false).

Speed: lines become integer codes once (:class:`Ledger`), then every KPI is a ``bincount`` or a sort of integer
keys: no Python loop over rows, customers or periods.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from shopml.errors import DataValidationError

log = logging.getLogger(__name__)

Freq = Literal["day", "week", "month"]
Dimension = Literal["country", "category"]
FREQS: tuple[str, ...] = ("day", "week", "month")
DIMENSIONS: tuple[str, ...] = ("country", "category")
ACTIVE_WINDOWS: tuple[int, ...] = (7, 30, 90)
UNKNOWN_CATEGORY = "(unknown)"
_PANDAS_FREQ = {"day": "D", "week": "W-SUN", "month": "M"}  # W-SUN: weeks ending on Sunday, starting on Monday
_ORDER_COLUMNS = ("order_id", "customer_id", "sku", "quantity", "unit_price", "ordered_at", "country")


@dataclass(frozen=True)
class Kpi:
    """One KPI column: its name, unit and meaning (the one definition the docs and the report show)."""

    name: str
    unit: str
    meaning: str


KPIS: tuple[Kpi, ...] = (
    Kpi("gmv", "currency", "GMV net of returns: `sales - returns`."),
    Kpi("sales", "currency", "Value of the sale lines (`quantity * unit_price`, quantity > 0)."),
    Kpi("returns", "currency", "Value of the return lines, positive, on the day of the return."),
    Kpi("orders", "count", "Orders with at least one sale line."),
    Kpi("units", "count", "Units on sale lines."),
    Kpi("units_returned", "count", "Units on return lines, positive."),
    Kpi("aov", "currency", "Average order value: `sales / orders` (before returns)."),
    Kpi("return_rate", "share", "`returns / sales` of the period, both by the day they happen."),
    Kpi("customers", "count", "Known customers with a sale line in the period (buyers)."),
    Kpi("new_customers", "count", "Buyers whose first purchase is in the period."),
    Kpi("returning_customers", "count", "Buyers who had bought before the period: `customers - new_customers`."),
    *(Kpi(f"active_{n}d", "count", f"Customers who bought in the {n} days ending with the period's last day.")
      for n in ACTIVE_WINDOWS),
    Kpi("repeat_purchase_rate", "share", "Of the customers who bought by the period's last day, the share who "
        "bought on at least two different days."),
)
"""Every KPI of a period table, in column order."""

PERIOD_COLUMNS: tuple[str, ...] = ("period", "period_end", "complete")
"""Columns before the group and the KPIs: the period's first day, the day after its last, and whether it
ended before ``as_of``."""

COHORT_COLUMNS: tuple[str, ...] = ("cohort", "months_since", "customers", "retained", "retention", "complete")
"""Columns of :meth:`Ledger.cohorts` (after the group column when grouped)."""


def kpi_names() -> list[str]:
    return [k.name for k in KPIS]


def kpi_markdown() -> str:
    """The KPI table of ``docs/kpis.md`` (a test checks that the page holds it)."""
    rows = ["| KPI | unit | meaning |", "|---|---|---|"]
    rows += [f"| `{k.name}` | {k.unit} | {k.meaning} |" for k in KPIS]
    return "\n".join(rows)


@dataclass(frozen=True)
class ShopKpis:
    """KPIs per period (and group) as of a date.

    Attributes
    ----------
    as_of
        Lines strictly before this instant were used.
    freq, by
        ``day``/``week``/``month``; ``None`` (the whole shop), ``country`` or ``category``.
    table
        One row per period (x group): :data:`PERIOD_COLUMNS`, the group column when grouped, then :data:`KPIS`.
        Groups are those with a line before ``as_of``; a period in which a group sold nothing has zeros and
        missing ratios.
    """

    as_of: pd.Timestamp
    freq: str
    by: str | None
    table: pd.DataFrame

    def latest(self, complete: bool = True) -> pd.DataFrame:
        """The rows of the last (complete) period."""
        rows = self.table.loc[self.table["complete"]] if complete else self.table
        if rows.empty:
            return rows
        return rows.loc[rows["period"] == rows["period"].max()]

    def summary(self) -> dict[str, object]:
        """The last complete period's KPIs (for a grouped table, how many groups it has)."""
        last = self.latest()
        if last.empty:
            return {"as_of": f"{self.as_of:%Y-%m-%d}", "freq": self.freq, "period": None}
        out: dict[str, object] = {"as_of": f"{self.as_of:%Y-%m-%d}", "freq": self.freq,
                                  "period": f"{last['period'].iloc[0]:%Y-%m-%d}"}
        if self.by is None:
            out.update({k: plain(last[k].iloc[0]) for k in kpi_names()})
        else:
            out["groups"] = len(last)
        return out


class Ledger:
    """The order lines before ``as_of`` as integer codes, from which every KPI table is computed.

    Build it once with :meth:`of` and ask it for several tables (:meth:`kpis`) and cohort grids
    (:meth:`cohorts`); :func:`compute_kpis` does both steps for one table.
    """

    def __init__(self, *, as_of: pd.Timestamp, origin: pd.Timestamp, n_days: int, sales: _Lines,
                 returns: _Lines, group_names: Mapping[str, np.ndarray], customers: int):
        self.as_of = as_of
        self.origin = origin
        self.n_days = n_days
        self.sales = sales
        self.returns = returns
        self.group_names = dict(group_names)
        self.customer_span = customers + 1
        self._order_days: dict[str | None, tuple[np.ndarray, np.ndarray]] = {}
        self._tables: dict[tuple[str, str | None], ShopKpis] = {}
        self._customer_days: dict[str | None, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------------------------------ building
    @classmethod
    def of(cls, tables: Mapping[str, pd.DataFrame], as_of: str | pd.Timestamp | None = None) -> Ledger:
        """Code the order lines before ``as_of`` (default: the day after the last order).

        Parameters
        ----------
        tables
            Canonical tables by name: ``orders`` (required) and ``products`` (for ``by="category"``).
        as_of
            A date in :func:`features.cutoff_range` of the orders; anything else raises
            :class:`~shopml.errors.DataValidationError` naming the valid range.
        """
        from features.pipeline import check_cutoff, cutoff_range

        began = time.perf_counter()
        orders = _checked_orders(tables)
        cutoff = cutoff_range(orders)[1] if as_of is None else check_cutoff(orders, as_of, "as_of")
        when = orders["ordered_at"].to_numpy(dtype="datetime64[us]")
        as_of64 = cutoff.to_datetime64().astype("datetime64[us]")
        keep = when < as_of64
        everything = bool(keep.all())
        when = when if everything else when[keep]

        def column(name: str) -> pd.Series:
            return orders[name] if everything else orders[name][keep]

        days = when.astype("datetime64[D]")
        origin = days.min()
        day = (days - origin).astype(np.int32)
        last_day = (as_of64 - np.timedelta64(1, "us")).astype("datetime64[D]")
        n_days = int((last_day - origin).astype(np.int64)) + 1
        quantity = column("quantity").to_numpy(dtype=np.int64)
        value = quantity * column("unit_price").to_numpy(dtype=np.float64)
        order, _ = _codes(column("order_id"))
        customer, customers = _codes(column("customer_id"))
        country, countries = _codes(column("country"))
        sku, skus = _codes(column("sku"))
        category, categories = _categories(sku, skus, tables.get("products"))
        lines = _Lines(day=day, value=value, quantity=quantity, order=order, customer=customer,
                       groups={"country": country, "category": category})
        sale = quantity > 0
        ledger = cls(as_of=cutoff, origin=pd.Timestamp(origin), n_days=n_days, sales=lines.where(sale),
                     returns=lines.where(~sale), group_names={"country": countries, "category": categories},
                     customers=len(customers))
        log.info("coded %s order lines before %s in %.2fs", f"{len(day):,}", f"{cutoff:%Y-%m-%d}",
                 time.perf_counter() - began)
        return ledger

    @property
    def lines(self) -> int:
        return len(self.sales.day) + len(self.returns.day)

    # ------------------------------------------------------------------------------------------ KPIs
    def kpis(self, freq: str = "day", by: str | None = None) -> ShopKpis:
        """KPIs per ``freq`` period, for the whole shop or per ``by`` group (see the module's rules).

        Computed once per ``(freq, by)`` and then shared: treat the returned table as read-only.
        """
        freq, by = _checked_freq(freq), _checked_by(by)
        if (freq, by) not in self._tables:
            self._tables[(freq, by)] = self._compute(freq, by)
        return self._tables[(freq, by)]

    def _compute(self, freq: str, by: str | None) -> ShopKpis:
        began = time.perf_counter()
        periods = _Periods.of(self.origin, self.n_days, freq)
        names = self._names(by)
        n_groups, n_periods = len(names), periods.count
        size = n_periods * n_groups
        cell = periods.of_day[self.sales.day] * n_groups + self.sales.group(by)
        back = periods.of_day[self.returns.day] * n_groups + self.returns.group(by)
        sales = np.bincount(cell, weights=self.sales.value, minlength=size)
        returns = -np.bincount(back, weights=self.returns.value, minlength=size)
        units = np.bincount(cell, weights=self.sales.quantity, minlength=size)
        units_returned = -np.bincount(back, weights=self.returns.quantity, minlength=size)
        go, oday = self._order_days_of(by)
        # orders per cell: distinct (group x order, period), from pairs sorted by (go, day), so by period too
        pair = go * n_periods + periods.of_day[oday]
        distinct = np.r_[True, pair[1:] != pair[:-1]] if pair.size else np.zeros(0, bool)
        orders = np.bincount(periods.of_day[oday[distinct]] * n_groups + go[distinct] % n_groups, minlength=size)

        gc, cday, first = self._customer_days_of(by)
        c_group = gc // self.customer_span
        # buyers per cell: distinct (customer in group, period); the pairs are sorted by (gc, day), so by period too
        c_cell = periods.of_day[cday].astype(np.int64) * n_groups + c_group
        pair = gc * n_periods + periods.of_day[cday]
        distinct = np.r_[True, pair[1:] != pair[:-1]] if pair.size else np.zeros(0, bool)
        customers = np.bincount(c_cell[distinct], minlength=size)
        new = np.bincount(c_cell[first], minlength=size)

        last = periods.last_day  # each period's last day before as_of
        state = {f"active_{n}d": self._active(gc, cday, c_group, n_groups, n)[:, last] for n in ACTIVE_WINDOWS}
        buyers, repeaters = self._repeat(gc, cday, first, c_group, n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            repeat_rate = np.where(buyers[:, last] > 0, repeaters[:, last] / buyers[:, last], np.nan)

        def per_cell(a: np.ndarray) -> np.ndarray:  # (groups, periods) -> cell order (period-major)
            return a.T.reshape(-1)

        with np.errstate(invalid="ignore", divide="ignore"):
            frame = pd.DataFrame({
                "period": periods.start.repeat(n_groups),
                "period_end": periods.end.repeat(n_groups),
                "complete": np.repeat(periods.end <= self.as_of, n_groups),
                **({by: np.tile(names, n_periods)} if by else {}),
                "gmv": sales - returns,
                "sales": sales,
                "returns": returns,
                "orders": orders,
                "units": units.astype(np.int64),
                "units_returned": units_returned.astype(np.int64),
                "aov": np.where(orders > 0, sales / np.maximum(orders, 1), np.nan),
                "return_rate": np.where(sales > 0, returns / np.where(sales > 0, sales, 1.0), np.nan),
                "customers": customers,
                "new_customers": new,
                "returning_customers": customers - new,
                **{name: per_cell(a).astype(np.int64) for name, a in state.items()},
                "repeat_purchase_rate": per_cell(repeat_rate),
            })
        if by:
            frame = frame.sort_values(["period", by], kind="stable").reset_index(drop=True)
            frame[by] = frame[by].astype("str")
        log.info("KPIs by %s%s in %.2fs", freq, f" and {by}" if by else "", time.perf_counter() - began)
        return ShopKpis(as_of=self.as_of, freq=freq, by=by, table=frame)

    def cohorts(self, by: str | None = None, max_months: int = 24) -> pd.DataFrame:
        """Monthly acquisition cohorts' retention, one row per (group,) cohort and month since acquisition.

        ``customers`` is the cohort's size, ``retained`` how many bought in that month, ``retention`` their
        share. Months after the one holding ``as_of`` are absent (they have not happened); that month is
        partial (``complete`` false). Months since acquisition stop at ``max_months - 1``.
        """
        by = _checked_by(by)
        if not 1 <= int(max_months) <= 600:
            raise DataValidationError(f"max_months={max_months!r}: use a whole number of months from 1 to 600.")
        months = _Periods.of(self.origin, self.n_days, "month")
        names = self._names(by)
        n_groups, n_months = len(names), months.count
        gc, cday, _ = self._customer_days_of(by)
        c_group = gc // self.customer_span
        month = months.of_day[cday].astype(np.int64)
        pair = gc * n_months + month
        keep = np.r_[True, pair[1:] != pair[:-1]] if pair.size else np.zeros(0, bool)
        gc, month, c_group = gc[keep], month[keep], c_group[keep]
        starts = np.r_[True, gc[1:] != gc[:-1]] if gc.size else np.zeros(0, bool)
        cohort = month[starts][np.cumsum(starts) - 1]
        age = month - cohort
        counts = np.bincount((c_group * n_months + cohort) * n_months + age,
                             minlength=n_groups * n_months * n_months).reshape(n_groups, n_months, n_months)
        sizes = counts[:, :, 0]
        gi, ci, ai = np.nonzero(np.broadcast_to(sizes[:, :, None] > 0, counts.shape))
        observed = (ci + ai < n_months) & (ai < max_months)
        gi, ci, ai = gi[observed], ci[observed], ai[observed]
        retained = counts[gi, ci, ai]
        frame = pd.DataFrame({
            **({by: names[gi]} if by else {}),
            "cohort": months.start[ci].strftime("%Y-%m"),
            "months_since": ai.astype(np.int64),
            "customers": sizes[gi, ci].astype(np.int64),
            "retained": retained.astype(np.int64),
            "retention": retained / sizes[gi, ci],
            "complete": months.end[ci + ai] <= self.as_of,
        })
        order = [by, "cohort", "months_since"] if by else ["cohort", "months_since"]
        frame = frame.sort_values(order, kind="stable").reset_index(drop=True)
        if by:
            frame[by] = frame[by].astype("str")
        return frame

    # ------------------------------------------------------------------------------------------ internals
    def _names(self, by: str | None) -> np.ndarray:
        return np.array(["all"], dtype=object) if by is None else self.group_names[by]

    def _order_days_of(self, by: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (order x group, day) pairs of sale lines, sorted. ``go = order * groups + group``: order-major,
        so the keys come nearly sorted (order codes follow the table) and the sort is a quick merge of runs."""
        if by not in self._order_days:
            lines = self.sales
            groups = len(self._names(by))
            key = _sorted_distinct((lines.order.astype(np.int64) * groups + lines.group(by)) * self.n_days + lines.day)
            self._order_days[by] = (key // self.n_days, key % self.n_days)
        return self._order_days[by]

    def _customer_days_of(self, by: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (group x customer, day) pairs of sale lines by known customers, sorted, and the mask of each
        (group x customer)'s first day. ``gc = group * customer_span + customer``."""
        if by not in self._customer_days:
            lines = self.sales
            known = lines.customer >= 0
            gc = lines.group(by)[known].astype(np.int64) * self.customer_span + lines.customer[known]
            key = _sorted_distinct(gc * self.n_days + lines.day[known])
            gc, day = key // self.n_days, key % self.n_days
            first = np.r_[True, gc[1:] != gc[:-1]] if gc.size else np.zeros(0, bool)
            self._customer_days[by] = (gc, day, first)
        return self._customer_days[by]

    def _active(self, gc, day, group, n_groups: int, window: int) -> np.ndarray:
        """(groups, days): customers who bought in the ``window`` days ending with each day.

        Each distinct purchase day ``d`` of a customer covers the days ``[d, d + window)`` up to their next
        purchase day; these spans do not overlap, so a running sum of +1/-1 counts each customer once.
        """
        n = self.n_days + 1
        same_next = np.r_[gc[1:] == gc[:-1], False] if gc.size else np.zeros(0, bool)
        next_day = np.where(same_next, np.r_[day[1:], 0] if day.size else day, n)
        end = np.minimum(np.minimum(day + window, next_day), self.n_days)
        delta = np.bincount(group * n + day, minlength=n_groups * n) - np.bincount(group * n + end,
                                                                                  minlength=n_groups * n)
        return np.cumsum(delta.reshape(n_groups, n), axis=1)[:, : self.n_days]

    def _repeat(self, gc, day, first, group, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
        """(groups, days) running counts of customers with a first and with a second purchase day."""
        second = np.r_[False, first[:-1] & ~first[1:]] if first.size else first
        n = self.n_days
        buyers = np.bincount(group[first] * n + day[first], minlength=n_groups * n).reshape(n_groups, n)
        repeaters = np.bincount(group[second] * n + day[second], minlength=n_groups * n).reshape(n_groups, n)
        return np.cumsum(buyers, axis=1), np.cumsum(repeaters, axis=1)


def compute_kpis(tables: Mapping[str, pd.DataFrame], as_of: str | pd.Timestamp | None = None,
                 freq: str = "day", by: str | None = None) -> ShopKpis:
    """KPIs per day, week or month as of ``as_of``, for the whole shop or per country or category.

    Parameters
    ----------
    tables
        Canonical tables: ``orders``, and ``products`` when ``by="category"``.
    as_of
        Only lines strictly before it count (default: the day after the last order). Refused, naming the
        valid range, outside :func:`features.cutoff_range`.
    freq
        ``day``, ``week`` (Monday to Sunday) or ``month``.
    by
        ``None``, ``country`` or ``category``.

    Examples
    --------
    >>> kpis = compute_kpis(shop.tables(), as_of="2024-06-01", freq="week")  # doctest: +SKIP
    >>> kpis.table[["period", "gmv", "orders", "active_30d"]].tail(3)  # doctest: +SKIP
    """
    return Ledger.of(tables, as_of).kpis(freq, by)


# ---------------------------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Lines:
    """Order lines as integer codes: day since the ledger's origin, value, quantity, order, customer (-1 for a
    guest) and the code of each grouping dimension."""

    day: np.ndarray
    value: np.ndarray
    quantity: np.ndarray
    order: np.ndarray
    customer: np.ndarray
    groups: Mapping[str, np.ndarray]

    def where(self, mask: np.ndarray) -> _Lines:
        return _Lines(day=self.day[mask], value=self.value[mask], quantity=self.quantity[mask],
                      order=self.order[mask], customer=self.customer[mask],
                      groups={k: v[mask] for k, v in self.groups.items()})

    def group(self, by: str | None) -> np.ndarray:
        """The lines' group codes (all 0 for the whole shop)."""
        return np.zeros(len(self.day), dtype=np.int32) if by is None else self.groups[by]


@dataclass(frozen=True)
class _Periods:
    """The periods covering days ``0 .. n_days - 1`` from ``origin``: each day's period, each period's first
    day, the day after its last, and its last day index within the data."""

    of_day: np.ndarray
    start: pd.DatetimeIndex
    end: pd.DatetimeIndex
    last_day: np.ndarray

    @property
    def count(self) -> int:
        return len(self.start)

    @classmethod
    def of(cls, origin: pd.Timestamp, n_days: int, freq: str) -> _Periods:
        days = pd.date_range(origin, periods=n_days, freq="D")
        periods = days.to_period(_PANDAS_FREQ[freq])
        ordinal = periods.asi8
        of_day = (ordinal - ordinal[0]).astype(np.int64)
        count = int(of_day[-1]) + 1
        index = pd.period_range(periods[0], periods=count, freq=_PANDAS_FREQ[freq])
        last_day = np.searchsorted(of_day, np.arange(count), side="right") - 1
        start = index.start_time.as_unit("us")
        end = (index + 1).start_time.as_unit("us")
        return cls(of_day=of_day, start=start, end=end, last_day=last_day)


def _checked_orders(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    if "orders" not in tables:
        raise DataValidationError("KPIs need the orders table: pass tables={'orders': ..., 'products': ...}.")
    orders = tables["orders"]
    missing = [c for c in _ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise DataValidationError(
            f"orders lack the columns {missing}; KPIs read the canonical orders table (features.contracts.ORDERS)."
        )
    if not pd.api.types.is_datetime64_dtype(orders["ordered_at"]):
        raise DataValidationError(
            f"orders.ordered_at is {orders['ordered_at'].dtype}, not a timestamp; load the table with "
            "features.load or parse it with pd.to_datetime."
        )
    if len(orders) == 0:
        raise DataValidationError("the orders table is empty: load or generate data first.")
    return orders


def _checked_freq(freq: str) -> str:
    if freq not in FREQS:
        raise DataValidationError(f"freq {freq!r}: use one of {', '.join(FREQS)}.")
    return freq


def _checked_by(by: str | None) -> str | None:
    if by is not None and by not in DIMENSIONS:
        raise DataValidationError(f"by {by!r}: use one of {', '.join(DIMENSIONS)}, or nothing for the whole shop.")
    return by


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing) and the distinct values, by Arrow's dictionary encoding when the strings
    are Arrow-backed (twice as fast as a hash factorize on tens of millions of ids)."""
    array = getattr(values.array, "_pa_array", None)
    if array is not None:
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(array).combine_chunks()
        codes = np.asarray(encoded.indices.fill_null(-1))
        return codes.astype(np.int32, copy=False), np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=True)
    return codes.astype(np.int32), np.asarray(uniques, dtype=object)


def _categories(sku: np.ndarray, skus: np.ndarray, products: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """Category codes of the lines (through their SKU) and the category names."""
    if products is None or not {"sku", "category"} <= set(products.columns):
        category_of_sku = np.full(len(skus), UNKNOWN_CATEGORY, dtype=object)
    else:
        lookup = products.drop_duplicates("sku").set_index("sku")["category"]
        category_of_sku = lookup.reindex(pd.Index(skus, dtype=object)).fillna(UNKNOWN_CATEGORY).to_numpy(dtype=object)
    codes, names = pd.factorize(category_of_sku)
    return np.take(codes.astype(np.int32), sku), np.asarray(names, dtype=object)  # SKUs are never null


def _sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct values of ``keys``, sorted: neighbours are deduplicated first (lines of one order sit
    together), so the sort sees far fewer keys than there are lines."""
    if keys.size == 0:
        return keys.astype(np.int64)
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]
    keys = np.sort(keys, kind="stable")  # timsort: tables in time order give long sorted runs
    return keys[np.r_[True, keys[1:] != keys[:-1]]]


def plain(value: object) -> object:
    """A JSON-safe scalar: numpy numbers as int/float/bool, NaN as None (floats to 6 decimals), timestamps as
    YYYY-MM-DD."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    return value
