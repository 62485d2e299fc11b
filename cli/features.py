"""``shopml features``: build point-in-time feature tables."""

from __future__ import annotations

import typer

from cli._console import console, steps, table

app = typer.Typer(help="Build customer, interaction and demand features as of a cutoff.", no_args_is_help=True)


@app.command("build")
def build(
    cutoff: str | None = typer.Option(None, help="Features use orders strictly before this date (default: day after the last order)."),
    horizon: int = typer.Option(90, min=1, max=730, help="Label horizon in days (labels only when the data covers it)."),
) -> None:
    """Build every feature table as of CUTOFF and write it with a manifest under the data home."""
    import pandas as pd

    from features.pipeline import STEPS, build_features
    from features.store import load_tables
    from shopml.errors import DataValidationError
    from shopml.settings import load_settings

    settings = load_settings()
    try:
        cutoff_ts = pd.Timestamp(cutoff) if cutoff else None
    except ValueError as exc:
        raise DataValidationError(f"--cutoff {cutoff!r} is not a date; use YYYY-MM-DD.") from exc
    tables = load_tables(settings.raw_dir)
    with steps(len(STEPS), "building features") as advance:
        result = build_features(tables, settings.features_dir, cutoff=cutoff_ts, horizon_days=horizon, on_step=advance)
    console.print(table(
        f"Features as of {result.cutoff:%Y-%m-%d} in {result.directory}",
        ["table", "rows", "features"],
        result.summary_rows(),
    ))
    note = result.manifest["tables"]["customers"]["labels_missing_because"]
    if note:
        console.print(f"[yellow]no {horizon}-day labels:[/] {note}")
