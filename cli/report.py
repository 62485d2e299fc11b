"""``shopml report``: HTML reports for people to look at."""

from pathlib import Path

import typer

app = typer.Typer(help="Write HTML reports with plots.", no_args_is_help=True)


@app.command("customers")
def customers(
    output: Path | None = typer.Option(None, "--output", "-o", help="HTML file (default: reports/customers-DATE.html)."),
    as_of: str | None = typer.Option(None, "--as-of", help="Score as of YYYY-MM-DD (default: after the last order)."),
) -> None:
    """One HTML page: segment sizes and value, cohort retention heatmap, the champions' evaluation plots."""
    from cli._console import console
    from cli.customers import checked_as_of
    from shopml.settings import load_settings

    settings = load_settings()
    when = checked_as_of(settings, as_of)
    from training.customers.report import customer_report  # after the check: seconds to import
    with console.status("scoring customers and drawing the report"):
        path = customer_report(settings, output, when)
    console.print(f"report written to {path}")
