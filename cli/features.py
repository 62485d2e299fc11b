"""``shopml features``: build point-in-time feature tables."""

from __future__ import annotations

import typer

from cli._console import console, steps, table

app = typer.Typer(help="Build customer, interaction and demand features as of a cutoff.", no_args_is_help=True)


@app.command("build")
def build(
    cutoff: str | None = typer.Option(None, help="Features use orders strictly before this date, from the day after the first order to the day after the last (the default)."),
    horizon: int = typer.Option(90, min=1, max=730, help="Label horizon in days (labels only when the data covers it)."),
) -> None:
    """Build every feature table as of CUTOFF and write it with a manifest under the data home."""
    from features.pipeline import STEPS, build_features, check_cutoff
    from features.store import load_tables
    from shopml.settings import load_settings

    settings = load_settings()
    tables = load_tables(settings.raw_dir)
    # checked here too (build_features checks again) so that a bad --cutoff is one line, before any progress bar
    cutoff_ts = check_cutoff(tables["orders"], cutoff, "--cutoff") if cutoff else None
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


@app.command("schema")
def schema(
    name: str | None = typer.Argument(None, help="One feature set (customers, interactions, buyers, items, demand); default: all."),
    markdown: bool = typer.Option(False, "--markdown", help="Print docs/features.md (what the docs are generated from)."),
) -> None:
    """Show each feature set's columns: name, dtype and meaning, as declared in the feature layer."""
    from features import FEATURE_SETS
    from features.schema import features_markdown
    from shopml.errors import ShopmlError

    sets = [s for s in FEATURE_SETS if name in (None, s.name)]
    if not sets:
        raise ShopmlError(f"no feature set {name!r}; choose one of {', '.join(s.name for s in FEATURE_SETS)}")
    if markdown:
        typer.echo(features_markdown(sets), nl=False)
        return
    for feature_set in sets:
        rows = [(c.name, c.dtype, kind, c.meaning) for kind, cols in
                (("key", feature_set.keys), ("feature", feature_set.features), ("label", feature_set.labels)) for c in cols]
        console.print(table(f"{feature_set.name} (partitioned by {feature_set.partition_key})",
                            ["column", "dtype", "kind", "meaning"], rows))

