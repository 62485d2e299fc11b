"""KPIs against a slow, obvious oracle (plain Python loops over rows), point-in-time invariance, and the
boundary: stable under row order and id relabelling, refused dates and names."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.kpis import ACTIVE_WINDOWS, KPIS, Ledger, compute_kpis, kpi_markdown, kpi_names
from shopml.errors import DataValidationError

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------------ the oracle
def _period(day: dt.date, freq: str) -> dt.date:
    if freq == "day":
        return day
    if freq == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_period(start: dt.date, freq: str) -> dt.date:
    if freq == "day":
        return start + dt.timedelta(days=1)
    if freq == "week":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def slow_kpis(tables, as_of: str, freq: str, by: str | None) -> dict[tuple[dt.date, str], dict[str, float]]:
    """Every KPI of every (period, group), one row at a time, from the definitions in docs/kpis.md."""
    as_of_day = pd.Timestamp(as_of).date()
    category = dict(zip(tables["products"]["sku"], tables["products"]["category"], strict=True))
    rows = []
    for r in tables["orders"].itertuples(index=False):
        if r.ordered_at < pd.Timestamp(as_of):
            group = "all" if by is None else (r.country if by == "country" else category.get(r.sku, "(unknown)"))
            customer = None if pd.isna(r.customer_id) else r.customer_id
            rows.append((r.ordered_at.date(), group, r.order_id, customer, r.quantity, r.unit_price))
    first_day = min(r[0] for r in rows)
    last_day = as_of_day - dt.timedelta(days=1)
    groups = sorted({r[1] for r in rows})
    purchase_days: dict[tuple[str, str], set[dt.date]] = defaultdict(set)
    for day, group, _, customer, quantity, _ in rows:
        if quantity > 0 and customer is not None:
            purchase_days[(group, customer)].add(day)
    out = {}
    start = _period(first_day, freq)
    while start <= last_day:
        end = _next_period(start, freq)
        last = min(end - dt.timedelta(days=1), last_day)
        for group in groups:
            lines = [r for r in rows if r[1] == group and start <= r[0] < end]
            sales = sum(q * p for _, _, _, _, q, p in lines if q > 0)
            returns = sum(-q * p for _, _, _, _, q, p in lines if q < 0)
            orders = len({o for _, _, o, _, q, _ in lines if q > 0})
            buyers = {c for _, _, _, c, q, _ in lines if q > 0 and c is not None}
            new = {c for c in buyers if min(purchase_days[(group, c)]) >= start}
            kpi = {
                "gmv": sales - returns, "sales": sales, "returns": returns, "orders": orders,
                "units": sum(q for *_, q, _ in lines if q > 0), "units_returned": sum(-q for *_, q, _ in lines if q < 0),
                "aov": sales / orders if orders else math.nan,
                "return_rate": returns / sales if sales else math.nan,
                "customers": len(buyers), "new_customers": len(new), "returning_customers": len(buyers - new),
            }
            mine = {c: days for (g, c), days in purchase_days.items() if g == group}
            for n in ACTIVE_WINDOWS:
                window = last - dt.timedelta(days=n - 1)
                kpi[f"active_{n}d"] = sum(any(window <= d <= last for d in days) for days in mine.values())
            bought = [days for days in mine.values() if min(days) <= last]
            twice = [days for days in bought if len([d for d in days if d <= last]) >= 2]
            kpi["repeat_purchase_rate"] = len(twice) / len(bought) if bought else math.nan
            kpi["complete"] = end <= as_of_day
            out[(start, group)] = kpi
        start = end
    return out


def slow_cohorts(tables, as_of: str) -> dict[tuple[str, int], tuple[int, int]]:
    """(cohort month, months since) -> (cohort size, retained), by looping over customers' purchase months."""
    months: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for r in tables["orders"].itertuples(index=False):
        if r.ordered_at < pd.Timestamp(as_of) and r.quantity > 0 and not pd.isna(r.customer_id):
            months[r.customer_id].add((r.ordered_at.year, r.ordered_at.month))
    last = max(m for seen in months.values() for m in seen)
    last_index = last[0] * 12 + last[1] - 1
    out: dict[tuple[str, int], list[int]] = {}
    for seen in months.values():
        first = min(seen)
        first_index = first[0] * 12 + first[1] - 1
        for age in range(last_index - first_index + 1):
            cell = out.setdefault((f"{first[0]}-{first[1]:02d}", age), [0, 0])
            cell[0] += 1
            y, m = divmod(first_index + age, 12)
            cell[1] += (y, m + 1) in seen
    return {k: (v[0], v[1]) for k, v in out.items()}


def _assert_matches(fast, slow, by):
    table = fast.table
    assert len(table) == len(slow)
    for row in table.itertuples(index=False):
        key = (row.period.date(), "all" if by is None else getattr(row, by))
        expected = slow[key]
        assert bool(row.complete) == expected["complete"], key
        for name in kpi_names():
            got, want = getattr(row, name), expected[name]
            if isinstance(want, float) and math.isnan(want):
                assert math.isnan(got), (key, name, got)
            else:
                assert got == pytest.approx(want, rel=1e-9, abs=1e-6), (key, name, got, want)


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("by", [None, "country", "category"])
@pytest.mark.parametrize("freq", ["day", "week", "month"])
def test_kpis_match_the_slow_oracle(tiny_shop, freq, by):
    tables = tiny_shop.tables()
    as_of = "2023-05-17"  # a Wednesday mid-month: partial last week and month
    fast = compute_kpis(tables, as_of=as_of, freq=freq, by=by)
    _assert_matches(fast, slow_kpis(tables, as_of, freq, by), by)
    assert list(fast.table.columns) == ["period", "period_end", "complete", *([by] if by else []), *kpi_names()]


def test_cohorts_match_the_slow_oracle(tiny_shop):
    tables = tiny_shop.tables()
    cohorts = Ledger.of(tables, "2023-05-17").cohorts(max_months=12)
    slow = slow_cohorts(tables, "2023-05-17")
    assert len(cohorts) == len(slow)
    for row in cohorts.itertuples(index=False):
        assert (row.customers, row.retained) == slow[(row.cohort, row.months_since)]
    assert (cohorts.loc[cohorts["months_since"] == 0, "retention"] == 1).all()
    assert not cohorts.loc[cohorts["cohort"] == "2023-05", "complete"].any()  # the month holding as_of


def _later_data(tables, as_of: str, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The tables with every line from ``as_of`` on replaced by different data: other quantities, returns,
    new customers, a new country and a new category's SKU."""
    rng = np.random.default_rng(seed)
    orders = tables["orders"]
    later = orders.loc[orders["ordered_at"] >= pd.Timestamp(as_of)].copy()
    later["quantity"] = np.where(rng.random(len(later)) < 0.3, -1, later["quantity"] * 2)
    later["customer_id"] = later["customer_id"].where(rng.random(len(later)) < 0.5, "new-" + later["order_id"])
    later.loc[later.index[::7], "country"] = "Atlantis"
    later.loc[later.index[::5], "sku"] = "99999"
    extra = later.assign(ordered_at=later["ordered_at"] + pd.Timedelta(days=60), order_id="X" + later["order_id"])
    before = orders.loc[orders["ordered_at"] < pd.Timestamp(as_of)]
    products = pd.concat([tables["products"], pd.DataFrame(
        {"sku": ["99999"], "description": ["new"], "category": ["brand-new"], "price": [1.0]})], ignore_index=True)
    return {**tables, "orders": pd.concat([before, later, extra], ignore_index=True), "products": products}


@pytest.mark.parametrize("by", [None, "country", "category"])
def test_kpis_as_of_a_date_do_not_change_when_later_data_is_added(tiny_shop, by):
    tables = tiny_shop.tables()
    as_of = "2023-04-12"
    truncated = {**tables, "orders": tables["orders"].loc[tables["orders"]["ordered_at"] < pd.Timestamp(as_of)]}
    expected = Ledger.of(truncated, as_of)
    for changed in (tables, _later_data(tables, as_of, 1), _later_data(tables, as_of, 2)):
        ledger = Ledger.of(changed, as_of)
        for freq in ("day", "week", "month"):
            pd.testing.assert_frame_equal(ledger.kpis(freq, by).table, expected.kpis(freq, by).table)
        pd.testing.assert_frame_equal(ledger.cohorts(by), expected.cohorts(by))


def test_row_order_and_id_relabelling_do_not_matter(tiny_shop):
    tables = tiny_shop.tables()
    orders = tables["orders"]
    shuffled = orders.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled["customer_id"] = "c-" + shuffled["customer_id"]
    shuffled["order_id"] = "o-" + shuffled["order_id"]
    for freq, by in (("day", None), ("week", "category"), ("month", "country")):
        a = compute_kpis(tables, freq=freq, by=by).table
        b = compute_kpis({**tables, "orders": shuffled}, freq=freq, by=by).table
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_groups_add_up_to_the_shop_for_additive_kpis(tiny_shop):
    ledger = Ledger.of(tiny_shop.tables())
    whole = ledger.kpis("week").table.set_index("period")
    by_country = ledger.kpis("week", "country").table.groupby("period")[["gmv", "sales", "orders", "units"]].sum()
    pd.testing.assert_frame_equal(whole[["gmv", "sales", "orders", "units"]], by_country, check_dtype=False)
    by_category = ledger.kpis("week", "category").table.groupby("period")[["gmv", "units"]].sum()
    pd.testing.assert_frame_equal(whole[["gmv", "units"]], by_category, check_dtype=False)


def test_dates_outside_the_data_are_refused_with_the_range(tiny_shop):
    tables = tiny_shop.tables()
    with pytest.raises(DataValidationError, match="from 2023-01-03 to 2023-05-31"):
        compute_kpis(tables, as_of="2030-01-01")
    with pytest.raises(DataValidationError, match="before the first order"):
        compute_kpis(tables, as_of="2022-12-31")
    with pytest.raises(DataValidationError, match="not a date"):
        compute_kpis(tables, as_of="yesterday")


def test_bad_names_and_tables_are_refused(tiny_shop):
    tables = tiny_shop.tables()
    with pytest.raises(DataValidationError, match="day, week, month"):
        compute_kpis(tables, freq="quarter")
    with pytest.raises(DataValidationError, match="country, category"):
        compute_kpis(tables, by="sku")
    with pytest.raises(DataValidationError, match=r"\['country'\]"):
        compute_kpis({"orders": tables["orders"].drop(columns="country")})
    with pytest.raises(DataValidationError, match="orders table"):
        compute_kpis({"products": tables["products"]})


def test_every_kpi_is_documented_once_in_docs():
    page = (ROOT / "docs" / "kpis.md").read_text()
    assert kpi_markdown() in page, "docs/kpis.md's KPI table differs from monitoring.kpis.KPIS; paste kpi_markdown()"
    assert len({k.name for k in KPIS}) == len(KPIS)
