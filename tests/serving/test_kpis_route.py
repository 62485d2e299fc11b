"""``GET /v1/kpis`` answers what ``monitoring.kpi_summary`` computes from the same tables, with its errors as 4xx."""

from __future__ import annotations


def test_kpis_match_the_monitoring_package(server, shop):
    from features.store import load_tables
    from monitoring.report import kpi_summary
    from shopml.settings import load_settings

    status, answer = server.call("GET", "/v1/kpis?freq=month&by=country", key="marketing", timeout=120)
    assert status == 200, answer
    tables = load_tables(load_settings(data_home=shop.home).raw_dir, ("orders", "products"))
    expected = kpi_summary(tables, None, freq="month", by="country")
    assert answer["as_of"] == expected["as_of"] and answer["headline"] == expected["headline"]
    assert answer["periods"] == expected["periods"]
    again = server.call("GET", "/v1/kpis?freq=month&by=country", key="marketing")[1]
    assert again == answer  # the cached answer is the same answer


def test_kpi_errors_are_4xx_naming_the_fix(server):
    status, answer = server.call("GET", "/v1/kpis?freq=year", key="marketing")
    assert status == 400 and answer["detail"][0]["field"] == "freq"
    status, answer = server.call("GET", "/v1/kpis?as_of=2099-01-01", key="marketing", timeout=120)
    assert status == 400 and ("2099" in answer["error"] or "range" in answer["error"]), answer
    for bad in ("", "yesterday", "2011-13-45", "9" * 30):
        status, answer = server.call("GET", f"/v1/kpis?as_of={bad}", key="marketing", timeout=120)
        assert (status == 400 and answer["detail"][0]["field"] == "as_of") or (bad == "" and status == 200), answer
    status, answer = server.call("GET", "/v1/kpis?colour=red", key="marketing")
    assert status == 400 and "colour" in answer["error"]
    assert server.call("GET", "/v1/kpis", key="storefront")[0] == 403
