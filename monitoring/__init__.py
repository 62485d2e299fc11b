"""Shop health: KPIs as of any date, alerts on them, and reports people read.

The facade:

* :func:`compute_kpis` (and :class:`Ledger` to compute several tables from one pass over the orders) gives
  :class:`ShopKpis`: GMV net of returns, orders, units, AOV, customers new and returning, active customers
  over 7/30/90 days, repeat-purchase and return rates, per day, week or month, for the whole shop or per
  country or category; :meth:`Ledger.cohorts` gives monthly acquisition cohorts' retention. The definitions
  are :data:`KPIS` and ``docs/kpis.md``.
* :func:`detect_alerts` flags days whose KPI leaves a robust same-weekday baseline band
  (:class:`AlertSettings`), returning :class:`AlertResult`.
* :func:`kpi_summary` is the JSON answer of ``GET /v1/kpis``; :func:`write_report` writes the HTML or JSON
  report of ``shopml kpi report``.
"""

from typing import TYPE_CHECKING

from shopml.lazy import lazy_exports

if TYPE_CHECKING:
    from monitoring.alerts import AlertResult, AlertRule, AlertSettings, detect_alerts
    from monitoring.kpis import KPIS, Kpi, Ledger, ShopKpis, compute_kpis
    from monitoring.report import kpi_summary, write_report

__getattr__ = lazy_exports(__name__, {
    "AlertResult": "monitoring.alerts",
    "AlertRule": "monitoring.alerts",
    "AlertSettings": "monitoring.alerts",
    "detect_alerts": "monitoring.alerts",
    "KPIS": "monitoring.kpis",
    "Kpi": "monitoring.kpis",
    "Ledger": "monitoring.kpis",
    "ShopKpis": "monitoring.kpis",
    "compute_kpis": "monitoring.kpis",
    "kpi_summary": "monitoring.report",
    "write_report": "monitoring.report",
})

__all__ = [
    "KPIS", "AlertResult", "AlertRule", "AlertSettings", "Kpi", "Ledger", "ShopKpis", "compute_kpis",
    "detect_alerts", "kpi_summary", "write_report",
]
