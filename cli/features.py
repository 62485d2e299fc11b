"""``shopml features``: build point-in-time feature tables."""

from __future__ import annotations

import typer

from cli._console import console, steps, table
from cli._engine import EngineOption, LakeOption, engine_settings, lake_of, spark_for

app = typer.Typer(help="Build customer, interaction and demand features as of a cutoff.", no_args_is_help=True)


@app.command("build")
def build(
    cutoff: str | None = typer.Option(None, help="Features use orders strictly before this date, from the day after the first order to the day after the last (the default)."),
    horizon: int = typer.Option(90, min=1, max=730, help="Label horizon in days (labels only when the data covers it)."),
    engine: EngineOption = None,
    lake: LakeOption = None,
    out: str | None = typer.Option(None, "--out", help="Folder to write the build under (cutoff=DATE/ inside it); with --engine spark also a Hadoop URI. Default: the data home's features folder."),
) -> None:
    """Build every feature table as of CUTOFF and write it with a manifest under the data home."""
    from features import pipeline

    settings = engine_settings(engine)
    source = lake_of(settings, lake)
    out_root = out or str(settings.features_dir)
    if settings.engine == "spark":
        with spark_for(settings, pipeline) as spark, \
                steps(len(pipeline.STEPS), "building features on Spark") as advance:
            result = pipeline.build_features_spark(spark, source, out_root, cutoff=cutoff, horizon_days=horizon,
                                                   on_step=advance, n_partitions=settings.spark_partitions)
    else:
        from pathlib import Path

        from features import partitions
        from features.spark import is_remote
        from features.store import fingerprint, load_tables
        from shopml.errors import ShopmlError

        if is_remote(out_root):
            raise ShopmlError(f"--out {out_root}: the pandas engine writes local folders; use --engine spark for a Hadoop URI.")
        tables = load_tables(Path(source))
        stored_fingerprint = fingerprint(tables["orders"])  # of the table as stored, before it is sorted
        tables["orders"] = partitions.canonical_order(tables["orders"])  # sorted once, the unsorted copy freed
        # checked here too (build_features checks again) so that a bad --cutoff is one line, before any progress bar
        cutoff_ts = pipeline.check_cutoff(tables["orders"], cutoff, "--cutoff") if cutoff else None
        with steps(len(pipeline.STEPS), "building features") as advance:
            result = pipeline.build_features(tables, Path(out_root), cutoff=cutoff_ts, horizon_days=horizon,
                                             on_step=advance, data_fingerprint=stored_fingerprint)
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

