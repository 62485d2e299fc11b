"""``shopml kpi``: the shop's KPIs as of a date, with alerts, as an HTML or JSON report (docs/kpis.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

app = typer.Typer(help="Shop KPIs as of a date (GMV, orders, customers, cohorts) and alerts on them.",
                  no_args_is_help=True)

REPORT_STEPS = {".html": 6, ".json": 5}  # coding the lines, then the steps of monitoring.report.write_report


@app.command("report")
def report(
    as_of: str | None = typer.Option(
        None, "--as-of", help="KPIs as of YYYY-MM-DD: only order lines before it count; from the day after the "
        "first order to the day after the last (the default)."),
    freq: Literal["day", "week", "month"] = typer.Option(
        "week", "--freq", help="Periods of the tables and plots: day, week (Monday to Sunday) or month."),
    by: Literal["country", "category"] | None = typer.Option(
        None, "--by", help="Also every KPI per country (of delivery) or per product category."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="report.html (with plots) or report.json (every period); default: "
        "reports/kpis-DATE.html in the data home."),
    data: Path | None = typer.Option(
        None, "--data", help="Folder of canonical tables to read (default: the data home's)."),
) -> None:
    """GMV net of returns, orders, units, AOV, new and returning and active customers, repeat and return rates
    and cohort retention as of a date, with the days a KPI left its seasonal band."""
    from cli._console import console, steps, table
    from features.pipeline import check_cutoff
    from features.store import load_tables
    from monitoring.report import FORMATS
    from shopml.errors import ShopmlError
    from shopml.settings import load_settings

    if output is not None and output.suffix.lower() not in FORMATS:
        raise ShopmlError(f"--output {output}: a KPI report is .html or .json; name it report.html or report.json.")
    settings = load_settings()
    source = data or settings.raw_dir
    with console.status(f"reading the tables in {source}"):
        tables = load_tables(Path(source), ("orders", "products"))
    when = check_cutoff(tables["orders"], as_of, "--as-of") if as_of else None  # one line, before any progress

    from monitoring.kpis import Ledger
    from monitoring.report import summarise, write_report

    with steps(REPORT_STEPS[output.suffix.lower() if output else ".html"], "KPI report") as advance:
        advance("coding the order lines")
        ledger = Ledger.of(tables, when)
        path = output or settings.reports_dir / f"kpis-{ledger.as_of:%Y-%m-%d}.html"
        written = write_report(ledger, path, freq=freq, by=by, progress=advance)
    summary = summarise(ledger, freq=freq, periods=1)
    head = summary["headline"]
    if head["period"]:
        rows = [(name, _fmt(v["value"]), _fmt(v["previous"]), "" if v["change"] is None else f"{v['change']:+.1%}")
                for name, v in head["kpis"].items()]
        console.print(table(f"Last complete {freq} ({head['period']}) as of {summary['as_of']}",
                            ["KPI", "value", "previous", "change"], rows))
    alerts = summary["alerts"]
    if alerts["recent"]:
        console.print(f"{len(alerts['recent'])} KPI alert(s) in the last 28 days, {len(alerts['running'])} running:")
        for a in alerts["recent"][-10:]:
            console.print(f"  {a['kpi']} {a['direction']} {abs(a['effect']):.0%} from {a['first_day']} to {a['last_day']}")
    else:
        console.print("no KPI alert in the last 28 days")
    console.print(f"report written to {written}")


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
