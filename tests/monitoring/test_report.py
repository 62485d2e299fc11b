"""The KPI summary is JSON-safe and bounded, and the report files are what their suffix says."""

from __future__ import annotations

import json

import pytest

from monitoring.kpis import Ledger, kpi_names
from monitoring.report import kpi_summary, write_report
from shopml.errors import ShopmlError


def test_the_summary_is_plain_json_with_the_latest_periods(tiny_shop):
    summary = kpi_summary(tiny_shop.tables(), as_of="2023-05-17", freq="week", by="country", periods=3)
    text = json.dumps(summary, allow_nan=False)  # no NaN, numpy or timestamp objects left
    assert json.loads(text) == summary
    assert summary["as_of"] == "2023-05-17" and summary["by"] == "country"
    assert len({row["period"] for row in summary["periods"]}) == 3
    assert set(kpi_names()) <= set(summary["periods"][0])
    assert summary["headline"]["period"] == "2023-05-08"  # the last complete week before as_of
    assert set(summary["headline"]["kpis"]["gmv"]) == {"value", "previous", "change"}
    assert {"running", "recent", "settings"} <= set(summary["alerts"])
    assert summary["cohorts"][0]["months_since"] == 0


def test_one_ledger_serves_several_summaries_equal_to_the_function(tiny_shop):
    from monitoring.report import summarise

    ledger = Ledger.of(tiny_shop.tables(), "2023-04-01")
    assert summarise(ledger, freq="month") == kpi_summary(tiny_shop.tables(), "2023-04-01", freq="month")
    with pytest.raises(ShopmlError, match="periods"):
        summarise(ledger, periods=0)


def test_reports_are_html_with_plots_or_json(tiny_shop, tmp_path):
    page = write_report(tiny_shop.tables(), tmp_path / "r.html", by="category", freq="month")
    text = page.read_text()
    assert text.startswith("<!doctype html>") and text.count("data:image/png;base64,") == 4
    data = json.loads(write_report(tiny_shop.tables(), tmp_path / "r.json", freq="day").read_text())
    assert len(data["periods"]) == 149  # every day from the first order (2 January) to the last (30 May)
    with pytest.raises(ShopmlError, match=r"\.html or \.json"):
        write_report(tiny_shop.tables(), tmp_path / "r.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]  # nothing half-written
