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
    import pandas as pd

    from cli._console import console
    from shopml.errors import DataValidationError
    from shopml.settings import load_settings
    from training.customers.report import customer_report

    try:
        when = pd.Timestamp(as_of) if as_of else None
    except ValueError as exc:
        raise DataValidationError(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD.") from exc
    with console.status("scoring customers and drawing the report"):
        path = customer_report(load_settings(), output, when)
    console.print(f"report written to {path}")
