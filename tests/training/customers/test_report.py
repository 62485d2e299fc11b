"""Cohort retention against a slow oracle, and the HTML report built from real champions."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from features.store import save_tables
from shopml.errors import NotTrainedError
from training.customers import ChurnParams, ValueParams, train_churn, train_value
from training.customers.cohorts import cohort_retention
from training.customers.report import customer_report


def _slow_retention(orders: pd.DataFrame) -> dict[tuple[str, int], float]:
    rows = orders.loc[orders["customer_id"].notna() & (orders["quantity"] > 0)]
    months = {}
    for customer, when in zip(rows["customer_id"], rows["ordered_at"], strict=True):
        months.setdefault(customer, set()).add(when.to_period("M"))
    last = rows["ordered_at"].max().to_period("M")
    cohorts: dict = {}
    for seen in months.values():
        cohorts.setdefault(min(seen), []).append(seen)
    out = {}
    for cohort, members in cohorts.items():
        for age in range(last.ordinal - cohort.ordinal + 1):
            month = cohort + age
            out[(str(cohort), age)] = sum(month in seen for seen in members) / len(members)
    return out


def test_cohort_retention_matches_a_slow_oracle(small_shop):
    orders = small_shop.orders
    fast = cohort_retention(orders, max_months=40)
    slow = _slow_retention(orders)
    assert (fast[0] == 1.0).all()
    for (cohort, age), share in slow.items():
        assert fast.loc[cohort, age] == pytest.approx(share), (cohort, age)
    unobserved = fast.drop(columns="customers").isna().sum().sum()
    assert unobserved == fast.shape[0] * (fast.shape[1] - 1) - len(slow)  # future months are missing, not zero
    assert fast["customers"].sum() == orders.loc[orders["quantity"] > 0, "customer_id"].dropna().nunique()


@pytest.mark.slow
def test_report_embeds_segments_cohorts_and_champion_plots(settings, small_shop, small_data, tmp_path):
    save_tables(small_shop.tables(), settings.raw_dir, source="test")
    with pytest.raises(NotTrainedError, match="shopml train churn"):
        customer_report(settings, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()  # nothing written half-way

    train_churn(settings, small_data, params=ChurnParams(trees=40, seed=1))
    train_value(settings, small_data, params=ValueParams(trees=40, seed=1))
    path = customer_report(settings, tmp_path / "r.html")
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 1 + 3 + 3  # cohorts + three plots per champion
    assert "calibration: same_season" in page and f"evaluated at {small_data.plan.evaluation:%Y-%m-%d}" in page
    assert re.search(r"ROC-AUC 0\.\d{3}; ECE 0\.\d{3}", page) and re.search(r"normalized Gini 0\.\d{3}", page)
    for segment in ("new", "active", "at_risk", "lapsed", "high_value", "reactivated"):
        assert f"<td>{segment}</td>" in page
    sizes = [int(n.replace(",", "")) for n in re.findall(r"<tr><td>[a-z_]+</td><td>([\d,]+)</td>", page)]
    scored = int(re.search(r"([\d,]+) scored", page).group(1).replace(",", ""))
    assert len(sizes) == 6 and sum(sizes) == scored > 0  # every scored customer is in exactly one segment
